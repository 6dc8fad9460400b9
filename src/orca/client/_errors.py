"""An error answer as the typed exception of its status, carrying the server's
envelope (the tree is in ``orca.errors``)."""

from __future__ import annotations

from typing import Any

import httpx

from orca.errors import (
    ServerAuthError,
    ServerConflictError,
    ServerError,
    ServerNotFoundError,
    ServerOverloadedError,
    ServerRequestError,
    ServerUnreachableError,
)

_BY_STATUS: dict[int, type[ServerError]] = {
    400: ServerRequestError,
    401: ServerAuthError,
    403: ServerAuthError,
    404: ServerNotFoundError,
    409: ServerConflictError,
    413: ServerRequestError,
    422: ServerRequestError,
    429: ServerOverloadedError,
    503: ServerOverloadedError,
}


def from_response(response: httpx.Response) -> ServerError:
    """The exception for an error answer: its envelope's fields, or (from something
    that is not an Orca server) the status and the start of its body."""
    status = response.status_code
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not isinstance(body.get("code"), str):
        text = response.text[:200].strip() or response.reason_phrase
        body = {"code": "HTTP_ERROR", "message": f"HTTP {status}: {text}"}
    cls = _BY_STATUS.get(status, ServerError)
    after = body.get("retry_after_ms")
    details = body.get("details")
    return cls(
        str(body.get("message") or f"HTTP {status}"),
        status=status,
        code=body["code"],
        engine=body.get("engine") if isinstance(body.get("engine"), str) else None,
        retriable=bool(body.get("retriable")) or status in (429, 503),
        retry_after_ms=after if isinstance(after, int) else None,
        policy_label=body.get("policy_label")
        if isinstance(body.get("policy_label"), str)
        else None,
        details=details if isinstance(details, dict) else {},
        correlation_id=response.headers.get("x-correlation-id"),
    )


def unreachable(url: str, exc: Exception) -> ServerUnreachableError:
    what = type(exc).__name__
    return ServerUnreachableError(
        f"no answer from {url} ({what}: {exc})" if str(exc) else f"no answer from {url} ({what})",
        code="UNREACHABLE",
        retriable=True,
        details={"fix": "check that orca serve runs there (--server URL or ORCA_SERVER)"},
    )
