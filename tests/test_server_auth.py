"""Auth of ``orca serve``, against the real process: bearer tokens made with ``orca token``
(kept hashed in the project database), refused when missing, wrong, revoked or too small
for the route; health open; beyond-loopback binds only with auth; Host and Origin checks
with auth on; CORS closed by default and open to exactly the configured origins; the
scope of every route decided by method and path (so routes added later are covered).
Then tracing: a request's server span is the parent of the run it starts, and its
correlation id reaches the run's spans, logs and record (in-process with an in-memory
exporter, and through a real server exporting over OTLP)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from orca.server._auth import OPEN_PATHS, SCOPE_RULES, needed_scope

FLOW = """
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    n: int


def step(state):
    return {"n": state.get("n", 0) + 1}


counter = StateGraph(S, name="counter")
counter.add_node("step", step)
counter.add_edge(START, "step")
counter.add_conditional_edges("step", lambda s: "step" if s["n"] < 3 else END)
"""

UI = "http://ui.example:5173"
ORCA = Path(sys.executable).parent / "orca"
ENVELOPE = {"code", "message", "engine", "retriable", "retry_after_ms", "policy_label", "details"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return int(s.getsockname()[1])


def orca(project: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    """``orca -C project ARGS`` run to its end."""
    return subprocess.run(
        [str(ORCA), "-C", str(project), *args],
        env={**os.environ, "ORCA_HOME": str(project / "home"), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def make_project(root: Path, server: str = "") -> Path:
    (root / "flows.py").write_text(FLOW)
    done = orca(root, "init")
    assert done.returncode == 0, done.stderr
    toml = root / ".orca" / "orca.toml"
    toml.with_suffix(".base").write_text(toml.read_text())
    return configure(root, server)


def configure(project: Path, server: str) -> Path:
    """The project's ``orca.toml`` as ``orca init`` wrote it, then ``[server]`` with
    ``server``'s lines."""
    toml = project / ".orca" / "orca.toml"
    base = toml.with_suffix(".base").read_text()
    toml.write_text(f'{base}\n[server]\nworkflows = ["flows.py:counter"]\n{server}')
    return project


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project holding no token; each test sets its ``[server]`` section."""
    return make_project(tmp_path_factory.mktemp("bare"))


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project for the token commands, holding a live token named ``dup``."""
    project = make_project(tmp_path_factory.mktemp("cli"))
    create_token(project, "dup", "read")
    return project


def create_token(project: Path, name: str, scope: str) -> str:
    done = orca(project, "token", "create", name, "--scope", scope, "--json")
    assert done.returncode == 0, done.stderr
    return str(json.loads(done.stdout)["token"])


