"""The values the server's LLM-task repositories keep (tasks, their sessions and
artifacts), their protocols, and the checks every backend makes before writing
(``orca.store.sqlite`` and ``orca.store.postgres`` hold their tables)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from orca.errors import InvalidFieldError, InvalidInputError
from orca.store._text import refuse_nul

TaskStatus = Literal["queued", "running", "done", "failed", "cancelled"]
TASK_STATUSES: tuple[TaskStatus, ...] = ("queued", "running", "done", "failed", "cancelled")
PRIORITIES = ("interactive", "batch")
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


class ArtifactConflict(InvalidInputError):
    """The same content was registered before as another kind."""


def artifact_id(content: bytes) -> str:
    """The id of ``content``: ``sha256:`` and its hex digest."""
    return "sha256:" + hashlib.sha256(content).hexdigest()


def _one_of(field: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise InvalidFieldError(
            f"{field} is {value!r}"[:120], field=field, fix=f"use one of {', '.join(allowed)}"
        )


def check_task(task: TaskRecord) -> None:
    """What every backend checks of a task before storing it: its status and priority
    are known, and no text of it holds a NUL (``orca.store._text``).

    Raises:
        InvalidFieldError: naming the field.
    """
    _one_of("status", task.status, TASK_STATUSES)
    _one_of("priority", task.priority, PRIORITIES)
    for name in (
        "task_id", "session_id", "model_ref", "engine", "model", "digest", "created_at",
        "started_at", "ended_at", "error_code", "error",
    ):  # fmt: skip
        refuse_nul(name, getattr(task, name))


def check_outcome(outcome: TaskOutcome) -> None:
    """What every backend checks of how a task ended before writing it.

    Raises:
        InvalidFieldError: an unknown status, or a NUL in ``error_code`` or ``error``.
    """
    _one_of("status", outcome.status, TASK_STATUSES)
    refuse_nul("error_code", outcome.error_code)
    refuse_nul("error", outcome.error)


def check_events(task_id: str, events: Sequence[StreamItem]) -> None:
    """What every backend checks of a task's stream events before keeping any of them.

    Raises:
        InvalidFieldError: a NUL in the ``task_id``, or in an event's ``type`` or ``data``.
    """
    refuse_nul("task_id", task_id)
    for _, kind, data in events:
        refuse_nul("type", kind)
        refuse_nul("data", data)


def check_find(status: str | None) -> None:
    """Raises ``InvalidInputError`` for a status no task can have."""
    if status is not None and status not in TASK_STATUSES:
        raise InvalidInputError(f"status is {status!r}. Fix: use one of {', '.join(TASK_STATUSES)}")


def check_artifact(
    kind: str,
    media_type: str,
    tags: Sequence[str],
    session_id: str | None,
    task_id: str | None,
) -> None:
    """What every backend checks of an artifact before registering it: a known kind, and
    no NUL in its text (its content is bytes and may hold any).

    Raises:
        InvalidInputError: an unknown kind.
        InvalidFieldError: a NUL in ``media_type``, a tag, ``session_id`` or ``task_id``.
    """
    if kind not in ARTIFACT_KINDS:
        raise InvalidInputError(f"kind is {kind!r}. Fix: use one of {', '.join(ARTIFACT_KINDS)}")
    refuse_nul("media_type", media_type)
    for tag in tags:
        refuse_nul("tags", tag)
    refuse_nul("session_id", session_id)
    refuse_nul("task_id", task_id)


@runtime_checkable
class TaskRepository(Protocol):
    """The server's LLM tasks, their streams and their sessions (``SqliteTasks``,
    ``PgTasks``). Text holding a NUL character is refused (``InvalidFieldError``) before
    anything is written; a lookup by such a key finds nothing."""

    def now(self) -> str:
        """The store clock's time, as stamped on rows."""
        ...

    def create(self, task: TaskRecord, *, session_ttl_ms: int) -> tuple[TaskRecord, bool]:
        """Store an accepted task and count a turn of its session; a task stored before
        under the same id is returned instead, with False."""
        ...

    def get(self, task_id: str) -> TaskRecord | None: ...

    def find(
        self, *, session_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[TaskRecord]:
        """Tasks, newest first. Raises ``InvalidInputError`` for an unknown status."""
        ...

    def start(self, task_id: str, events: Sequence[StreamItem]) -> None: ...

    def append(self, task_id: str, events: Sequence[StreamItem]) -> None: ...

    def finish(self, task_id: str, outcome: TaskOutcome, events: Sequence[StreamItem]) -> None:
        """The last events, the record and the session's totals, in one transaction."""
        ...

    def events(self, task_id: str, after: int = -1) -> list[StreamItem]: ...

    def recover(self, error_event: str) -> tuple[list[TaskRecord], list[str]]:
        """Fail the tasks left running (``WORKER_RESET``); return those left queued."""
        ...

    def session(self, session_id: str) -> SessionRecord | None: ...

    def delete_session(self, session_id: str) -> bool: ...

    def close(self) -> None: ...


@runtime_checkable
class ArtifactRepository(Protocol):
    """The artifact registry (``SqliteArtifacts``, ``PgArtifacts``). Text holding a NUL
    character is refused (``InvalidFieldError``) before anything is written; content is
    bytes and may hold any."""

    def put(
        self,
        content: bytes,
        *,
        kind: str,
        media_type: str = "text/plain",
        tags: Sequence[str] = (),
        parents: Sequence[str] = (),
        session_id: str | None = None,
        task_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[ArtifactRecord, bool]:
        """Register ``content`` (its id is its sha256); the same content again adds its
        tags and parents. Raises ``InvalidInputError`` (unknown kind or parent) or
        ``ArtifactConflict`` (registered as another kind)."""
        ...

    def get(self, ident: str) -> ArtifactRecord | None: ...

    def find(
        self,
        *,
        kind: str | None = None,
        tag: str | None = None,
        session_id: str | None = None,
        limit: int = 50,
    ) -> list[ArtifactRecord]: ...

    def close(self) -> None: ...
