"""``orca worker``: a process that claims queued runs from the store's run queue
(``orca.store.RunQueue``) and executes them as the server would (``server/_execute.py``),
on any number of hosts sharing one store.

A claimed item is held by a lease the worker renews every third of ``lease_s``; a worker
that dies stops renewing, and once the lease has run out another worker's claim takes
the item up. The run then goes on from its thread's last checkpoint under its own id:
its finished supersteps are not run again and its paid calls are answered from their
records (the engine's pay-once records, on the same thread and checkpointer). The
engine's thread lease keeps a run single even when a worker lost its queue lease but
still runs (a pause, a partition): the taker then finds the thread busy and tries again
later, or finds the run ended and closes its item.

A cancel asked through the queue (``RunQueue.cancel``) reaches the worker at its next
heartbeat; it stops the run, which its record then says is ``cancelled``.

SIGTERM (or SIGINT): the worker claims no more, lets its runs finish for ``grace_s``,
then gives back the items of those still running (another worker continues them from
their checkpoints, as after a crash) and exits.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from orca._patience import lost_store, patiently
from orca._redact import redact_secret_text
from orca.checkpoint import RunRecord, lease_owner
from orca.errors import ConfigError, RunEndedError, ThreadBusyError
from orca.server._execute import (
    checkpointed,
    run_metadata,
    run_options,
    start_run,
    tenant_tools,
)
from orca.server._flows import SavedFlows
from orca.store import DEFAULT_TENANT
from orca.store._queue import NO_LIMITS, Limits, QueueItem

if TYPE_CHECKING:
    from orca.engine._handle import RunHandle
    from orca.flows import Workflow
    from orca.server._models import RunBody

log = logging.getLogger("orca.worker")

MAX_ATTEMPTS = 20
"""A run claimed this many times without ending (its workers died, or gave it back, or
found its thread busy) fails instead of being taken up again: something in it kills
its workers."""
BUSY_RETRY_S = 5.0
"""When a claimed run's thread is still held (by a worker that lost its lease but runs
on, or whose lease on the thread has not run out yet), the item waits this long."""
IDLE_WAIT_S = 2.0
"""The longest an idle worker sleeps between looks at the queue (an enqueue on
PostgreSQL wakes it at once)."""
ANNOUNCE_S = 0.05
"""A run's events are announced to the streams that follow it at most this often."""
ENDED = ("done", "failed", "cancelled", "interrupted")
ACTIVE = ("queued", "running")
WEBHOOK_GRACE_S = 5.0
"""At a stop, how long the worker waits for webhooks of runs that ended."""
PRIORITY = {"interactive": 1, "batch": 0}


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class WorkerSettings:
    """What ``orca worker`` runs: the store's URL, the project whose workflows and
    settings it uses, the queues it claims from, how many runs at once, its lease."""

    store: str
    project: Path
    workflows: list[str]
    queues: tuple[str, ...] = ("default",)
    concurrency: int = 4
    lease_s: float = 30.0
    grace_s: float = 30.0
    limits: Limits = NO_LIMITS
    run_options: dict[str, Any] = field(default_factory=dict)
    tool_options: dict[str, Any] = field(default_factory=dict)
    flow_modules: list[str] = field(default_factory=list)
    """The modules saved flows' ``python`` nodes may name (``[flows] python_modules``)."""
    webhook_networks: list[str] = field(default_factory=list)
    """Private networks (CIDR) a run's webhook may reach anyway (``[server]
    webhook_networks``)."""
    secret_keys: Any = None
    """Where stored secrets' master key comes from (``Config.secret_keys()``; None: the
    default, ``ORCA_SECRET_KEY`` or ``$ORCA_HOME/secret.key``)."""


@dataclass
class _Tenant:
    """What a worker keeps of one tenant: its store, the served workflows onto it, and
    its saved flows (``NAME@VERSION`` runs, compiled on first use)."""

    store: Any
    workflows: dict[str, Workflow]
    saved: SavedFlows | None = None

    def find(self, name: str) -> Workflow | None:
        found = self.workflows.get(name)
        if found is None and self.saved is not None:
            found = self.saved.find(name)
        return found