class Served:
    """A running ``orca serve``: its URL, and its standard error once stopped."""

    def __init__(self, project: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = project / f"serve-{self.port}.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [str(ORCA), "-C", str(project), *args, "serve", "--port", str(self.port)],
                env={**os.environ, "ORCA_HOME": str(project / "home"), **(env or {})},
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(self.log.read_text())
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise AssertionError("the server did not become ready")

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        return self.log.read_text()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_project(
        tmp_path_factory.mktemp("auth"), f'host = "0.0.0.0"\ncors_origins = ["{UI}"]\n'
    )
    return root


@pytest.fixture(scope="module")
def tokens(project: Path) -> dict[str, str]:
    """Made through the store (the token commands have tests of their own)."""
    from orca.store import project_store

    with project_store(project) as store:
        made = {s: store.tokens.create(f"{s}-bot", s)[1] for s in ("read", "run", "admin")}
        made["revoked"] = store.tokens.create("old-bot", "admin")[1]
        store.tokens.revoke("old-bot")
        made["unused"] = store.tokens.create("unused-bot", "read")[1]
    return made


@pytest.fixture(scope="module")
def server(project: Path, tokens: dict[str, str]) -> Iterator[Served]:
    """Bound to 0.0.0.0 (every address), reached through 127.0.0.1: allowed because the
    project holds live tokens, so auth is on."""
    served = Served(project)
    yield served
    said = served.stop()
    assert "bearer tokens required" in said
    assert "Traceback" not in said


def call(server: Served, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(method, server.url + path, headers=headers, timeout=30, **kw)


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == ENVELOPE
    assert body["code"] == code
    assert response.headers["X-Correlation-Id"]
    return dict(body)


# one route of each family, with a body it would take
FAMILIES = [
    ("GET", "/v1/workflows", None),
    ("GET", "/v1/runs", None),
    ("GET", "/v1/threads", None),
    ("GET", "/metrics", None),
    ("GET", "/v1/auth/whoami", None),
    ("POST", "/v1/runs/wait", {"workflow": "counter", "input": {}}),
    ("POST", "/v1/threads", None),
    ("DELETE", "/v1/threads/t-none", None),
    ("POST", "/v1/budgets", {"name": "b"}),
    ("GET", "/v1/admin/anything", None),
]


# -- no token, a wrong one, a revoked one ---------------------------------------------------


def test_health_is_open_without_a_token(server: Served) -> None:
    assert call(server, "GET", "/healthz").json()["status"] == "ok"
    assert call(server, "GET", "/readyz").json()["status"] == "ready"
    assert call(server, "GET", "/openapi.json").json()["components"]["securitySchemes"]


@pytest.mark.parametrize(("method", "path", "body"), FAMILIES)
def test_every_route_family_refuses_a_request_without_a_token(
    server: Served, method: str, path: str, body: Any
) -> None:
    answer = call(server, method, path, json=body)
    envelope = refused(answer, 401, "UNAUTHENTICATED")
    assert answer.headers["WWW-Authenticate"] == 'Bearer realm="orca"'
    assert "orca token create" in envelope["details"]["fix"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer orca",
        "Basic dXNlcjpwYXNz",
        "orca_0123456789ab_" + "A" * 43,  # a token without its scheme
        "Token orca_0123456789ab_" + "A" * 43,
    ],
)
def test_a_malformed_authorization_header_is_401(server: Served, header: str) -> None:
    answer = call(server, "GET", "/v1/workflows", headers={"Authorization": header})
    refused(answer, 401, "UNAUTHENTICATED")
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_token_is_401(server: Served, tokens: dict[str, str]) -> None:
    real = tokens["admin"]
    flipped = real[:-1] + ("A" if real[-1] != "A" else "B")  # the right id, a wrong secret
    unknown = "orca_0123456789ab_" + real.split("_", 2)[2]  # a right secret, a wrong id
    for token in (flipped, unknown, "not-a-token", real + "x", real.upper()):
        answer = call(server, "GET", "/v1/workflows", token)
        body = refused(answer, 401, "UNAUTHENTICATED")
        assert body["message"] == "the bearer token is unknown or revoked"
        assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_a_revoked_token_is_401(server: Served, tokens: dict[str, str]) -> None:
    refused(call(server, "GET", "/v1/workflows", tokens["revoked"]), 401, "UNAUTHENTICATED")


def test_revoking_takes_effect_on_the_next_request(server: Served, project: Path) -> None:
    token = create_token(project, "short-lived", "read")  # made after the server started
    assert call(server, "GET", "/v1/auth/whoami", token).json()["name"] == "short-lived"
    assert orca(project, "token", "revoke", "short-lived").returncode == 0
    refused(call(server, "GET", "/v1/auth/whoami", token), 401, "UNAUTHENTICATED")


# -- scopes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "method", "path", "body", "needed"),
    [
        ("read", "POST", "/v1/runs/wait", {"workflow": "counter", "input": {}}, "run"),
        ("read", "POST", "/v1/runs", {"workflow": "counter", "input": {}}, "run"),
        ("read", "POST", "/v1/threads", None, "run"),
        ("read", "DELETE", "/v1/threads/t-none", None, "run"),
        ("read", "POST", "/v1/runs/r-none/cancel", None, "run"),
        ("read", "POST", "/v1/tasks", {}, "run"),
        ("run", "POST", "/v1/budgets", {"name": "b"}, "admin"),
        ("run", "PUT", "/v1/prices/acme/echo", {}, "admin"),
        ("run", "POST", "/v1/profiles/p/use", None, "admin"),
        ("run", "POST", "/v1/runs/r-none/reprice", {}, "admin"),
        ("run", "GET", "/v1/admin/anything", None, "admin"),
        ("read", "PATCH", "/v1/profiles/p", {}, "admin"),
    ],
)
def test_a_token_without_the_needed_scope_is_403_naming_it(
    server: Served,
    tokens: dict[str, str],
    scope: str,
    method: str,
    path: str,
    body: Any,
    needed: str,
) -> None:
    answer = call(server, method, path, tokens[scope], json=body)
    envelope = refused(answer, 403, "FORBIDDEN")
    assert f"needs scope {needed!r}" in envelope["message"]
    assert envelope["details"]["needed"] == needed
    assert envelope["details"]["scope"] == scope
    assert f"--scope {needed}" in envelope["details"]["fix"]
    assert f'scope="{needed}"' in answer.headers["WWW-Authenticate"]


