"""A run's record and its thread's lease: written by the engine for every run on a store,
whoever started it (library, CLI, server)."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from orca._redact import redact_secret_text
from orca.checkpoint import Checkpointer, Lease, RunRecord, TaskRecord, lease_owner
from orca.checkpoint._base import refuse_ended
from orca.context import RunTotals
from orca.errors import ThreadBusyError
from orca.events import RUN_FINISHED
from orca.observe._core import log

T = TypeVar("T")

LEASE_TTL_S = 30.0
"""How long a thread's lease lasts without a heartbeat. A run renews it every third of
that from a thread of its own (a sync node blocking the loop does not starve it); the
lease of a process that died on this host is taken over at once, one on another host
when it runs out."""


class _Heartbeat:
    """One thread for the leases of every run of this process: it renews each every third
    of ``LEASE_TTL_S`` (a run's own thread, started and joined per run, cost more than
    the renewals), and stops when no run holds a lease."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs: dict[int, tuple[Recorder, float]] = {}  # id -> (run, next beat due)
        self._thread: threading.Thread | None = None

    def add(self, recorder: Recorder) -> None:
        with self._lock:
            self._runs[id(recorder)] = (recorder, time.monotonic() + LEASE_TTL_S / 3)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._beat, name="orca-lease-heartbeat", daemon=True
                )
                self._thread.start()

    def remove(self, recorder: Recorder) -> None:
        with self._lock:
            self._runs.pop(id(recorder), None)

    def _beat(self) -> None:
        while True:
            time.sleep(min(LEASE_TTL_S / 3, 1.0))
            now = time.monotonic()
            with self._lock:
                if not self._runs:
                    self._thread = None  # the next run starts another
                    return
                due = [r for r, at in self._runs.values() if at <= now]
            for recorder in due:
                alive = recorder.beat()
                with self._lock:
                    if id(recorder) in self._runs:
                        if alive:
                            self._runs[id(recorder)] = (recorder, now + LEASE_TTL_S / 3)
                        else:
                            del self._runs[id(recorder)]


_heartbeat = _Heartbeat()

# (store, thread) -> the run of this process that holds or is taking the thread
_claims: dict[tuple[int, str], str] = {}
_claims_lock = threading.Lock()


