"""Bearer-token auth for the server: which scope each request needs, the middleware that
checks it, ``GET /v1/auth/whoami``, and the CORS opening.

Auth is on when ``[server] auth = "tokens"`` or ``"oidc"``, when ``[server.oidc]`` is
set, or when it is ``"auto"`` (the default) and the project holds a live token as the
server starts; it stays on for the life of the process. With ``[server.oidc]``, a bearer
shaped like a JWT is checked as an OIDC token (``_oidc.py``), any other against the
project's tokens; either way the caller becomes a ``Principal`` on
``request.state.principal``. Without auth the server is the open local dev mode and
serves loopback only (``check_bind``).

The scope a request needs is decided from its method and path alone (``needed_scope``),
before any route runs, so a route added later is covered by the defaults (GET is
``read``, any other method ``run``, an unknown one ``admin``) and never open by accident.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from orca.config import ORIGIN
from orca.errors import ConfigError
from orca.server._errors import envelope
from orca.server._ui import ui_path
from orca.store import DEFAULT_TENANT

if TYPE_CHECKING:
    from orca.config import OIDCConfig
    from orca.server._oidc import Identity, OIDCVerifier, Refusal
    from orca.server._tenancy import Tenancy
    from orca.store import Store, TokenRecord, TokenRepository

log = logging.getLogger("orca.server.auth")

AUTH_MODES = ("auto", "tokens", "oidc", "none")

OPEN_PATHS = frozenset(
    {
        "/healthz",
        "/readyz",
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/v1/auth/config",
    }
)
"""Served to anyone: health for probes, the API's description, and how to sign in
(no data, no secrets)."""

ROLE_SCOPES = {"admin": "admin", "operator": "run", "viewer": "read"}
"""Each role as the scope it holds (so every scope rule applies to OIDC callers too)."""
SCOPE_ROLES = {scope: role for role, scope in ROLE_SCOPES.items()}
_SCOPES = ("read", "run", "admin")  # as orca.store.SCOPES: each grants those before it


def granted(scope: str) -> tuple[str, ...]:
    """The scopes ``scope`` holds: itself and every one below it."""
    return _SCOPES[: _SCOPES.index(scope) + 1]


def allows(scope: str, needed: str) -> bool:
    """Whether a caller holding ``scope`` may do what needs ``needed``."""
    return _SCOPES.index(scope) >= _SCOPES.index(needed)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is: an Orca token's holder (``kind`` "token", ``name`` the token's,
    ``subject`` ``token:NAME``, ``tenant`` the token's) or an OIDC token's (``kind``
    "oidc": ``subject`` its ``sub`` claim, ``tenant`` the configured tenant claim).
    ``role`` is admin, operator or viewer; ``scope`` the read/run/admin scope it holds,
    which the scope rules check, within its tenant only."""

    kind: str
    subject: str
    role: str
    scope: str
    name: str | None = None
    tenant: str = DEFAULT_TENANT

    @classmethod
    def of_token(cls, record: TokenRecord) -> Principal:
        return cls(
            kind="token",
            subject=f"token:{record.name}",
            role=SCOPE_ROLES[record.scope],
            scope=record.scope,
            name=record.name,
            tenant=record.tenant,
        )

    @classmethod
    def of_oidc(cls, identity: Identity) -> Principal:
        scope = ROLE_SCOPES[identity.role]
        return cls("oidc", identity.subject, identity.role, scope, tenant=identity.tenant)

    def log_context(self) -> dict[str, str]:
        """What logs and spans carry of it (never a token)."""
        return {
            "orca.auth": self.kind,
            "orca.subject": self.subject,
            "orca.role": self.role,
            "orca.tenant": self.tenant,
        }


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

