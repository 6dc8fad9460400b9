"""The typed event model every face of Orca shares.

Everything that happens in a run is an ``Event``: the stream API yields them, and the
event log, the server and the UI consume the same ones. Each event has ``run_id``,
``thread_id``, ``step``, ``seq`` (0, 1, 2, ... within a run) and ``ts`` (wall-clock Unix
seconds). ``to_dict()`` gives the stable JSON form documented in ``docs/events.md``;
``schema`` in it is ``EVENT_SCHEMA_VERSION``. Timing fields (``ts``, ``duration_ms``) are
the only ones that vary between two runs of the same graph with the same inputs and seed;
``to_dict(timing=False)`` leaves them out.

Credentials (API keys, tokens, passwords, private keys) in what an event carries (each
class's ``redacted`` fields: inputs, writes, errors, custom data, LLM and tool calls) are
masked as the event is made, before anyone streams, logs or stores it; ``values`` events
carry the state as it is (the state is the user's data and is never redacted).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from orca import _serde
from orca.errors import SerializationError

__all__ = [
    "EVENT_SCHEMA_VERSION",
    "EVENT_TYPES",
    "STREAM_MODES",
    "BudgetStatusEvent",
    "BudgetWarning",
    "CheckpointSaved",
    "Custom",
    "ErrorEvent",
    "Event",
    "InterruptEvent",
    "LLMResponse",
    "RunFinished",
    "RunStarted",
    "StepStarted",
    "StreamMode",
    "TaskFailed",
    "TaskFinished",
    "TaskRetry",
    "TaskStarted",
    "Token",
    "ToolCall",
    "Usage",
    "Values",
    "WarningEvent",
]

EVENT_SCHEMA_VERSION = 1
TIMING_FIELDS = frozenset({"ts", "duration_ms", "first_token_ms"})

StreamMode = Literal["values", "updates", "custom", "tokens", "events"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Fields every event has."""

    type: ClassVar[str] = "event"
    # the fields that hold what a run was given, wrote or said: the engine masks the
    # credentials in them as it makes the event (``orca._redact.redact_secrets``)
    redacted: ClassVar[tuple[str, ...]] = ()
    run_id: str
    thread_id: str
    step: int
    seq: int
    ts: float

    def to_dict(self, *, timing: bool = True) -> dict[str, Any]:
        """The JSON-ready form: ``{"schema": 1, "type": ..., <fields>}``."""
        out: dict[str, Any] = {"schema": EVENT_SCHEMA_VERSION, "type": self.type}
        for f in dataclasses.fields(self):
            if timing or f.name not in TIMING_FIELDS:
                out[f.name] = getattr(self, f.name)
        return out

    def to_json(self, *, timing: bool = True) -> bytes:
        """Canonical JSON bytes (sorted keys) of ``to_dict``.

        Raises:
            SerializationError: a field holds a value that cannot be serialised.
        """
        try:
            return _serde.dumps(self.to_dict(timing=timing))
        except _serde.UnserializableError as exc:
            raise SerializationError(f"{self.type} event", exc.type_name, exc.detail) from None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEvent(Event):
    """Fields of events raised inside one task."""

    task_id: str
    node: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RunStarted(Event):
    """A run began, fresh (``resumed`` false) or from ``checkpoint_id``.

    ``input`` is what the run was given (the input's writes, or the resume value; None
    to continue), ``command`` the ``update`` pairs and ``goto`` targets of a ``Command``
    given as input (None otherwise), ``pending`` how many pending writes the start
    checkpoint held, and ``head`` the thread's head when the run forks from an older
    checkpoint: with them a run can be replayed exactly (``orca.replay``).
    """

    type: ClassVar[str] = "run.started"
    redacted: ClassVar[tuple[str, ...]] = ("input", "command")
    graph: str
    resumed: bool
    checkpoint_id: str | None
    seed: int
    input: Any = None
    command: dict[str, Any] | None = None
    pending: int = 0
    head: str | None = None
    max_steps: int = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(Event):
    """A superstep began; ``tasks`` lists ``{"id", "node"}`` in task order."""

    type: ClassVar[str] = "step.started"
    tasks: list[dict[str, str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStarted(TaskEvent):
    """A task was scheduled (emitted in task order when its step starts)."""

    type: ClassVar[str] = "task.started"


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskRetry(TaskEvent):
    """Attempt ``attempt`` failed with ``error``; the next starts after ``delay_s``."""

    type: ClassVar[str] = "task.retry"
    redacted: ClassVar[tuple[str, ...]] = ("error",)
    attempt: int
    error: str
    delay_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFinished(TaskEvent):
    """A task's writes, emitted at the barrier in task order."""

    type: ClassVar[str] = "task.finished"
    redacted: ClassVar[tuple[str, ...]] = ("update", "goto")
    update: dict[str, Any]
    goto: list[Any]
    duration_ms: float
    cached: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFailed(TaskEvent):
    """A task failed after ``attempts`` attempts."""

    type: ClassVar[str] = "task.failed"
    redacted: ClassVar[tuple[str, ...]] = ("error", "traceback")
    error_type: str
    error: str
    attempts: int
    traceback: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Token(TaskEvent):
    """A streamed LLM token delta."""

    type: ClassVar[str] = "token"
    redacted: ClassVar[tuple[str, ...]] = ("text",)
    text: str
    model: str
    role: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Custom(TaskEvent):
    """Data a node wrote with ``ctx.write(data)``."""

    type: ClassVar[str] = "custom"
    redacted: ClassVar[tuple[str, ...]] = ("data",)
    data: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Usage(TaskEvent):
    """Tokens used by one LLM call and their cost in integer nano-USD."""

    type: ClassVar[str] = "usage"
    provider: str
    model: str
    role: str
    input_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_nano_usd: int
    priced: bool
    estimated: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class LLMResponse(TaskEvent):
    """One LLM call's answer, as the node got it (or its error): what a replay feeds
    back.

    ``request`` is a digest of the request (messages, tools and options), ``prompt`` the
    start of its last message, ``usage`` the tokens it used and ``cost_nano_usd`` their
    cost (as in the ``usage`` event);
    ``first_token_ms`` and ``duration_ms`` time the call. ``cached``: the answer came
    from the task's call records (the task ran again; nothing was asked or paid:
    ``cost_nano_usd`` is 0, ``usage`` what the recorded call used).
    """

    type: ClassVar[str] = "llm.response"
    redacted: ClassVar[tuple[str, ...]] = ("prompt", "text", "thinking", "tool_calls", "error")
    role: str
    provider: str
    model: str
    request: str
    prompt: str
    text: str
    thinking: str
    tool_calls: list[dict[str, Any]]
    stop_reason: str
    usage: dict[str, Any]
    first_token_ms: float | None
    duration_ms: float
    cost_nano_usd: int = 0
    error_type: str | None = None
    error: str | None = None
    cached: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolCall(TaskEvent):
    """One tool execution (arguments already redacted). ``result`` is a short redacted
    summary; ``value`` the whole value the caller got and ``error`` what went wrong when
    ``status`` is not ok (both redacted when the policy redacts). ``cached``: the result
    came from the task's call records (the task ran again; the tool did not)."""

    type: ClassVar[str] = "tool.call"
    redacted: ClassVar[tuple[str, ...]] = ("arguments", "result", "value", "error")
    tool: str
    arguments: dict[str, Any]
    status: str
    result: str
    duration_ms: float
    value: Any = None
    error: str | None = None
    cached: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class WarningEvent(TaskEvent):
    """Something the run should know but that does not stop it: ``code`` names it
    (``unpriced_model``: a model with no price, emitted once per model per run;
    ``usage_over_bound``: a call reported above its reservation, recorded at its true
    cost; ``budget_overdrawn``: a charge went past a block budget's limit, which now
    refuses every call until raised)."""

    type: ClassVar[str] = "warning"
    redacted: ClassVar[tuple[str, ...]] = ("message",)
    code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetWarning(Event):
    """A budget crossed ``threshold_pct`` percent of its limit."""

    type: ClassVar[str] = "budget.warning"
    budget: str
    threshold_pct: int
    spent_nano_usd: int
    limit_nano_usd: int
    unit: str = "usd"
    spent: int = 0
    limit: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class BudgetStatusEvent(Event):
    """Where the run's budgets stand ``when`` = ``before`` its first metered call and
    ``after`` the run; ``budgets`` are ``BudgetStatus.as_dict()`` forms."""

    type: ClassVar[str] = "budget.status"
    when: str
    budgets: list[dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class Values(Event):
    """The full state after a superstep (or after the input)."""

    type: ClassVar[str] = "values"
    values: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class CheckpointSaved(Event):
    """A checkpoint was handed to the store (committed, in ``sync`` durability)."""

    type: ClassVar[str] = "checkpoint.saved"
    checkpoint_id: str
    parent_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class InterruptEvent(Event):
    """The run paused; ``interrupts`` are ``Interrupt.to_dict()`` forms."""

    type: ClassVar[str] = "interrupt"
    redacted: ClassVar[tuple[str, ...]] = ("interrupts",)
    interrupts: list[dict[str, Any]]


@dataclass(frozen=True, slots=True, kw_only=True)
class ErrorEvent(Event):
    """The run failed with ``error_type``: ``message``."""

    type: ClassVar[str] = "error"
    redacted: ClassVar[tuple[str, ...]] = ("message",)
    error_type: str
    message: str
    node: str | None
    task_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunFinished(Event):
    """The run ended: ``status`` is done, interrupted, failed or cancelled, after
    ``steps`` supersteps. With ``run.started`` it is the run's record: its LLM calls'
    tokens and cost in total, and the error that failed it (``"Type: message"``)."""

    type: ClassVar[str] = "run.finished"
    redacted: ClassVar[tuple[str, ...]] = ("error",)
    status: Literal["done", "interrupted", "failed", "cancelled"]
    steps: int
    checkpoint_id: str | None
    duration_ms: float
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nano_usd: int = 0
    error: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        RunStarted,
        StepStarted,
        TaskStarted,
        TaskRetry,
        TaskFinished,
        TaskFailed,
        Token,
        Custom,
        Usage,
        LLMResponse,
        ToolCall,
        WarningEvent,
        BudgetWarning,
        BudgetStatusEvent,
        Values,
        CheckpointSaved,
        InterruptEvent,
        ErrorEvent,
        RunFinished,
    )
}


# Each event type as a constant: consumers compare with these, never with strings typed
# again (a test keeps it so).
RUN_STARTED = RunStarted.type
STEP_STARTED = StepStarted.type
TASK_STARTED = TaskStarted.type
TASK_RETRY = TaskRetry.type
TASK_FINISHED = TaskFinished.type
TASK_FAILED = TaskFailed.type
TOKEN = Token.type
CUSTOM = Custom.type
USAGE = Usage.type
LLM_RESPONSE = LLMResponse.type
TOOL_CALL = ToolCall.type
WARNING = WarningEvent.type
BUDGET_WARNING = BudgetWarning.type
BUDGET_STATUS = BudgetStatusEvent.type
VALUES = Values.type
CHECKPOINT_SAVED = CheckpointSaved.type
INTERRUPT = InterruptEvent.type
ERROR = ErrorEvent.type
RUN_FINISHED = RunFinished.type

STREAM_MODES: dict[str, frozenset[str]] = {
    "values": frozenset({"values"}),
    "updates": frozenset({"task.finished"}),
    "custom": frozenset({"custom"}),
    "tokens": frozenset({"token"}),
    "events": frozenset(EVENT_TYPES),
}
"""Which event types each stream mode yields."""
