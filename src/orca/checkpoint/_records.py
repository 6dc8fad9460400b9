"""Run records, task records and thread leases, over a few row primitives each store
provides: the decisions (which lease is live, what a record may hold) are made here,
once, and every store runs them inside its own transaction."""

from __future__ import annotations

import asyncio
import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple, ParamSpec, TypeVar, cast

import orjson

from orca.checkpoint._base import (
    RUN_STATUSES,
    Lease,
    RunRecord,
    RunStatus,
    TaskRecord,
    owner_alive,
)
from orca.errors import CorruptDatabaseError, InvalidInputError

P = ParamSpec("P")
T = TypeVar("T")

TASK_STATUSES = ("running", "done", "failed", "interrupted", "cancelled")


class RunRow(NamedTuple):
    """A run record as stored: ``metadata`` as JSON text; ``session_id`` and
    ``parent_run_id`` (from metadata's ``session`` and ``parent_run``) as columns of
    their own, for stores that look runs up by them."""

    run_id: str
    thread_id: str
    graph: str
    status: str
    started_at: str
    ended_at: str | None
    steps: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    cost_nano_usd: int
    checkpoint_id: str | None
    error: str | None
    session_id: str | None
    parent_run_id: str | None
    metadata: str


class TaskRow(NamedTuple):
    run_id: str
    task_id: str
    step: int
    node: str
    status: str
    started_at: str
    ended_at: str | None
    duration_ms: float | None
    error: str | None


def _text(where: str, value: Any, *, optional: bool = False) -> None:
    if value is None and optional:
        return
    if not isinstance(value, str):
        raise InvalidInputError(f"{where} must be a string, got {type(value).__name__}")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidInputError(
            f"{where} holds a lone surrogate, which no store can keep. Fix: pass valid Unicode text"
        ) from None


def _count(where: str, value: Any) -> None:
    # bool is an int, and a nano-USD amount is never a float
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInputError(f"{where} must be a whole number of 0 or more, got {value!r}")
    if value >= 2**63:
        raise InvalidInputError(f"{where} = {value} does not fit in 64 bits")


def run_row(record: RunRecord) -> RunRow:
    """``record`` checked and encoded. Raises ``InvalidInputError`` naming the field."""
    if not isinstance(record, RunRecord):
        raise InvalidInputError(f"expected a RunRecord, got {type(record).__name__}")
    where = f"run record {record.run_id!r}"
    for name in ("run_id", "thread_id", "graph", "started_at"):
        _text(f"{where}: {name}", getattr(record, name))
    for name in ("ended_at", "checkpoint_id", "error"):
        _text(f"{where}: {name}", getattr(record, name), optional=True)
    if not record.run_id or not record.thread_id:
        raise InvalidInputError(f"{where}: run_id and thread_id must not be empty")
    if record.status not in RUN_STATUSES:
        raise InvalidInputError(
            f"{where}: status {record.status!r} is not one of {', '.join(RUN_STATUSES)}"
        )
    for name in ("steps", "llm_calls", "input_tokens", "output_tokens", "cost_nano_usd"):
        _count(f"{where}: {name}", getattr(record, name))
    if not isinstance(record.metadata, dict):
        raise InvalidInputError(f"{where}: metadata must be a dict of JSON values")
    try:
        metadata = orjson.dumps(record.metadata, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError as exc:  # orjson's error names what it could not encode
        raise InvalidInputError(
            f"{where}: metadata is not JSON ({exc}). Fix: keep only str keys and JSON "
            "values (str, int, float, bool, None, lists and dicts of them)"
        ) from None
    session, parent = record.metadata.get("session"), record.metadata.get("parent_run")
    return RunRow(
        record.run_id,
        record.thread_id,
        record.graph,
        record.status,
        record.started_at,
        record.ended_at,
        record.steps,
        record.llm_calls,
        record.input_tokens,
        record.output_tokens,
        record.cost_nano_usd,
        record.checkpoint_id,
        record.error,
        session if isinstance(session, str) else None,
        parent if isinstance(parent, str) else None,
        metadata,
    )


def run_record(row: Sequence[Any]) -> RunRecord:
    """A stored row (``RunRow``'s columns, in order) back as a ``RunRecord``; raises
    ``ValueError`` when its metadata is not a JSON object."""
    r = RunRow(*row)
    metadata = orjson.loads(r.metadata)
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata is a JSON {type(metadata).__name__}, not an object")
    return RunRecord(
        run_id=r.run_id,
        thread_id=r.thread_id,
        graph=r.graph,
        status=cast(RunStatus, r.status),
        started_at=r.started_at,
        ended_at=r.ended_at,
        steps=r.steps,
        llm_calls=r.llm_calls,
        input_tokens=r.input_tokens,
        output_tokens=r.output_tokens,
        cost_nano_usd=r.cost_nano_usd,
        checkpoint_id=r.checkpoint_id,
        error=r.error,
        metadata=metadata,
    )


def task_rows(tasks: Iterable[TaskRecord]) -> list[TaskRow]:
    """Task records checked and encoded. Raises ``InvalidInputError`` naming the field."""
    rows = []
    for t in tasks:
        if not isinstance(t, TaskRecord):
            raise InvalidInputError(f"expected a TaskRecord, got {type(t).__name__}")
        where = f"task record {t.task_id!r} of run {t.run_id!r}"
        for name in ("run_id", "task_id", "node", "started_at"):
            _text(f"{where}: {name}", getattr(t, name))
        for name in ("ended_at", "error"):
            _text(f"{where}: {name}", getattr(t, name), optional=True)
        _count(f"{where}: step", t.step)
        if t.status not in TASK_STATUSES:
            raise InvalidInputError(
                f"{where}: status {t.status!r} is not one of {', '.join(TASK_STATUSES)}"
            )
        duration = t.duration_ms
        if duration is not None and (
            not isinstance(duration, int | float) or isinstance(duration, bool)
        ):
            raise InvalidInputError(f"{where}: duration_ms must be a number, got {duration!r}")
        rows.append(
            TaskRow(
                t.run_id,
                t.task_id,
                t.step,
                t.node,
                t.status,
                t.started_at,
                t.ended_at,
                None if duration is None else float(duration),
                t.error,
            )
        )
    return rows


def task_record(row: Sequence[Any]) -> TaskRecord:
    return TaskRecord(*row)


def _check_lease(lease: Lease) -> None:
    if not isinstance(lease, Lease):
        raise InvalidInputError(f"expected a Lease, got {type(lease).__name__}")
    for name in ("thread_id", "run_id", "owner"):
        _text(f"lease on thread {lease.thread_id!r}: {name}", getattr(lease, name))
    at = lease.expires_at
    # NaN would never compare as expired nor as live
    if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at):
        raise InvalidInputError(
            f"lease on thread {lease.thread_id!r}: expires_at must be finite epoch seconds, "
            f"got {at!r}"
        )


