"""LangGraph's ``langgraph.graph``: ``StateGraph``, ``START``, ``END``."""

from typing import Any

from orca.compat.langgraph._builder import StateGraph
from orca.graph._types import END, START

__all__ = ["END", "START", "StateGraph", *("MessagesState", "add_messages")]


def __getattr__(name: str) -> Any:
    if name in ("MessagesState", "add_messages"):  # Orca's own, where it has them
        from orca.compat.langgraph.graph import message

        return getattr(message, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
