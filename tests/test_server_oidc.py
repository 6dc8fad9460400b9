"""OIDC bearer tokens of ``orca serve`` (``[server.oidc]``), against the real process and
a real issuer on loopback (``_oidc.py``): roles as scopes (viewer reads, operator runs,
admin manages tokens), the principal's subject, tenant and role; each way a token is
refused (expired, not yet valid, wrong audience or issuer, ``alg: none``, HMAC with the
public key, unknown key, tampered, missing claims, garbage, huge); key rotation and the
rationed refetch of the keys; Orca's own tokens beside; the sign-in configuration and the
authorization code flow with PKCE; and the configuration's checks."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from _oidc import (
    AUDIENCE,
    CLIENT_ID,
    Issuer,
    make_key,
    oidc_config,
    pkce_pair,
    register_tenants,
)
from _served import ENVELOPE, free_port, init_project, served, start
from orca.server._oidc import MAX_TOKEN_CHARS, REFETCH_BURST

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
counter.add_edge("step", END)
"""

RUN = {"workflow": "counter", "input": {}}


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    """Signing with an RS256 key (the first) and an ES256 one."""
    started = Issuer().start()
    started.add_key("ES256")
    yield started
    started.stop()


def oidc_project(root: Path, issuer: Issuer, **extra: str) -> Path:
    """A project served with ``[server.oidc]`` of ``issuer``, the tenants its tokens
    name registered."""
    init_project(root, FLOW, oidc_config(issuer, **extra))
    register_tenants(root)
    return root


@pytest.fixture(scope="module")
def orca_token(project: Path) -> str:
    """An Orca token of the same project, made through the store before the server starts."""
    from orca.store import project_store

    with project_store(project) as store:
        return store.tokens.create("ci-bot", "run")[1]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, issuer: Issuer) -> Path:
    return oidc_project(tmp_path_factory.mktemp("oidc"), issuer)


@pytest.fixture(scope="module")
def server(project: Path, orca_token: str) -> Iterator[str]:
    with served(project, ["counter"]) as url:
        yield url


def call(url: str, method: str, path: str, token: str | None = None, **kw: Any) -> Any:
    headers = dict(kw.pop("headers", {}))
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.request(method, url + path, headers=headers, timeout=30, **kw)


def refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert set(body) == ENVELOPE
    assert body["code"] == code, body
    assert body["details"]["fix"]
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="orca"')
    return body


# -- roles ----------------------------------------------------------------------------------


def test_a_viewer_reads_but_cannot_start_a_run(server: str, issuer: Issuer) -> None:
    token = issuer.mint(orca_role="viewer")
    assert call(server, "GET", "/v1/workflows", token).status_code == 200
    assert call(server, "GET", "/v1/runs", token).status_code == 200
    body = refused(call(server, "POST", "/v1/runs/wait", token, json=RUN), 403, "FORBIDDEN")
    assert body["details"]["needed"] == "run"
    assert body["details"]["role"] == "viewer"
    assert "role 'viewer'" in body["message"]
    assert "operator" in body["details"]["fix"]


def test_an_operator_starts_runs_but_cannot_manage_tokens(server: str, issuer: Issuer) -> None:
    token = issuer.mint(orca_role="operator")
    done = call(server, "POST", "/v1/runs/wait", token, json=RUN)
    assert done.status_code == 200, done.text
    assert done.json()["values"] == {"n": 1}
    refused(call(server, "GET", "/v1/auth/tokens", token), 403, "FORBIDDEN")
    refused(call(server, "POST", "/v1/budgets", token, json={"name": "b"}), 403, "FORBIDDEN")


def test_an_admin_manages_tokens(server: str, issuer: Issuer) -> None:
    token = issuer.mint(orca_role="admin", sub="grace")
    made = call(
        server, "POST", "/v1/auth/tokens", token, json={"name": "by-sso", "scopes": ["read"]}
    )
    assert made.status_code == 201, made.text
    listed = call(server, "GET", "/v1/auth/tokens", token)
    assert "by-sso" in [t["name"] for t in listed.json()]
    assert call(server, "DELETE", "/v1/auth/tokens/by-sso", token).status_code == 204


