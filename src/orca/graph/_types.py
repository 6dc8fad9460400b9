"""Small values shared by graph authoring and the engine."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar, Final, Generic

from typing_extensions import TypeVar

from orca import _serde
from orca.errors import InvalidInputError, TaskTimeoutError

START: Final = "__start__"
"""The virtual node where a run begins: ``add_edge(START, "first")``."""
END: Final = "__end__"
"""The virtual node that ends a run: routers return it, ``add_edge("last", END)``."""


@dataclass(frozen=True, slots=True)
class Send:
    """Schedule ``node`` in the next superstep with ``arg`` as its input instead of the state.

    Returned by routers (or in ``Command.goto``) for map-reduce fan-out: each ``Send`` is
    its own task, so ``[Send("worker", x) for x in items]`` runs one worker per item.
    """

    node: str
    arg: Any


_serde.declare(Send)  # a Command's goto, as a run's log carries it, is replayed as given

# the node names a Command may go to, for annotations (``-> Command[Literal["a"]]``)
N = TypeVar("N", bound=str, default=str)


@dataclass(frozen=True, slots=True)
class Managed:
    """A state key whose value the engine computes for each task, never stored nor
    written: ``remaining_steps: RemainingSteps``, ``is_last_step: IsLastStep``."""

    name: str


RemainingSteps = Annotated[int, Managed("remaining_steps")]
"""A state key that reads how many supersteps the run may still take, this one
included (``max_steps`` minus the steps taken): a loop can stop before
``StepLimitError``."""

IsLastStep = Annotated[bool, Managed("is_last_step")]
"""A state key that reads True in the last superstep the run may take."""


@dataclass(frozen=True, slots=True)
class Overwrite:
    """A write that bypasses the key's reducer: ``{"log": Overwrite([])}`` empties a
    list that ``reducers.append`` would extend.

    In one superstep a key takes at most one ``Overwrite`` (a second raises
    ``InvalidUpdateError``); the key's other writes that step fold in task order, up to
    the ``Overwrite``, which replaces their result, and the ones after it are ignored (as
    in LangGraph). On a key without a reducer it is a plain write of ``value``.
    """

    value: Any


@dataclass(frozen=True, slots=True)
class Command(Generic[N]):
    """A node's richer return value, or a resume instruction passed to ``invoke``.

    Attributes:
        update: state update applied like a returned dict; or a list of ``(key, value)``
            pairs, where a key may come more than once (each write goes through its
            reducer, in order).
        goto: node name(s) or ``Send``s to run next, in addition to the node's edges.
        resume: (input only) the value for a pending interrupt; a dict keyed by interrupt
            id resumes several parallel interrupts at once.

    Given to ``invoke`` on a thread that has a checkpoint, ``update`` applies to its state
    (through the reducers) and the nodes ``goto`` names run in the next step, with those
    the thread had planned.
        graph: ``None`` (this graph) or ``Command.PARENT`` (the parent of this subgraph).

    A node annotated ``-> Command[Literal["a", "b"]]`` declares the nodes it may go to,
    as ``add_node(..., destinations=["a", "b"])`` does.
    """

    update: dict[str, Any] | Sequence[tuple[str, Any]] | None = None
    goto: str | Send | Sequence[str | Send] = ()
    resume: Any = None
    graph: str | None = None

    PARENT: ClassVar[str] = "__parent__"
    """``Command(graph=Command.PARENT, goto=..., update=...)``, returned by a node of a
    subgraph, ends the subgraph there and applies ``update`` and ``goto`` in the parent,
    as the subgraph node's own writes and targets."""


_NOT_TRANSIENT = (
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


def _server_error(exc: BaseException) -> bool | None:
    """Whether an HTTP client's status error is a 5xx (None: not such an error). The
    clients are looked up only if the program imported them: Orca needs neither."""
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, httpx.HTTPStatusError):
        return bool(500 <= exc.response.status_code < 600)
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(exc, requests.HTTPError):
        response = exc.response
        return True if response is None else bool(500 <= response.status_code < 600)
    return None