SCOPE_RULES: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = (
    # (methods, path, scope): the first rule that matches decides; then the defaults
    (READ_METHODS | WRITE_METHODS, re.compile(r"^/v1/(admin|audit)(/|$)"), "admin"),
    (READ_METHODS | WRITE_METHODS, re.compile(r"^/v1/auth/tokens(/|$)"), "admin"),
    (READ_METHODS | WRITE_METHODS, re.compile(r"^/v1/secrets(/|$)"), "admin"),
    (WRITE_METHODS, re.compile(r"^/v1/(budgets|profiles|prices)(/|$)"), "admin"),
    (WRITE_METHODS, re.compile(r"^/v1/pools(/|$)"), "admin"),
    (WRITE_METHODS, re.compile(r"^/v1/runs/[^/]+/reprice$"), "admin"),
    (frozenset({"DELETE"}), re.compile(r"^/v1/flows(/|$)"), "admin"),
    # every write to the catalog but a verify (an operator's: it only hashes again)
    (WRITE_METHODS, re.compile(r"^/v1/catalog(?!/models/[^/]+/verify/?$)(/|$)"), "admin"),
)
"""Where the defaults (reads ``read``, writes ``run``) are not enough: the tool audit (what
tools were given and answered, redacted), the server's tokens, stored secrets, writes to
budgets, profiles and prices (and repricing a run), to the local engine pools (the
installation's, not a tenant's), deleting a saved flow's version, and adding a model to
the catalog or changing its state need ``admin``. A rule only ever raises the scope a
request needs."""


def needed_scope(method: str, path: str) -> str | None:
    """The scope a request needs: None for ``OPEN_PATHS``; the first of ``SCOPE_RULES``
    that matches; else ``read`` for GET/HEAD/OPTIONS, ``run`` for POST/PUT/PATCH/DELETE,
    and ``admin`` for any other method."""
    if path in OPEN_PATHS or (method in ("GET", "HEAD") and ui_path(path)):
        return None  # the API's description, health, or the web UI's bundle (no data)
    for methods, pattern, scope in SCOPE_RULES:
        if method in methods and pattern.match(path):
            return scope
    if method in READ_METHODS:
        return "read"
    if method in WRITE_METHODS:
        return "run"
    return "admin"


def check_auth_mode(mode: str) -> str:
    if mode not in AUTH_MODES:
        raise ConfigError(
            f"[server] auth is {mode!r}",
            key="server.auth",
            fix='write auth = "auto" (tokens once one exists), "tokens", "oidc" or "none"',
        )
    return mode


def auth_required(project: Path, mode: str, oidc: bool = False) -> bool:
    """Whether a server of ``project`` started now requires tokens: ``mode`` "tokens" or
    "oidc", ``oidc`` (``[server.oidc]`` is set), or "auto" with a live token in the
    project (read from its database)."""
    check_auth_mode(mode)
    if oidc or mode == "oidc":
        return True
    if mode != "auto":
        return mode == "tokens"
    store = _token_store(project)
    if store is None:
        return False
    with store:
        return store.tokens.live() > 0


def _token_store(project: Path) -> Store | None:
    """The store holding the project's tokens; None for a project with no database yet
    (asking creates none)."""
    from orca.store import configured_url, project_db_path, project_store

    if configured_url() is None and not project_db_path(project).exists():
        return None
    return project_store(project)


@dataclass
class Guard:
    """The server's auth: on or off for its life, and the project's tokens when on (and
    the OIDC verifier, with ``[server.oidc]``)."""

    required: bool
    store: Store | None = None
    oidc: OIDCVerifier | None = None

    @property
    def tokens(self) -> TokenRepository | None:
        return None if self.store is None else self.store.tokens

    @classmethod
    def open(cls, project: Path, mode: str, oidc: OIDCConfig | None = None) -> Guard:
        if not auth_required(project, mode, oidc is not None):
            return cls(False)
        from orca.store import project_store

        verifier = None
        if oidc is not None:
            from orca.server._oidc import OIDCVerifier

            verifier = OIDCVerifier(oidc)
        return cls(True, project_store(project), verifier)

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None


