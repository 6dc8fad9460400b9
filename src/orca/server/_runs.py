"""The server's runs: started through run handles on the server's event loop, recorded
by the engine in the project's store, their events fanned out to every stream reader
while they run and read back from the event log once they have stopped."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from starlette.exceptions import HTTPException

from orca._redact import redact_secret_text
from orca.checkpoint import RunRecord, lease_owner, owner_alive
from orca.errors import (
    ConfigError,
    InvalidInputError,
    OrcaError,
    SerializationError,
    ThreadBusyError,
    UnknownStateKeyError,
)
from orca.observe import current_correlation
from orca.server import _breakpoints
from orca.server._admission import Admission, Overloaded, Ticket
from orca.server._execute import (
    checkpointed,
    run_metadata,
    run_options,
    start_run,
    tenant_tools,
)
from orca.store import DEFAULT_TENANT

if TYPE_CHECKING:
    from orca.engine._handle import RunHandle
    from orca.flows import Workflow
    from orca.server._models import Fork, RunBody, StateUpdate
    from orca.store import Store

log = logging.getLogger("orca.server")

Item = tuple[int, str, bytes]  # an event as a stream sends it: seq, type, JSON
BAD_INPUT = (InvalidInputError, UnknownStateKeyError, SerializationError)
RECENT_RUNS = 64  # runs whose whole stream is kept after they end ...
RECENT_S = 300.0  # ... for this long at most


def _json(value: Any) -> bytes:
    """JSON for a reply: what JSON cannot hold shown as its ``repr``."""
    return orjson.dumps(value, default=repr, option=orjson.OPT_NON_STR_KEYS)


class _Live:
    """A run this server is running: its handle and the events it has emitted so far,
    which any number of readers follow."""

    def __init__(self, handle: RunHandle) -> None:
        self.handle = handle
        self.items: list[Item] = []
        self.done = False
        self.changed = asyncio.Event()
        self.pump = asyncio.ensure_future(self._pump())

    async def _pump(self) -> None:
        try:
            async for event in self.handle.events():
                self.items.append((event.seq, event.type, event.to_json()))
                self.changed.set()
        except Exception:  # the run's own failure: its record and log say what it was
            pass
        finally:
            self.done = True
            self.changed.set()

    async def follow(self, after: int) -> AsyncIterator[Item]:
        sent = 0
        while True:
            while sent < len(self.items):
                item = self.items[sent]
                sent += 1
                if item[0] > after:
                    yield item
            if self.done:
                return
            self.changed.clear()
            if sent < len(self.items) or self.done:
                continue
            await self.changed.wait()


def _check_names(budget: str | None, profile: str | None, tenant: str) -> None:
    """The budget and profile a run names exist (as ``orca run`` checks them), before it
    is accepted: a typo is a 400 now, not a failure at the run's first LLM call.

    Raises:
        InvalidFieldError: no such budget or profile (a 422 naming the field).
    """
    from orca.errors import InvalidFieldError, UnknownBudgetError, UnknownProfileError
    from orca.store import user_store

    with user_store(tenant=tenant) as store:
        try:
            if budget is not None:
                store.ledger.budgets.get(budget)
            if profile is not None:
                store.profiles.get(profile)
        except (UnknownBudgetError, UnknownProfileError) as exc:
            field = "budget" if isinstance(exc, UnknownBudgetError) else "profile"
            message, _, fix = str(exc).partition(". Fix: ")
            fix = fix or f"name an existing {field}"
            raise InvalidFieldError(message, field=field, fix=fix) from None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


@dataclass(eq=False)
class _Accepted:
    """A run this server accepted and has not finished: queued, then running."""

    run_id: str
    thread_id: str
    workflow: Workflow
    body: RunBody
    stateless: bool
    target: tuple[str, int, str, bool] | None  # its webhook's checked address
    continues: bool = False  # left running by a server that died: from its checkpoint
    driver: asyncio.Task[None] | None = None  # while queued
    ticket: Ticket | None = None  # its place in the queue, once it has one
    launching: bool = False  # its handle is being started: cancel waits for it
    correlation_id: str | None = None  # the request's, for the run's logs and spans
    started: asyncio.Future[None] = field(default_factory=_future)
    finished: asyncio.Future[None] = field(default_factory=_future)

    def end(self) -> None:
        if not self.finished.done():
            self.finished.set_result(None)

    def metadata(self, owner: str) -> dict[str, Any]:
        """What its record keeps (``_execute.run_metadata``)."""
        return run_metadata(
            self.body,
            self.workflow,
            stateless=self.stateless,
            owner=owner,
            correlation_id=self.correlation_id,
        )

    def queued_record(self, owner: str) -> RunRecord:
        return RunRecord(
            run_id=self.run_id,
            thread_id=self.thread_id,
            graph=self.workflow.graph.name,
            status="queued",
            started_at=_now(),
            metadata=self.metadata(owner),
        )

    def options(
        self, owner: str, defaults: dict[str, Any], tools: dict[str, Any]
    ) -> dict[str, Any]:
        """The run's options for the graph (``_execute.run_options``)."""
        return run_options(
            self.body,
            self.workflow,
            thread_id=self.thread_id,
            metadata=self.metadata(owner),
            defaults=defaults,
            tools=tools,
            correlation_id=self.correlation_id,
        )


