"""The ``Checkpointer`` protocol and the values that cross it."""

from __future__ import annotations

import os
import socket
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

PendingKind = Literal["writes", "interrupt", "resume", "command"]
RunStatus = Literal["queued", "running", "interrupted", "done", "failed", "cancelled"]
RUN_ENDED = frozenset({"done", "cancelled"})
"""The statuses of a run whose id is never begun again: it finished, or was cancelled.
A run paused at an interrupt may be resumed under its id, and a ``failed`` one begun
again (a retry of what failed)."""


def refuse_ended(run_id: str, status: str | None) -> None:
    """Raise ``RunEndedError`` when a stored run of ``status`` has ended (``begin_run``'s
    check, inside its transaction)."""
    if status in RUN_ENDED:
        from orca.errors import RunEndedError

        raise RunEndedError(run_id, str(status))


RUN_STATUSES: tuple[RunStatus, ...] = (
    "queued",
    "running",
    "interrupted",
    "done",
    "failed",
    "cancelled",
)
TaskStatus = Literal["running", "done", "failed", "interrupted", "cancelled"]
CallKind = Literal["llm", "tool", "task", "langchain"]
"""What made a call record: ``ctx.llm``, a tool, a functional-API task's result, or a
LangChain chat model under ``orca.compat.langchain.metered``."""


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """Something a task left against a checkpoint whose step did not complete.

    ``writes`` holds a finished task's ``{"update": [[key, value], ...], "goto": [...]}``,
    so a resume does not run it again; ``interrupt`` an ``Interrupt.to_dict()``;
    ``resume`` a value given to resume an interrupt; ``command`` a ``Command``'s
    ``{"update": [[key, value], ...], "goto": [task, ...]}`` given to ``invoke`` on the
    thread (applied again when the step is run again).
    """

    task_id: str
    kind: PendingKind
    value: Any