def test_each_scope_does_what_it_holds(server: Served, tokens: dict[str, str]) -> None:
    for scope in ("read", "run", "admin"):
        assert call(server, "GET", "/v1/workflows", tokens[scope]).status_code == 200
        assert call(server, "GET", "/metrics", tokens[scope]).status_code == 200
    for scope in ("run", "admin"):
        done = call(server, "POST", "/v1/runs/wait", tokens[scope],
                    json={"workflow": "counter", "input": {}})  # fmt: skip
        assert done.status_code == 200, done.text
        assert done.json()["values"] == {"n": 3}
    # past auth, the route itself judges the body
    refused(call(server, "POST", "/v1/budgets", tokens["admin"], json={}), 422, "INVALID_REQUEST")


def test_a_run_started_with_one_token_is_streamed_with_another(
    server: Served, tokens: dict[str, str]
) -> None:
    started = call(server, "POST", "/v1/runs", tokens["run"],
                   json={"workflow": "counter", "input": {}})  # fmt: skip
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    refused(call(server, "GET", f"/v1/runs/{run_id}/stream"), 401, "UNAUTHENTICATED")
    streamed = call(server, "GET", f"/v1/runs/{run_id}/stream", tokens["read"])
    assert streamed.status_code == 200
    assert streamed.text.rstrip().endswith("event: end\ndata: {}")
    assert "event: run.finished" in streamed.text


def test_whoami_names_the_token_and_its_scopes(server: Served, tokens: dict[str, str]) -> None:
    expected = {"read": ["read"], "run": ["read", "run"], "admin": ["read", "run", "admin"]}
    for scope, scopes in expected.items():
        me = call(server, "GET", "/v1/auth/whoami", tokens[scope]).json()
        role = {"read": "viewer", "run": "operator", "admin": "admin"}[scope]
        assert me == {"name": f"{scope}-bot", "scope": scope, "scopes": scopes, "auth": True,
                      "kind": "token", "subject": f"token:{scope}-bot", "tenant": "default",
                      "role": role}  # fmt: skip
    # the scheme's name is not case-sensitive
    lower = call(server, "GET", "/v1/auth/whoami",
                 headers={"Authorization": f"bearer {tokens['read']}"})  # fmt: skip
    assert lower.json()["name"] == "read-bot"


def test_refusals_are_counted_under_their_route(server: Served, tokens: dict[str, str]) -> None:
    call(server, "GET", "/v1/runs/r-counted")  # a 401, refused before routing
    metrics = call(server, "GET", "/metrics", tokens["read"]).text
    assert 'route="/v1/runs/{run_id}",status="401"' in metrics


