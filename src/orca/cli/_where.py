"""``source()``: where this command's data lives (see ``_source``)."""

from __future__ import annotations

from orca.cli._common import State
from orca.cli._source import Source


def source() -> Source:
    """The server named (``--server`` / ``ORCA_SERVER``), else this project."""
    if State.server is not None:
        from orca.cli._remote import RemoteSource

        return RemoteSource(State.server)
    from orca.cli._local import LocalSource

    return LocalSource()
