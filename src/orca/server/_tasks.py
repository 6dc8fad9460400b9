"""LLM tasks (the data plane of the task-queue requirements): ``POST /v1/tasks`` stores
the task, then answers 202 with its place in the queue; each task waits for a slot of the
``tasks`` admission, then calls its model through Orca's LLM layer (see ``_taskrun``).

Durability: a task is stored before the 202. At start-up, tasks left ``queued`` are
queued again (oldest first) and tasks left ``running`` by a server that died are failed
with ``WORKER_RESET`` (retriable): none is lost, none runs twice."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from starlette.exceptions import HTTPException

from orca._redact import redact_secret_text
from orca.errors import BudgetExceeded, InvalidInputError
from orca.server._admission import Admission
from orca.server._taskbodies import Refused, TaskBody
from orca.server._tasklive import LiveTask, to_json
from orca.server._taskmodels import TaskModel, TaskModels
from orca.server._taskrun import Rates, TaskRun, chat_request
from orca.store import DEFAULT_TENANT
from orca.store._tasks import FINISHED, StreamItem, TaskRecord

if TYPE_CHECKING:
    from orca.server._pools import PoolQueues
    from orca.store import Store
    from orca.store._tasks import ArtifactRepository, TaskRepository

T = TypeVar("T")


class TaskSettings(Protocol):
    """What the tasks take of ``ServerSettings``."""

    project: Path
    models: dict[str, dict[str, Any]]
    max_running_tasks: int
    max_queued_tasks: int
    tenant_max_running_tasks: int | None
    tenant_max_queued_tasks: int | None
    admission_policy: str
    session_ttl_s: int
    max_body_bytes: int


CANCEL_WAIT_S = 10.0
"""How long a cancel waits for the task to wind down (settle what it spent, store its
end) before answering; the cancel holds either way."""


def digest_of(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


class Tasks:
    """The LLM tasks of this server: their store, their admission and those it holds."""

    def __init__(
        self,
        settings: TaskSettings,
        *,
        tenant: str = DEFAULT_TENANT,
        admission: Admission | None = None,
        models: TaskModels | None = None,
        secret_keys: Any = None,
        pool_queues: PoolQueues | None = None,
    ) -> None:
        self.project = settings.project
        self.settings = settings
        self.tenant = tenant  # whose tasks, sessions, artifacts, budgets and usage
        self.secret_keys = secret_keys  # the master key's source of its stored keys
        self.models = models or TaskModels(settings.models, settings.project)
        self.session_ttl_ms = settings.session_ttl_s * 1000
        running = settings.max_running_tasks
        # one admission for every tenant's tasks: the server's capacity
        self.admission = admission or Admission(
            "tasks",
            max_running=running,
            max_queued=settings.max_queued_tasks,
            policy=settings.admission_policy,  # type: ignore[arg-type]
            tenant_max_running=settings.tenant_max_running_tasks,
            tenant_max_queued=settings.tenant_max_queued_tasks,
        )
        self.pool_queues = pool_queues
        """The admissions of the local engine pools (``server/_pools.PoolQueues``): a
        pool's tasks wait for its replicas' slots, not for ``admission``."""
        self.max_body_bytes = settings.max_body_bytes
        self.rates = Rates()
        self.live: dict[str, LiveTask] = {}
        self._io = ThreadPoolExecutor(1, thread_name_prefix="orca-tasks")
        self._tasks: TaskRepository | None = None
        self._artifacts: ArtifactRepository | None = None
        self._project: Store | None = None
        self._user: Store | None = None

    def for_tenant(self, tenant: str) -> Tasks:
        """Another tenant's tasks: the same models and admission (not yet open)."""
        return Tasks(
            self.settings,
            tenant=tenant,
            admission=self.admission,
            models=self.models,
            secret_keys=self.secret_keys,
            pool_queues=self.pool_queues,
        )

    # -- life ------------------------------------------------------------------------------

    async def open(self) -> None:
        """Open the stores, sweep the ledger, and recover what a dead server left."""
        from orca.store import project_store, user_store

        self._project = project = await self._run(project_store, self.project, tenant=self.tenant)
        if self.secret_keys is not None:
            project.secret_keys = self.secret_keys
        self._tasks = tasks = project.tasks
        self._artifacts = project.artifacts
        self._user = await self._run(user_store, tenant=self.tenant)
        await self._user.ledger.asweep()  # holds of calls that died with a server
        reset = to_json(
            {
                "code": "WORKER_RESET",
                "message": "the server stopped while the task ran; send it again",
                "engine": None,
                "retriable": True,
            }
        )
        queued, _ = await self._run(tasks.recover, reset)
        for record in queued:
            try:
                model = await self._run(
                    self.models.resolve, record.model_ref, None, self.tenant, self._keys()
                )
                batch = record.priority == "batch"
                ticket = self.admission_of(model).admit(
                    record.task_id, "batch" if batch else "interactive", self.tenant
                )
            except Exception as exc:  # the model is gone, or the queue is smaller now
                await self._refuse_requeue(record, exc)
                continue
            self._start(record, ticket, model)

    async def close(self) -> None:
        for live in self.live.values():
            live.close_readers()
        runners = [live.runner for live in self.live.values() if live.runner is not None]
        for runner in runners:
            runner.cancel()  # queued ones stay queued, running ones end WORKER_RESET
        if runners:
            await asyncio.wait(runners, timeout=10)
        for store in (self._project, self._user):
            if store is not None:
                await self._run(store.close)
        self._tasks = self._artifacts = self._project = self._user = None
        self._io.shutdown(wait=True)

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """``fn`` on the tasks' store thread (calls run in the order they were made). A
        call handed over always runs: a caller cancelled meanwhile (a flush at a task's
        end, a client gone) does not take it back from the thread's queue."""
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(self._io, functools.partial(fn, *args, **kwargs))
        return await asyncio.shield(job)

    def admission_of(self, model: TaskModel) -> Admission:
        """The admission a task of ``model`` waits in: its pool's, else the server's."""
        if model.pool is not None and self.pool_queues is not None:
            return self.pool_queues.admission(model.pool)
        return self.admission

    def _keys(self) -> Any:
        """Where a cloud model's key is looked up before the environment: the tenant's
        stored secrets (``orca secret set``)."""
        return self._project.secrets if self._project is not None else None

    @property
    def tasks(self) -> TaskRepository:
        if self._tasks is None:
            raise HTTPException(503, "the server is starting or stopping")
        return self._tasks

    @property
    def artifacts(self) -> ArtifactRepository:
        if self._artifacts is None:
            raise HTTPException(503, "the server is starting or stopping")
        return self._artifacts

    @property
    def ledger(self) -> Any:
        return self._user.ledger if self._user is not None else None

    async def store(self, op: str, *args: Any) -> Any:
        """A call of the task store (``start``, ``append``, ``finish``) for a task run."""
        return await self._run(getattr(self.tasks, op), *args)

    async def prices(self) -> Any:
        from orca.cost import PriceBook

        user = self._user
        if user is None:
            return PriceBook()
        return PriceBook(await self._run(user.prices.load))

    # -- submitting ------------------------------------------------------------------------

    async def submit(self, body: TaskBody) -> dict[str, Any]:
        """Accept a task: stored, then queued (its answer says where).

        Raises:
            InvalidInputError: the body asks what no model here can do.
            BudgetExceeded: a block budget cannot afford its worst case now.
            Overloaded: the queue is full (a 429).
            Refused: the task id is taken by another body (409).
        """
        data = body.model_dump(mode="json")
        task_id = data.pop("task_id") or f"task-{uuid.uuid4().hex[:16]}"
        if (body.prompt is None) == (body.inputs is None):
            raise InvalidInputError(
                "a task takes prompt or inputs, exactly one of them. Fix: send prompt (a "
                "string) or inputs (a list of {role, content} messages)"
            )
        try:
            json.dumps(data, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise InvalidInputError(
                "the task holds text that is not valid Unicode (a lone surrogate). Fix: send "
                "UTF-8 text"
            ) from None
        model = await self._run(
            self.models.resolve, body.model_ref, body.engine, self.tenant, self._keys()
        )
        self._check(body, model)
        digest = digest_of(data)
        found = await self._run(self.tasks.get, task_id)
        if found is not None:
            return self._again(found, digest)
        await self._afford(model, data)
        admission = self.admission_of(model)
        if model.pool is not None and self.pool_queues is not None:
            self.pool_queues.check(model.pool, admission, body)
        ticket = admission.admit(task_id, body.priority, self.tenant)
        record = TaskRecord(
            task_id, body.session_id, "queued", body.priority, body.model_ref, model.engine,
            model.name, data, digest, self.tasks.now(),
        )  # fmt: skip
        try:
            stored, created = await self._run(
                self.tasks.create, record, session_ttl_ms=self.session_ttl_ms
            )
        except BaseException:
            admission.release(ticket)
            raise
        if not created:  # the same id, sent at the same time
            admission.release(ticket)
            return self._again(stored, digest)
        return self._accepted(self._start(stored, ticket, model))

    def _check(self, body: TaskBody, model: TaskModel) -> None:
        if body.ctx is not None and model.max_context is not None and body.ctx > model.max_context:
            raise InvalidInputError(
                f"ctx is {body.ctx}, above the {model.max_context} tokens of {body.model_ref}. "
                "Fix: ask for less context, or a model with more"
            )
        if body.determinism == "strict":
            if not model.local:
                raise InvalidInputError(
                    f"determinism strict is guaranteed on local engines only, and "
                    f"{body.model_ref} runs on {model.engine}. Fix: use best_effort, or a "
                    "local model"
                )
            if body.seed is None:
                raise InvalidInputError(
                    "determinism strict needs a seed. Fix: send seed (0 to 2147483647)"
                )

    def _again(self, found: TaskRecord, digest: str) -> dict[str, Any]:
        """The same task_id sent again: the same task, or a conflict."""
        if found.digest != digest:
            raise Refused(
                409,
                "TASK_CONFLICT",
                f"task {found.task_id} was sent before with another body",
                fix="send the same body to get the task again, or use a new task_id",
                task_id=found.task_id,
            )
        live = self.live.get(found.task_id)
        return self._accepted(live) if live is not None else self._shown(found)

    def _accepted(self, live: LiveTask) -> dict[str, Any]:
        ticket = live.ticket
        admission = live.admission or self.admission
        return {
            "task_id": live.task_id,
            "session_id": live.record.session_id,
            "status": "running" if ticket.running else "queued",
            "queue_position": admission.position(ticket),
            "predicted_start_ms": admission.predicted_start_ms(ticket),
            "backoff_ms": ticket.backoff_ms,
            "engine": live.record.engine,
            "model": live.record.model,
        }

    def _shown(self, r: TaskRecord) -> dict[str, Any]:
        return {
            "task_id": r.task_id,
            "session_id": r.session_id,
            "status": r.status,
            "queue_position": 0,
            "predicted_start_ms": 0,
            "backoff_ms": 0,
            "engine": r.engine,
            "model": r.model,
        }

    async def _afford(self, model: TaskModel, data: dict[str, Any]) -> None:
        """Refuse, before it is queued, a task that a block budget cannot afford now (it
        is reserved for real when it runs)."""
        from orca.llm import Models
        from orca.llm._meter import Meter

        ledger = self.ledger
        if ledger is None:
            return
        found = await ledger.aapplicable(session=data.get("session_id"))
        block = [b for b in found if b.enforcement == "block"]
        if not block:
            return
        meter = Meter(Models({"task": model.model}, prices=await self.prices()), ledger=False)
        _, _, _, asks = meter.worst_case(model.model, chat_request(data))
        for status in await ledger.astatus(block):
            ask = asks.get(status.budget.unit, 0)
            if status.overdrawn or status.limit - status.spent - status.reserved < ask:
                raise BudgetExceeded(
                    status.budget.name,
                    unit=status.budget.unit,
                    limit=status.limit,
                    spent=status.spent,
                    reserved=status.reserved,
                    asked=ask,
                    overdrawn=status.overdrawn,
                )

    def _start(self, record: TaskRecord, ticket: Any, model: TaskModel) -> LiveTask:
        live = LiveTask(record, ticket)
        live.admission = admission = self.admission_of(model)
        self.live[record.task_id] = live
        run = TaskRun(
            live,
            model,
            ledger=self.ledger,
            prices=self.prices,
            store=self.store,
            admission=admission,
            rates=self.pool_queues.rates if model.pool and self.pool_queues else self.rates,
        )
        live.runner = asyncio.ensure_future(run())
        live.runner.add_done_callback(lambda _: self.live.pop(record.task_id, None))
        return live

    async def _refuse_requeue(self, record: TaskRecord, exc: Exception) -> None:
        from orca.store._tasks import TaskOutcome

        message = redact_secret_text(f"not queued again at start-up: {exc}")
        event = {"code": "REQUEUE_REFUSED", "message": message, "retriable": True}
        outcome = TaskOutcome("failed", error_code="REQUEUE_REFUSED", error=message)
        await self._run(self.tasks.finish, record.task_id, outcome, [(0, "error", to_json(event))])

    # -- reading, cancelling ---------------------------------------------------------------

    async def record(self, task_id: str) -> dict[str, Any]:
        found = await self._run(self.tasks.get, task_id)
        if found is None:
            raise HTTPException(404, f"no task {task_id!r}")
        return self.shown(found)

    def shown(self, r: TaskRecord) -> dict[str, Any]:
        """A task's record as the API shows it."""
        live = self.live.get(r.task_id)
        status = r.status
        position = predicted = 0
        if live is not None and status not in FINISHED:
            status = "running" if live.ticket.running else "queued"
            admission = live.admission or self.admission
            position = admission.position(live.ticket)
            predicted = admission.predicted_start_ms(live.ticket)
        return {
            "task_id": r.task_id,
            "session_id": r.session_id,
            "status": status,
            "priority": r.priority,
            "model_ref": r.model_ref,
            "engine": r.engine,
            "model": r.model,
            "created_at": r.created_at,
            "started_at": r.started_at,
            "ended_at": r.ended_at,
            "queue_position": position,
            "predicted_start_ms": predicted,
            "tokens_in": r.input_tokens,
            "tokens_out": r.output_tokens,
            "cost_nano_usd": r.cost_nano_usd,
            "decode_ms": r.decode_ms,
            "error": None if r.error_code is None else {"code": r.error_code, "message": r.error},
            "request": r.body,
        }

    async def records(
        self, session_id: str | None, status: str | None, limit: int
    ) -> list[dict[str, Any]]:
        found = await self._run(self.tasks.find, session_id=session_id, status=status, limit=limit)
        return [self.shown(r) for r in found]

    async def cancel(self, task_id: str) -> dict[str, Any]:
        """Stop the task: once this returns, no token of it is ever streamed or stored."""
        live = self.live.get(task_id)
        if live is None:
            found = await self._run(self.tasks.get, task_id)
            if found is None:
                raise HTTPException(404, f"no task {task_id!r}")
            tokens = sum(
                1 for _, kind, _ in await self._run(self.tasks.events, task_id) if kind == "token"
            )
            return {
                "task_id": task_id,
                "status": found.status,
                "cancelled": False,
                "tokens_out": tokens,
            }
        going, tokens = live.cancel()
        if live.runner is not None:
            await asyncio.wait({live.runner}, timeout=CANCEL_WAIT_S)
        found = await self._run(self.tasks.get, task_id)
        status = found.status if found is not None else "cancelled"
        return {"task_id": task_id, "status": status, "cancelled": going, "tokens_out": tokens}

    async def events(self, task_id: str, after: int) -> AsyncIterator[list[StreamItem]]:
        """The task's stream after seq ``after``: live while this server holds it, then
        from its kept log."""
        live = self.live.get(task_id)
        if live is not None:
            return live.follow(after)
        if await self._run(self.tasks.get, task_id) is None:
            raise HTTPException(404, f"no task {task_id!r}")
        kept = await self._run(self.tasks.events, task_id, after)

        async def replay() -> AsyncIterator[list[StreamItem]]:
            yield kept

        return replay()

    def queued_in(self, session_id: str) -> list[LiveTask]:
        return [v for v in self.live.values() if v.record.session_id == session_id]

    def now_ms(self) -> float:
        return time.monotonic() * 1000