class Authorize:
    """ASGI middleware: when auth is on, each request not in ``OPEN_PATHS`` must carry
    ``Authorization: Bearer TOKEN``: a live Orca token, or (with ``[server.oidc]``) a
    valid OIDC token, holding the scope it needs; else 401 (no token, or one that is
    unknown, revoked, expired, for another audience...) or 403 (too small a scope), in
    the envelope. The caller lands on ``request.state.principal`` (and an Orca token's
    record on ``request.state.token``)."""

    def __init__(self, app: Any, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        tokens = self.guard.tokens
        if scope["type"] != "http" or not self.guard.required or tokens is None:
            await self.app(scope, receive, send)
            return
        needed = needed_scope(scope["method"], scope["path"])
        if needed is None:
            await self.app(scope, receive, send)
            return
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        kind, _, token = header.partition(" ")
        token = token.strip()
        if kind.lower() != "bearer" or not token:
            fix = "send Authorization: Bearer TOKEN (orca token create NAME makes one)"
            if self.guard.oidc is not None:
                fix += ", or an access token of the identity provider"
            await _refuse(send, 401, "UNAUTHENTICATED",
                          "this server requires a bearer token", fix,
                          'Bearer realm="orca"')  # fmt: skip
            return
        state = scope.setdefault("state", {})
        oidc = self.guard.oidc
        tenancy: Tenancy = scope["app"].state.tenancy
        if oidc is not None and _looks_like_jwt(token):
            from orca.server._oidc import Refusal, tenant_refusal

            verdict = await oidc.verify(token)
            if not isinstance(verdict, Refusal):
                why = await tenancy.usable(verdict.tenant)
                if why is not None:
                    verdict = tenant_refusal(verdict.tenant, why)
            if isinstance(verdict, Refusal):
                await _refuse_token(send, verdict, scope)
                return
            principal = Principal.of_oidc(verdict)
        else:
            record = await asyncio.to_thread(tokens.verify, token)
            if record is None:
                await _refuse(send, 401, "UNAUTHENTICATED",
                              "the bearer token is unknown or revoked",
                              "send a live token (orca token list shows them)",
                              'Bearer realm="orca", error="invalid_token"')  # fmt: skip
                return
            principal = Principal.of_token(record)
            state["token"] = record
        if not allows(principal.scope, needed):
            who = (
                f"token {principal.name!r} has {principal.scope!r}"
                if principal.kind == "token"
                else f"role {principal.role!r} of {principal.subject[:200]!r} holds "
                f"{principal.scope!r}"
            )
            fix = (
                f"use a token with scope {needed} (orca token create NAME --scope {needed})"
                if principal.kind == "token"
                else f"ask for the role {SCOPE_ROLES[needed]} (it holds scope {needed})"
            )
            await _refuse(
                send, 403, "FORBIDDEN",
                f"{scope['method']} {scope['path']} needs scope {needed!r}; {who}",
                fix,
                f'Bearer realm="orca", error="insufficient_scope", scope="{needed}"',
                {"needed": needed, "scope": principal.scope, "role": principal.role},
            )  # fmt: skip
            return
        state["principal"] = principal
        state["side"] = await tenancy.side(principal.tenant)  # its tenant's, and no other
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s %s by %s (%s)", scope["method"], scope["path"], principal.subject[:200],
                principal.role, extra={"orca": _log_fields(scope, principal)},
            )  # fmt: skip
        await self.app(scope, receive, send)


def _log_fields(scope: Any, principal: Principal | None = None) -> dict[str, Any]:
    """A log record's fields for a request: its correlation id and who is calling."""
    fields: dict[str, Any] = {"correlation_id": scope.get("state", {}).get("correlation_id")}
    if principal is not None:
        fields.update(
            auth=principal.kind,
            subject=principal.subject,
            tenant=principal.tenant,
            role=principal.role,
        )
    return fields


def _looks_like_jwt(token: str) -> bool:
    """Whether a bearer is for the OIDC check (three dot-separated parts, not an Orca
    token): anything else goes to the project's tokens."""
    return token.count(".") == 2 and not token.startswith("orca_")


async def _refuse_token(send: Any, refusal: Refusal, scope: Any) -> None:
    log.info(
        "%s %s refused: %s (%s)", scope["method"], scope["path"], refusal.code, refusal.message,
        extra={"orca": {**_log_fields(scope), "auth": "oidc", "code": refusal.code}},
    )  # fmt: skip
    await _refuse(
        send,
        refusal.status,
        refusal.code,
        refusal.message,
        refusal.fix,
        f'Bearer realm="orca", error="{refusal.error}"',
    )


async def _refuse(
    send: Any,
    status: int,
    code: str,
    message: str,
    fix: str,
    challenge: str,
    details: dict[str, Any] | None = None,
) -> None:
    body = orjson.dumps(envelope(code, message, details={**(details or {}), "fix": fix}))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"www-authenticate", challenge.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class WhoAmI(BaseModel):
    """Who the request's caller is, and what it may do."""

    name: str | None
    """The Orca token's name (None for an OIDC caller, or without auth)."""
    scope: str
    scopes: list[str]
    auth: bool
    """Whether the server requires tokens (false: the open local dev mode)."""
    kind: str | None = None
    """How the caller signed in: "token" (an Orca token), "oidc", or None (no auth)."""
    subject: str | None = None
    """The OIDC ``sub`` claim, or ``token:NAME`` for an Orca token."""
    tenant: str = DEFAULT_TENANT
    """The caller's tenant: an Orca token's, or the one the OIDC token's tenant claim
    names ("default" without auth)."""
    role: str | None = None
    """admin, operator or viewer (None without auth)."""