def submit(
    store: Any,
    *,
    run_id: str,
    thread_id: str,
    body: RunBody,
    workflow: Workflow,
    owner: str,
    stateless: bool = False,
    correlation_id: str | None = None,
    tenant: str = "default",
    queue: str = "default",
    queues: Any = None,
) -> RunRecord:
    """Store run ``run_id`` as ``queued`` and put it in ``store``'s run queue, for a
    worker to execute (what ``POST /v1/runs`` does with external workers). The record
    is written first: a queue item always has its record (an enqueue lost to a crash
    in between leaves a queued record, which ``orca serve`` puts in the queue again at
    its next start)."""
    record = RunRecord(
        run_id=run_id,
        thread_id=thread_id,
        graph=workflow.graph.name,
        status="queued",
        started_at=_now(),
        metadata=run_metadata(
            body,
            workflow,
            stateless=stateless,
            owner=owner,
            correlation_id=correlation_id,
            workers="external",
        ),
    )
    store.checkpoints.put_run(record)
    enqueue(store, record, tenant=tenant, queue=queue, queues=queues)
    return record


def enqueue(
    store: Any,
    record: RunRecord,
    *,
    tenant: str = "default",
    queue: str = "default",
    queues: Any = None,
) -> bool:
    """Put the queued run ``record`` (written by ``submit``) in the run queue (``queues``:
    the one workers claim from, when not ``store``'s: a tenant's runs go in the default
    tenant's); False when it is there already."""
    request = record.metadata.get("request", {})
    return bool(
        (queues if queues is not None else store.queue).enqueue(
            record.run_id,
            workflow=record.graph,
            queue=queue,
            tenant=tenant,
            priority=PRIORITY.get(str(request.get("priority", "interactive")), 1),
            payload={"thread_id": record.thread_id},
        )
    )


async def _final_values(workflow: Workflow, thread_id: str) -> dict[str, Any]:
    """A stateless run's values and pending interrupts, as ``wait`` answers them (the
    queue item keeps them: its thread is removed)."""
    import orjson

    from orca.errors import OrcaError

    try:
        snapshot = await workflow.graph.aget_state(thread_id)
    except OrcaError:
        return {"values": None, "interrupts": []}  # failed before its first checkpoint

    def plain(value: Any) -> Any:
        return orjson.loads(orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS))

    return {
        "values": plain(snapshot.values),
        "interrupts": [plain(i.to_dict()) for i in snapshot.interrupts],
    }


@dataclass(eq=False)
class _Job:
    item: QueueItem
    task: asyncio.Task[None] | None = None
    handle: RunHandle | None = None
    lost: bool = False  # its lease ran out and another worker may hold the item


