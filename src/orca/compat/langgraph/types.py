"""LangGraph's ``langgraph.types`` names, over Orca's values: ``Send``, ``Command``,
``Overwrite``, ``CachePolicy``, ``interrupt`` and ``default_retry_on`` are Orca's own;
``Interrupt``, ``StateSnapshot``, ``PregelTask`` and ``RetryPolicy`` have LangGraph's
shapes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from orca.graph._cache import CachePolicy
from orca.graph._running import interrupt
from orca.graph._types import Command, Overwrite, Send, default_retry_on

__all__ = [
    "All",
    "CachePolicy",
    "Command",
    "Durability",
    "Interrupt",
    "Overwrite",
    "PregelTask",
    "RetryPolicy",
    "Send",
    "StateSnapshot",
    "StateUpdate",
    "StreamMode",
    "StreamWriter",
    "default_retry_on",
    "interrupt",
]

All = Literal["*"]
StreamMode = Literal["values", "updates", "checkpoints", "tasks", "debug", "messages", "custom"]
Durability = Literal["sync", "async", "exit"]
StreamWriter = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class Interrupt:
    """A pending pause as LangGraph shows it: ``value`` (what the node passed to
    ``interrupt``) and ``id`` (the key of ``Command(resume={id: answer})``)."""

    value: Any
    id: str = ""
    response_schema: Any = None


class RetryPolicy(NamedTuple):
    """How a node is retried, with LangGraph's field order and defaults."""

    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 128.0
    max_attempts: int = 3
    jitter: bool = True
    retry_on: (
        type[BaseException] | Sequence[type[BaseException]] | Callable[[BaseException], bool]
    ) = default_retry_on


class StateUpdate(NamedTuple):
    """One update of ``bulk_update_state``: ``values`` as if ``as_node`` wrote them."""

    values: dict[str, Any] | None
    as_node: str | None = None
    task_id: str | None = None


class PregelTask(NamedTuple):
    """A task of a snapshot: the node that runs next, and its pending interrupts."""

    id: str
    name: str
    path: tuple[Any, ...] = ()
    error: Exception | None = None
    interrupts: tuple[Interrupt, ...] = ()
    state: Any = None
    result: Any = None


class StateSnapshot(NamedTuple):
    """A thread's state at one checkpoint, as LangGraph's ``get_state`` returns it
    (``values``: the state, or what a functional workflow last returned)."""

    values: Any
    next: tuple[str, ...]
    config: dict[str, Any]
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_config: dict[str, Any] | None
    tasks: tuple[PregelTask, ...]
    interrupts: tuple[Interrupt, ...] = ()
