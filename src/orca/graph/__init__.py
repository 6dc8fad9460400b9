"""Graph authoring: state schemas, reducers, and the ``StateGraph`` builder."""

from orca.graph import reducers
from orca.graph._builder import StateGraph
from orca.graph._types import (
    END,
    START,
    Command,
    Interrupt,
    Overwrite,
    RetryPolicy,
    Send,
    StateSnapshot,
    default_retry_on,
)

__all__ = [
    "END",
    "START",
    "Command",
    "Interrupt",
    "Overwrite",
    "RetryPolicy",
    "Send",
    "StateGraph",
    "StateSnapshot",
    "default_retry_on",
    "reducers",
]