class Worker:
    """One ``orca worker`` process: ``await worker.run()`` until ``stop()``."""

    def __init__(self, settings: WorkerSettings) -> None:
        self.settings = settings
        self.worker_id = lease_owner()
        self.workflows: dict[str, Workflow] = {}
        self._store: Any = None
        # each tenant's store (the default's is the worker's own; the others' opened on
        # their first run), with the workflows onto it and its saved flows
        self._tenants: dict[str, _Tenant] = {}
        self._opening = asyncio.Lock()
        self._webhooks: set[asyncio.Future[None]] = set()  # deliveries under way
        self._jobs: dict[str, _Job] = {}
        self._stops = 0
        self._wake: asyncio.Event | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def where(self) -> str:
        """The store, for messages (a PostgreSQL URL without its password)."""
        db = getattr(self._store, "db", None)
        return str(db.where) if db is not None else str(getattr(self._store, "path", "?"))

    # -- life ------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the store and load the workflows (before any claim: a workflow that
        cannot be loaded stops the start with what to fix)."""
        from orca.flows import load_workflow
        from orca.store import open_store

        if not self.settings.workflows:  # it would fail every run it claims
            raise ConfigError(
                "the worker has no workflows to run",
                key="server.workflows",
                fix="pass --workflow PATH[:graph], or list them in [server] workflows",
            )
        self._store = open_store(self.settings.store)
        try:
            checkpoints = self._store.checkpoints
            for source in self.settings.workflows:
                workflow = load_workflow(source, checkpoints, root=self.settings.project)
                name = workflow.graph.name
                if name in self.workflows:
                    raise ConfigError(
                        f"two workflows are named {name!r} ({self.workflows[name].source}, "
                        f"{source})",
                        key="server.workflows",
                        fix="give each graph its own name: StateGraph(State, name=...)",
                    )
                self.workflows[name] = workflow
            self._store.queue.worker_seen(
                self.worker_id, socket.gethostname(), os.getpid(), self.settings.queues
            )
        except BaseException:
            self._store.close()
            self._store = None
            raise

    def stop(self) -> None:
        """Claim no more and let the runs finish (the first call); give their items
        back now (the second)."""
        self._stops += 1
        if self._wake is not None:
            self._wake.set()
        if self._stops > 1 and self._stopped is not None:
            self._stopped.set()

    async def run(self) -> list[str]:
        """Claim and execute runs until ``stop()``; the run ids given back at the end
        (still running when the grace ran out: another worker continues them)."""
        if self._store is None:
            await asyncio.to_thread(self.open)
        self._wake = asyncio.Event()
        self._stopped = asyncio.Event()
        beats = asyncio.ensure_future(self._beats())
        try:
            await self._claims()
            given_back = await self._drain()
        finally:
            beats.cancel()
        if self._webhooks:  # deliveries of runs that ended: a few seconds at most
            await asyncio.wait(self._webhooks, timeout=WEBHOOK_GRACE_S)
        queue = self._store.queue
        await asyncio.to_thread(queue.worker_stopped, self.worker_id)
        if not given_back:
            for tenant, side in self._tenants.items():
                if tenant != DEFAULT_TENANT:
                    await asyncio.to_thread(side.store.close)
            self._tenants.clear()
            await asyncio.to_thread(self._store.close)
        return given_back

    async def _claims(self) -> None:
        s = self.settings
        queue = self._store.queue
        assert self._wake is not None
        idle: asyncio.Future[bool] | None = None
        while not self._stops:
            if len(self._jobs) < s.concurrency:
                try:
                    item = await asyncio.to_thread(
                        queue.claim, self.worker_id, s.lease_s, s.limits, queues=s.queues
                    )
                except Exception as exc:  # the store is away: look again in a while
                    log.warning("could not claim from the run queue: %s", exc)
                    item = None
                if item is not None:
                    job = _Job(item)
                    self._jobs[item.run_id] = job
                    job.task = asyncio.ensure_future(self._execute(job))
                    continue
            self._wake.clear()
            woken = asyncio.ensure_future(self._wake.wait())
            waits: set[asyncio.Future[Any]] = {woken}
            if len(self._jobs) < s.concurrency:  # room, but nothing to claim: sleep
                # one look-out at a time: a wait still running (woken first) is kept
                if idle is None or idle.done():
                    idle = asyncio.ensure_future(asyncio.to_thread(queue.wait, IDLE_WAIT_S))
                waits.add(idle)
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()

    async def _drain(self) -> list[str]:
        """Wait for the runs to end, for ``grace_s`` at most (or until a second stop);
        give back the items of those still running."""
        assert self._stopped is not None
        tasks = {j.task for j in self._jobs.values() if j.task is not None}
        if tasks:
            stopped = asyncio.ensure_future(self._stopped.wait())
            await self._until(tasks, stopped)
            stopped.cancel()
        given_back = []
        queue = self._store.queue
        for run_id, job in list(self._jobs.items()):
            running = job.task is not None and not job.task.done()
            if running and await asyncio.to_thread(queue.release, self.worker_id, job.item):
                given_back.append(run_id)
        return sorted(given_back)

    async def _until(self, tasks: set[asyncio.Task[None]], stopped: asyncio.Future[Any]) -> None:
        """Until every task is done, ``grace_s`` passed, or ``stopped`` fired."""
        pending: set[asyncio.Future[Any]] = set(tasks)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.grace_s
        while pending and not stopped.done():
            left = deadline - loop.time()
            if left <= 0:
                return
            _, pending = await asyncio.wait(
                {*pending, stopped}, timeout=left, return_when=asyncio.FIRST_COMPLETED
            )
            pending.discard(stopped)

    async def _beats(self) -> None:
        """Every third of the lease: note this worker alive and renew each item's lease;
        a cancel asked for stops its run."""
        queue = self._store.queue
        s = self.settings
        while True:
            await asyncio.sleep(s.lease_s / 3)
            try:
                await asyncio.to_thread(
                    queue.worker_seen, self.worker_id, socket.gethostname(), os.getpid(), s.queues
                )
            except Exception as exc:
                log.warning("could not note worker %s alive: %s", self.worker_id, exc)
            for job in list(self._jobs.values()):
                if job.lost:
                    continue
                try:
                    beat = await asyncio.to_thread(queue.heartbeat, self.worker_id, job.item)
                except Exception as exc:  # the next beat tries again, within the lease
                    log.warning("could not renew the lease of run %s: %s", job.item.run_id, exc)
                    continue
                if not beat.held:
                    # the run goes on (the engine's thread lease keeps it single); the
                    # worker that took the item closes it once it finds the run ended
                    log.warning("run %s: its lease ran out and another worker may take it",
                                job.item.run_id)  # fmt: skip
                    job.lost = True
                elif beat.cancel_requested and job.handle is not None:
                    job.handle.cancel()

    # -- one run ---------------------------------------------------------------------------

    async def _execute(self, job: _Job) -> None:
        item = job.item
        try:
            await self._run(job)
        except Exception as exc:
            if lost_store(exc):  # not the run's fault: it is taken up again
                await self._give_back(item)
            else:
                log.exception("run %s could not be executed", item.run_id)
                await self._fail(item, f"{type(exc).__name__}: {exc}")
        finally:
            self._jobs.pop(item.run_id, None)
            if self._wake is not None:
                self._wake.set()

    async def _run(self, job: _Job) -> None:
        from orca.server._models import RunBody

        item, s = job.item, self.settings
        queue = self._store.queue
        tenant = await self._tenant(item.tenant)
        checkpoints = tenant.store.checkpoints
        record = await checkpoints.aget_run(item.run_id)
        if record is None:
            await asyncio.to_thread(queue.fail, self.worker_id, item, "the run has no record")
            return
        # a worker that lost the item's lease may still run it: while its lease on the
        # thread lives, wait; once it is gone, the record read after says how it ended
        if await asyncio.to_thread(checkpoints.live_lease, record.thread_id, time.time()):
            await asyncio.to_thread(queue.release, self.worker_id, item, delay_s=BUSY_RETRY_S)
            return
        record = await checkpoints.aget_run(item.run_id) or record
        if record.status in ENDED:  # it ended while another worker held its item
            await asyncio.to_thread(queue.complete, self.worker_id, item)
            return
        if item.cancel_requested:  # asked while another worker held it
            await checkpoints.aput_run(
                dataclasses.replace(record, status="cancelled", ended_at=_now())
            )
            await asyncio.to_thread(queue.complete, self.worker_id, item)
            return
        if item.attempts > MAX_ATTEMPTS:
            await self._fail(
                item,
                f"it was claimed {item.attempts - 1} times and never ended",
                record,
                checkpoints,
            )
            return
        try:  # a served workflow, or a saved flow of the tenant (compiled on first use)
            workflow = await asyncio.to_thread(tenant.find, item.workflow)
        except Exception as exc:  # a saved flow that no longer compiles here
            await self._fail(item, f"{type(exc).__name__}: {exc}", record, checkpoints)
            return
        if workflow is None:
            served = ", ".join(sorted(tenant.workflows)) or "none"
            await self._fail(
                item,
                f"worker {self.worker_id} does not serve workflow {item.workflow!r} "
                f"(it serves: {served})",
                record,
                checkpoints,
            )
            return
        body = RunBody.model_validate(record.metadata.get("request", {}))
        metadata = {**record.metadata, "owner": self.worker_id}
        continues = record.status == "running" and await checkpointed(
            checkpoints, record.run_id, record.thread_id
        )
        options = run_options(
            body,
            workflow,
            thread_id=record.thread_id,
            metadata=metadata,
            # its budgets, prices and profiles; the provider keys it stored
            defaults={**s.run_options, "tenant": item.tenant, "api_keys": tenant.store.secrets},
            tools=tenant_tools(s.tool_options, item.tenant),
            correlation_id=metadata.get("correlation_id"),
        )
        try:
            job.handle = await start_run(
                workflow, body, run_id=record.run_id, options=options, continues=continues,
            )  # fmt: skip
        except ThreadBusyError:
            await asyncio.to_thread(queue.release, self.worker_id, item, delay_s=BUSY_RETRY_S)
            return
        except RunEndedError:  # another worker ran it to its end since this one looked
            if not job.lost:
                await asyncio.to_thread(queue.complete, self.worker_id, item)
            return
        except Exception as exc:
            if lost_store(exc):
                await self._give_back(item)
                return
            stored = await checkpoints.aget_run(record.run_id)
            await self._fail(
                item,
                f"{type(exc).__name__}: {exc}",
                stored if stored is not None else record,
                checkpoints,
            )
            return
        await self._announce(job.handle, record.run_id)
        try:
            await job.handle.result()
        except Exception as exc:  # how it ended: its record says, unless the store went
            if lost_store(exc):  # away: then it stopped as if killed, and resumes
                await self._give_back(item)
                return
        await asyncio.to_thread(queue.announce, record.run_id)  # its end is committed
        result = None
        if metadata.get("stateless"):  # its thread goes with it, its values stay
            result = await _final_values(workflow, record.thread_id)
            await checkpoints.arollback(record.thread_id, None)
        if not job.lost:
            await asyncio.to_thread(queue.complete, self.worker_id, item, result)
        if body.webhook is not None:
            self._notify(body.webhook, checkpoints, record.run_id)

    def _notify(self, url: str, checkpoints: Any, run_id: str) -> None:
        """The run stopped: POST its record to its webhook, checked again from this host
        (in the background, while the worker goes on; a stop waits a few seconds for
        it)."""
        from orca.server._webhooks import check_webhook, deliver

        async def send() -> None:
            try:
                target = await asyncio.to_thread(check_webhook, url, self.settings.webhook_networks)
                found = await checkpoints.aget_run(run_id)
                record = orjson.loads(orjson.dumps(dataclasses.asdict(found), default=repr))
                await deliver(url, target, record)
            except Exception as exc:  # never a crash of the worker for a webhook
                log.warning("webhook %s of run %s not sent: %s", url, run_id, exc)

        task = asyncio.ensure_future(send())
        self._webhooks.add(task)
        task.add_done_callback(self._webhooks.discard)

    async def _tenant(self, name: str) -> _Tenant:
        """Tenant ``name``'s store (opened on its first run), the workflows onto it and
        its saved flows."""
        found = self._tenants.get(name)
        if found is None:
            async with self._opening:
                found = self._tenants.get(name)
                if found is None:
                    found = await asyncio.to_thread(self._open_tenant, name)
                    self._tenants[name] = found
        return found

    def _open_tenant(self, name: str) -> _Tenant:
        if name == DEFAULT_TENANT:
            side = _Tenant(self._store, self.workflows)
        else:
            from orca.store import open_store

            store = open_store(self.settings.store, tenant=name, pool_size=4)
            moved = {n: w.onto(store.checkpoints) for n, w in self.workflows.items()}
            side = _Tenant(store, moved)
        if self.settings.secret_keys is not None:
            side.store.secret_keys = self.settings.secret_keys
        side.saved = SavedFlows(side, self.settings.flow_modules)
        return side

    async def _announce(self, handle: RunHandle, run_id: str) -> None:
        """Follow the run's events and announce them (``RunQueue.announce``: on
        PostgreSQL the API servers' streams wake), at most every ``ANNOUNCE_S``: an event
        emitted after a superstep's commit tells the readers that the step's events are
        in the log."""
        queue = self._store.queue
        loop = asyncio.get_running_loop()
        last = 0.0
        with contextlib.suppress(Exception):  # the run's own failure: its record says
            async for _ in handle.events():
                if loop.time() - last >= ANNOUNCE_S:
                    last = loop.time()
                    await asyncio.to_thread(queue.announce, run_id)

    async def _give_back(self, item: QueueItem) -> None:
        """The run stopped because the store went away: once it answers again, put the
        item back in the queue (any worker resumes the run from its last checkpoint). If
        the store stays away past the item's lease, the lease gives it back instead."""
        queue = self._store.queue
        log.warning("run %s lost its store; it is given back to the queue", item.run_id)
        with contextlib.suppress(Exception):
            await patiently(
                lambda: asyncio.to_thread(queue.release, self.worker_id, item, delay_s=1.0),
                f"giving run {item.run_id} back",
                patience_s=max(item.lease_s or 0.0, 5.0),
            )

    async def _fail(
        self,
        item: QueueItem,
        why: str,
        record: RunRecord | None = None,
        checkpoints: Any = None,
    ) -> None:
        """The run cannot be run: its record (in ``checkpoints``, its tenant's; when it
        never began, or its process died) says ``failed`` with ``why`` (its credentials
        masked), and so does its item."""
        why = redact_secret_text(why)
        if record is not None and checkpoints is not None and record.status in ACTIVE:
            try:
                await checkpoints.aput_run(
                    dataclasses.replace(record, status="failed", ended_at=_now(), error=why)
                )
            except Exception:
                log.exception("could not record run %s failed", item.run_id)
        try:
            await asyncio.to_thread(self._store.queue.fail, self.worker_id, item, why)
        except Exception:
            log.exception("could not mark the queue item of run %s failed", item.run_id)