def test_whoami_carries_subject_tenant_and_role(server: str, issuer: Issuer) -> None:
    for role, scopes in (("viewer", ["read"]), ("operator", ["read", "run"]),
                         ("admin", ["read", "run", "admin"])):  # fmt: skip
        me = call(server, "GET", "/v1/auth/whoami", issuer.mint(orca_role=role, org="acme-eu"))
        assert me.json() == {
            "name": None,
            "scope": scopes[-1],
            "scopes": scopes,
            "auth": True,
            "kind": "oidc",
            "subject": "ada",
            "tenant": "acme-eu",
            "role": role,
        }


def test_orca_tokens_work_beside_oidc(server: str, orca_token: str) -> None:
    me = call(server, "GET", "/v1/auth/whoami", orca_token).json()
    assert (me["kind"], me["name"], me["role"], me["tenant"]) == ("token", "ci-bot", "operator",
                                                                  "default")  # fmt: skip
    assert call(server, "POST", "/v1/runs/wait", orca_token, json=RUN).status_code == 200
    refused(call(server, "GET", "/v1/workflows", orca_token[:-1] + "x"), 401, "UNAUTHENTICATED")
    no_token = refused(call(server, "GET", "/v1/workflows"), 401, "UNAUTHENTICATED")
    assert "identity provider" in no_token["details"]["fix"]


def test_a_role_the_map_does_not_know_is_403(server: str, issuer: Issuer) -> None:
    body = refused(call(server, "GET", "/v1/workflows", issuer.mint(orca_role="superuser")),
                   403, "FORBIDDEN")  # fmt: skip
    assert "superuser" in body["message"]


def test_a_tenant_claim_must_name_a_registered_enabled_tenant(
    server: str, issuer: Issuer, project: Path
) -> None:
    from orca.store import project_store

    body = refused(call(server, "GET", "/v1/runs", issuer.mint(org="initech")),
                   403, "TENANT_UNKNOWN")  # fmt: skip
    assert "orca tenant create initech" in body["details"]["fix"]
    for bad in ("Acme", "../acme", "a" * 41, "acme corp"):
        body = refused(call(server, "GET", "/v1/runs", issuer.mint(org=bad)), 401, "TOKEN_CLAIMS")
        assert "not a tenant name" in body["message"]
    with project_store(project) as store:
        store.tenants.set_disabled("acme-eu", True)
    try:
        token = issuer.mint(org="acme-eu")
        deadline = time.monotonic() + 10  # the server re-reads the registry within 2 s
        while call(server, "GET", "/v1/runs", token).status_code != 403:
            assert time.monotonic() < deadline, "a disabled tenant was still served"
            time.sleep(0.2)
        refused(call(server, "GET", "/v1/runs", token), 403, "TENANT_DISABLED")
    finally:
        with project_store(project) as store:
            store.tenants.set_disabled("acme-eu", False)
        deadline = time.monotonic() + 10  # served again before the next test
        while call(server, "GET", "/v1/runs", issuer.mint(org="acme-eu")).status_code != 200:
            assert time.monotonic() < deadline, "an enabled tenant was still refused"
            time.sleep(0.2)


# -- refused tokens -------------------------------------------------------------------------


def test_an_expired_token_is_refused_past_the_leeway(server: str, issuer: Issuer) -> None:
    now = int(time.time())
    expired = issuer.mint(iat=now - 900, exp=now - 600)
    body = refused(call(server, "GET", "/v1/workflows", expired), 401, "TOKEN_EXPIRED")
    assert body["message"] == "the bearer token has expired"
    # within the leeway (60 s by default) a clock a little behind is forgiven
    lately = issuer.mint(iat=now - 600, exp=now - 20)
    assert call(server, "GET", "/v1/workflows", lately).status_code == 200


