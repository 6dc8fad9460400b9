"""A small OIDC issuer on loopback for tests: a real HTTP server (a thread of the test
process) serving ``/.well-known/openid-configuration``, ``/jwks.json``, ``/authorize``
and ``/token`` (authorization code with PKCE S256 only), signing with keys made here by
``cryptography`` and tokens made with PyJWT.

Tests mint tokens with any claims and headers (``mint``), forge the classic attacks
(``unsigned``, ``hmac_with_public_key``), rotate keys (``rotate``, ``add_key``,
``remove_key``) and count what the server under test fetched (``hits``).

``/authorize`` signs in ``user`` (set it before the browser goes there) without a form:
the test stands for the person at the login page. It checks the client, the redirect
URI (exactly as registered), S256 and a state; ``/token`` checks the code (once, for
that client and redirect URI) and the PKCE verifier, and answers an access token for
``audience`` and an ID token carrying the nonce.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

AUDIENCE = "orca-api"
CLIENT_ID = "orca-ui"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Key:
    """A signing key: its id, algorithm and private key."""

    kid: str
    alg: str
    private: Any

    @property
    def public(self) -> Any:
        return self.private.public_key()

    def jwk(self) -> dict[str, Any]:
        maker = RSAAlgorithm if self.alg.startswith(("RS", "PS")) else ECAlgorithm
        jwk: dict[str, Any] = maker.to_jwk(self.public, as_dict=True)
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}

    def public_pem(self) -> bytes:
        return bytes(
            self.public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )


def make_key(alg: str = "RS256") -> Key:
    private: Any
    if alg.startswith(("RS", "PS")):
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        private = ec.generate_private_key(ec.SECP256R1())
    return Key(kid=f"k-{secrets.token_hex(4)}", alg=alg, private=private)


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str | None
    user: dict[str, Any]
    expires: float


@dataclass
class Issuer:
    """The issuer: its URL once started, its keys (the first signs by default), its
    registered client, and who ``/authorize`` signs in."""

    redirect_uris: list[str] = field(default_factory=list)
    user: dict[str, Any] = field(default_factory=lambda: {"sub": "ada", "org": "acme",
                                                          "orca_role": "viewer"})  # fmt: skip
    keys: list[Key] = field(default_factory=lambda: [make_key("RS256")])
    hits: Counter[str] = field(default_factory=Counter)
    url: str = ""
    _grants: dict[str, _Grant] = field(default_factory=dict)
    _server: ThreadingHTTPServer | None = None

    # -- tokens -------------------------------------------------------------------------

    def claims(self, **overrides: Any) -> dict[str, Any]:
        """Valid claims for the server under test; an override of None drops the claim."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "ada",
            "iat": now,
            "exp": now + 300,
            "org": "acme",
            "orca_role": "viewer",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(
        self, *, key: Key | None = None, headers: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        """A token signed by ``key`` (default: the first key), with ``claims`` over the
        valid ones."""
        key = key or self.keys[0]
        return jwt.encode(
            self.claims(**claims),
            key.private,
            algorithm=key.alg,
            headers={"kid": key.kid, **(headers or {})},
        )

    def unsigned(self, **claims: Any) -> str:
        """An ``alg: none`` token naming a real key id: no signature at all."""
        header = {"alg": "none", "typ": "JWT", "kid": self.keys[0].kid}
        body = self.claims(**claims)
        return f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(body).encode())}."

    def hmac_with_public_key(self, **claims: Any) -> str:
        """HS256 over the token with the issuer's *public* key (in PEM) as the secret: a
        verifier that lets the token choose the algorithm would accept it."""
        key = self.keys[0]
        header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
        signing = (
            f"{b64url(json.dumps(header).encode())}."
            f"{b64url(json.dumps(self.claims(**claims)).encode())}"
        )
        mac = hmac.new(key.public_pem(), signing.encode(), hashlib.sha256).digest()
        return f"{signing}.{b64url(mac)}"

    # -- keys ---------------------------------------------------------------------------

    def add_key(self, alg: str = "RS256") -> Key:
        key = make_key(alg)
        self.keys.append(key)
        return key

    def remove_key(self, key: Key) -> None:
        self.keys = [k for k in self.keys if k.kid != key.kid]

    def rotate(self) -> tuple[Key, Key]:
        """A new key signs from now on and the old one leaves the JWKS: (old, new)."""
        old, new = self.keys[0], make_key(self.keys[0].alg)
        self.keys = [new, *self.keys[1:]]
        return old, new

    # -- the server ---------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "jwks_uri": f"{self.url}/jwks.json",
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": sorted({k.alg for k in self.keys}),
            "token_endpoint_auth_methods_supported": ["none"],
        }

    def start(self) -> Issuer:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                issuer._get(self)

            def do_POST(self) -> None:
                issuer._post(self)

            def do_OPTIONS(self) -> None:
                issuer._answer(self, 204, b"", "text/plain")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _answer(
        self, handler: BaseHTTPRequestHandler, status: int, body: bytes, kind: str, **headers: str
    ) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(body)))
        handler.send_header("Cache-Control", "no-store")
        # the web UI's page exchanges the code from its own origin
        handler.send_header("Access-Control-Allow-Origin", "*")
        handler.send_header("Access-Control-Allow-Headers", "Content-Type")
        for name, value in headers.items():
            handler.send_header(name.replace("_", "-"), value)
        handler.end_headers()
        handler.wfile.write(body)

    def _json(self, handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        self._answer(handler, status, json.dumps(body).encode(), "application/json")

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path)
        self.hits[path.path] += 1
        if path.path == "/.well-known/openid-configuration":
            self._json(handler, 200, self.discovery())
        elif path.path == "/jwks.json":
            self._json(handler, 200, {"keys": [k.jwk() for k in self.keys]})
        elif path.path == "/authorize":
            self._authorize(handler, {k: v[0] for k, v in parse_qs(path.query).items()})
        else:
            self._json(handler, 404, {"error": "not_found"})

    def _authorize(self, handler: BaseHTTPRequestHandler, query: dict[str, str]) -> None:
        redirect = query.get("redirect_uri", "")
        if query.get("client_id") != CLIENT_ID or redirect not in self.redirect_uris:
            self._json(handler, 400, {"error": "invalid_client_or_redirect_uri"})
            return
        problem = None
        if query.get("response_type") != "code":
            problem = "unsupported_response_type"
        elif query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            problem = "invalid_request"  # PKCE with S256 is required
        elif not query.get("state"):
            problem = "invalid_request"
        if problem:
            target = f"{redirect}?{urlencode({'error': problem, 'state': query.get('state', '')})}"
            self._answer(handler, 302, b"", "text/plain", Location=target)
            return
        code = secrets.token_urlsafe(24)
        self._grants[code] = _Grant(
            client_id=CLIENT_ID,
            redirect_uri=redirect,
            challenge=query["code_challenge"],
            nonce=query.get("nonce"),
            user=dict(self.user),
            expires=time.time() + 120,
        )
        target = f"{redirect}?{urlencode({'code': code, 'state': query['state']})}"
        self._answer(handler, 302, b"", "text/plain", Location=target)

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        path = urlsplit(handler.path)
        self.hits[path.path] += 1
        if path.path != "/token":
            self._json(handler, 404, {"error": "not_found"})
            return
        length = int(handler.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(handler.rfile.read(length).decode()).items()}
        grant = self._grants.pop(form.get("code", ""), None)  # a code is good once
        verifier = form.get("code_verifier", "")
        if (
            form.get("grant_type") != "authorization_code"
            or grant is None
            or grant.expires < time.time()
            or form.get("client_id") != grant.client_id
            or form.get("redirect_uri") != grant.redirect_uri
            or b64url(hashlib.sha256(verifier.encode()).digest()) != grant.challenge
        ):
            self._json(handler, 400, {"error": "invalid_grant"})
            return
        access = self.mint(**grant.user)
        id_claims = {**grant.user, "aud": CLIENT_ID, "nonce": grant.nonce}
        self._json(
            handler,
            200,
            {
                "access_token": access,
                "id_token": self.mint(**id_claims),
                "token_type": "Bearer",
                "expires_in": 300,
            },
        )


def pkce_pair() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge."""
    verifier = secrets.token_urlsafe(48)
    return verifier, b64url(hashlib.sha256(verifier.encode()).digest())


def oidc_config(issuer: Issuer, **extra: str) -> str:
    """``[server.oidc]`` lines for a server that takes ``issuer``'s tokens."""
    lines = [
        "[server.oidc]",
        f'issuer = "{issuer.url}"',
        f'audience = "{AUDIENCE}"',
        f'client_id = "{CLIENT_ID}"',
        *(f"{key} = {value}" for key, value in extra.items()),
    ]
    return "\n".join(lines) + "\n"


TENANTS = ("acme", "acme-eu")
"""The tenants the issuer's tokens name in the tests (its users' ``org`` claims)."""


def register_tenants(project: Path) -> None:
    """Register ``TENANTS`` in ``project`` (a server serves an OIDC caller's tenant only
    when it is registered)."""
    from orca.store import project_store

    with project_store(project) as store:
        for tenant in TENANTS:
            store.tenants.create(tenant)