class AuthConfig(BaseModel):
    """How a client signs in to this server (no secrets): whether OIDC is on, and for the
    web UI's authorization-code sign-in with PKCE, the issuer, the public client id and
    the issuer's endpoints."""

    auth: bool
    oidc: bool
    issuer: str | None = None
    client_id: str | None = None
    audience: str | None = None
    authorization_endpoint: str | None = None
    token_endpoint: str | None = None
    scopes: list[str] = []


router = APIRouter(tags=["auth"])


@router.get("/v1/auth/whoami")
async def whoami(request: Request) -> WhoAmI:
    """The caller: its token's name (or OIDC subject, tenant and role) and scopes
    (without auth, the open local mode holds every scope and has no name)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        return WhoAmI(name=None, scope="admin", scopes=["read", "run", "admin"], auth=False)
    return WhoAmI(
        name=principal.name,
        scope=principal.scope,
        scopes=list(granted(principal.scope)),
        auth=True,
        kind=principal.kind,
        subject=principal.subject,
        tenant=principal.tenant,
        role=principal.role,
    )


@router.get("/v1/auth/config")
async def auth_config(request: Request) -> AuthConfig:
    """How to sign in (open to anyone; no secrets): with OIDC on, the issuer, the public
    client id the web UI signs in as, and the issuer's authorization and token
    endpoints (None when the issuer cannot be reached now)."""
    guard: Guard = request.app.state.auth
    if guard.oidc is None:
        return AuthConfig(auth=guard.required, oidc=False)
    found = await asyncio.to_thread(guard.oidc.public_config)
    return AuthConfig(auth=True, **found)


async def sign_in_origins(guard: Guard) -> tuple[str, ...]:
    """The origins the web UI's page calls to sign in with OIDC (the issuer's token
    endpoint's), for its Content-Security-Policy; none without OIDC."""
    if guard.oidc is None:
        return ()
    found = await asyncio.to_thread(guard.oidc.public_config)  # discovered once
    origins = []
    for url in (found.get("token_endpoint"), guard.oidc.config.issuer):
        if isinstance(url, str):
            parts = urlsplit(url)
            origins.append(f"{parts.scheme}://{parts.netloc}")
    return tuple(dict.fromkeys(origins))


def check_origins(origins: list[str]) -> list[str]:
    """``[server] cors_origins``: each an origin, ``scheme://host[:port]``, nothing more.

    Raises:
        ConfigError: one is not (a wildcard, a path, a missing scheme).
    """
    for origin in origins:
        if not ORIGIN.match(origin):
            raise ConfigError(
                f"[server] cors_origins holds {origin!r}, which is not an origin",
                key="server.cors_origins",
                fix="list exact origins, scheme://host[:port] with no path or wildcard, "
                'e.g. cors_origins = ["http://localhost:5173"]',
            )
    return origins


def install_cors(app: FastAPI, origins: list[str]) -> None:
    """Let pages of exactly ``origins`` call the server (CORS is closed without them)."""
    if not origins:
        return
    from starlette.middleware.cors import CORSMiddleware

    app.add_middleware(
        CORSMiddleware,
        allow_origins=check_origins(origins),
        allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "X-Correlation-Id"],
        expose_headers=["X-Correlation-Id", "Retry-After", "X-Backoff-Ms", "WWW-Authenticate"],
        max_age=600,
    )


def declare_security(app: FastAPI) -> None:
    """The OpenAPI document declares the bearer scheme, and each operation the scope it
    needs (``needed_scope``; none for the open paths)."""
    base = app.openapi
    declared = False

    def openapi() -> dict[str, Any]:
        nonlocal declared
        schema = base()
        if not declared:
            declared = True
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `orca token create NAME --scope read|run|"
                    "admin` (admin holds run, run holds read). Required when the server's "
                    "auth is on; the open local mode (loopback only) takes none.",
                }
            }
            for path, operations in schema.get("paths", {}).items():
                for method, operation in operations.items():
                    needed = needed_scope(method.upper(), path)
                    operation["security"] = [] if needed is None else [{"bearer": [needed]}]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
