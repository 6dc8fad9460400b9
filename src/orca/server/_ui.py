"""The web UI's bundle (built from ``ui/`` by ``npm run build`` into ``server/ui/``),
served at ``/``: its files under ``/assets/``, and ``index.html`` for every other page
path, which the UI's router reads. The bundle holds no data: the pages call the public
API under ``/v1`` with the user's token, so serving it needs none.

It is not a route: a GET of one of the UI's paths (``PAGES``) that no route matches is
answered here (from the app's 404 handler), so the API keeps its own 404s and 405s."""

from __future__ import annotations

from pathlib import Path

from fastapi.responses import FileResponse, JSONResponse, Response

from orca.config import ORIGIN
from orca.server._errors import envelope

UI_DIR = Path(__file__).with_name("ui")

PAGES = frozenset({"runs", "threads", "costs", "builder", "settings", "auth"})
"""The first path segments of the UI's pages (its router's routes, ``ui/src/App.tsx``):
with ``/`` and ``/assets/...``, the only paths the UI answers, and the only ones open
without a token. Any other path is the API's (a 404 there is the API's, and it stays
behind auth)."""

SIGN_IN_CALLBACK = "/auth/callback"
"""Where an identity provider sends the browser back after an SSO sign-in (the UI's
page finishing it: ``ui/src/pages/auth/SsoCallback.tsx``)."""

SECURITY_HEADERS = {
    # the bundle's own scripts only; React Flow sets style attributes, hence 'unsafe-inline'
    # for styles; data: for the inline favicon and chart images
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def ui_path(path: str) -> bool:
    """Whether a GET of ``path`` (with its leading slash) is the UI's to answer."""
    first = path.lstrip("/").partition("/")[0]
    return path == "/" or first in PAGES or first == "assets"


def _not_built() -> JSONResponse:
    body = envelope(
        "UI_NOT_BUILT",
        "the web UI is not built in this installation",
        details={"fix": "run make ui (or: cd ui && npm ci && npm run build), then restart"},
    )
    return JSONResponse(body, status_code=503)


def ui_response(path: str, connect: tuple[str, ...] = ()) -> Response:
    """A file of the bundle, or the UI's page (``index.html``) for any other path (with
    its leading slash; ``ui_path(path)`` holds). ``connect``: origins the page may call
    besides its own (the identity provider's token endpoint, for the SSO sign-in)."""
    path = path.lstrip("/")
    index = UI_DIR / "index.html"
    if not index.is_file():
        return _not_built()
    if path.startswith("assets/"):
        root = (UI_DIR / "assets").resolve()
        asset = (UI_DIR / path).resolve()
        if not asset.is_relative_to(root) or not asset.is_file():
            body = envelope("NOT_FOUND", f"no asset {path[:200]!r} in the UI bundle")
            return JSONResponse(body, status_code=404)
        # hashed names: a file never changes under its name
        headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}
        return FileResponse(asset, headers=headers)
    headers = {**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    if connect:
        policy = headers["Content-Security-Policy"]
        more = " ".join(o for o in connect if ORIGIN.match(o))
        headers["Content-Security-Policy"] = policy.replace(
            "connect-src 'self'", f"connect-src 'self' {more}"
        )
    return FileResponse(index, media_type="text/html", headers=headers)
