"""The server's OpenAPI document, as committed in ``contracts/openapi.json``: run
``python -m orca.server._openapi > contracts/openapi.json`` after changing the API (a
test fails while the two differ)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the app (served at ``/openapi.json``)."""
    from orca.server._app import ServerSettings, create_app

    with tempfile.TemporaryDirectory() as project:
        app = create_app(ServerSettings(project=Path(project)))
        try:
            return app.openapi()
        finally:
            app.state.runs.close_now()


def text() -> str:
    return json.dumps(document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(text(), end="")