# -- the tokens at rest ---------------------------------------------------------------------


def test_tokens_are_kept_hashed_never_in_clear(
    server: Served, project: Path, tokens: dict[str, str]
) -> None:
    call(server, "GET", "/v1/workflows", tokens["read"])  # marks it used
    db = project / ".orca" / "project.db"
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute("SELECT * FROM api_tokens").fetchall()
        hashes = {r[0] for r in conn.execute("SELECT token_sha256 FROM api_tokens")}
    finally:
        conn.close()
    stored = json.dumps(rows)
    for token in tokens.values():
        secret = token.split("_", 2)[2]
        assert secret not in stored
        assert hashlib.sha256(token.encode()).hexdigest() in hashes
    raw = db.read_bytes() + (db.with_name("project.db-wal").read_bytes()
                             if db.with_name("project.db-wal").exists() else b"")  # fmt: skip
    for token in tokens.values():
        assert token.split("_", 2)[2].encode() not in raw


def test_token_list_shows_use_and_never_a_secret(
    server: Served, project: Path, tokens: dict[str, str]
) -> None:
    call(server, "GET", "/v1/workflows", tokens["read"])
    listed = orca(project, "token", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    by_name = {t["name"]: t for t in json.loads(listed.stdout)}
    assert {"read-bot", "run-bot", "admin-bot", "unused-bot"} <= set(by_name)
    assert "old-bot" not in by_name  # revoked: only with --all
    assert by_name["read-bot"]["last_used_at"] is not None
    assert by_name["unused-bot"]["last_used_at"] is None
    assert by_name["admin-bot"]["scopes"] == ["read", "run", "admin"]
    everything = orca(project, "token", "list", "--all", "--json")
    old = {t["name"]: t for t in json.loads(everything.stdout)}["old-bot"]
    assert old["revoked_at"] is not None
    table = orca(project, "token", "list", "--all")
    assert "read-bot" in table.stdout
    assert "old-bot" in table.stdout
    for output in (listed.stdout, everything.stdout, table.stdout):
        for token in tokens.values():
            assert token.split("_", 2)[2] not in output


# -- the CLI's bad input --------------------------------------------------------------------


def test_token_create_prints_the_token_once_on_stdout(cli: Path) -> None:
    project = cli
    done = orca(project, "token", "create", "ci", "--scope", "run")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token.startswith("orca_")
    assert len(token) == 5 + 12 + 1 + 43
    assert "shown once" in done.stderr
    assert token not in orca(project, "token", "list", "--all").stdout


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["create", "ci", "--scope", "sudo"], "scope 'sudo' is not read, run or admin"),
        (["create", "bad name!"], "token name 'bad name!' is not 1 to 64 letters"),
        (["create", "-x"], "No such option"),
        (["create", "x" * 65], "is not 1 to 64 letters"),
        (["revoke", "nobody"], "no live token is named 'nobody'"),
        (["create", "dup"], "a live token is named 'dup'"),
    ],
)
def test_bad_token_commands_say_what_and_how_to_fix(cli: Path, args: list[str], said: str) -> None:
    done = orca(cli, "token", *args)
    assert done.returncode in (2, 3), done.stderr
    assert said in done.stderr
    assert "fix:" in done.stderr
    assert "Traceback" not in done.stderr


def test_token_commands_need_a_project(tmp_path: Path) -> None:
    done = orca(tmp_path, "token", "list")
    assert done.returncode == 3
    assert "is not an Orca project" in done.stderr


def test_revoking_twice_names_the_live_tokens(cli: Path) -> None:
    create_token(cli, "twice", "read")
    revoked = orca(cli, "token", "revoke", "twice", "--json")
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["revoked_at"] is not None
    again = orca(cli, "token", "revoke", "twice")
    assert again.returncode == 3
    assert "(live: " in again.stderr
    assert "dup" in again.stderr.partition("(live: ")[2]
    fresh = orca(cli, "token", "create", "twice", "--json")  # the name is free again
    assert fresh.returncode == 0, fresh.stderr


