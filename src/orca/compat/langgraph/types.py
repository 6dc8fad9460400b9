"""LangGraph's ``langgraph.types`` names, over Orca's values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Literal, NamedTuple, TypeVar

from orca.graph._running import interrupt
from orca.graph._types import Send

__all__ = [
    "All",
    "Command",
    "Durability",
    "Interrupt",
    "PregelTask",
    "RetryPolicy",
    "Send",
    "StateSnapshot",
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


N = TypeVar("N")


@dataclass(frozen=True, slots=True)
class Command(Generic[N]):
    """What a node returns to update the state and route (``update``, ``goto``), or
    what ``invoke`` takes to resume a pause (``resume``).

    ``graph=Command.PARENT`` (routing in the parent graph) is not supported yet: it
    raises a clear error when returned. A node annotated ``-> Command[Literal["a",
    "b"]]`` declares where it may go, as in LangGraph.
    """

    graph: str | None = None
    update: Any = None
    resume: Any = None
    goto: Any = ()

    PARENT: ClassVar[str] = "__parent__"


def default_retry_on(exc: BaseException) -> bool:
    """LangGraph's default retry choice: errors of the program's own logic (bad values,
    types, lookups, ``RuntimeError``, ``OSError``) are not retried; connection errors
    and HTTP 5xx answers (httpx, requests) are, and so is anything else."""
    if isinstance(exc, ConnectionError):
        return True
    status = _http_status(exc)
    if status is not None:
        return 500 <= status < 600
    logic = (
        ValueError,
        TypeError,
        ArithmeticError,
        ImportError,
        LookupError,
        NameError,
        SyntaxError,
        RuntimeError,
        ReferenceError,
        StopIteration,
        StopAsyncIteration,
        OSError,
    )
    return not isinstance(exc, logic)


def _http_status(exc: BaseException) -> int | None:
    """The status of an httpx or requests HTTP error (without importing either)."""
    kind = type(exc)
    if (kind.__module__.split(".")[0], kind.__name__) not in (
        ("httpx", "HTTPStatusError"),
        ("requests", "HTTPError"),
    ):
        return None
    response = getattr(exc, "response", None)
    status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else 599  # no response: retried like a 5xx


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
    """A thread's state at one checkpoint, as LangGraph's ``get_state`` returns it."""

    values: dict[str, Any]
    next: tuple[str, ...]
    config: dict[str, Any]
    metadata: dict[str, Any] | None
    created_at: str | None
    parent_config: dict[str, Any] | None
    tasks: tuple[PregelTask, ...]
    interrupts: tuple[Interrupt, ...] = ()
