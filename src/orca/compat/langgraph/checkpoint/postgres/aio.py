"""LangGraph's ``langgraph.checkpoint.postgres.aio``: the same PostgreSQL checkpointer
for async programs (Orca's checkpointers serve sync and async runs alike)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from orca.compat.langgraph.checkpoint.postgres import PostgresSaver, opened

__all__ = ["AsyncPostgresSaver"]


class AsyncPostgresSaver(PostgresSaver):
    """``PostgresSaver`` with LangGraph's async spelling: ``async with
    AsyncPostgresSaver.from_conn_string(url) as saver`` and ``await saver.setup()``."""

    @classmethod
    @asynccontextmanager
    async def from_conn_string(  # type: ignore[override]
        cls, conn_string: str, **kwargs: Any
    ) -> AsyncIterator[AsyncPostgresSaver]:
        with opened(cls, conn_string, **kwargs) as saver:
            yield saver

    async def setup(self) -> None:  # type: ignore[override]
        """Kept for LangGraph programs: Orca creates its tables when the store opens."""