def test_a_token_not_yet_valid_is_refused(server: str, issuer: Issuer) -> None:
    now = int(time.time())
    for claims in ({"nbf": now + 600}, {"iat": now + 600, "exp": now + 900}):
        token = issuer.mint(**claims)
        refused(call(server, "GET", "/v1/workflows", token), 401, "TOKEN_NOT_YET_VALID")
    assert call(server, "GET", "/v1/workflows", issuer.mint(nbf=now + 20)).status_code == 200


def test_a_token_for_another_audience_or_from_another_issuer_is_refused(
    server: str, issuer: Issuer
) -> None:
    for aud in ("someone-else", ["someone-else", "another"]):
        token = issuer.mint(aud=aud)
        refused(call(server, "GET", "/v1/workflows", token), 401, "TOKEN_AUDIENCE")
    assert call(server, "GET", "/v1/workflows", issuer.mint(aud=[AUDIENCE, "x"])).status_code == 200
    for iss in (
        "https://evil.example",
        issuer.url + "/",
        issuer.url.replace("127.0.0.1", "localhost"),
    ):
        token = issuer.mint(iss=iss)
        refused(call(server, "GET", "/v1/workflows", token), 401, "TOKEN_ISSUER")


def test_forged_algorithms_are_refused(server: str, issuer: Issuer) -> None:
    for token in (
        issuer.unsigned(orca_role="admin"),
        issuer.hmac_with_public_key(orca_role="admin"),
    ):
        body = refused(call(server, "GET", "/v1/auth/tokens", token), 401, "TOKEN_INVALID")
        assert "algorithm" in body["message"]


def test_a_token_signed_by_a_key_not_in_the_jwks_is_refused(server: str, issuer: Issuer) -> None:
    stranger = make_key()
    body = refused(call(server, "GET", "/v1/workflows", issuer.mint(key=stranger)),
                   401, "TOKEN_INVALID")  # fmt: skip
    assert "not one of the issuer's keys" in body["message"]
    # the kid of a real key, the signature of another: a bad signature
    posing = issuer.mint(key=stranger, headers={"kid": issuer.keys[0].kid})
    refused(call(server, "GET", "/v1/workflows", posing), 401, "TOKEN_INVALID")


def test_a_header_naming_another_algorithm_than_its_key_is_refused(
    server: str, issuer: Issuer
) -> None:
    """An RS256 header over an ES256 key's signature: the key's type and ``alg`` decide."""
    ec_key = issuer.keys[1]
    assert ec_key.alg == "ES256"
    _, payload, signature = issuer.mint(key=ec_key).split(".")
    header = {"alg": "RS256", "typ": "JWT", "kid": ec_key.kid}
    forged = base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
    token = f"{forged}.{payload}.{signature}"
    refused(call(server, "GET", "/v1/workflows", token), 401, "TOKEN_INVALID")
    assert call(server, "GET", "/v1/workflows", issuer.mint(key=ec_key)).status_code == 200