class SavedWorkflows(Protocol):
    """Saved flows a run may name (``server/_flows.py``'s ``SavedFlows``)."""

    def find(self, ref: str) -> Workflow | None:
        """The saved flow ``NAME@VERSION`` (or ``NAME``) compiled, or None."""
        ...

    def listing(self) -> list[dict[str, Any]]:
        """``GET /v1/workflows``' rows of the saved flows."""
        ...


class Runs:
    """The workflows served and the runs started here."""

    def __init__(
        self,
        project: Path,
        sources: list[str],
        webhook_networks: list[str] | None = None,
        admission: Admission | None = None,
        run_options: dict[str, Any] | None = None,
        tool_options: dict[str, Any] | None = None,
        *,
        tenant: str = DEFAULT_TENANT,
        served: dict[str, Workflow] | None = None,
    ) -> None:
        self.project = Path(project)
        self.sources = list(sources)
        self.webhook_networks = list(webhook_networks or [])
        self.admission = admission or Admission("runs", max_running=16, max_queued=1000)
        self.tenant = tenant  # whose store, budgets and prices its runs use
        # the project's options for every run (the tenant's user database for its calls)
        self.run_options = {**(run_options or {}), "tenant": tenant}
        # for runs of workflows with tools: the tenant's own workspace and audit
        self._tool_defaults = dict(tool_options or {})
        self.tool_options = tenant_tools(self._tool_defaults, tenant)
        self._served = served  # another tenant's workflows, already loaded
        self.secret_keys: Any = None  # the master key's source of stored secrets
        self._background: set[asyncio.Task[Any]] = set()
        self.workflows: dict[str, Workflow] = {}
        self.saved: SavedWorkflows | None = None  # saved flows (server/_flows.py)
        self.ready = False
        self._store: Store | None = None
        self._live: dict[str, _Live] = {}
        self._accepted: dict[str, _Accepted] = {}  # queued or running here, in order
        self._results: OrderedDict[str, tuple[Any, list[Any]]] = OrderedDict()
        # the whole streams of runs that ended lately (tokens and values too, which the
        # event log does not keep): a client that reconnects misses nothing
        self._recent: OrderedDict[str, tuple[float, _Live]] = OrderedDict()
        self._owner = lease_owner()

    # -- life ------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the project's store and load the workflows (before the server listens:
        a workflow that cannot be loaded stops the start with what to fix)."""
        from orca.store import project_store

        self._store = project_store(self.project, tenant=self.tenant)
        if self.secret_keys is not None:
            self._store.secret_keys = self.secret_keys
        # the provider keys the tenant stored (orca secret set) come before the server's
        self.run_options["api_keys"] = self._store.secrets
        try:
            if self._served is not None:  # loaded once: onto this tenant's store
                checkpoints = self._store.checkpoints
                self.workflows = {n: w.onto(checkpoints) for n, w in self._served.items()}
            else:
                self.workflows = self._load_all()
        except BaseException:
            self._store.close()
            self._store = None
            raise
        self.ready = True

    def _load_all(self) -> dict[str, Workflow]:
        from orca.flows import load_workflow

        assert self._store is not None
        found: dict[str, Workflow] = {}
        for source in self.sources:
            workflow = load_workflow(source, self._store.checkpoints, root=self.project)
            key = workflow.graph.name
            if key in found:
                raise ConfigError(
                    f"two served workflows are named {key!r} ({found[key].source}, {source})",
                    key="server.workflows",
                    fix="give each graph its own name: StateGraph(State, name=...)",
                )
            found[key] = workflow
        return found

    async def close(self) -> None:
        """Stop: queued runs stay queued (the next start takes them up), running ones
        are cancelled (their threads resumable)."""
        self.ready = False
        for accepted in list(self._accepted.values()):
            if accepted.driver is not None and not accepted.launching:
                accepted.driver.cancel()
        for live in list(self._live.values()):
            await live.handle.stop()
        if self._background:  # ends of runs, webhooks: a few seconds at most
            await asyncio.wait(self._background, timeout=5)
        await asyncio.to_thread(self.close_now)

    def close_now(self) -> None:
        """Close the store (no run is running: the app never served, or ``close`` ran)."""
        self.ready = False
        if self._store is not None:
            store, self._store = self._store, None
            store.close()

    @property
    def store(self) -> Store:
        """The project's store (503 while the server starts or stops)."""
        if self._store is None:
            raise HTTPException(503, "the server is starting or stopping")
        return self._store

    @property
    def _checkpoints(self) -> Any:
        if self._store is None:
            raise HTTPException(503, "the server is starting or stopping")
        return self._store.checkpoints

    def for_tenant(self, tenant: str) -> Runs:
        """The runs of another tenant: the same served workflows (onto its own store),
        admission and options; opened now (blocking)."""
        other = type(self)(
            self.project,
            self.sources,
            self.webhook_networks,
            self.admission,
            {k: v for k, v in self.run_options.items() if k not in ("tenant", "api_keys")},
            self._tool_defaults,
            tenant=tenant,
            served=self.workflows,
        )
        other.secret_keys = self.secret_keys
        other.open()
        return other

    def find(self, name: str) -> Workflow | None:
        """The served workflow ``name``, else the saved flow it names (``NAME@VERSION``,
        or ``NAME``: its latest version), else None: served workflows win."""
        found = self.workflows.get(name)
        if found is None and self.saved is not None:
            found = self.saved.find(name)
        return found

    def workflow(self, name: str) -> Workflow:
        found = self.find(name)
        if found is None:
            served = ", ".join(sorted(self.workflows)) or "none"
            raise HTTPException(404, f"no workflow named {name!r} is served (served: {served})")
        return found

    # -- runs ------------------------------------------------------------------------------

    async def start(
        self, thread_id: str, body: RunBody, *, stateless: bool = False
    ) -> dict[str, Any]:
        """Accept a run: started now when a slot is free (its record says ``running``
        before this returns), else stored ``queued`` first; what the reply says of it.

        Raises:
            Overloaded: the runs queue is full (nothing was stored).
            HTTPException: 409, another run holds the thread (strategy ``reject``).
        """
        workflow = self.workflow(body.workflow)
        if workflow.graph.name != body.workflow and body.workflow not in self.workflows:
            # a saved flow by NAME: the request (and a restart) names the exact version
            body = body.model_copy(update={"workflow": workflow.graph.name})
        _breakpoints.check(workflow.graph, body)  # a 422 naming an unknown node
        if body.resume is not None and body.input is not None:
            raise InvalidInputError(
                "a run takes input or resume, not both. Fix: send input to start, resume to "
                "answer the thread's interrupt"
            )
        if body.budget is not None or body.profile is not None:
            await asyncio.to_thread(_check_names, body.budget, body.profile, self.tenant)
        target = None
        if body.webhook is not None:
            from orca.server._webhooks import check_webhook

            target = await asyncio.to_thread(check_webhook, body.webhook, self.webhook_networks)
        mine = [a for a in self._accepted.values() if a.thread_id == thread_id]
        strategy = body.multitask_strategy
        if mine and strategy == "reject":
            raise ThreadBusyError(thread_id, mine[0].run_id, self._owner)
        if strategy in ("interrupt", "rollback"):
            for other in mine:
                await self._cancel(other, rollback=strategy == "rollback")
        after = mine[-1] if mine and strategy == "enqueue" else None
        accepted = _Accepted(
            run_id="run-" + uuid.uuid4().hex,
            thread_id=thread_id,
            workflow=workflow,
            body=body,
            stateless=stateless,
            target=target,
            correlation_id=current_correlation(),  # the request's (server/_tracing.py)
        )
        reply = {"run_id": accepted.run_id, "thread_id": thread_id}
        ticket: Ticket | None = None
        if after is None:
            ticket = self.admission.admit(accepted.run_id, body.priority, self.tenant)
            if ticket.running:
                accepted.launching = True
                self._accepted[accepted.run_id] = accepted  # the thread's, from now on
                try:
                    await self._launch(accepted, ticket)
                except Exception as exc:
                    self._accepted.pop(accepted.run_id, None)
                    accepted.end()
                    self.admission.release(ticket)
                    stored = await self._checkpoints.aget_run(accepted.run_id)
                    if stored is None or isinstance(exc, BAD_INPUT):
                        raise  # refused before it began (a busy thread), or bad input
                    # it began and stopped at once (a deadline, a limit): its record says so
                    return {**reply, "status": stored.status, "queue_position": 0,
                            "predicted_start_ms": 0, "backoff_ms": 0}  # fmt: skip
                except BaseException:
                    self._accepted.pop(accepted.run_id, None)
                    accepted.end()
                    self.admission.release(ticket)
                    raise
                return {**reply, "status": "running", "queue_position": 0,
                        "predicted_start_ms": 0, "backoff_ms": 0}  # fmt: skip
        elif self._waiting() >= self.admission.max_queued:
            raise Overloaded("runs", "reject", self.admission.slot_ms(), self._waiting())
        self._accepted[accepted.run_id] = accepted  # the thread's next, from now on
        try:  # durable before it is acknowledged: a restart takes it up again
            await self._checkpoints.aput_run(accepted.queued_record(self._owner))
        except BaseException:
            self._accepted.pop(accepted.run_id, None)
            accepted.end()
            if ticket is not None:
                self.admission.release(ticket)
            raise
        accepted.ticket = ticket
        accepted.driver = asyncio.ensure_future(self._drive(accepted, ticket, after))
        return {
            **reply,
            "status": "queued",
            "queue_position": ticket.queue_position if ticket else self._waiting() - 1,
            "predicted_start_ms": ticket.predicted_start_ms if ticket else None,
            "backoff_ms": ticket.backoff_ms if ticket else self.admission.slot_ms(),
        }

    def busy_threads(self) -> frozenset[str]:
        """The threads a run of this server runs on or is queued for."""
        return frozenset(a.thread_id for a in self._accepted.values())

    def _waiting(self) -> int:
        """Runs accepted here that have not started."""
        return sum(1 for a in self._accepted.values() if a.run_id not in self._live)

    async def _drive(
        self, accepted: _Accepted, ticket: Ticket | None, after: _Accepted | None
    ) -> None:
        """A queued run: wait for the thread's earlier run, then for a slot, then start."""
        try:
            if after is not None:
                await asyncio.wait({after.finished})
                ticket = self.admission.admit(accepted.run_id, accepted.body.priority, self.tenant)
            assert ticket is not None
            await self.admission.slot(ticket)
            accepted.launching = True  # no cancel reaches the driver from here on
        except asyncio.CancelledError:
            if ticket is not None:
                self.admission.release(ticket)
            if self.ready:  # cancelled by a client; at shutdown it stays queued
                await self._never_ran(accepted, "cancelled", None)
            else:
                accepted.end()
            return
        except OrcaError as exc:  # evicted, or no room once the thread was free
            if ticket is not None:
                self.admission.release(ticket)
            await self._never_ran(accepted, "failed", exc)
            return
        try:
            await self._launch(accepted, ticket)
        except BaseException as exc:
            self.admission.release(ticket)
            await self._never_ran(accepted, "failed", exc)
            if not isinstance(exc, Exception):
                raise

    async def _never_ran(
        self, accepted: _Accepted, status: str, error: BaseException | None
    ) -> None:
        """A queued run that ended before it started: recorded so, and followers go on."""
        self._accepted.pop(accepted.run_id, None)
        why = None if error is None else f"{type(error).__name__}: {error}"
        record = dataclasses.replace(
            accepted.queued_record(self._owner),
            status=status,  # type: ignore[arg-type]
            ended_at=_now(),
            error=why,
        )
        try:
            await self._checkpoints.aput_run(record)
        except Exception:  # the record stays queued: the next start takes the run up
            log.exception("could not record run %s %s", accepted.run_id, status)
        accepted.end()
        if accepted.target is not None and accepted.body.webhook is not None:
            self._notify(accepted.body.webhook, accepted.target, accepted.run_id)

    async def _launch(self, accepted: _Accepted, ticket: Ticket) -> None:
        """Start the run's handle (the engine records it ``running``), then follow it."""
        handle = await start_run(
            accepted.workflow,
            accepted.body,
            run_id=accepted.run_id,
            options=accepted.options(self._owner, self.run_options, self.tool_options),
            continues=accepted.continues,  # a run the last process left running
        )
        self._accepted[accepted.run_id] = accepted
        live = _Live(handle)
        self._live[accepted.run_id] = live
        accepted.started.set_result(None)
        live.pump.add_done_callback(lambda _: self._spawn(self._ended(accepted, ticket)))

    def _keep_recent(self, run_id: str, live: _Live) -> None:
        now = time.monotonic()
        self._recent[run_id] = (now, live)
        while self._recent:
            oldest, _ = next(iter(self._recent.values()))
            if len(self._recent) <= RECENT_RUNS and now - oldest <= RECENT_S:
                break
            self._recent.popitem(last=False)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _ended(self, accepted: _Accepted, ticket: Ticket) -> None:
        """The run stopped: its slot is freed, a stateless run's thread removed (its
        result kept here a while for ``wait``), its webhook called, its followers go."""
        live = self._live.get(accepted.run_id)
        if live is not None:  # its record stored and its thread released
            with contextlib.suppress(Exception):  # how it ended: its record says
                await live.handle.result()
        self.admission.release(ticket)
        try:
            if accepted.stateless:
                values, interrupts = await self._final_values(accepted.workflow, accepted.thread_id)
                self._results[accepted.run_id] = (values, interrupts)
                while len(self._results) > 1000:
                    self._results.popitem(last=False)
                await self._checkpoints.arollback(accepted.thread_id, None)
        except Exception:
            log.exception("could not clear the thread of stateless run %s", accepted.run_id)
        finally:
            ended = self._live.pop(accepted.run_id, None)
            if ended is not None:
                self._keep_recent(accepted.run_id, ended)
            self._accepted.pop(accepted.run_id, None)
            accepted.end()
        if accepted.target is not None and accepted.body.webhook is not None:
            self._notify(accepted.body.webhook, accepted.target, accepted.run_id)

    def _notify(self, url: str, target: tuple[str, int, str, bool], run_id: str) -> None:
        """The run stopped: POST its record to its webhook (kept until delivered)."""
        from orca.server._webhooks import deliver

        async def send() -> bool:
            try:
                return await deliver(url, target, await self.record(run_id))
            except Exception as exc:  # never a crash of the server for a webhook
                log.warning("webhook %s of run %s not sent: %s", url, run_id, exc)
                return False

        self._spawn(send())

    async def recover(self) -> None:
        """At start-up: take up the runs a server that died left behind. A ``queued``
        run starts again from its request; a ``running`` one continues from its last
        checkpoint under its own id (its paid calls answered from their records). Runs
        of a server that is still alive are left to it."""
        store = self._checkpoints
        orphans = []
        for status in ("queued", "running"):
            for record in await store.alist_runs(status=status):
                meta = record.metadata
                if meta.get("via") != "server" or "request" not in meta:
                    continue
                if meta.get("workers") == "external":  # the queue's: workers take it up
                    continue
                if status == "queued" and owner_alive(str(meta.get("owner", ""))):
                    continue
                if status == "running" and await asyncio.to_thread(
                    store.live_lease, record.thread_id, time.time()
                ):
                    continue
                orphans.append(record)
        for record in sorted(orphans, key=lambda r: r.started_at):
            await self._take_up(record)

    async def _take_up(self, record: RunRecord) -> None:
        from orca.server._models import RunBody

        meta = record.metadata
        try:
            body = RunBody.model_validate(meta["request"])
            workflow = self.workflow(body.workflow)
        except Exception as exc:  # the workflow is no longer served, or the request rotted
            why = redact_secret_text(f"not taken up after a restart: {exc}")
            await self._checkpoints.aput_run(
                dataclasses.replace(record, status="failed", ended_at=_now(), error=why)
            )
            return
        accepted = _Accepted(
            run_id=record.run_id,
            thread_id=record.thread_id,
            workflow=workflow,
            body=body,
            stateless=bool(meta.get("stateless")),
            target=None,
            continues=record.status == "running" and await self._checkpointed(record),
            correlation_id=meta.get("correlation_id"),
        )
        # queued again (a running one as it was accepted), owned by this server now
        await self._checkpoints.aput_run(accepted.queued_record(self._owner))
        after = next(
            (a for a in reversed(self._accepted.values()) if a.thread_id == record.thread_id),
            None,
        )
        ticket = None
        if after is None:
            try:
                ticket = self.admission.admit(accepted.run_id, body.priority, self.tenant)
            except OrcaError as exc:
                await self._never_ran(accepted, "failed", exc)
                return
        self._accepted[accepted.run_id] = accepted
        accepted.ticket = ticket
        accepted.driver = asyncio.ensure_future(self._drive(accepted, ticket, after))

    async def _checkpointed(self, record: RunRecord) -> bool:
        """Whether the thread's latest checkpoint is the run's own (it got that far)."""
        return await checkpointed(self._checkpoints, record.run_id, record.thread_id)

    async def _final_values(self, workflow: Workflow, thread_id: str) -> tuple[Any, list[Any]]:
        try:
            snapshot = await workflow.graph.aget_state(thread_id)
        except OrcaError:
            return None, []  # failed before its first checkpoint
        return (
            orjson.loads(_json(snapshot.values)),
            [orjson.loads(_json(i.to_dict())) for i in snapshot.interrupts],
        )

    async def wait(self, run_id: str) -> dict[str, Any]:
        accepted = self._accepted.get(run_id)
        if accepted is not None:
            await asyncio.wait({accepted.finished})
        record = await self.record(run_id)
        values: Any = None
        interrupts: list[Any] = []
        if run_id in self._results:
            values, interrupts = self._results[run_id]
        elif record["status"] not in ("queued", "cancelled") and (
            found := self.find(record["graph"])
        ):
            values, interrupts = await self._final_values(found, record["thread_id"])
        return {**record, "values": values, "interrupts": interrupts}

    async def record(self, run_id: str) -> dict[str, Any]:
        found = await self._checkpoints.aget_run(run_id)
        if found is None:
            raise HTTPException(404, f"no run {run_id!r}")
        return dict(orjson.loads(_json(dataclasses.asdict(found))))

    async def cancel(self, run_id: str, action: str = "interrupt") -> dict[str, Any]:
        """Stop a queued or running run and wait until it has; ``rollback`` also removes
        the checkpoints it made (the thread is as it was before it)."""
        accepted = self._accepted.get(run_id)
        if accepted is None:
            record = await self.record(run_id)  # 404 when there is no such run
            raise HTTPException(409, f"run {run_id} is not running here ({record['status']})")
        rolled_back = await self._cancel(accepted, rollback=action == "rollback")
        record = await self.record(run_id)
        return {"run_id": run_id, "status": record["status"], "rolled_back": rolled_back}

    def cancel_soon(self, run_id: str) -> None:
        """Cancel the run if it is still queued or running here (a stream that asked for
        it lost its client)."""
        accepted = self._accepted.get(run_id)
        if accepted is not None:
            self._spawn(self._cancel(accepted, rollback=False))

    async def _cancel(self, accepted: _Accepted, *, rollback: bool) -> int:
        """Stop ``accepted`` and wait for its end; with ``rollback``, remove the
        checkpoints it made. Returns how many were removed."""
        if accepted.driver is not None and not accepted.launching:
            accepted.driver.cancel()  # still queued: it never starts
            await asyncio.wait({accepted.driver})
            if not accepted.finished.done():  # cancelled before its first step
                if accepted.ticket is not None:
                    self.admission.release(accepted.ticket)
                await self._never_ran(accepted, "cancelled", None)
        elif not accepted.started.done():  # being started: stop it once it runs
            await asyncio.wait(
                {accepted.started, accepted.finished}, return_when=asyncio.FIRST_COMPLETED
            )
        live = self._live.get(accepted.run_id)
        if live is not None:
            await live.handle.stop()
        await asyncio.wait({accepted.finished})
        if not rollback:
            return 0
        return await self._rollback(accepted.run_id, accepted.thread_id)

    async def _rollback(self, run_id: str, thread_id: str) -> int:
        store = self._checkpoints
        history = await asyncio.to_thread(store.history, thread_id)
        ours = [h for h in history if h.metadata.get("run_id") == run_id]
        if not ours:
            return 0
        before = ours[-1].parent_id  # the thread as the run found it
        return int(await store.arollback(thread_id, before))

    async def events(self, run_id: str, after: int) -> AsyncIterator[Item]:
        """The run's events after seq ``after``: followed live while it runs here, read
        from its log once it has stopped (a queued run's once it has started)."""
        accepted = self._accepted.get(run_id)
        if accepted is not None and run_id not in self._live:
            return self._after_start(accepted, after)
        live = self._live.get(run_id)
        if live is None and run_id in self._recent:
            live = self._recent[run_id][1]
        if live is not None:
            return live.follow(after)
        await self.record(run_id)  # 404 when there is no such run
        return self._logged(run_id, after)

    async def _after_start(self, accepted: _Accepted, after: int) -> AsyncIterator[Item]:
        await asyncio.wait({accepted.started, accepted.finished}, return_when="FIRST_COMPLETED")
        live = self._live.get(accepted.run_id)
        source = live.follow(after) if live is not None else self._logged(accepted.run_id, after)
        async for item in source:
            yield item

    async def _logged(self, run_id: str, after: int) -> AsyncIterator[Item]:
        for e in await self._checkpoints.aread_events(run_id, start=after + 1):
            yield e["seq"], e["type"], _json(e)

    # -- threads ---------------------------------------------------------------------------

    async def thread_workflow(self, thread_id: str, name: str | None) -> Workflow:
        """The workflow named, or that of the thread's latest run."""
        if name is not None:
            return self.workflow(name)
        latest = await self._checkpoints.alist_runs(thread_id=thread_id, limit=1)
        if not latest:
            raise HTTPException(
                404, f"no run on thread {thread_id!r} names its workflow: pass workflow="
            )
        return self.workflow(latest[0].graph)

    async def threads(self) -> list[str]:
        from orca.engine._compiled import own_threads

        return list(await asyncio.to_thread(own_threads, self._checkpoints))

    async def history(
        self, workflow_name: str | None, thread_id: str, limit: int
    ) -> list[dict[str, Any]]:
        workflow = await self.thread_workflow(thread_id, workflow_name)
        found = await workflow.graph.aget_history(thread_id, limit=limit)
        if not found:
            raise HTTPException(404, f"no thread {thread_id!r}")
        return [orjson.loads(_json(dataclasses.asdict(c))) for c in found]

    async def update(self, thread_id: str, body: StateUpdate) -> dict[str, Any]:
        workflow = await self.thread_workflow(thread_id, body.workflow)
        self._not_running(thread_id)
        checkpoint_id = await workflow.graph.aupdate_state(
            thread_id, body.values, as_node=body.as_node, checkpoint_id=body.checkpoint_id
        )
        return {"thread_id": thread_id, "checkpoint_id": checkpoint_id}

    async def fork(self, thread_id: str, body: Fork) -> dict[str, Any]:
        workflow = await self.thread_workflow(thread_id, body.workflow)
        if body.to_thread is None:
            self._not_running(thread_id)
        checkpoint_id = await workflow.graph.afork(
            thread_id, body.checkpoint_id, to_thread=body.to_thread, update=body.values
        )
        return {"thread_id": body.to_thread or thread_id, "checkpoint_id": checkpoint_id}

    async def delete(self, thread_id: str) -> None:
        self._not_running(thread_id)
        store = self._checkpoints
        if thread_id not in await asyncio.to_thread(store.threads):
            raise HTTPException(404, f"no thread {thread_id!r}")
        await asyncio.to_thread(store.delete_thread, thread_id)

    def _not_running(self, thread_id: str) -> None:
        running = [r for r, a in self._accepted.items() if a.thread_id == thread_id]
        if running:
            raise HTTPException(
                409, f"run {running[0]} is running on thread {thread_id!r}: cancel it first"
            )

    async def state(
        self, workflow_name: str | None, thread_id: str, checkpoint_id: str | None = None
    ) -> dict[str, Any]:
        workflow = await self.thread_workflow(thread_id, workflow_name)
        snapshot = await workflow.graph.aget_state(thread_id, checkpoint_id)
        return {
            "thread_id": thread_id,
            "checkpoint_id": snapshot.checkpoint_id,
            "parent_id": snapshot.parent_id,
            "step": snapshot.step,
            "next": list(snapshot.next),
            "values": orjson.loads(_json(snapshot.values)),
            "interrupts": [orjson.loads(_json(i.to_dict())) for i in snapshot.interrupts],
            "metadata": orjson.loads(_json(snapshot.metadata)),
            "created_at": snapshot.created_at,
        }