def default_retry_on(error: BaseException) -> bool:
    """``RetryPolicy``'s default ``retry_on``, LangGraph's rule: retry what looks
    transient. ``ConnectionError`` and HTTP 5xx (``httpx``/``requests`` status errors) are
    retried; bugs and bad input (``ValueError``, ``TypeError``, ``KeyError``, ...,
    ``RuntimeError``) and other ``OSError``s (a missing file, a timeout) are not; any other
    exception (a provider SDK's rate-limit or API error, say) is. A node's ``timeout``
    (``TaskTimeoutError``) is retried, as LangGraph retries its node timeouts."""
    if isinstance(error, ConnectionError | TaskTimeoutError):
        return True
    server = _server_error(error)
    if server is not None:
        return server
    return not isinstance(error, _NOT_TRANSIENT)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a failing node is retried: exponential backoff with seeded jitter.

    The delay before attempt ``n+1`` is ``min(initial_interval * backoff_factor**(n-1),
    max_interval)`` plus, with ``jitter``, up to one second more drawn from the run's seed,
    so runs with the same seed wait the same. The defaults are LangGraph's, ``retry_on``
    included (``default_retry_on``: transient errors only).

    An attempt that failed in the node's own code forgets the model and tool calls it
    completed, so the retry (and the task, run again later) calls again: the answer may be
    why it failed. With ``reuse_calls=True`` they are kept, and the retry, drawing the same
    randomness, is answered from them (a flaky step after an expensive call), as a task
    run again after an interrupt or a crash always is.
    """

    max_attempts: int = 3
    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 128.0
    jitter: bool = True
    retry_on: (
        type[BaseException] | Sequence[type[BaseException]] | Callable[[BaseException], bool]
    ) = default_retry_on
    reuse_calls: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise InvalidInputError(
                f"RetryPolicy.max_attempts must be at least 1, got {self.max_attempts}"
            )
        if self.initial_interval < 0 or self.max_interval < 0 or self.backoff_factor < 1:
            raise InvalidInputError(
                "RetryPolicy needs initial_interval >= 0, max_interval >= 0 and backoff_factor >= 1"
            )

    def should_retry(self, error: BaseException) -> bool:
        check = self.retry_on
        if isinstance(check, type):
            return isinstance(error, check)
        if isinstance(check, Sequence):
            return isinstance(error, tuple(check))
        return bool(check(error))

    def delay(self, attempt: int, jitter_draw: float) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based); ``jitter_draw`` in [0, 1)."""
        base = min(self.initial_interval * self.backoff_factor ** (attempt - 1), self.max_interval)
        return base + jitter_draw if self.jitter else base


@dataclass(frozen=True, slots=True)
class Interrupt:
    """A pending pause: ``value`` is what the node passed to ``ctx.interrupt``.

    Attributes:
        id: stable id, the key for resuming this interrupt in ``Command(resume={id: v})``.
        node: the node that paused.
        task_id: the task that paused.
        value: what the node passed to ``ctx.interrupt``.
        when: ``"during"`` (ctx.interrupt), ``"before"`` or ``"after"`` (interrupt_before/after).
    """

    id: str
    node: str
    task_id: str
    value: Any = None
    when: str = "during"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "node": self.node,
            "task_id": self.task_id,
            "value": self.value,
            "when": self.when,
        }


@dataclass(frozen=True, slots=True)
class StateSnapshot:
    """A thread's state at one checkpoint.

    Attributes:
        values: the state values.
        next: the nodes that run in the next superstep (empty when the run is done).
        interrupts: the pauses awaiting a resume.
        thread_id, checkpoint_id, parent_id, step: where this snapshot sits in history.
        metadata: how the checkpoint came to be (``source``: input, loop, update, fork).
        created_at: wall-clock ISO time the checkpoint was written.
        subgraphs: with ``get_state(..., subgraphs=True)``, the state of each subgraph
            paused inside a next task, keyed by the task's id.
    """

    values: dict[str, Any]
    next: tuple[str, ...]
    interrupts: tuple[Interrupt, ...]
    thread_id: str
    checkpoint_id: str
    parent_id: str | None
    step: int
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    subgraphs: dict[str, StateSnapshot] = field(default_factory=dict)