# -- binding, Host and Origin ---------------------------------------------------------------


def test_beyond_loopback_without_auth_is_refused(bare: Path) -> None:
    project = configure(bare, 'host = "0.0.0.0"\n')
    for args in (["serve"], ["serve", "--host", "0.0.0.0"]):
        done = orca(project, *args)
        assert done.returncode == 3
        assert "refusing to listen on 0.0.0.0" in done.stderr
        assert "orca token create" in done.stderr


def test_auth_none_refuses_beyond_loopback_even_with_tokens(cli: Path) -> None:
    project = configure(cli, 'auth = "none"\n')  # cli holds a live token
    done = orca(project, "serve", "--host", "0.0.0.0", "--port", str(_free_port()))
    assert done.returncode == 3
    assert "refusing to listen on 0.0.0.0" in done.stderr


def test_a_bad_auth_mode_or_cors_origin_is_a_config_error(bare: Path) -> None:
    for setting, said in (
        ('auth = "maybe"', "server.auth"),
        ('cors_origins = ["*"]', "'*' is not an origin"),
        ('cors_origins = ["http://ui.example/app"]', "is not an origin"),
    ):
        project = configure(bare, setting + "\n")
        done = orca(project, "serve", "--port", str(_free_port()))
        assert done.returncode == 3, done.stderr
        assert said in done.stderr
        assert "fix:" in done.stderr


def test_with_auth_any_host_name_is_served(server: Served, tokens: dict[str, str]) -> None:
    """Bound to every address, the server is reached by names it cannot know."""
    answer = call(server, "GET", "/v1/workflows", tokens["read"],
                  headers={"Host": f"orca.internal:{server.port}"})  # fmt: skip
    assert answer.status_code == 200, answer.text
    own = f"orca.internal:{server.port}"
    same = call(server, "GET", "/v1/workflows", tokens["read"],
                headers={"Host": own, "Origin": f"http://{own}"})  # fmt: skip
    assert same.status_code == 200, same.text
    other = call(server, "GET", "/v1/workflows", tokens["read"],
                 headers={"Origin": "http://evil.example"})  # fmt: skip
    refused(other, 403, "ORIGIN_NOT_ALLOWED")


# -- CORS -----------------------------------------------------------------------------------


def preflight(server: Served, origin: str) -> httpx.Response:
    return call(server, "OPTIONS", "/v1/runs", headers={
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    })  # fmt: skip


def test_cors_opens_to_exactly_the_configured_origins(
    server: Served, tokens: dict[str, str]
) -> None:
    ok = preflight(server, UI)
    assert ok.status_code == 200, ok.text
    assert ok.headers["Access-Control-Allow-Origin"] == UI
    assert "authorization" in ok.headers["Access-Control-Allow-Headers"].lower()
    assert "POST" in ok.headers["Access-Control-Allow-Methods"]
    for other in ("http://ui.example:5174", "https://ui.example:5173", "http://evil.example"):
        answer = preflight(server, other)
        assert answer.status_code >= 400
        assert "Access-Control-Allow-Origin" not in answer.headers
    real = call(server, "GET", "/v1/workflows", tokens["read"], headers={"Origin": UI})
    assert real.status_code == 200
    assert real.headers["Access-Control-Allow-Origin"] == UI
    assert "X-Correlation-Id" in real.headers["Access-Control-Expose-Headers"]
    # the page can read why it was refused
    denied = call(server, "GET", "/v1/workflows", headers={"Origin": UI})
    refused(denied, 401, "UNAUTHENTICATED")
    assert denied.headers["Access-Control-Allow-Origin"] == UI


