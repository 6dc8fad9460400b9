"""The ``orca`` command line (typer + rich): ``orca <noun> <verb>``, ``--json`` on every
command, and documented exit codes (see ``docs/cli.md``).

The application (``app``) is imported on first use: ``orca --version`` answers without
importing the command line at all."""

from __future__ import annotations

import contextlib
import sys
from typing import Any


def main() -> None:
    """Entry point of the ``orca`` script."""
    if sys.argv[1:] == ["--version"]:
        from orca._version import __version__

        print(f"orca {__version__}")
        return
    from orca.cli._app import app

    try:
        app()
    except SystemExit as exc:
        if exc.code == 130:  # cancelled: its records are written
            _exit_now(130)
        raise


def _exit_now(code: int) -> None:
    """Exit at once, even while a sync node's thread still runs: Python cannot stop a
    thread, and would wait for it at exit. What the run committed is in the databases
    already (each write is its own transaction), so only the output is flushed."""
    import logging
    import os
    import threading

    if threading.active_count() <= 1:
        return  # no thread to wait for: the ordinary exit
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


def __getattr__(name: str) -> Any:
    if name == "app":
        from orca.cli._app import app

        return app
    raise AttributeError(f"module 'orca.cli' has no attribute {name!r}")
