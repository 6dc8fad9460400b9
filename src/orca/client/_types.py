"""What the client returns: small frozen values parsed from the server's JSON. Each keeps
the whole answer in ``raw``, so a field a newer server adds is never lost."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")


def parse(cls: type[T], data: dict[str, Any]) -> T:
    """``cls`` from a JSON object: the fields it names (missing ones keep their
    defaults), the whole object as ``raw``."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    known = {k: v for k, v in data.items() if k in names and k != "raw"}
    return cls(**known, raw=dict(data))  # type: ignore[call-arg]


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow the server serves (``GET /v1/workflows``); ``describe`` fills
    ``nodes``/``edges`` (``GET /v1/workflows/{name}``)."""

    name: str
    source: str = ""
    nodes: Any = None
    edges: list[Any] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Run:
    """A run's record: where it stands, its totals, its error (``"Type: message"``)."""

    run_id: str
    thread_id: str = ""
    graph: str = ""
    status: str = ""
    started_at: str = ""
    ended_at: str | None = None
    steps: int = 0
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nano_usd: int = 0
    checkpoint_id: str | None = None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def finished(self) -> bool:
        return self.status not in ("queued", "running")


@dataclass(frozen=True, slots=True)
class RunResult:
    """A stopped run: its record, the thread's values and the interrupts it waits on."""

    run: Run
    values: Any = None
    interrupts: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, data: dict[str, Any]) -> RunResult:
        return cls(parse(Run, data), data.get("values"), list(data.get("interrupts") or []))


@dataclass(frozen=True, slots=True)
class ThreadState:
    """A thread's latest checkpoint: values, what runs next, pending interrupts."""

    thread_id: str
    checkpoint_id: str | None = None
    step: int = 0
    next: list[str] = field(default_factory=list)
    values: Any = None
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One checkpoint of a thread's history, newest first."""

    checkpoint_id: str
    thread_id: str = ""
    parent_id: str | None = None
    step: int = 0
    next: list[Any] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class TaskAccepted:
    """``POST /v1/tasks`` accepted a task: where it waits and when it should start."""

    task_id: str
    status: str = "queued"
    queue_position: int | None = None
    predicted_start_ms: int | None = None
    backoff_ms: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class StreamEvent:
    """One server-sent event: its ``id`` (resume point), ``event`` name and JSON data."""

    event: str
    data: Any
    id: str | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """``GET /v1/capabilities``: engines, models, limits, feature flags, API version."""

    api_version: str | None = None
    engines: list[Any] = field(default_factory=list)
    models: list[Any] = field(default_factory=list)
    rate_limits: dict[str, Any] = field(default_factory=dict)
    features: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True, slots=True)
class Budget:
    """A budget and where it stands in its current period (amounts in nano-USD, or in
    tokens for a token budget)."""

    name: str
    unit: str = "usd"
    kind: str = "credit"
    period: str | None = None
    enforcement: str = "block"
    scope: str = "global"
    scope_ref: str | None = None
    active: bool = False
    limit: int = 0
    spent: int = 0
    reserved: int = 0
    remaining: int = 0
    used_pct: str = "0"
    overdrawn: bool = False
    overdraft: int = 0
    period_start: str | None = None
    period_end: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
