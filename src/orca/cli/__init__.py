"""The ``orca`` command line (typer + rich): ``orca <noun> <verb>``, ``--json`` on every
command, and documented exit codes (see ``docs/cli.md``).

The application (``app``) is imported on first use: ``orca --version`` answers without
importing the command line at all."""

from __future__ import annotations

import sys
from typing import Any


def main() -> None:
    """Entry point of the ``orca`` script."""
    if sys.argv[1:] == ["--version"]:
        from orca._version import __version__

        print(f"orca {__version__}")
        return
    from orca.cli._app import app

    app()


def __getattr__(name: str) -> Any:
    if name == "app":
        from orca.cli._app import app

        return app
    raise AttributeError(f"module 'orca.cli' has no attribute {name!r}")
