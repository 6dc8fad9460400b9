"""LangGraph's ``langgraph.checkpoint.sqlite``: Orca's SQLite checkpointer.

``SqliteSaver`` takes a path or an open ``sqlite3`` connection (Orca opens the same file
with its own connection and schema); ``SqliteSaver.from_conn_string(path)`` is a context
manager that closes it at the end. ``":memory:"`` keeps the threads in a temporary file
removed on exit (Orca's SQLite store needs a file: its writer thread has its own
connection).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orca.errors import InvalidInputError
from orca.store import SqliteCheckpointer

__all__ = ["SqliteSaver"]


def _path_of(conn: Any) -> str:
    """The file of an open sqlite3 connection ('' for an in-memory one)."""
    try:
        rows = conn.execute("PRAGMA database_list").fetchall()
    except Exception as exc:
        raise InvalidInputError(
            f"SqliteSaver got a {type(conn).__name__} that is not an open sqlite3 "
            "connection. Fix: pass sqlite3.connect(path, check_same_thread=False) or a path"
        ) from exc
    for row in rows:
        if row[1] == "main":
            return str(row[2] or "")
    return ""


class SqliteSaver(SqliteCheckpointer):
    """Keeps threads in a SQLite file (``orca.SqliteCheckpointer``)."""

    def __init__(self, conn: Any, *, serde: Any = None) -> None:
        if serde is not None:
            raise InvalidInputError(
                "SqliteSaver takes no serde on Orca (Orca serialises state itself). Fix: "
                "leave serde out"
            )
        path = str(conn) if isinstance(conn, str | Path) else _path_of(conn)
        self._scratch: str | None = None
        if path in ("", ":memory:"):
            self._scratch = tempfile.mkdtemp(prefix="orca-sqlite-saver-")
            path = str(Path(self._scratch) / "checkpoints.db")
        super().__init__(path)

    @classmethod
    @contextmanager
    def from_conn_string(cls, conn_string: str) -> Iterator[SqliteSaver]:
        """``with SqliteSaver.from_conn_string("checkpoints.db") as saver: ...``"""
        if not isinstance(conn_string, str) or not conn_string:
            raise InvalidInputError(
                f"from_conn_string got {conn_string!r}. Fix: pass a file path or ':memory:'"
            )
        path = conn_string.removeprefix("file:").split("?", 1)[0]
        saver = cls(path)
        try:
            yield saver
        finally:
            saver.close()

    def setup(self) -> None:
        """Kept for LangGraph programs: Orca creates its tables when the store opens."""

    def close(self) -> None:
        super().close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
