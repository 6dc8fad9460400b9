"""LangGraph's ``langgraph.cache.memory``: Orca's in-memory node cache."""

from __future__ import annotations

from typing import Any

from orca.errors import InvalidInputError
from orca.graph import MemoryCache

__all__ = ["InMemoryCache"]


class InMemoryCache(MemoryCache):
    """Keeps node results in this process's memory (``orca.graph.MemoryCache``)."""

    def __init__(self, *, serde: Any = None) -> None:
        if serde is not None:
            raise InvalidInputError(
                "InMemoryCache takes no serde on Orca (results are copied, not "
                "serialised). Fix: call InMemoryCache()"
            )
        super().__init__()