class Recorder:
    """Takes the thread for one run, keeps its lease alive, collects its tasks' outcomes,
    and stores its final record (releasing the thread)."""

    def __init__(
        self,
        store: Checkpointer,
        *,
        thread_id: str,
        graph: str,
        clock: Callable[[], dt.datetime],
        metadata: Mapping[str, Any] | None,
        inline: bool,
    ) -> None:
        self.store = store
        self.thread_id = thread_id
        self.graph = graph
        self.clock = clock
        self.metadata = dict(metadata or {})
        self.inline = inline  # on a sync invoke's private loop: the store is called here
        self.record: RunRecord | None = None
        self.lease: Lease | None = None
        self.lost_to: str | None = None  # the run that took the thread when the lease ran out
        self.previous: RunRecord | None = None  # the stored record this run continues
        self._claimed: tuple[int, str] | None = None
        self.first_seq = 0  # the seq of its first event
        # task id -> (step, node, started, ended, status, duration_ms, error), not stored yet
        self.tasks: dict[str, tuple[Any, ...]] = {}
        self._stop = threading.Event()
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def begin(self, run_id: str, *, derived: bool) -> str:
        """Take the thread and store the record as ``running``; returns the run's id (a
        derived id that a finished run already used gets a suffix: one id, one run).

        Raises:
            ThreadBusyError: another live run holds the thread; nothing was written.
        """
        self._claim(run_id)  # runs of this process race here, not on the lease
        try:
            return await self._begin(run_id, derived=derived)
        except BaseException:
            self.unclaim()
            raise

    def _claim(self, run_id: str) -> None:
        """Take the thread among this process's runs: two runs of one process would
        derive the same id and each take the other's lease for its own (a retry)."""
        key = (id(self.store), self.thread_id)
        with _claims_lock:
            holder = _claims.get(key)
            if holder is not None:
                raise ThreadBusyError(self.thread_id, holder, lease_owner())
            _claims[key] = run_id
            self._claimed = key

    def abandon(self) -> None:
        """The run stopped without a final record (its store went away): renew its lease
        no more (it runs out, and the run is taken up again) and free the thread here."""
        self._stop.set()
        _heartbeat.remove(self)
        self.unclaim()

    def unclaim(self) -> None:
        """Give the thread back to this process's other runs (idempotent)."""
        if self._claimed is not None:
            with _claims_lock:
                _claims.pop(self._claimed, None)
            self._claimed = None

    async def _begin(self, run_id: str, *, derived: bool) -> str:
        if derived:
            run_id = await self._off_loop(_unused_id, self.store, run_id)
        else:
            await self._off_loop(self._continues, run_id)
        owner = lease_owner()
        self.record = RunRecord(
            run_id=run_id,
            thread_id=self.thread_id,
            graph=self.graph,
            status="running",
            started_at=self.clock().isoformat(),
            metadata=self.metadata,
        )
        wanted = Lease(self.thread_id, run_id, owner, time.time() + LEASE_TTL_S)
        if self.inline:
            held = self.store.begin_run(self.record, wanted, time.time())
        else:
            held = await self.store.abegin_run(self.record, wanted, time.time())
        if (held.run_id, held.owner) != (run_id, owner):
            raise ThreadBusyError(self.thread_id, held.run_id, held.owner)
        self.lease = held
        try:
            await self._off_loop(self._close_dead_runs)
        except Exception:  # housekeeping: the next run on the thread tries again
            log.warning("could not record the dead runs of thread %s", self.thread_id,
                        exc_info=True)  # fmt: skip
        self._task = asyncio.current_task()
        self._loop = asyncio.get_running_loop()
        _heartbeat.add(self)
        return run_id

    def _continues(self, run_id: str) -> None:
        """A run given the id of a stored record continues it (a queued run starting, a
        server's run resumed after its process died): its events are numbered after the
        ones logged, and its totals add to the record's."""
        previous = self.store.get_run(run_id)
        if previous is None:
            return
        logged = self.store.read_events(run_id)
        last = logged[-1] if logged else None
        if previous.status == "running" and last is not None and last["type"] == RUN_FINISHED:
            # its process died between logging the run's end and recording it: the end
            # is recorded now, from the log, and a run that ended is not run again (its
            # totals are the last attempt's: the record had not added the earlier ones)
            previous = _ended_from_log(previous, last)
            self.store.end_run(previous, [])
            refuse_ended(run_id, previous.status)
        self.previous = previous
        self.first_seq = last["seq"] + 1 if last is not None else 0

    async def _off_loop(self, fn: Callable[..., T], *args: Any) -> T:
        """Several store calls in a row, on a worker thread (here, on the private loop)."""
        if self.inline:
            return fn(*args)
        return await asyncio.to_thread(fn, *args)

    def _close_dead_runs(self) -> None:
        """Runs the thread's record still says are running died with their process (this
        run holds the thread now, so none of them does): they are recorded failed."""
        now = self.clock().isoformat()
        why = f"its process stopped before the run ended; run {self.run_id} took the thread"
        for dead in self.store.list_runs(thread_id=self.thread_id, status="running"):
            if dead.run_id == self.run_id:
                continue
            tasks = [
                replace(t, status="failed", ended_at=now, error=why)
                for t in self.store.run_tasks(dead.run_id)
                if t.status == "running"
            ]
            self.store.end_run(replace(dead, status="failed", ended_at=now, error=why), tasks)

    def beat(self) -> bool:
        """Move the lease's expiry on (from the heartbeat's thread); False when the run
        lost its thread to another run (it is then cancelled) or has ended."""
        lease = self.lease
        if lease is None or self._stop.is_set():
            return False
        lease = replace(lease, expires_at=time.time() + LEASE_TTL_S)
        try:
            kept = self.store.renew_lease(lease)
        except Exception as exc:  # a busy database: the next beat tries again, within the ttl
            # one line, no traceback: it comes from the heartbeat's thread, in the middle
            # of whatever else the process prints
            log.warning("could not renew the lease of run %s on thread %s: %s", lease.run_id,
                        lease.thread_id, exc)  # fmt: skip
            return True
        if not kept and not self._stop.is_set():
            self.lost_to = _taker(self.store, lease)
            if self._task is not None and self._loop is not None:
                self._loop.call_soon_threadsafe(self._task.cancel)
            return False
        return kept

    def tasks_started(self, tasks: list[tuple[str, str]], step: int) -> None:
        """A step's tasks (id, node) began. Kept as plain tuples until the run ends (a
        superstep pays for no record it does not store)."""
        now = self.clock()
        for task_id, node in tasks:
            self.tasks[task_id] = (step, node, now, None, "running", None, None)

    def tasks_ended(self, ended: list[tuple[str, str, float, str | None]]) -> None:
        """A step's tasks (id, status, duration_ms, error) ended; they are stored with the
        run's final record (one transaction, not one per step)."""
        now = self.clock()
        for task_id, status, duration_ms, said in ended:
            error = None if said is None else redact_secret_text(said)
            started = self.tasks.get(task_id)
            if started is not None:
                self.tasks[task_id] = (started[0], started[1], started[2], now, status,
                                       duration_ms, error)  # fmt: skip

    @property
    def run_id(self) -> str:
        assert self.record is not None
        return self.record.run_id

    def final(
        self,
        status: str,
        *,
        steps: int,
        totals: RunTotals,
        checkpoint_id: str | None,
        error: str | None,
    ) -> tuple[RunRecord, list[TaskRecord]]:
        """The run's last record and the tasks not stored yet (a task still running was
        cut short by the run's end: cancelled)."""
        self._stop.set()
        _heartbeat.remove(self)
        assert self.record is not None
        before = self.previous
        record = replace(
            self.record,
            status=status,  # type: ignore[arg-type]
            ended_at=self.clock().isoformat(),
            steps=steps + (before.steps if before else 0),
            llm_calls=totals.llm_calls + (before.llm_calls if before else 0),
            input_tokens=totals.input_tokens + (before.input_tokens if before else 0),
            output_tokens=totals.output_tokens + (before.output_tokens if before else 0),
            cost_nano_usd=totals.cost_nano_usd + (before.cost_nano_usd if before else 0),
            checkpoint_id=checkpoint_id,
            error=None if error is None else redact_secret_text(error),  # as its log says
        )
        now = self.clock()
        tasks = []
        for task_id, (step, node, began, ended, status, ms, error) in self.tasks.items():
            if status == "running":  # cut short by the run's end
                status, ended = "cancelled", now
            tasks.append(
                TaskRecord(
                    record.run_id,
                    task_id,
                    step,
                    node,
                    status,  # type: ignore[arg-type]
                    began.isoformat(),
                    ended.isoformat(),
                    None if ms is None else round(ms, 3),
                    error,
                )
            )
        self.tasks.clear()
        return record, tasks


