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
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

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


S = TypeVar("S", bound="SqliteSaver")


@contextmanager
def opened(cls: type[S], conn_string: str) -> Iterator[S]:
    """A saver of ``cls`` on ``conn_string`` (a path, ``file:`` URI or ``:memory:``),
    closed at the end."""
    if not isinstance(conn_string, str) or not conn_string:
        raise InvalidInputError(
            f"from_conn_string got {conn_string!r}. Fix: pass a file path or ':memory:'"
        )
    saver = cls(conn_string.removeprefix("file:").split("?", 1)[0])
    try:
        yield saver
    finally:
        saver.close()


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
    def from_conn_string(cls, conn_string: str) -> AbstractContextManager[SqliteSaver]:
        """``with SqliteSaver.from_conn_string("checkpoints.db") as saver: ...``"""
        return opened(cls, conn_string)

    def setup(self) -> None:
        """Kept for LangGraph programs: Orca creates its tables when the store opens."""

    def close(self) -> None:
        super().close()
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
