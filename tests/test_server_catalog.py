"""``/v1/catalog/models`` on a real ``orca serve`` on loopback: models added from files of
the server's host (real GGUF files), listed, shown, verified and moved through their
lifecycle, with the scopes it needs (admin to add or change a state, run to verify,
read to read; the installation's callers only) and every refusal in the envelope."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _served import ENVELOPE, init_project, orca
from orca.errors import UntrustedArtifactError
from orca.llm.tiny import write_tiny_model
from orca.server._auth import needed_scope
from orca.server._errors import for_error
from orca.store import project_store
from test_server_secrets import FLOW, Server


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog")
    init_project(root, FLOW)
    (root / "models").mkdir()
    return root


@pytest.fixture(scope="module")
def tokens(project: Path) -> dict[str, str]:
    with project_store(project) as store:
        made = {s: store.tokens.create(f"{s}-bot", s)[1] for s in ("read", "run", "admin")}
    assert orca(project, "tenant", "create", "acme").wait(timeout=60) == 0
    maker = orca(project, "token", "create", "acme-admin", "--tenant", "acme", "--scope",
                 "admin", "--json", stdout=subprocess.PIPE)  # fmt: skip
    out, _ = maker.communicate(timeout=60)
    made["acme"] = json.loads(out)["token"]
    return made


@pytest.fixture(scope="module")
def server(project: Path, tokens: dict[str, str]) -> Iterator[Server]:
    running = Server(project)
    yield running
    said = running.stop()
    assert "Traceback" not in said


@pytest.fixture
def admin(tokens: dict[str, str]) -> str:
    return tokens["admin"]


def envelope(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == ENVELOPE
    assert body["code"] == code
    return body


def model_file(project: Path, name: str, seed: int) -> Path:
    return write_tiny_model(project / "models" / f"{name}.gguf", seed=seed)


def test_a_model_is_added_listed_and_shown(server: Server, admin: str, project: Path) -> None:
    path = model_file(project, "chat-small", 10)
    answer = server.call(
        "POST", "/v1/catalog/models", admin, json={"path": str(path), "tags": ["chat", "tiny"]}
    )
    assert answer.status_code == 201, answer.text
    added = answer.json()
    assert added["name"] == "chat-small"
    assert added["path"] == str(path.resolve())
    assert added["digest"].startswith("sha256:")
    assert added["id"] == "mdl_" + added["digest"][7:23]
    assert (added["state"], added["trust"], added["format"]) == ("draft", "unverified", "gguf")
    assert added["size_bytes"] == path.stat().st_size
    meta = added["metadata"]
    assert (meta["architecture"], meta["block_count"], meta["quantization"]) == ("llama", 2, "F32")
    assert server.call("GET", f"/v1/catalog/models/{added['id']}", admin).json() == added
    assert server.call("GET", "/v1/catalog/models/chat-small", admin).json() == added
    listed = server.call("GET", "/v1/catalog/models?tag=chat", admin).json()
    assert [m["id"] for m in listed] == [added["id"]]
    assert server.call("GET", "/v1/catalog/models?tag=code", admin).json() == []
    assert added["id"] in [
        m["id"] for m in server.call("GET", "/v1/catalog/models?state=draft", admin).json()
    ]


def test_the_same_bytes_are_a_409_naming_the_model(
    server: Server, admin: str, project: Path
) -> None:
    path = model_file(project, "dup", 11)
    first = server.call("POST", "/v1/catalog/models", admin, json={"path": str(path)}).json()
    copy = project / "models" / "dup-copy.gguf"
    copy.write_bytes(path.read_bytes())
    again = server.call("POST", "/v1/catalog/models", admin, json={"path": str(copy)})
    body = envelope(again, 409, "CATALOG_CONFLICT")
    assert first["id"] in body["message"]
    assert body["details"]["fix"]


def test_verify_then_a_changed_file_makes_it_untrusted(
    server: Server, tokens: dict[str, str], project: Path
) -> None:
    path = model_file(project, "verified", 12)
    added = server.call(
        "POST", "/v1/catalog/models", tokens["admin"], json={"path": str(path), "state": "active"}
    ).json()
    verify = f"/v1/catalog/models/{added['id']}/verify"
    checked = server.call("POST", verify, tokens["run"])  # an operator may verify
    assert checked.status_code == 200, checked.text
    assert checked.json()["trust"] == "verified"
    assert checked.json()["verified_at"] is not None
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    assert server.call("POST", verify, tokens["run"]).json()["trust"] == "untrusted"
    untrusted = server.call("GET", "/v1/catalog/models?trust=untrusted", tokens["read"]).json()
    assert [m["id"] for m in untrusted] == [added["id"]]


def test_untrusted_artifact_is_its_own_code_in_the_envelope() -> None:
    status, body = for_error(
        UntrustedArtifactError(
            "model 'x' is untrusted", model="mdl_x", reason="untrusted", fix="no"
        )
    )
    assert (status, body["code"], body["details"]["fix"]) == (409, "UNTRUSTED_ARTIFACT", "no")


def test_lifecycle_moves_and_refusals(server: Server, admin: str, project: Path) -> None:
    path = model_file(project, "life", 13)
    added = server.call("POST", "/v1/catalog/models", admin, json={"path": str(path)}).json()
    state = f"/v1/catalog/models/{added['id']}/state"
    assert server.call("POST", state, admin, json={"state": "canary"}).json()["state"] == "canary"
    assert server.call("POST", state, admin, json={"state": "active"}).json()["state"] == "active"
    refused = envelope(
        server.call("POST", state, admin, json={"state": "draft"}), 409, "INVALID_TRANSITION"
    )
    assert refused["details"]["fix"] == "move it to one of: deprecated, retired"
    assert server.call("POST", state, admin, json={"state": "retired"}).json()["state"] == "retired"
    final = envelope(
        server.call("POST", state, admin, json={"state": "active"}), 409, "INVALID_TRANSITION"
    )
    assert "retired is final" in final["details"]["fix"]
    bad = envelope(
        server.call("POST", state, admin, json={"state": "live"}), 422, "INVALID_REQUEST"
    )
    assert bad["details"]["problems"][0]["field"] == "state"


def test_unknown_models_are_404(server: Server, admin: str) -> None:
    for method, path, body in (
        ("GET", "/v1/catalog/models/mdl_0000000000000000", None),
        ("POST", "/v1/catalog/models/nope/verify", None),
        ("POST", "/v1/catalog/models/nope/state", {"state": "active"}),
    ):
        found = envelope(server.call(method, path, admin, json=body), 404, "NOT_FOUND")
        assert "orca model list" in found["details"]["fix"]


def test_what_is_not_a_model_file_is_refused(server: Server, admin: str, project: Path) -> None:
    text = project / "models" / "readme.gguf"
    text.write_text("not a model")
    for path, said in [
        (str(project / "models" / "missing.gguf"), "cannot be found"),
        (str(project), "is a directory"),
        ("/dev/zero", "not a regular file"),
        (str(text), "not a GGUF file"),
    ]:
        answer = server.call("POST", "/v1/catalog/models", admin, json={"path": path})
        body = envelope(answer, 422, "MODEL_FILE_INVALID")
        assert said in body["message"], body
        assert body["details"]["fix"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "path"),
        ({"path": ""}, "path"),
        ({"path": "models/m.gguf"}, "path"),
        ({"path": "x" * 5000}, "path"),
        ({"path": "/tmp/m.gguf", "state": "retired"}, "state"),
        ({"path": "/tmp/m.gguf", "tags": ["t"] * 33}, "tags"),
        ({"path": "/tmp/m.gguf", "tags": ["x" * 65]}, "tags.0"),
        ({"path": "/tmp/m.gguf", "name": ""}, "name"),
        ({"path": "/tmp/m.gguf", "sha256": "abc"}, "sha256"),
    ],
)
def test_hostile_bodies_are_422_naming_the_field(
    server: Server, admin: str, body: dict[str, Any], field: str
) -> None:
    answer = envelope(
        server.call("POST", "/v1/catalog/models", admin, json=body), 422, "INVALID_REQUEST"
    )
    assert answer["details"]["problems"][0]["field"] == field


def test_bad_names_tags_and_nul_paths_are_refused(
    server: Server, admin: str, project: Path
) -> None:
    path = model_file(project, "named", 14)
    for body, code, status in [
        ({"path": str(path), "name": "../../etc"}, "INVALID_REQUEST", 422),
        ({"path": str(path), "tags": ["has space"]}, "INVALID_REQUEST", 422),
        ({"path": str(path) + "\u0000"}, "MODEL_FILE_INVALID", 422),
    ]:
        envelope(server.call("POST", "/v1/catalog/models", admin, json=body), status, code)


def test_the_scopes_it_needs(server: Server, tokens: dict[str, str], project: Path) -> None:
    assert needed_scope("POST", "/v1/catalog/models") == "admin"
    assert needed_scope("POST", "/v1/catalog/models/m/state") == "admin"
    assert needed_scope("POST", "/v1/catalog/models/m/verify") == "run"
    assert needed_scope("GET", "/v1/catalog/models") == "read"
    path = model_file(project, "scoped", 15)
    body = {"path": str(path)}
    for scope in ("read", "run"):
        refused = envelope(
            server.call("POST", "/v1/catalog/models", tokens[scope], json=body), 403, "FORBIDDEN"
        )
        assert "admin" in refused["message"]
    added = server.call("POST", "/v1/catalog/models", tokens["admin"], json=body).json()
    state = f"/v1/catalog/models/{added['id']}/state"
    envelope(server.call("POST", state, tokens["run"], json={"state": "active"}), 403, "FORBIDDEN")
    verify = f"/v1/catalog/models/{added['id']}/verify"
    envelope(server.call("POST", verify, tokens["read"]), 403, "FORBIDDEN")
    assert server.call("GET", "/v1/catalog/models", tokens["read"]).status_code == 200
    envelope(server.call("GET", "/v1/catalog/models", None), 401, "UNAUTHENTICATED")
    # another tenant's admin: the catalog is the installation's, not theirs
    for method, where, payload in (
        ("GET", "/v1/catalog/models", None),
        ("POST", "/v1/catalog/models", body),
        ("POST", verify, None),
    ):
        theirs = server.call(method, where, tokens["acme"], json=payload)
        assert theirs.status_code == 403, theirs.text
        assert "installation" in theirs.json()["message"]