def _ended_from_log(record: RunRecord, finished: Mapping[str, Any]) -> RunRecord:
    """``record`` (still ``running``) ended as its logged ``run.finished`` says."""
    ended = dt.datetime.fromtimestamp(float(finished.get("ts", time.time())), dt.UTC)
    return replace(
        record,
        status=finished.get("status", "failed"),
        ended_at=ended.isoformat(),
        steps=record.steps + int(finished.get("steps") or 0),
        llm_calls=record.llm_calls + int(finished.get("llm_calls") or 0),
        input_tokens=record.input_tokens + int(finished.get("input_tokens") or 0),
        output_tokens=record.output_tokens + int(finished.get("output_tokens") or 0),
        cost_nano_usd=record.cost_nano_usd + int(finished.get("cost_nano_usd") or 0),
        checkpoint_id=finished.get("checkpoint_id"),
        error=finished.get("error"),
    )


def _unused_id(store: Checkpointer, run_id: str) -> str:
    candidate, n = run_id, 1
    while store.get_run(candidate) is not None:
        n += 1
        candidate = f"{run_id}.{n}"
    return candidate


def _taker(store: Checkpointer, lost: Lease) -> str:
    """The run that took the thread over from ``lost``, as well as the store can say."""
    try:
        runs = store.list_runs(thread_id=lost.thread_id, limit=1)
    except Exception:
        return "another run"
    return runs[0].run_id if runs and runs[0].run_id != lost.run_id else "another run"
