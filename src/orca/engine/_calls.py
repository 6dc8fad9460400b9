"""A task's call records: the LLM answers and tool results it completed, kept in the
run's checkpointer so the task, run again, is answered from them (``orca.context.CallLog``).

A task runs again when its step is re-run from the same checkpoint: after an interrupt
(``ctx.interrupt`` or a budget pause), a crash, or a sibling's failure. Its id is the same
then, so its records are found. A task that fails in its own code (an exception that
is not Orca's: not a budget refusal, a provider error, a timeout) forgets its records, so
its retries, and the task run again later, call again: the answers may be why it failed.
``RetryPolicy(reuse_calls=True)`` keeps them.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orca._patience import patiently
from orca.checkpoint import CallRecord
from orca.errors import OrcaError
from orca.events import WarningEvent

if TYPE_CHECKING:
    from orca.checkpoint import Checkpointer
    from orca.context import PaidAnswer
    from orca.engine._emit import Emitter


class TaskCalls:
    """One task's call records, as its calls look them up and add to them. Safe from
    any thread and any event loop (a sync node's calls run on its thread's own loop)."""

    __slots__ = (
        "_checkpoint_id",
        "_clock",
        "_counts",
        "_emitter",
        "_known",
        "_lock",
        "_node",
        "_run_id",
        "_step",
        "_store",
        "_task_id",
        "_thread_id",
    )

    def __init__(
        self,
        store: Checkpointer,
        *,
        thread_id: str,
        checkpoint_id: str,
        task_id: str,
        run_id: str,
        node: str,
        step: int,
        clock: Callable[[], dt.datetime],
        emitter: Emitter | None,
    ) -> None:
        self._store = store
        self._thread_id = thread_id
        self._checkpoint_id = checkpoint_id
        self._task_id = task_id
        self._run_id = run_id
        self._node = node
        self._step = step
        self._clock = clock
        self._emitter = emitter
        self._lock = threading.Lock()
        # (kind, digest, occurrence) -> recorded value; None until first read
        self._known: dict[tuple[str, str, int], dict[str, Any]] | None = None
        self._counts: dict[tuple[str, str], int] = {}

    def restart(self) -> None:
        """A retry of the task starts: occurrences count from zero again."""
        with self._lock:
            self._counts.clear()
            self._known = None

    async def forget(self) -> None:
        """The task failed in its own code: drop its records, so that it calls again
        when it runs again (the answers may be why it failed)."""
        with self._lock:
            self._known = {}
        try:
            await self._store.adrop_calls(self._thread_id, self._task_id)
        except OrcaError as exc:
            self._warn(f"the calls of node {self._node!r} could not be forgotten ({exc})")

    async def lookup(self, kind: str, digest: str) -> tuple[int, dict[str, Any] | None]:
        if self._known is None:
            await self._load()
        with self._lock:
            key = (kind, digest)
            occurrence = self._counts.get(key, 0)
            self._counts[key] = occurrence + 1
            known = self._known or {}
            return occurrence, known.get((kind, digest, occurrence))

    async def _load(self) -> None:
        records = await self._store.acalls(self._thread_id, self._task_id)
        found: dict[tuple[str, str, int], dict[str, Any]] = {
            (r.kind, r.digest, r.occurrence): r.value for r in records
        }
        with self._lock:
            if self._known is None:
                self._known = found

    async def record(
        self,
        kind: str,
        digest: str,
        occurrence: int,
        value: dict[str, Any],
        paid: PaidAnswer | None = None,
    ) -> bool:
        record = CallRecord(
            self._thread_id,
            self._task_id,
            kind,  # type: ignore[arg-type]
            digest,
            occurrence,
            self._checkpoint_id,
            self._run_id,
            value,
            self._clock().isoformat(),
        )
        store = self._store
        try:
            if paid is not None:
                # the answer on its hold and the record in one transaction, where the
                # store keeps the ledger too; else the hold's first: a process killed
                # between the two is charged for the call (by the sweep) and, run
                # again, calls once more; never the other way round (a call answered
                # from its record but never charged)
                both = await patiently(
                    lambda: store.aput_paid_call(record, paid), "keeping a paid call"
                )
                if both:
                    return True
                await patiently(paid.arecord, "recording a paid call on its hold")
            await patiently(lambda: store.aput_call(record), "recording a paid call")
        except OrcaError as exc:  # the call is done and paid: tell, and go on
            self._warn(
                f"a completed {kind} call of node {self._node!r} could not be recorded "
                f"({exc}); if the task runs again it calls again"
            )
            return False
        return True

    def _warn(self, message: str) -> None:
        if self._emitter is not None:
            self._emitter.emit(
                WarningEvent,
                self._step,
                code="call_not_recorded",
                message=message,
                node=self._node,
                task_id=self._task_id,
            )
