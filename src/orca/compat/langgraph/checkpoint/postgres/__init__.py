"""LangGraph's ``langgraph.checkpoint.postgres``: Orca's PostgreSQL checkpointer.

``PostgresSaver`` takes a ``postgresql://`` URL (or an open psycopg connection, whose
URL it reads); ``PostgresSaver.from_conn_string(url)`` is a context manager that closes
its pool at the end. ``setup()`` is kept for LangGraph programs: Orca creates and
migrates its tables when the store opens.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

from orca.errors import InvalidInputError
from orca.store.postgres import PgCheckpointer

__all__ = ["PostgresSaver"]


def _url_of(conn: Any) -> str:
    if isinstance(conn, str):
        return conn
    info = getattr(conn, "info", None)
    dsn = getattr(info, "dsn", None)
    if not isinstance(dsn, str):
        raise InvalidInputError(
            f"PostgresSaver got a {type(conn).__name__}. Fix: pass a postgresql:// URL, or "
            "use PostgresSaver.from_conn_string(url)"
        )
    password = getattr(info, "password", None)
    return f"{dsn} password={password}" if password and "password=" not in dsn else dsn


P = TypeVar("P", bound="PostgresSaver")


@contextmanager
def opened(cls: type[P], conn_string: str, **kwargs: Any) -> Iterator[P]:
    """A saver of ``cls`` on ``conn_string``, its pool closed at the end."""
    if not isinstance(conn_string, str) or not conn_string:
        raise InvalidInputError(
            f"from_conn_string got {conn_string!r}. Fix: pass postgresql://USER:PASSWORD"
            "@HOST:PORT/DATABASE"
        )
    saver = cls(conn_string, **kwargs)
    try:
        yield saver
    finally:
        saver.close()


class PostgresSaver(PgCheckpointer):
    """Keeps threads in PostgreSQL (``orca.store.postgres.PgCheckpointer``)."""

    def __init__(self, conn: Any, *, serde: Any = None, **kwargs: Any) -> None:
        if serde is not None or kwargs:
            raise InvalidInputError(
                "PostgresSaver takes only a connection or URL on Orca (Orca serialises "
                "state itself). Fix: PostgresSaver(url)"
            )
        super().__init__(_url_of(conn))

    @classmethod
    def from_conn_string(
        cls, conn_string: str, **kwargs: Any
    ) -> AbstractContextManager[PostgresSaver]:
        """``with PostgresSaver.from_conn_string(url) as saver: ...``"""
        return opened(cls, conn_string, **kwargs)

    def setup(self) -> None:
        """Kept for LangGraph programs: Orca creates its tables when the store opens."""