def test_a_tampered_payload_is_refused(server: str, issuer: Issuer) -> None:
    header, payload, signature = issuer.mint(orca_role="viewer").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["orca_role"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    token = f"{header}.{forged}.{signature}"
    refused(call(server, "GET", "/v1/auth/tokens", token), 401, "TOKEN_INVALID")


@pytest.mark.parametrize("claim", ["org", "orca_role", "sub", "exp", "iat"])
def test_a_token_missing_a_required_claim_is_refused(
    server: str, issuer: Issuer, claim: str
) -> None:
    body = refused(call(server, "GET", "/v1/workflows", issuer.mint(**{claim: None})),
                   401, "TOKEN_CLAIMS")  # fmt: skip
    assert claim in body["message"]
    refused(call(server, "GET", "/v1/workflows", issuer.mint(org=7)), 401, "TOKEN_CLAIMS")


@pytest.mark.parametrize(
    "token",
    [
        "a.b.c",
        "eyJ@@@.###.$$$",  # not base64url at all
        "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.%%%",
        "e30.e30.",  # {} and {}: no alg
        "bm90IGpzb24.e30.AAAA",  # a header that is not JSON
        "..",
    ],
)
def test_garbage_shaped_like_a_jwt_is_refused(server: str, token: str) -> None:
    refused(call(server, "GET", "/v1/workflows", token), 401, "TOKEN_INVALID")


def test_a_huge_token_is_refused_before_it_is_parsed(server: str, issuer: Issuer) -> None:
    padded = issuer.mint(pad="x" * (MAX_TOKEN_CHARS + 100))
    body = refused(call(server, "GET", "/v1/workflows", padded), 401, "TOKEN_INVALID")
    assert str(MAX_TOKEN_CHARS) in body["message"]


def test_a_flood_of_unknown_key_ids_fetches_the_keys_at_most_a_few_times(
    server: str, issuer: Issuer
) -> None:
    assert call(server, "GET", "/v1/workflows", issuer.mint()).status_code == 200
    before = issuer.hits["/jwks.json"]
    stranger = make_key()
    for n in range(30):
        token = issuer.mint(key=stranger, headers={"kid": f"bogus-{n}"})
        refused(call(server, "GET", "/v1/workflows", token), 401, "TOKEN_INVALID")
    assert issuer.hits["/jwks.json"] - before <= REFETCH_BURST
    assert call(server, "GET", "/v1/workflows", issuer.mint()).status_code == 200


# -- keys rotate ----------------------------------------------------------------------------


def test_a_rotated_key_is_fetched_and_a_removed_one_refused(
    tmp_path: Path,
) -> None:
    issuer = Issuer().start()
    try:
        oidc_project(tmp_path, issuer)
        with served(tmp_path, ["counter"]) as url:
            first = issuer.keys[0]
            assert call(url, "GET", "/v1/workflows", issuer.mint()).status_code == 200
            fetched = issuer.hits["/jwks.json"]
            # a second key joins the set: its first token makes the server refetch
            second = issuer.add_key("ES256")
            assert call(url, "GET", "/v1/workflows", issuer.mint(key=second)).status_code == 200
            assert issuer.hits["/jwks.json"] == fetched + 1
            assert call(url, "GET", "/v1/workflows", issuer.mint(key=first)).status_code == 200
            # rotation: a new key signs, the first leaves the set
            old, new = issuer.rotate()
            assert old.kid == first.kid
            assert call(url, "GET", "/v1/workflows", issuer.mint(key=new)).status_code == 200
            stale = issuer.mint(key=old)
            refused(call(url, "GET", "/v1/workflows", stale), 401, "TOKEN_INVALID")
            assert call(url, "GET", "/v1/workflows", issuer.mint(key=second)).status_code == 200
    finally:
        issuer.stop()


def test_an_issuer_that_cannot_be_reached_is_503(tmp_path: Path) -> None:
    issuer = Issuer()
    issuer.url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    oidc_project(tmp_path, issuer)
    with served(tmp_path, ["counter"]) as url:
        answer = call(url, "GET", "/v1/workflows", issuer.mint())
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "OIDC_UNAVAILABLE"
        config = call(url, "GET", "/v1/auth/config").json()
        assert config["oidc"] is True
        assert config["authorization_endpoint"] is None


def test_the_log_says_who_called_and_why_a_token_was_refused(
    tmp_path: Path, issuer: Issuer
) -> None:
    oidc_project(tmp_path, issuer)
    toml = tmp_path / ".orca" / "orca.toml"
    toml.write_text(
        toml.read_text().replace('format = "human"', 'level = "debug"\nformat = "json"')
    )
    proc, url = start(tmp_path, ["counter"])
    try:
        token = issuer.mint(sub="lin", org="acme-eu", orca_role="operator")
        headers = {"X-Correlation-Id": "corr-who"}
        assert call(url, "GET", "/v1/workflows", token, headers=headers).status_code == 200
        expired = issuer.mint(exp=int(time.time()) - 600, iat=int(time.time()) - 900)
        headers = {"X-Correlation-Id": "corr-refused"}
        refused(call(url, "GET", "/v1/workflows", expired, headers=headers), 401, "TOKEN_EXPIRED")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    said = proc.stderr.read().decode()
    lines = [json.loads(line) for line in said.splitlines() if line.startswith("{")]
    auth = [line for line in lines if line["logger"] == "orca.server.auth"]
    by = {line.get("correlation_id"): line for line in auth}
    who = by["corr-who"]
    assert (who["subject"], who["tenant"], who["role"]) == ("lin", "acme-eu", "operator")
    assert who["auth"] == "oidc"
    assert by["corr-refused"]["code"] == "TOKEN_EXPIRED"
    assert by["corr-refused"]["level"] == "info"
    assert token not in said
    assert expired not in said


# -- signing in -----------------------------------------------------------------------------


def test_the_sign_in_configuration_is_open_and_holds_no_secret(server: str, issuer: Issuer) -> None:
    config = call(server, "GET", "/v1/auth/config").json()
    assert config == {
        "auth": True,
        "oidc": True,
        "issuer": issuer.url,
        "client_id": CLIENT_ID,
        "audience": AUDIENCE,
        "authorization_endpoint": f"{issuer.url}/authorize",
        "token_endpoint": f"{issuer.url}/token",
        "scopes": ["openid"],
    }


def test_a_pkce_sign_in_gives_a_token_the_server_takes(server: str, issuer: Issuer) -> None:
    config = call(server, "GET", "/v1/auth/config").json()
    redirect = f"{server}/auth/callback"
    issuer.redirect_uris.append(redirect)
    issuer.user = {"sub": "linus", "org": "acme", "orca_role": "operator"}
    verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": config["client_id"],
        "redirect_uri": redirect,
        "scope": "openid",
        "state": "s-1",
        "nonce": "n-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    went = httpx.get(config["authorization_endpoint"], params=query)
    assert went.status_code == 302
    back = httpx.URL(went.headers["Location"])
    assert back.params["state"] == "s-1"
    form = {
        "grant_type": "authorization_code",
        "code": back.params["code"],
        "redirect_uri": redirect,
        "client_id": CLIENT_ID,
    }
    # the wrong verifier is refused, and so is the code after that (good once)
    assert (
        httpx.post(config["token_endpoint"], data={**form, "code_verifier": "x" * 43}).status_code
        == 400
    )
    went = httpx.get(config["authorization_endpoint"], params=query)
    form["code"] = httpx.URL(went.headers["Location"]).params["code"]
    answer = httpx.post(config["token_endpoint"], data={**form, "code_verifier": verifier})
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    me = call(server, "GET", "/v1/auth/whoami", tokens["access_token"]).json()
    assert (me["subject"], me["role"], me["tenant"]) == ("linus", "operator", "acme")
    # the ID token is for the client, not the API: the server refuses it
    refused(call(server, "GET", "/v1/workflows", tokens["id_token"]), 401, "TOKEN_AUDIENCE")


# -- configuration --------------------------------------------------------------------------


BASE = '[server.oidc]\nissuer = "https://id.example"\naudience = "a"\n'


@pytest.mark.parametrize(
    ("lines", "key", "said"),
    [
        ('auth = "oidc"\n', "server.oidc", "needs [server.oidc]"),
        ('auth = "none"\n[server.oidc]\nissuer = "https://id.example"\naudience = "a"\n',
         "server.oidc", "OIDC keeps auth on"),
        ('[server.oidc]\nissuer = "http://id.example"\naudience = "a"\n',
         "server.oidc.issuer", "https"),
        ('[server.oidc]\nissuer = "https://id.example"\n',
         "server.oidc.audience", "Field required"),
        (BASE + 'algorithms = ["none"]\n',
         "server.oidc.algorithms", "never none"),
        (BASE + 'algorithms = ["HS256"]\n',
         "server.oidc.algorithms", "never HS256"),
        (BASE + 'jwks_uri = "file:///etc/passwd"\n',
         "server.oidc.jwks_uri", "https"),
        (BASE + 'role_map = {boss = "king"}\n',
         "server.oidc.role_map.boss", "'admin', 'operator' or 'viewer'"),
        (BASE + 'leeway_s = -1\n',
         "server.oidc.leeway_s", "greater than or equal to 0"),
        (BASE + 'secret = "x"\n',
         "server.oidc.secret", "Extra inputs"),
    ],
)  # fmt: skip
def test_bad_oidc_settings_are_config_errors_naming_the_key(
    tmp_path: Path, lines: str, key: str, said: str
) -> None:
    from orca.config import load_config
    from orca.errors import ConfigError

    (tmp_path / ".orca").mkdir()
    (tmp_path / ".orca" / "orca.toml").write_text(f"[server]\n{lines}")
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path, home=tmp_path / "home")
    assert raised.value.key == key
    assert said in str(raised.value)
    assert raised.value.fix


