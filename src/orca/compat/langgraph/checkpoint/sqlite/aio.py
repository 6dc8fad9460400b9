"""LangGraph's ``langgraph.checkpoint.sqlite.aio``: the same SQLite checkpointer for
async programs (Orca's checkpointers serve sync and async runs alike)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from orca.compat.langgraph.checkpoint.sqlite import SqliteSaver, opened

__all__ = ["AsyncSqliteSaver"]


class AsyncSqliteSaver(SqliteSaver):
    """``SqliteSaver`` with LangGraph's async spelling: ``async with
    AsyncSqliteSaver.from_conn_string(path) as saver`` and ``await saver.setup()``."""

    @classmethod
    @asynccontextmanager
    async def from_conn_string(  # type: ignore[override]
        cls, conn_string: str
    ) -> AsyncIterator[AsyncSqliteSaver]:
        with opened(cls, conn_string) as saver:
            yield saver

    async def setup(self) -> None:  # type: ignore[override]
        """Kept for LangGraph programs: Orca creates its tables when the store opens."""
