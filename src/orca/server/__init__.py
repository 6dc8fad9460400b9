"""``orca serve``: the HTTP face over the same core as the library and the CLI.

This first step serves health, the workflows named in ``[server] workflows``, runs on
threads (started through run handles, recorded by the engine, awaited, listed,
cancelled) and their events over SSE, resumable with ``Last-Event-ID``; every error is
one envelope, every response carries ``X-Correlation-Id``. See docs/server.md.
"""

from orca.server._app import ServerSettings, create_app

__all__ = ["ServerSettings", "create_app"]
