"""The server's runs: started through run handles on the server's event loop, recorded
by the engine in the project's store, their events fanned out to every stream reader
while they run and read back from the event log once they have stopped."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from starlette.exceptions import HTTPException

from orca.errors import ConfigError, InvalidInputError, OrcaError

if TYPE_CHECKING:
    from orca.engine._handle import RunHandle
    from orca.flows import Workflow
    from orca.server._models import Fork, RunBody, StateUpdate
    from orca.store import SqliteStore

log = logging.getLogger("orca.server")

Item = tuple[int, str, bytes]  # an event as a stream sends it: seq, type, JSON


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


class Runs:
    """The workflows served and the runs started here."""

    def __init__(
        self, project: Path, sources: list[str], webhook_networks: list[str] | None = None
    ) -> None:
        self.project = Path(project)
        self.sources = list(sources)
        self.webhook_networks = list(webhook_networks or [])
        self._deliveries: set[asyncio.Task[bool]] = set()
        self.workflows: dict[str, Workflow] = {}
        self.ready = False
        self._store: SqliteStore | None = None
        self._live: dict[str, _Live] = {}

    # -- life ------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the project's store and load the workflows (before the server listens:
        a workflow that cannot be loaded stops the start with what to fix)."""
        from orca.store import project_store

        self._store = project_store(self.project)
        try:
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
        self.ready = False
        for live in list(self._live.values()):
            await live.handle.stop()
        if self._deliveries:  # webhooks of runs that stopped: a few seconds at most
            await asyncio.wait(self._deliveries, timeout=5)
        await asyncio.to_thread(self.close_now)

    def close_now(self) -> None:
        """Close the store (no run is running: the app never served, or ``close`` ran)."""
        self.ready = False
        if self._store is not None:
            store, self._store = self._store, None
            store.close()

    @property
    def _checkpoints(self) -> Any:
        if self._store is None:
            raise HTTPException(503, "the server is starting or stopping")
        return self._store.checkpoints

    def workflow(self, name: str) -> Workflow:
        found = self.workflows.get(name)
        if found is None:
            served = ", ".join(sorted(self.workflows)) or "none"
            raise HTTPException(404, f"no workflow named {name!r} is served (served: {served})")
        return found

    # -- runs ------------------------------------------------------------------------------

    async def start(self, thread_id: str, body: RunBody) -> str:
        from orca import Command
        from orca.observe import current_correlation

        workflow = self.workflow(body.workflow)
        if body.resume is not None and body.input is not None:
            raise InvalidInputError(
                "a run takes input or resume, not both. Fix: send input to start, resume to "
                "answer the thread's interrupt"
            )
        start_with = Command(resume=body.resume) if body.resume is not None else body.input
        options: dict[str, Any] = {
            "thread_id": thread_id,
            "on_budget_exceeded": body.on_budget_exceeded,
            "metadata": {
                **body.metadata,
                "source": workflow.source,
                "via": "server",
                "correlation_id": current_correlation(),  # the request's (_tracing.py)
            },
        }
        for option, value in (
            ("profile", body.profile),
            ("budget", body.budget),
            ("seed", body.seed),
            ("max_steps", body.max_steps),
            ("deadline", body.time_limit_s),
            ("cost_limit", body.cost_limit_usd),
            ("token_limit", body.token_limit),
            ("tools", workflow.tools),
        ):
            if value is not None:
                options[option] = value
        target = None
        if body.webhook is not None:
            from orca.server._webhooks import check_webhook

            target = await asyncio.to_thread(check_webhook, body.webhook, self.webhook_networks)
        if body.multitask_strategy == "interrupt":
            await self._stop_runs_on(thread_id)
        handle = await workflow.graph.start(start_with, mode="events", **options)
        live = _Live(handle)
        self._live[handle.run_id] = live
        run_id: str = handle.run_id
        live.pump.add_done_callback(lambda _: self._live.pop(run_id, None))
        if body.webhook is not None and target is not None:
            url = body.webhook
            live.pump.add_done_callback(lambda _: self._notify(url, target, run_id))
        return run_id

    def _notify(self, url: str, target: tuple[str, int, str, bool], run_id: str) -> None:
        """The run stopped: POST its record to its webhook (kept until delivered)."""
        from orca.server._webhooks import deliver

        async def send() -> bool:
            try:
                return await deliver(url, target, await self.record(run_id))
            except Exception as exc:  # never a crash of the server for a webhook
                log.warning("webhook %s of run %s not sent: %s", url, run_id, exc)
                return False

        task = asyncio.ensure_future(send())
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def wait(self, run_id: str) -> dict[str, Any]:
        live = self._live.get(run_id)
        if live is not None:
            with contextlib.suppress(Exception):  # the record says how it ended
                await live.handle.result()
            await asyncio.shield(live.pump)
        record = await self.record(run_id)
        values: Any = None
        interrupts: list[Any] = []
        workflow = self.workflows.get(record["graph"])
        if workflow is not None:
            try:
                snapshot = await workflow.graph.aget_state(record["thread_id"])
                values = orjson.loads(_json(snapshot.values))
                interrupts = [orjson.loads(_json(i.to_dict())) for i in snapshot.interrupts]
            except OrcaError:
                pass  # failed before its first checkpoint
        return {**record, "values": values, "interrupts": interrupts}

    async def record(self, run_id: str) -> dict[str, Any]:
        found = await self._checkpoints.aget_run(run_id)
        if found is None:
            raise HTTPException(404, f"no run {run_id!r}")
        return dict(orjson.loads(_json(dataclasses.asdict(found))))

    async def records(
        self, *, thread_id: str | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        from orca.checkpoint._base import RUN_STATUSES

        if status is not None and status not in RUN_STATUSES:
            raise InvalidInputError(
                f"status is {status!r}. Fix: use one of {', '.join(RUN_STATUSES)}"
            )
        found = await self._checkpoints.alist_runs(
            thread_id=thread_id,
            status=status,
            limit=limit,
        )
        return [dict(orjson.loads(_json(dataclasses.asdict(r)))) for r in found]

    async def cancel(self, run_id: str) -> None:
        live = self._live.get(run_id)
        if live is None:
            record = await self.record(run_id)  # 404 when there is no such run
            raise HTTPException(409, f"run {run_id} is not running here ({record['status']})")
        live.handle.cancel()

    async def events(self, run_id: str, after: int) -> AsyncIterator[Item]:
        """The run's events after seq ``after``: followed live while it runs here, read
        from its log once it has stopped."""
        live = self._live.get(run_id)
        if live is not None:
            return live.follow(after)
        await self.record(run_id)  # 404 when there is no such run
        return self._logged(run_id, after)

    async def _logged(self, run_id: str, after: int) -> AsyncIterator[Item]:
        for e in await self._checkpoints.aread_events(run_id, start=after + 1):
            yield e["seq"], e["type"], _json(e)

    async def _stop_runs_on(self, thread_id: str) -> None:
        """Cancel the runs of this server on ``thread_id`` and wait until they stopped
        (what they committed stays)."""
        for live in [v for v in self._live.values() if v.handle.thread_id == thread_id]:
            await live.handle.stop()
            await asyncio.shield(live.pump)

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
        store = self._checkpoints
        return list(await asyncio.to_thread(store.threads))

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
        running = [r for r, v in self._live.items() if v.handle.thread_id == thread_id]
        if running:
            raise HTTPException(
                409, f"run {running[0]} is running on thread {thread_id!r}: cancel it first"
            )

    async def state(self, workflow_name: str | None, thread_id: str) -> dict[str, Any]:
        workflow = await self.thread_workflow(thread_id, workflow_name)
        snapshot = await workflow.graph.aget_state(thread_id)
        return {
            "thread_id": thread_id,
            "checkpoint_id": snapshot.checkpoint_id,
            "step": snapshot.step,
            "next": list(snapshot.next),
            "values": orjson.loads(_json(snapshot.values)),
            "interrupts": [orjson.loads(_json(i.to_dict())) for i in snapshot.interrupts],
        }
