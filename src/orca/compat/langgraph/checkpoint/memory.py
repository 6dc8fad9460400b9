"""LangGraph's ``langgraph.checkpoint.memory``: Orca's in-memory checkpointer."""

from __future__ import annotations

from typing import Any

from orca.checkpoint import MemoryCheckpointer
from orca.errors import InvalidInputError

__all__ = ["InMemorySaver", "MemorySaver"]


class InMemorySaver(MemoryCheckpointer):
    """Keeps threads in this process's memory (``orca.MemoryCheckpointer``)."""

    def __init__(self, *, serde: Any = None, **kwargs: Any) -> None:
        if serde is not None or kwargs:
            raise InvalidInputError(
                "InMemorySaver takes no serde or factory on Orca (Orca serialises state "
                "itself). Fix: call InMemorySaver()"
            )
        super().__init__()


MemorySaver = InMemorySaver