def test_open_local_mode_serves_loopback_without_tokens_and_cors_closed(bare: Path) -> None:
    project = configure(bare, "")
    served = Served(project)
    try:
        me = call(served, "GET", "/v1/auth/whoami").json()
        assert me == {"name": None, "scope": "admin", "scopes": ["read", "run", "admin"],
                      "auth": False, "kind": None, "subject": None, "tenant": "default",
                      "role": None}  # fmt: skip
        assert call(served, "GET", "/v1/workflows").status_code == 200
        for origin in ("http://localhost:5173", "http://ui.example"):
            answer = preflight(served, origin)
            assert "Access-Control-Allow-Origin" not in answer.headers
        page = call(served, "GET", "/v1/workflows", headers={"Origin": "http://localhost:5173"})
        assert "Access-Control-Allow-Origin" not in page.headers
    finally:
        said = served.stop()
    assert "no auth, loopback only" in said


def test_auth_tokens_without_any_token_refuses_everything_but_health(bare: Path) -> None:
    project = configure(bare, 'auth = "tokens"\n')
    served = Served(project)
    try:
        assert call(served, "GET", "/healthz").status_code == 200
        refused(call(served, "GET", "/v1/workflows"), 401, "UNAUTHENTICATED")
    finally:
        served.stop()


# -- the scope of every route, by method and path -------------------------------------------


def test_the_api_map_scopes_hold() -> None:
    expected = {
        ("GET", "/healthz"): None,
        ("GET", "/readyz"): None,
        ("GET", "/v1/auth/config"): None,  # how to sign in: no data, no secrets
        ("GET", "/metrics"): "read",
        ("GET", "/v1/runs/r1/stream"): "read",
        ("GET", "/v1/budgets"): "read",
        ("GET", "/v1/usage"): "read",
        ("GET", "/v1/audit"): "admin",
        ("POST", "/v1/threads/t/runs"): "run",
        ("POST", "/v1/tasks/t1/cancel"): "run",
        ("DELETE", "/v1/sessions/s1"): "run",
        ("POST", "/v1/artifacts"): "run",
        ("POST", "/v1/runs/r1/replay"): "run",
        ("POST", "/v1/budgets"): "admin",
        ("POST", "/v1/budgets/b/raise"): "admin",
        ("DELETE", "/v1/profiles/p"): "admin",
        ("PUT", "/v1/prices/openai/gpt-4o"): "admin",
        ("POST", "/v1/runs/r1/reprice"): "admin",
        ("GET", "/v1/admin/tokens"): "admin",
        ("TRACE", "/v1/runs"): "admin",  # a method no rule knows: the most it could need
        ("GET", "/ui/index.html"): "read",  # a path no rule knows: never open
        ("GET", "/debug"): "read",
        ("GET", "/"): None,  # the web UI's bundle (no data): its pages and assets only
        ("GET", "/runs/r1"): None,
        ("HEAD", "/assets/index.js"): None,
        ("POST", "/runs"): "run",  # a write to a page's path is the API's: never open
        ("POST", "/v1/budgetsx"): "run",  # a prefix is a whole segment
    }
    for (method, path), scope in expected.items():
        assert needed_scope(method, path) == scope, (method, path)
    assert all(rule[2] == "admin" for rule in SCOPE_RULES)


def test_every_route_of_the_app_needs_a_scope_unless_it_is_health(tmp_path: Path) -> None:
    from orca.server import ServerSettings, create_app

    app = create_app(ServerSettings(project=tmp_path))
    try:
        seen = 0
        for route in app.routes:
            for method in getattr(route, "methods", None) or ():
                path = str(getattr(route, "path", ""))
                scope = needed_scope(method, path)
                assert (scope is None) == (path in OPEN_PATHS), (method, path)
                seen += 1
        assert seen >= 20
        document = app.openapi()
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                needed = needed_scope(method.upper(), path)
                assert operation["security"] == ([] if needed is None else [{"bearer": [needed]}])
    finally:
        app.state.runs.close_now()
        app.state.auth.close()


# -- tracing --------------------------------------------------------------------------------