class EventRecord(NamedTuple):
    """An event as the event log keeps it: what ``orca.events.Event`` holds, without
    building the object (the log must be cheap)."""

    type: str
    run_id: str
    thread_id: str
    step: int
    seq: int
    ts: float
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CheckpointSave:
    """What the engine hands a checkpointer after a superstep.

    Attributes:
        changed: the channels changed since the last checkpoint the store holds: for an
            append channel the list of appended items (the store may keep just that delta),
            for any other channel None (the store keeps ``values[key]``).
        pending: pending writes to store in the same transaction.
        events: the run's events since the last save, logged in the same transaction:
            the event log costs no extra commit.
        tasks: task records (of runs the store has a record of) to insert or update in
            the same transaction: a step's tasks land with its checkpoint.
    """

    thread_id: str
    checkpoint_id: str
    parent_id: str | None
    step: int
    values: dict[str, Any]
    changed: dict[str, list[Any] | None]
    next: list[dict[str, Any]]
    metadata: dict[str, Any]
    created_at: str
    pending: Sequence[PendingWrite] = ()
    events: Sequence[EventRecord] = ()
    tasks: Sequence[TaskRecord] = ()


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A stored checkpoint, with its values, next tasks and pending writes."""

    thread_id: str
    checkpoint_id: str
    parent_id: str | None
    step: int
    values: dict[str, Any]
    next: list[dict[str, Any]]
    metadata: dict[str, Any]
    created_at: str
    pending: list[PendingWrite] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CheckpointInfo:
    """A checkpoint's header, as listed by ``history`` (no values)."""

    thread_id: str
    checkpoint_id: str
    parent_id: str | None
    step: int
    next: list[dict[str, Any]]
    metadata: dict[str, Any]
    created_at: str


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as the store keeps it: written by the engine when the run starts
    (``running``) and when it stops; its status matches its event log's ``run.finished``.

    ``metadata`` holds what the starter adds (the CLI: session, budget, profile, parent
    run, workflow source); totals come from the run's metered calls.
    """

    run_id: str
    thread_id: str
    graph: str
    status: RunStatus
    started_at: str
    ended_at: str | None = None
    steps: int = 0
    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nano_usd: int = 0
    checkpoint_id: str | None = None
    error: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """One task (a node run in a superstep) of a run, with its real outcome: a task
    that finished in a step that later failed is ``done``."""

    run_id: str
    task_id: str
    step: int
    node: str
    status: TaskStatus
    started_at: str
    ended_at: str | None = None
    duration_ms: float | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class CallRecord:
    """A call a task completed, kept so that the task, run again, is answered from it
    instead of calling again: an LLM answer (paid for) or a tool result (its side
    effects happened). A task is run again after an interrupt, a budget pause, a crash
    or a sibling's failure; its step starts from the same checkpoint, so it keeps its id.

    Attributes:
        thread_id, task_id: the task (its id derives from the checkpoint its step started
            from, its position in that step's plan and its node).
        kind: what made it (``CallKind``).
        digest: what was asked (the request's digest, or the tool and its arguments').
        occurrence: 0 for the task's first call with this digest, 1 for the second, ...
        checkpoint_id: the checkpoint the task's step started from (pruned with it).
        run_id: the run that made the call.
        value: what the call returned, as JSON-able data.
        created_at: when it was recorded (ISO 8601, the run clock).
    """

    thread_id: str
    task_id: str
    kind: CallKind
    digest: str
    occurrence: int
    checkpoint_id: str
    run_id: str
    value: dict[str, Any]
    created_at: str


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds a thread: at most one run at a time. ``owner`` names the holding
    process (``host:pid:nonce``); ``expires_at`` (epoch seconds) moves on with each
    heartbeat, so a lease of a process that died runs out."""

    thread_id: str
    run_id: str
    owner: str
    expires_at: float


def lease_owner() -> str:
    """This process as a lease owner: ``host:pid:nonce`` (the nonce tells a reused pid
    from the process that took the lease)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_NONCE}"


def owner_alive(owner: str) -> bool:
    """False only when ``owner`` is a process of this host that no longer exists (or a
    reused pid: the nonce differs for this process); owners on other hosts count as
    alive until their lease expires."""
    host, _, rest = owner.partition(":")
    pid_text, _, nonce = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return nonce == _NONCE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_NONCE = os.urandom(4).hex()


@runtime_checkable
class Checkpointer(Protocol):
    """Stores checkpoints of threads. Every implementation passes one conformance suite.

    Each method the engine or a server uses has an async twin (``aput`` for ``put``, ...)
    with the same arguments, result and errors. The twin never blocks the calling event
    loop: a store that blocks (SQLite) runs the sync method on a worker thread of its
    own; one that never blocks (memory) runs it at once. The sync methods are a thin face
    for code without a loop, safe to call from any thread.

    Ordering: an async method takes its place in the store's queue when it is *called*,
    not when it is awaited, and returns an awaitable of its result. Two async calls
    started in order (``asyncio.ensure_future(store.aput(a))`` then
    ``await store.aput(b)``) are applied in that order, so a writer can hand over a
    checkpoint and go on without waiting for it. An implementation must keep this: an
    ``async def`` method does not (its body starts only when first awaited). Sync calls
    are not ordered against async calls still pending: await those first.

    Closing a store refuses the async calls still queued (``CheckpointError``); the one
    running finishes.
    """

    def put(self, save: CheckpointSave) -> None:
        """Store a checkpoint and its pending writes in one transaction."""

    def put_pending(
        self, thread_id: str, checkpoint_id: str, writes: Sequence[PendingWrite]
    ) -> None:
        """Add pending writes to a stored checkpoint, in one transaction."""

    def get(self, thread_id: str, checkpoint_id: str | None = None) -> Checkpoint | None:
        """The checkpoint (the latest if ``checkpoint_id`` is None), or None."""

    def history(
        self, thread_id: str, *, limit: int | None = None, before: str | None = None
    ) -> list[CheckpointInfo]:
        """Checkpoint headers, newest first, ``limit`` at most, older than ``before``."""

    def threads(self) -> list[str]:
        """Ids of the threads the store holds."""

    def prune(self, thread_id: str, keep: int) -> int:
        """Keep the newest ``keep`` checkpoints of a thread (and the call records of tasks
        that start from them); returns how many checkpoints were removed."""

    def rollback(self, thread_id: str, to: str | None) -> int:
        """Remove the thread's checkpoints newer than ``to`` (every one when None), with
        their pending writes and call records: the thread is as it was at ``to``. The
        event log and the run records stay. Returns how many checkpoints were removed.

        Raises:
            CheckpointNotFoundError: ``to`` is not a checkpoint of the thread.
        """

    def delete_thread(self, thread_id: str) -> None:
        """Remove a thread and everything stored for it: checkpoints, events, call
        records, its runs' records and tasks, its lease."""

    def put_events(self, events: Sequence[EventRecord]) -> None:
        """Log events outside a checkpoint (a run's last ones)."""

    def read_events(
        self,
        run_id: str,
        *,
        start: int = 0,
        stop: int | None = None,
        types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """A run's logged events as ``Event.to_dict()`` forms, in ``seq`` order, with
        ``start <= seq < stop``, of the given types, ``limit`` at most."""

    # -- run records and thread leases ---------------------------------------------------

    def begin_run(self, record: RunRecord, lease: Lease, now: float) -> Lease:
        """Take ``lease`` on its thread and store ``record``, in one transaction, unless
        another run holds a lease on the thread that is live: not expired at ``now``
        (epoch seconds) and, when its owner is a process on this host, that process is
        alive (``owner_alive``). Returns the lease now held: ``lease`` itself, or the
        other run's (then nothing was written).

        A lease the same run took from the same owner is taken again (a retry), and a
        record whose ``run_id`` is stored already is updated, never replaced: its tasks
        stay. Raises ``InvalidInputError`` when ``lease`` names another thread or run."""

    def renew_lease(self, lease: Lease) -> bool:
        """Move the lease's expiry on (a heartbeat) to ``lease.expires_at``; False if the
        run (with that owner) no longer holds it."""

    def end_run(self, record: RunRecord, tasks: Sequence[TaskRecord]) -> None:
        """Store the run's final record and its tasks, and release its lease, in one
        transaction."""

    def put_run(self, record: RunRecord) -> None:
        """Store a record that holds no lease: a run accepted and waiting to start
        (``queued``), or one that ended before it started (``failed``, ``cancelled``).
        The run that starts later with its id continues this record."""

    def put_tasks(self, tasks: Sequence[TaskRecord]) -> None:
        """Insert or update task records (their runs must have a record:
        ``InvalidInputError`` otherwise)."""

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run's record, or None."""

    def list_runs(
        self,
        *,
        thread_id: str | None = None,
        limit: int | None = None,
        status: RunStatus | None = None,
        graph: str | None = None,
    ) -> list[RunRecord]:
        """Run records, newest first (by ``started_at``), of one thread, one status and
        one graph when given, ``limit`` at most."""

    def run_tasks(self, run_id: str) -> list[TaskRecord]:
        """A run's task records, by step then start."""

    # -- call records -----------------------------------------------------------------------

    def put_call(self, record: CallRecord) -> None:
        """Keep a completed call, durably (committed when this returns); a record with the
        same thread, task, kind, digest and occurrence is replaced."""

    def put_paid_call(self, record: CallRecord, paid: Any) -> bool:
        """Keep a completed call and, in the same transaction, its answer on the ledger
        hold that paid for it (``paid``, an ``orca.context.PaidAnswer``), when this store
        keeps ``paid.ledger``'s tables, and the hold, in its own database; True then.
        False, and nothing written, when it does not (the caller records the hold
        first, then the call)."""

    def calls(self, thread_id: str, task_id: str) -> list[CallRecord]:
        """The task's call records, by kind, digest and occurrence."""

    def drop_calls(self, thread_id: str, task_id: str) -> int:
        """Forget the task's call records (a retry that must call again); returns how
        many were dropped."""

    # -- async twins: the same arguments, result and errors --------------------------------

    def aput(self, save: CheckpointSave) -> Awaitable[None]:
        """``put``, off the event loop's thread; ordered by call."""

    def aput_pending(
        self, thread_id: str, checkpoint_id: str, writes: Sequence[PendingWrite]
    ) -> Awaitable[None]:
        """``put_pending``, off the event loop's thread; ordered by call."""

    def aput_events(self, events: Sequence[EventRecord]) -> Awaitable[None]:
        """``put_events``, off the event loop's thread; ordered by call."""

    def aget(
        self, thread_id: str, checkpoint_id: str | None = None
    ) -> Awaitable[Checkpoint | None]:
        """``get``, off the event loop's thread; ordered by call."""

    def ahistory(
        self, thread_id: str, *, limit: int | None = None, before: str | None = None
    ) -> Awaitable[list[CheckpointInfo]]:
        """``history``, off the event loop's thread; ordered by call."""

    def aread_events(
        self,
        run_id: str,
        *,
        start: int = 0,
        stop: int | None = None,
        types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Awaitable[list[dict[str, Any]]]:
        """``read_events``, off the event loop's thread; ordered by call."""

    def abegin_run(self, record: RunRecord, lease: Lease, now: float) -> Awaitable[Lease]:
        """``begin_run``, off the event loop's thread; ordered by call."""

    def arenew_lease(self, lease: Lease) -> Awaitable[bool]:
        """``renew_lease``, off the event loop's thread; ordered by call."""

    def aend_run(self, record: RunRecord, tasks: Sequence[TaskRecord]) -> Awaitable[None]:
        """``end_run``, off the event loop's thread; ordered by call."""

    def aput_run(self, record: RunRecord) -> Awaitable[None]:
        """``put_run``, off the event loop's thread; ordered by call."""

    def arollback(self, thread_id: str, to: str | None) -> Awaitable[int]:
        """``rollback``, off the event loop's thread; ordered by call."""

    def aput_tasks(self, tasks: Sequence[TaskRecord]) -> Awaitable[None]:
        """``put_tasks``, off the event loop's thread; ordered by call."""

    def aget_run(self, run_id: str) -> Awaitable[RunRecord | None]:
        """``get_run``, off the event loop's thread; ordered by call."""

    def alist_runs(
        self,
        *,
        thread_id: str | None = None,
        limit: int | None = None,
        status: RunStatus | None = None,
        graph: str | None = None,
    ) -> Awaitable[list[RunRecord]]:
        """``list_runs``, off the event loop's thread; ordered by call."""

    def arun_tasks(self, run_id: str) -> Awaitable[list[TaskRecord]]:
        """``run_tasks``, off the event loop's thread; ordered by call."""

    def aput_call(self, record: CallRecord) -> Awaitable[None]:
        """``put_call``, off the event loop's thread; ordered by call."""

    def aput_paid_call(self, record: CallRecord, paid: Any) -> Awaitable[bool]:
        """``put_paid_call``, off the event loop's thread; ordered by call."""

    def acalls(self, thread_id: str, task_id: str) -> Awaitable[list[CallRecord]]:
        """``calls``, off the event loop's thread; ordered by call."""

    def adrop_calls(self, thread_id: str, task_id: str) -> Awaitable[int]:
        """``drop_calls``, off the event loop's thread; ordered by call."""

    def close(self) -> None:
        """Flush and release resources; async calls still queued raise
        ``CheckpointError``."""
