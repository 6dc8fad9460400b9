"""Small values shared by graph authoring and the engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Generic

from typing_extensions import TypeVar

from orca.errors import InvalidInputError

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


# the node names a Command may go to, for annotations (``-> Command[Literal["a"]]``)
N = TypeVar("N", bound=str, default=str)


@dataclass(frozen=True, slots=True)
class Command(Generic[N]):
    """A node's richer return value, or a resume instruction passed to ``invoke``.

    Attributes:
        update: state update applied like a returned dict.
        goto: node name(s) or ``Send``s to run next, in addition to the node's edges.
        resume: (input only) the value for a pending interrupt; a dict keyed by interrupt
            id resumes several parallel interrupts at once.
        graph: ``None`` (this graph) or ``Command.PARENT`` (the parent of this subgraph).

    A node annotated ``-> Command[Literal["a", "b"]]`` declares the nodes it may go to,
    as ``add_node(..., destinations=["a", "b"])`` does.
    """

    update: dict[str, Any] | None = None
    goto: str | Send | Sequence[str | Send] = ()
    resume: Any = None
    graph: str | None = None

    PARENT: ClassVar[str] = "__parent__"
    """``Command(graph=Command.PARENT, goto=..., update=...)``, returned by a node of a
    subgraph, ends the subgraph there and applies ``update`` and ``goto`` in the parent,
    as the subgraph node's own writes and targets."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a failing node is retried: exponential backoff with seeded jitter.

    The delay before attempt ``n+1`` is ``min(initial_interval * backoff_factor**(n-1),
    max_interval)`` plus, with ``jitter``, up to 25% more drawn from the run's seed, so
    runs with the same seed wait the same.

    An attempt that failed in the node's own code forgets the model and tool calls it
    completed, so the retry (and the task, run again later) calls again: the answer may be
    why it failed. With ``reuse_calls=True`` they are kept, and the retry, drawing the same
    randomness, is answered from them (a flaky step after an expensive call), as a task
    run again after an interrupt or a crash always is.
    """

    max_attempts: int = 3
    initial_interval: float = 0.5
    backoff_factor: float = 2.0
    max_interval: float = 30.0
    jitter: bool = True
    retry_on: (
        type[BaseException] | tuple[type[BaseException], ...] | Callable[[BaseException], bool]
    ) = Exception
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
        if isinstance(check, type | tuple):
            return isinstance(error, check)
        return bool(check(error))

    def delay(self, attempt: int, jitter_draw: float) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based); ``jitter_draw`` in [0, 1)."""
        base = min(self.initial_interval * self.backoff_factor ** (attempt - 1), self.max_interval)
        return base * (1 + 0.25 * jitter_draw) if self.jitter else base


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
