"""LangGraph's ``langgraph.graph.message``: ``add_messages`` and ``MessagesState``, from
Orca's ``orca.graph.messages``."""

from __future__ import annotations

import importlib
from typing import Any

_FROM_ORCA = ("MessagesState", "add_messages")  # read from orca.graph.messages on first use
__all__ = [*_FROM_ORCA]


def __getattr__(name: str) -> Any:
    if name not in _FROM_ORCA:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        native = importlib.import_module("orca.graph.messages")
    except ImportError as exc:
        raise ImportError(
            f"{name} needs orca.graph.messages, which this Orca lacks. Fix: upgrade Orca"
        ) from exc
    value = getattr(native, name)
    globals()[name] = value
    return value