def test_good_oidc_settings_keep_their_defaults(tmp_path: Path) -> None:
    from orca.config import load_config

    (tmp_path / ".orca").mkdir()
    (tmp_path / ".orca" / "orca.toml").write_text(
        '[server.oidc]\nissuer = "http://127.0.0.1:9000/realms/x"\naudience = "api"\n'
    )
    oidc = load_config(tmp_path, home=tmp_path / "home").server.oidc
    assert oidc is not None
    assert oidc.algorithms == ["RS256", "ES256"]
    assert (oidc.leeway_s, oidc.tenant_claim, oidc.role_claim) == (60, "org", "orca_role")
    assert oidc.role_map == {"admin": "admin", "operator": "operator", "viewer": "viewer"}
    assert oidc.jwks_uri is None
    assert oidc.client_id is None


def test_oidc_turns_auth_on_so_the_server_may_bind_beyond_loopback(
    tmp_path: Path, issuer: Issuer
) -> None:
    from orca.server._app import check_bind
    from orca.server._auth import auth_required

    oidc_project(tmp_path, issuer)
    assert auth_required(tmp_path, "auto", oidc=True)
    assert auth_required(tmp_path, "oidc")
    assert not auth_required(tmp_path, "auto")
    check_bind("0.0.0.0", auth=auth_required(tmp_path, "auto", oidc=True))


