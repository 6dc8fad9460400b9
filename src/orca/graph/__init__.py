"""Graph authoring: state schemas, reducers, and the ``StateGraph`` builder."""

from orca.graph import messages, reducers
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
from orca.graph.messages import MessagesState, add_messages

__all__ = [
    "END",
    "START",
    "Command",
    "Interrupt",
    "MessagesState",
    "RetryPolicy",
    "Send",
    "StateGraph",
    "StateSnapshot",
    "add_messages",
    "interrupt",
    "messages",
    "reducers",
]
