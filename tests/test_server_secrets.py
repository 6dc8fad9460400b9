"""``/v1/secrets`` on a real ``orca serve`` (debug logging on): admin scope only; a
stored value comes back in no answer (put, list, errors), reaches no log line and is
not in the database's bytes; hostile bodies and names get 422 naming the field."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _served import ENVELOPE, free_port, init_project, orca
from orca.store import KeySource, SqliteStore, project_store
from orca.store._secrets import MAX_VALUE_BYTES

FLOW = """
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    n: int


counter = StateGraph(S, name="counter")
counter.add_node("step", lambda state: {"n": state.get("n", 0) + 1})
counter.add_edge(START, "step")
counter.add_edge("step", END)
"""

VALUE = "sk-proj-Zq81vX0c2TfW5mH9eLr4uB7nYk3aP6sD"
SECOND = "sk-ant-api03-Hn2Kp7Lm9Qr4Ts6Vw8Xy0Za1Bc3De5Fg"


class Server:
    """A running ``orca serve --log-level debug`` whose standard error goes to a file."""

    def __init__(self, project: Path) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = project / f"serve-{port}.log"
        with self.log.open("w") as log:
            self.proc = orca(
                project, "--log-level", "debug", "serve", "--port", str(port),
                "--workflow=flows.py:counter", stdout=subprocess.DEVNULL, stderr=log,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("the server did not become ready")

    def call(self, method: str, path: str, token: str | None, **kw: Any) -> httpx.Response:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        return self.log.read_text()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("secrets")
    init_project(root, FLOW)
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
    assert "made a new master key for stored secrets" in said  # the log is Orca's
    for value in (VALUE, SECOND):
        assert value not in said  # not at debug level either


@pytest.fixture
def admin(tokens: dict[str, str]) -> str:
    return tokens["admin"]


def envelope(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) == ENVELOPE
    assert body["code"] == code
    return body


def test_a_stored_key_is_answered_only_as_its_record(server: Server, admin: str) -> None:
    put = server.call("PUT", "/v1/secrets/OPENAI_API_KEY", admin, json={"value": VALUE})
    assert put.status_code == 200, put.text
    record = put.json()
    assert set(record) == {"name", "fingerprint", "created_at", "updated_at"}
    assert record["name"] == "OPENAI_API_KEY"
    assert VALUE not in put.text
    again = server.call("PUT", "/v1/secrets/OPENAI_API_KEY", admin, json={"value": VALUE})
    assert again.json()["fingerprint"] == record["fingerprint"]
    server.call("PUT", "/v1/secrets/ANTHROPIC_API_KEY", admin, json={"value": SECOND})
    listed = server.call("GET", "/v1/secrets", admin)
    assert listed.status_code == 200
    assert [r["name"] for r in listed.json()] == ["ANTHROPIC_API_KEY", "OPENAI_API_KEY"]
    assert VALUE not in listed.text
    assert SECOND not in listed.text


def test_the_key_is_sealed_in_the_project_database(
    server: Server, admin: str, project: Path
) -> None:
    server.call("PUT", "/v1/secrets/OPENAI_API_KEY", admin, json={"value": VALUE})
    base = project / ".orca" / "project.db"
    held = b"".join(p.read_bytes() for p in base.parent.glob("project.db*"))
    assert b"OPENAI_API_KEY" in held
    assert VALUE.encode() not in held
    # the server made the default key file; with it, the library opens what it sealed
    keys = KeySource(home=project / "home", env={})
    with SqliteStore(base, secret_keys=keys) as store:
        assert store.secrets.reveal("OPENAI_API_KEY") == VALUE


def test_delete_forgets_and_a_second_delete_is_404(server: Server, admin: str) -> None:
    server.call("PUT", "/v1/secrets/TEMP_API_KEY", admin, json={"value": VALUE})
    assert server.call("DELETE", "/v1/secrets/TEMP_API_KEY", admin).status_code == 204
    gone = envelope(server.call("DELETE", "/v1/secrets/TEMP_API_KEY", admin), 404, "NOT_FOUND")
    assert "TEMP_API_KEY" in gone["message"]
    names = [r["name"] for r in server.call("GET", "/v1/secrets", admin).json()]
    assert "TEMP_API_KEY" not in names


@pytest.mark.parametrize("scope", ["read", "run"])
def test_every_secrets_route_needs_admin(
    server: Server, tokens: dict[str, str], scope: str
) -> None:
    for method, path, body in (
        ("GET", "/v1/secrets", None),
        ("PUT", "/v1/secrets/OPENAI_API_KEY", {"value": SECOND}),
        ("DELETE", "/v1/secrets/OPENAI_API_KEY", None),
    ):
        answer = server.call(method, path, tokens[scope], json=body)
        refused = envelope(answer, 403, "FORBIDDEN")
        assert "admin" in refused["message"]
        assert SECOND not in answer.text
        envelope(server.call(method, path, None, json=body), 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("openai", {"value": VALUE}, "name"),
        ("OPENAI-API-KEY", {"value": VALUE}, "name"),
        ("A" * 65, {"value": VALUE}, "name"),
        ("OPENAI_API_KEY", {"value": ""}, "value"),
        ("OPENAI_API_KEY", {"value": VALUE + "\u0000"}, "value"),
        ("OPENAI_API_KEY", {"value": VALUE * (MAX_VALUE_BYTES // len(VALUE) + 1)}, "value"),
        ("OPENAI_API_KEY", {"value": 12345}, "value"),
        ("OPENAI_API_KEY", {}, "value"),
        ("OPENAI_API_KEY", {"value": VALUE, "extra": VALUE}, "extra"),
    ],
)
def test_hostile_puts_are_422_naming_the_field_and_never_echo_the_value(
    server: Server, admin: str, name: str, body: dict[str, Any], field: str
) -> None:
    before = server.call("GET", "/v1/secrets", admin).json()
    answer = server.call("PUT", f"/v1/secrets/{name}", admin, json=body)
    refused = envelope(answer, 422, "INVALID_REQUEST")
    assert field in str(refused["details"]) or field in refused["message"]
    assert VALUE not in answer.text
    assert server.call("GET", "/v1/secrets", admin).json() == before  # nothing changed


def test_a_body_that_is_not_json_is_refused_without_echo(server: Server, admin: str) -> None:
    answer = server.call(
        "PUT", "/v1/secrets/OPENAI_API_KEY", admin, content=b"value=" + VALUE.encode(),
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    assert answer.status_code == 422
    assert VALUE not in answer.text


def test_a_server_with_a_malformed_master_key_says_so_and_never_quotes_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("badkey")
    init_project(root, FLOW)
    bad = "bm90IGEga2V5IGF0IGFsbA=="  # base64 of 16 bytes
    port = free_port()
    log = root / "serve.log"
    with log.open("w") as err:
        serve = ("serve", "--port", str(port), "--workflow=flows.py:counter")
        proc = orca(root, *serve, env={"ORCA_SECRET_KEY": bad}, stdout=subprocess.DEVNULL,
                    stderr=err)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        answer = httpx.put(f"{url}/v1/secrets/OPENAI_API_KEY", json={"value": VALUE}, timeout=30)
        body = envelope(answer, 500, "SECRET_KEY_INVALID")
        assert "ORCA_SECRET_KEY is 16 bytes; it must be 32" in body["message"]
        assert "base64 of 32 random bytes" in body["details"]["fix"]
        assert bad not in answer.text
        assert VALUE not in answer.text
        assert httpx.get(f"{url}/v1/secrets", timeout=30).json() == []  # nothing stored
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    said = log.read_text()
    assert bad not in said
    assert VALUE not in said


def test_each_tenant_sees_and_sets_only_its_own_secrets(
    server: Server, tokens: dict[str, str], project: Path
) -> None:
    put = server.call("PUT", "/v1/secrets/ACME_ONLY_KEY", tokens["acme"], json={"value": SECOND})
    assert put.status_code == 200, put.text
    mine = [r["name"] for r in server.call("GET", "/v1/secrets", tokens["acme"]).json()]
    theirs = [r["name"] for r in server.call("GET", "/v1/secrets", tokens["admin"]).json()]
    assert "ACME_ONLY_KEY" in mine
    assert "ACME_ONLY_KEY" not in theirs
    assert set(theirs).isdisjoint(mine)  # the default tenant's are not acme's either
    gone = server.call("DELETE", "/v1/secrets/ACME_ONLY_KEY", tokens["admin"])
    envelope(gone, 404, "NOT_FOUND")  # the default tenant cannot reach acme's
    keys = KeySource(home=project / "home", env={})
    with project_store(project, tenant="acme") as acme:
        acme.secret_keys = keys
        assert acme.secrets.reveal("ACME_ONLY_KEY") == SECOND  # sealed for acme