def live(held: Lease, now: float) -> bool:
    """Whether ``held`` still holds its thread at ``now``: not expired, and its owner is
    not a process of this host that has died."""
    return held.expires_at > now and owner_alive(held.owner)


def blocks(held: Lease, taker: Lease, now: float) -> bool:
    """Whether ``held`` keeps ``taker`` off the thread: it is another run's (or another
    owner's), and live."""
    if held.run_id == taker.run_id and held.owner == taker.owner:
        return False  # the same run taking its lease again
    return live(held, now)


class RecordRows(ABC):
    """The run-record half of ``Checkpointer``, over row primitives each store
    provides. Mixed into ``RowCheckpointer``."""

    _lock: threading.RLock
    location: str

    def _submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        """Queue ``fn(*args, **kwargs)`` now and return a future of its result: the async
        face's one way in. This default runs it at once, on the calling thread, for a
        store that never blocks; a store that does runs it on a worker thread, in call
        order. Needs a running event loop (``RuntimeError`` otherwise)."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # the caller sees it where it awaits, as with a worker
            future.set_exception(exc)
        return future

    # -- primitives ------------------------------------------------------------------------

    @abstractmethod
    def _begin(self, lease: Lease, row: RunRow, blocked: Callable[[Lease], bool]) -> Lease | None:
        """In one transaction: read the thread's lease; when there is one and
        ``blocked(it)``, return it and write nothing; when ``row``'s run is stored as
        ended (``ENDED``), raise ``RunEndedError`` and write nothing; else store ``lease``
        in its place, upsert ``row`` (an update keeps the run's tasks) and return None."""

    @abstractmethod
    def _renew(self, lease: Lease) -> bool:
        """Set the expiry of the lease held by ``lease.run_id`` and ``lease.owner`` on
        ``lease.thread_id``; False when there is none."""

    @abstractmethod
    def _end(self, row: RunRow, tasks: list[TaskRow]) -> None:
        """In one transaction: upsert ``row`` and ``tasks``, and delete the lease of
        ``row``'s thread if ``row``'s run holds it."""

    @abstractmethod
    def _put_task_rows(self, tasks: list[TaskRow]) -> None: ...

    @abstractmethod
    def _run_row(self, run_id: str) -> Sequence[Any] | None: ...

    @abstractmethod
    def _run_rows(
        self, thread_id: str | None, status: str | None, limit: int | None, graph: str | None
    ) -> list[Sequence[Any]]:
        """Newest first: by ``started_at``, then by when the run was first stored."""

    @abstractmethod
    def _task_rows(self, run_id: str) -> list[Sequence[Any]]:
        """By step, then ``started_at``, then when the task was first stored."""

    @abstractmethod
    def _delete_runs(self, thread_id: str) -> None:
        """Delete the thread's run records, their tasks, and its lease."""

    @abstractmethod
    def _lease(self, thread_id: str) -> Lease | None: ...

    # -- Checkpointer -----------------------------------------------------------------------

    def begin_run(self, record: RunRecord, lease: Lease, now: float) -> Lease:
        row = run_row(record)
        _check_lease(lease)
        if (lease.thread_id, lease.run_id) != (record.thread_id, record.run_id):
            raise InvalidInputError(
                f"lease ({lease.thread_id!r}, {lease.run_id!r}) is not for run "
                f"{record.run_id!r} on thread {record.thread_id!r}. Fix: take the lease "
                "on the run's own thread, in the run's name"
            )
        with self._lock:
            held = self._begin(lease, row, lambda held: blocks(held, lease, now))
        return lease if held is None else held

    def live_lease(self, thread_id: str, now: float) -> Lease | None:
        """The lease that keeps other runs off ``thread_id`` at ``now``, if any: a check
        before starting a run (``begin_run`` alone decides, atomically)."""
        with self._lock:
            held = self._lease(thread_id)
        return held if held is not None and live(held, now) else None

    def renew_lease(self, lease: Lease) -> bool:
        _check_lease(lease)
        with self._lock:
            return self._renew(lease)

    def end_run(self, record: RunRecord, tasks: Sequence[TaskRecord]) -> None:
        row = run_row(record)
        rows = task_rows(tasks)
        strays = sorted({t.run_id for t in rows} - {record.run_id})
        if strays:
            raise InvalidInputError(
                f"end_run of run {record.run_id!r} was given tasks of run {strays[0]!r}. "
                "Fix: store other runs' tasks with put_tasks"
            )
        with self._lock:
            self._end(row, rows)

    def put_run(self, record: RunRecord) -> None:
        if record.status not in ("queued", "failed", "cancelled"):
            raise InvalidInputError(
                f"put_run stores queued runs and runs that ended before they started, not "
                f"{record.status!r} ones. Fix: a run that runs is recorded by begin_run"
            )
        row = run_row(record)
        with self._lock:
            self._end(row, [])

    def put_tasks(self, tasks: Sequence[TaskRecord]) -> None:
        rows = task_rows(tasks)
        if not rows:
            return
        with self._lock:
            self._check_runs(rows)
            self._put_task_rows(rows)

    def _check_runs(self, rows: list[TaskRow]) -> None:
        for run_id in sorted({t.run_id for t in rows}):
            if self._run_row(run_id) is None:
                raise InvalidInputError(
                    f"task records of run {run_id!r}, which has no record. Fix: store the "
                    "run with begin_run before its tasks"
                )

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._lock:
            row = self._run_row(run_id)
        return None if row is None else self._decode(row)

    def _decode(self, row: Sequence[Any]) -> RunRecord:
        try:
            return run_record(row)
        except ValueError as exc:  # orjson's decode error is one too
            raise CorruptDatabaseError(
                self.location,
                f"the record of run {row[0]!r} is damaged ({exc})",
                "restore the file from a backup, or delete the run's thread",
            ) from exc

    def list_runs(
        self,
        *,
        thread_id: str | None = None,
        limit: int | None = None,
        status: RunStatus | None = None,
        graph: str | None = None,
    ) -> list[RunRecord]:
        if limit is not None and limit < 1:
            raise InvalidInputError(f"list_runs limit must be at least 1, got {limit}")
        if status is not None and status not in RUN_STATUSES:
            raise InvalidInputError(
                f"list_runs status {status!r} is not one of {', '.join(RUN_STATUSES)}"
            )
        with self._lock:
            rows = self._run_rows(thread_id, status, limit, graph)
        return [self._decode(r) for r in rows]

    def run_tasks(self, run_id: str) -> list[TaskRecord]:
        with self._lock:
            rows = self._task_rows(run_id)
        return [task_record(r) for r in rows]

    # -- async twins (see ``Checkpointer``: queued when called, applied in call order) ----

    def abegin_run(self, record: RunRecord, lease: Lease, now: float) -> asyncio.Future[Lease]:
        return self._submit(self.begin_run, record, lease, now)

    def arenew_lease(self, lease: Lease) -> asyncio.Future[bool]:
        return self._submit(self.renew_lease, lease)

    def aend_run(self, record: RunRecord, tasks: Sequence[TaskRecord]) -> asyncio.Future[None]:
        return self._submit(self.end_run, record, tasks)

    def aput_run(self, record: RunRecord) -> asyncio.Future[None]:
        return self._submit(self.put_run, record)

    def aput_tasks(self, tasks: Sequence[TaskRecord]) -> asyncio.Future[None]:
        return self._submit(self.put_tasks, tasks)

    def aget_run(self, run_id: str) -> asyncio.Future[RunRecord | None]:
        return self._submit(self.get_run, run_id)

    def alist_runs(
        self,
        *,
        thread_id: str | None = None,
        limit: int | None = None,
        status: RunStatus | None = None,
        graph: str | None = None,
    ) -> asyncio.Future[list[RunRecord]]:
        return self._submit(
            self.list_runs, thread_id=thread_id, limit=limit, status=status, graph=graph
        )

    def arun_tasks(self, run_id: str) -> asyncio.Future[list[TaskRecord]]:
        return self._submit(self.run_tasks, run_id)
