"""Bearer-token auth for the server: which scope each request needs, the middleware that
checks it, ``GET /v1/auth/whoami``, and the CORS opening.

Auth is on when ``[server] auth = "tokens"``, or when it is ``"auto"`` (the default) and
the project holds a live token as the server starts; it stays on for the life of the
process. Without it the server is the open local dev mode and serves loopback only
(``check_bind``).

The scope a request needs is decided from its method and path alone (``needed_scope``),
before any route runs, so a route added later is covered by the defaults (GET is
``read``, any other method ``run``, an unknown one ``admin``) and never open by accident.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel

from orca.config import ORIGIN
from orca.errors import ConfigError
from orca.server._errors import envelope
from orca.server._ui import ui_path

if TYPE_CHECKING:
    from orca.store import SqliteTokens, TokenRecord

AUTH_MODES = ("auto", "tokens", "none")

OPEN_PATHS = frozenset(
    {"/healthz", "/readyz", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)
"""Served to anyone: health for probes, and the API's description (no data)."""

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

SCOPE_RULES: tuple[tuple[frozenset[str], re.Pattern[str], str], ...] = (
    # (methods, path, scope): the first rule that matches decides; then the defaults
    (READ_METHODS | WRITE_METHODS, re.compile(r"^/v1/(admin|audit)(/|$)"), "admin"),
    (READ_METHODS | WRITE_METHODS, re.compile(r"^/v1/auth/tokens(/|$)"), "admin"),
    (WRITE_METHODS, re.compile(r"^/v1/(budgets|profiles|prices)(/|$)"), "admin"),
    (WRITE_METHODS, re.compile(r"^/v1/runs/[^/]+/reprice$"), "admin"),
    (frozenset({"DELETE"}), re.compile(r"^/v1/flows(/|$)"), "admin"),
)
"""Where the defaults (reads ``read``, writes ``run``) are not enough: the tool audit (what
tools were given and answered, redacted), the server's tokens, and writes to budgets,
profiles and prices (and repricing a run), and deleting a saved flow's version, need
``admin``. A rule only ever raises the scope a request needs."""


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
            fix='write auth = "auto" (tokens once one exists), "tokens" or "none"',
        )
    return mode


def auth_required(project: Path, mode: str) -> bool:
    """Whether a server of ``project`` started now requires tokens: ``mode`` "tokens",
    or "auto" with a live token in the project (read from its database)."""
    check_auth_mode(mode)
    if mode != "auto":
        return mode == "tokens"
    from orca.store import SqliteTokens, project_db_path

    path = project_db_path(project)
    if not path.exists():
        return False
    with SqliteTokens(path) as tokens:
        return tokens.live() > 0


@dataclass
class Guard:
    """The server's auth: on or off for its life, and the project's tokens when on."""

    required: bool
    tokens: SqliteTokens | None = None

    @classmethod
    def open(cls, project: Path, mode: str) -> Guard:
        if not auth_required(project, mode):
            return cls(False)
        from orca.store import SqliteTokens, project_db_path

        return cls(True, SqliteTokens(project_db_path(project)))

    def close(self) -> None:
        if self.tokens is not None:
            self.tokens.close()
            self.tokens = None


class Authorize:
    """ASGI middleware: when auth is on, each request not in ``OPEN_PATHS`` must carry
    ``Authorization: Bearer TOKEN`` of a live token holding the scope it needs; else 401
    (no token, or one that is unknown or revoked) or 403 (too small a scope), in the
    envelope. The token's record lands on ``request.state.token``."""

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
        if kind.lower() != "bearer" or not token.strip():
            await _refuse(send, 401, "UNAUTHENTICATED",
                          "this server requires a bearer token",
                          "send Authorization: Bearer TOKEN (orca token create NAME makes one)",
                          'Bearer realm="orca"')  # fmt: skip
            return
        record = await asyncio.to_thread(tokens.verify, token.strip())
        if record is None:
            await _refuse(send, 401, "UNAUTHENTICATED",
                          "the bearer token is unknown or revoked",
                          "send a live token (orca token list shows them)",
                          'Bearer realm="orca", error="invalid_token"')  # fmt: skip
            return
        if not record.allows(needed):
            await _refuse(
                send, 403, "FORBIDDEN",
                f"{scope['method']} {scope['path']} needs scope {needed!r}; token "
                f"{record.name!r} has {record.scope!r}",
                f"use a token with scope {needed} (orca token create NAME --scope {needed})",
                f'Bearer realm="orca", error="insufficient_scope", scope="{needed}"',
                {"needed": needed, "scope": record.scope},
            )  # fmt: skip
            return
        scope.setdefault("state", {})["token"] = record
        await self.app(scope, receive, send)


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
    """Who the request's token is, and what it may do."""

    name: str | None
    scope: str
    scopes: list[str]
    auth: bool
    """Whether the server requires tokens (false: the open local dev mode)."""


router = APIRouter(tags=["auth"])


@router.get("/v1/auth/whoami")
async def whoami(request: Request) -> WhoAmI:
    """The caller's token: its name and scopes (without auth, the open local mode holds
    every scope and has no name)."""
    record: TokenRecord | None = getattr(request.state, "token", None)
    if record is None:
        return WhoAmI(name=None, scope="admin", scopes=["read", "run", "admin"], auth=False)
    return WhoAmI(name=record.name, scope=record.scope, scopes=list(record.grants), auth=True)


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
