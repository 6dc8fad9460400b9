"""The server's runs when ``orca worker`` processes execute them (``[server] workers =
"external"``): a run accepted here is stored ``queued`` and put in the project store's
run queue; whichever worker claims it writes its record and its event log, which this
server reads back: a stream tails the log, a wait follows the record, a cancel goes
through the queue (the worker stops the run at its next heartbeat)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException

from orca.errors import InvalidInputError, ThreadBusyError
from orca.events import RUN_FINISHED
from orca.observe import current_correlation
from orca.server import _breakpoints
from orca.server._admission import Overloaded
from orca.server._runs import Item, Runs, _check_names, _json, _now
from orca.server._worker import enqueue, submit

if TYPE_CHECKING:
    from orca.server._models import RunBody

POLL_S = 0.1
"""How often a stream looks for a run's new events (a worker in another process writes
them) where the store has no notifications (SQLite), and a wait or a cancel for its
record's end."""
FALLBACK_S = 1.0
"""Where workers announce their runs' events (PostgreSQL), how often a stream looks
anyway (an announcement lost with a connection)."""
STATUS_EVERY_S = 1.0
"""How often a stream with no new events reads the run's record (has it ended?)."""
ACTIVE = ("queued", "running")
RESULT_WAIT_S = 30.0
"""How long a wait for a stateless run gives its worker, after the run's end, to leave
the values on its queue item."""


