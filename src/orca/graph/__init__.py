"""Graph authoring: state schemas, reducers, and the ``StateGraph`` builder."""

from orca.graph import reducers
from orca.graph._builder import StateGraph
from orca.graph._running import interrupt
from orca.graph._types import (
    END,
    START,
    Command,
    Interrupt,
    RetryPolicy,
    Send,
    StateSnapshot,
)

__all__ = [
    "END",
    "START",
    "Command",
    "Interrupt",
    "RetryPolicy",
    "Send",
    "StateGraph",
    "StateSnapshot",
    "interrupt",
    "reducers",
]