IN_PROCESS = """
import asyncio, json, sys
from pathlib import Path
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
import httpx
from orca.server import ServerSettings, create_app

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
app = create_app(ServerSettings(project=Path(sys.argv[1]), workflows=["flows.py:counter"]))

async def main():
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        done = await c.post("/v1/runs/wait", json={"workflow": "counter", "input": {}},
                            headers={"X-Correlation-Id": "corr-in-process"})
        missing = await c.get("/v1/runs/r-none")
    await app.state.runs.close()
    return done.json(), missing.status_code

record, missing = asyncio.run(main())
spans = [{"name": s.name, "id": s.context.span_id, "trace": s.context.trace_id,
          "parent": s.parent.span_id if s.parent else None, "kind": s.kind.name,
          "attributes": dict(s.attributes)} for s in exporter.get_finished_spans()]
print(json.dumps({"record": record, "missing": missing, "spans": spans}))
"""


def test_a_request_span_is_the_parent_of_the_run_it_starts(bare: Path) -> None:
    project = configure(bare, "")
    done = subprocess.run(
        [sys.executable, "-c", IN_PROCESS, str(project)],
        cwd=project,
        env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    spans = {s["name"]: s for s in found["spans"]}
    request = spans["POST /v1/runs/wait"]
    run = spans["run counter"]
    assert request["kind"] == "SERVER"
    assert request["attributes"]["http.route"] == "/v1/runs/wait"
    assert request["attributes"]["http.response.status_code"] == 200
    assert request["attributes"]["orca.correlation_id"] == "corr-in-process"
    assert run["parent"] == request["id"]
    assert run["trace"] == request["trace"]
    assert run["attributes"]["orca.correlation_id"] == "corr-in-process"
    assert found["record"]["metadata"]["correlation_id"] == "corr-in-process"
    assert spans["GET /v1/runs/{run_id}"]["attributes"]["http.response.status_code"] == 404
    assert found["missing"] == 404


def test_a_real_server_exports_request_and_run_spans_and_logs_the_correlation(
    bare: Path,
) -> None:
    from test_observe_otel import Collector, attributes

    collector = Collector()
    try:
        project = configure(bare, "")
        served = Served(project, "--log-level", "info", "--log-format", "json",
                        env={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector.url,
                             "NO_PROXY": "127.0.0.1,localhost"})  # fmt: skip
        try:
            done = call(served, "POST", "/v1/runs/wait", json={"workflow": "counter", "input": {}},
                        headers={"X-Correlation-Id": "corr-served"})  # fmt: skip
            assert done.status_code == 200, done.text
        finally:
            logs = served.stop()  # the exporter flushes as the process exits
        received = [span for _, span in collector.spans()]
    finally:
        collector.close()
    [request] = [s for s in received if s.name == "POST /v1/runs/wait"]
    [run] = [s for s in received if s.name == "run counter"]
    assert run.parent_span_id == request.span_id
    assert run.trace_id == request.trace_id
    assert attributes(request)["orca.correlation_id"] == "corr-served"
    assert attributes(run)["orca.correlation_id"] == "corr-served"
    run_logs = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]
    assert run_logs, logs
    assert {r.get("correlation_id") for r in run_logs if r.get("run_id")} == {"corr-served"}


def test_the_app_itself_refuses_to_be_open_beyond_loopback(tmp_path: Path) -> None:
    """Whoever builds the app (not only ``orca serve``) gets no open app on 0.0.0.0."""
    from orca.errors import ConfigError
    from orca.server import ServerSettings, create_app

    (tmp_path / ".orca").mkdir()
    with pytest.raises(ConfigError, match=r"refusing to listen on 0\.0\.0\.0") as caught:
        create_app(ServerSettings(project=tmp_path, host="0.0.0.0"))
    assert caught.value.key == "server.host"
    app = create_app(ServerSettings(project=tmp_path, host="0.0.0.0", auth="tokens"))
    try:
        assert app.state.auth.required
    finally:
        app.state.runs.close_now()
        app.state.auth.close()
