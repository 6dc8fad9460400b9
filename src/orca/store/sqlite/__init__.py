"""The SQLite backend: every repository of Orca over one SQLite file (WAL, one writer at a
time across processes, readers never blocked)."""

from __future__ import annotations

from pathlib import Path

from orca.store.sqlite._audit import SqliteAudit
from orca.store.sqlite._checkpoints import SqliteCheckpointer

__all__ = ["SqliteAudit", "SqliteCheckpointer", "SqliteStore"]


class SqliteStore:
    """Orca's repositories over the SQLite file ``path``; each repository creates and
    migrates its own tables the first time it is used."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.url = f"sqlite:///{self.path}"
        self._checkpoints: SqliteCheckpointer | None = None
        self._audit: SqliteAudit | None = None

    def __repr__(self) -> str:
        return f"<SqliteStore {self.path!r}>"

    @property
    def checkpoints(self) -> SqliteCheckpointer:
        """Checkpoints and the event log of threads, run and task records, thread
        leases, and the project's workflows and sessions."""
        if self._checkpoints is None:
            self._checkpoints = SqliteCheckpointer(self.path)
        return self._checkpoints

    @property
    def audit(self) -> SqliteAudit:
        """The tool-execution audit (``ToolAudit``)."""
        if self._audit is None:
            self._audit = SqliteAudit(self.path)
        return self._audit

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.close()
            self._checkpoints = None
        if self._audit is not None:
            self._audit.close()
            self._audit = None

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
