"""Graph authoring: state schemas, reducers, and the ``StateGraph`` builder."""

from orca.graph import messages, reducers
from orca.graph._builder import StateGraph
from orca.graph._cache import CachePolicy, MemoryCache
from orca.graph._running import interrupt
from orca.graph._types import (
    END,
    START,
    Command,
    Interrupt,
    IsLastStep,
    Overwrite,
    RemainingSteps,
    RetryPolicy,
    Send,
    StateSnapshot,
    default_retry_on,
)
from orca.graph.messages import MessagesState, add_messages

__all__ = [
    "END",
    "START",
    "CachePolicy",
    "Command",
    "Interrupt",
    "IsLastStep",
    "MemoryCache",
    "MessagesState",
    "Overwrite",
    "RemainingSteps",
    "RetryPolicy",
    "Send",
    "StateGraph",
    "StateSnapshot",
    "add_messages",
    "default_retry_on",
    "interrupt",
    "messages",
    "reducers",
]
