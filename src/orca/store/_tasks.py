"""The values the server's LLM-task repositories keep: tasks, their sessions and
artifacts (``orca.store.sqlite`` holds their tables)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

TaskStatus = Literal["queued", "running", "done", "failed", "cancelled"]
TASK_STATUSES: tuple[TaskStatus, ...] = ("queued", "running", "done", "failed", "cancelled")
FINISHED: frozenset[str] = frozenset({"done", "failed", "cancelled"})
ARTIFACT_KINDS = ("plan", "summary", "diff", "trace")

StreamItem = tuple[int, str, str]
"""One event of a task's stream: seq (its SSE id), type, JSON data."""


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One LLM task as stored: the request (``body``, and ``digest`` its hash), where it
    stands, and what it used."""

    task_id: str
    session_id: str | None
    status: TaskStatus
    priority: str
    model_ref: str
    engine: str
    model: str
    body: dict[str, Any]
    digest: str
    created_at: str
    started_at: str | None = None
    ended_at: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nano_usd: int = 0
    decode_ms: float | None = None
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """How a task ended, written with its last events in one transaction."""

    status: TaskStatus
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nano_usd: int = 0
    decode_ms: float | None = None
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A session: the tasks sent under one ``session_id`` until it expires (``ttl_ms``
    after its last turn) or is deleted; its totals are those of its finished tasks."""

    session_id: str
    created_at: str
    last_used_at: str
    expires_at: str
    ttl_ms: int
    turns: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nano_usd: int = 0
    decode_ms: float = 0.0


@dataclass(frozen=True, slots=True)
class ArtifactRecord:
    """A content-addressed artifact: ``artifact_id`` is ``sha256:`` and the hex digest
    of ``content``; ``parents`` are what it was made from, ``children`` what was made
    from it."""

    artifact_id: str
    kind: str
    media_type: str
    content: bytes
    size: int
    created_at: str
    session_id: str | None = None
    task_id: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