# -- the web UI's sign-in -------------------------------------------------------------------


def test_only_a_navigation_back_to_the_sign_in_callback_is_taken_from_another_site(
    server: str,
) -> None:
    navigate = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
                "Sec-Fetch-Dest": "document"}  # fmt: skip
    back = call(server, "GET", "/auth/callback?code=c&state=s", headers=navigate)
    assert back.status_code != 403, back.text  # the page (or UI_NOT_BUILT without a bundle)
    for method, path, headers in (
        ("GET", "/auth/callback", {**navigate, "Sec-Fetch-Mode": "cors"}),
        ("GET", "/auth/callback", {**navigate, "Sec-Fetch-Dest": "iframe"}),
        ("POST", "/auth/callback", navigate),
        ("GET", "/runs", navigate),
        ("GET", "/v1/auth/config", navigate),
    ):
        answer = call(server, method, path, headers=headers)
        assert answer.status_code == 403, (method, path, headers)
        assert answer.json()["code"] == "ORIGIN_NOT_ALLOWED"


def test_the_ui_page_may_call_the_issuer_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from orca.server import _ui

    (tmp_path / "index.html").write_text("<!doctype html>")
    monkeypatch.setattr(_ui, "UI_DIR", tmp_path)
    plain = _ui.ui_response("/runs").headers["Content-Security-Policy"]
    assert "connect-src 'self';" in plain
    issuer = "http://127.0.0.1:9000"
    policy = _ui.ui_response("/auth/callback", (issuer, "javascript:x", "*")).headers[
        "Content-Security-Policy"
    ]
    assert f"connect-src 'self' {issuer};" in policy  # and never a non-origin
