"""What every SQLite repository over one file shares: its connection, lock, opening,
damage mapping, clock and closing."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, Self

from orca.store._clock import Clock, utc_now
from orca.store.sqlite import _db


class SqliteTables:
    """One connection to the Orca file at ``path``, used under one lock, with the
    ``COMPONENTS`` created or migrated when opened (under ``_errors``, so damage found
    while opening raises ``CorruptDatabaseError``; the connection is closed on any error).

    Raises:
        CorruptDatabaseError: the file is not an Orca database, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """

    COMPONENTS: ClassVar[Sequence[tuple[str, _db.Migrations]]] = ()

    def __init__(self, path: str | Path, *, clock: Clock = utc_now) -> None:
        self.path = str(path)
        self._clock = clock
        self._conn = _db.connect(self.path)
        self._lock: threading.Lock | threading.RLock = threading.Lock()
        try:
            with self._errors():
                self._open()
        except BaseException:
            self._conn.close()
            raise

    def _open(self) -> None:
        """Prepare the file; a repository that needs more of a new connection adds it."""
        _db.prepare_components(self._conn, self.path, self.COMPONENTS)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.path!r}>"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            if not _db.is_damage(exc):
                raise
            raise _db.damaged(self.path, exc) from exc

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds")

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