class ExternalRuns(Runs):
    """``Runs`` whose runs are executed by ``orca worker`` processes."""

    _streams: dict[str, set[asyncio.Event]] | None = None  # the streams waiting, per run
    _unfollow: Any = None  # stops the store's announcements (PostgreSQL)
    _following = False

    def _follow(self) -> None:
        """Once, on the event loop: wake a run's streams at each announcement a worker
        makes of it (PostgreSQL's ``LISTEN``); on SQLite the streams poll."""
        if self._streams is not None:
            return
        self._streams = {}
        loop = asyncio.get_running_loop()
        streams = self._streams

        def wake(run_id: str) -> None:
            for event in streams.get(run_id, ()):
                event.set()

        def heard(run_id: str) -> None:  # on the store's thread
            loop.call_soon_threadsafe(wake, run_id)

        self._unfollow = self.queue.follow(heard)
        self._following = self._unfollow is not None

    _root: Any = None  # the default tenant's store, whose run queue every tenant shares

    @property
    def queue(self) -> Any:
        """The run queue the workers claim from: one for every tenant (its items carry
        their tenant), in the default tenant's store."""
        return (self._root if self._root is not None else self.store).queue

    def for_tenant(self, tenant: str) -> Runs:
        other = super().for_tenant(tenant)
        assert isinstance(other, ExternalRuns)
        other._root = self.store
        return other

    def close_now(self) -> None:
        if self._unfollow is not None:
            unfollow, self._unfollow = self._unfollow, None
            unfollow()
        super().close_now()

    async def start(
        self, thread_id: str, body: RunBody, *, stateless: bool = False
    ) -> dict[str, Any]:
        """Store the run ``queued`` and enqueue it; what the reply says of it.

        Raises:
            Overloaded: ``max_queued_runs`` runs wait already (nothing was stored).
            ThreadBusyError: a run is queued or running on the thread (``reject``).
        """
        workflow = self.workflow(body.workflow)
        if workflow.graph.name != body.workflow and body.workflow not in self.workflows:
            body = body.model_copy(update={"workflow": workflow.graph.name})
        _breakpoints.check(workflow.graph, body)
        if body.resume is not None and body.input is not None:
            raise InvalidInputError(
                "a run takes input or resume, not both. Fix: send input to start, resume to "
                "answer the thread's interrupt"
            )
        if body.webhook is not None:  # checked now; the worker that runs it calls it
            from orca.server._webhooks import check_webhook

            await asyncio.to_thread(check_webhook, body.webhook, self.webhook_networks)
        if body.budget is not None or body.profile is not None:
            await asyncio.to_thread(_check_names, body.budget, body.profile, self.tenant)
        checkpoints = self._checkpoints
        mine = [
            r
            for status in ACTIVE
            for r in await checkpoints.alist_runs(thread_id=thread_id, status=status)
        ]
        strategy = body.multitask_strategy
        if mine and strategy == "reject":
            raise ThreadBusyError(thread_id, mine[0].run_id, self._owner)
        if strategy in ("interrupt", "rollback"):
            for other in mine:
                await self._stop(other.run_id, rollback=strategy == "rollback")
        queue = self.queue
        waiting = sum(
            c.count for c in await asyncio.to_thread(queue.counts) if c.status == "queued"
        )
        if waiting >= self.admission.max_queued:
            raise Overloaded("runs", "reject", self.admission.slot_ms(), waiting)
        run_id = "run-" + uuid.uuid4().hex
        await asyncio.to_thread(
            submit,
            self.store,
            run_id=run_id,
            tenant=self.tenant,
            queues=self.queue,
            thread_id=thread_id,
            body=body,
            workflow=workflow,
            owner=self._owner,
            stateless=stateless,
            correlation_id=current_correlation(),
        )
        return {
            "run_id": run_id,
            "thread_id": thread_id,
            "status": "queued",
            "queue_position": waiting,
            "predicted_start_ms": None,
            "backoff_ms": self.admission.slot_ms(),
        }

    async def recover(self) -> None:
        """At start-up: a run stored ``queued`` whose enqueue a crash lost is put in the
        queue (enqueueing is idempotent); everything else is the workers'."""
        for record in await self._checkpoints.alist_runs(status="queued"):
            if record.metadata.get("workers") == "external":
                await asyncio.to_thread(
                    enqueue, self.store, record, tenant=self.tenant, queues=self.queue
                )

    async def wait(self, run_id: str) -> dict[str, Any]:
        record = await self._until_ended(run_id)
        item = await asyncio.to_thread(self.queue.get, run_id)
        if record.get("metadata", {}).get("stateless"):
            # its worker leaves its values on the item as it closes it, just after the
            # record's end (its thread is gone by then): wait for that close
            deadline = time.monotonic() + RESULT_WAIT_S
            while item is not None and item.status in ACTIVE and time.monotonic() < deadline:
                await asyncio.sleep(POLL_S)
                item = await asyncio.to_thread(self.queue.get, run_id)
        if item is not None and isinstance(item.result, dict):  # a stateless run's
            return {**record, **item.result}
        return await super().wait(run_id)

    async def _until_ended(self, run_id: str) -> dict[str, Any]:
        """The run's record once it is neither queued nor running."""
        while True:
            record = await self.record(run_id)
            if record["status"] not in ACTIVE:
                return record
            await asyncio.sleep(POLL_S)

    async def cancel(self, run_id: str, action: str = "interrupt") -> dict[str, Any]:
        record = await self.record(run_id)
        if record["status"] not in ACTIVE:
            raise HTTPException(409, f"run {run_id} is not running ({record['status']})")
        rolled_back = await self._stop(run_id, rollback=action == "rollback")
        record = await self.record(run_id)
        return {"run_id": run_id, "status": record["status"], "rolled_back": rolled_back}

    def cancel_soon(self, run_id: str) -> None:
        self._spawn(self._stop(run_id, rollback=False))

    async def _stop(self, run_id: str, *, rollback: bool) -> int:
        """Cancel the run through the queue and wait for its end: a queued one is
        recorded ``cancelled`` here; a running one by its worker, at its next
        heartbeat."""
        status = await asyncio.to_thread(self.queue.cancel, run_id)
        found = await self._checkpoints.aget_run(run_id)
        if status == "cancelled" and found is not None and found.status == "queued":
            await self._checkpoints.aput_run(
                dataclasses.replace(found, status="cancelled", ended_at=_now())
            )
        record = await self._until_ended(run_id)
        if not rollback:
            return 0
        return await self._rollback(run_id, record["thread_id"])

    def busy_threads(self) -> frozenset[str]:
        return frozenset()

    async def events(self, run_id: str, after: int) -> AsyncIterator[Item]:
        """The run's events after seq ``after``, read from its log as its worker writes
        them, until it has ended."""
        await self.record(run_id)  # 404 when there is no such run
        return self._tail(run_id, after)

    async def _tail(self, run_id: str, after: int) -> AsyncIterator[Item]:
        self._follow()
        assert self._streams is not None
        woken = asyncio.Event()
        self._streams.setdefault(run_id, set()).add(woken)
        try:
            async for item in self._read(run_id, after, woken):
                yield item
        finally:
            waiting = self._streams.get(run_id, set())
            waiting.discard(woken)
            if not waiting:
                self._streams.pop(run_id, None)

    async def _read(self, run_id: str, after: int, woken: asyncio.Event) -> AsyncIterator[Item]:
        checkpoints = self._checkpoints
        # announced (PostgreSQL): a look now and then in case one was missed; else a poll
        wait_s = FALLBACK_S if self._following else POLL_S
        looked = 0.0
        while True:
            woken.clear()
            batch = await checkpoints.aread_events(run_id, start=after + 1)
            for event in batch:
                after = event["seq"]
                yield event["seq"], event["type"], _json(event)
                if event["type"] == RUN_FINISHED:
                    return
            if batch:
                continue
            if time.monotonic() - looked >= STATUS_EVERY_S:
                looked = time.monotonic()
                record = await checkpoints.aget_run(run_id)
                if record is None or record.status not in ACTIVE:
                    for event in await checkpoints.aread_events(run_id, start=after + 1):
                        yield event["seq"], event["type"], _json(event)
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), wait_s)
