"""``source()``: where this command's data lives (see ``_source``)."""

from __future__ import annotations

from orca.cli._common import State
from orca.cli._source import Budgets, Source


def source() -> Source:
    """The server named (``--server`` / ``ORCA_SERVER``), else this project."""
    if State.server is not None:
        from orca.cli._remote import RemoteSource

        return RemoteSource(State.server)
    from orca.cli._local import LocalSource

    return LocalSource()


def budgets() -> Budgets:
    """The budgets and usage of the server named, else of this machine."""
    if State.server is not None:
        from orca.cli._remote import connect
        from orca.cli._remote_admin import RemoteBudgets

        return RemoteBudgets(connect(State.server))
    from orca.cli._local import LocalBudgets

    return LocalBudgets()
