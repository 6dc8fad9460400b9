"""``AsyncClient``: every endpoint of an Orca server as a typed async method."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import quote

from orca.client._concurrency import Backpressure, declared_capacity
from orca.client._core import Retry, Transport
from orca.client._retry import RetryPolicy
from orca.client._types import (
    Budget,
    Capabilities,
    Checkpoint,
    Run,
    RunResult,
    StreamEvent,
    TaskAccepted,
    ThreadState,
    Workflow,
    parse,
)
from orca.events import EVENT_TYPES, Event

TASK_ENDS = frozenset({"end", "error"})


def _p(value: str) -> str:
    """A path segment, escaped."""
    return quote(value, safe="")


def event_of(data: dict[str, Any]) -> Event | None:
    """The library's typed event from its JSON form (None for a type this Orca does not
    know: a newer server's)."""
    cls = EVENT_TYPES.get(str(data.get("type")))
    if cls is None:
        return None
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


class AsyncClient:
    """A client of ``orca serve``.

    Args:
        base_url: the server (default: ``ORCA_SERVER``), e.g. ``http://127.0.0.1:8700``.
        token: the bearer token (default: ``ORCA_TOKEN``; none on an open dev server).
        retry: how failed requests are retried (``RetryPolicy``); ``NEVER`` turns it off.
        timeout_s: connect and read timeout of a request (waits have no read timeout).
        correlation_id: sent as ``X-Correlation-Id`` with every request.
        on_retry: called before each retry's wait (with a ``Retry``), e.g. to log it.

    Raises (from every method): ``ServerError`` and its subclasses, by status.
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        correlation_id: str | None = None,
        on_retry: Callable[[Retry], None] | None = None,
    ) -> None:
        self._t = Transport(
            base_url,
            token=token,
            retry=retry,
            timeout_s=timeout_s,
            correlation_id=correlation_id,
            on_retry=on_retry,
        )

    @property
    def base_url(self) -> str:
        return self._t.base_url

    async def aclose(self) -> None:
        await self._t.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        wait: bool = False,
    ) -> Any:
        """Any endpoint: the answer's JSON (retried as the policy allows). ``wait``: no
        read timeout, for an endpoint that answers when its work is done (a pool's
        start, drain or reload)."""
        return await self._t.request(method, path, params=params, body=body, wait=wait)

    # -- health and discovery ------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        return dict(await self._t.request("GET", "/healthz"))

    async def capabilities(self) -> Capabilities:
        return parse(Capabilities, await self._t.request("GET", "/v1/capabilities"))

    async def whoami(self) -> dict[str, Any]:
        return dict(await self._t.request("GET", "/v1/auth/whoami"))

    async def safe_concurrency(self, kind: str = "tasks", *, default: int = 4) -> int:
        """How many ``kind`` (tasks or runs) to keep in flight: the capacity the server
        declares in its capabilities (``default`` when it declares none, or has no
        capabilities endpoint), halved at each 429/503 this client has met since, and
        regained one by one while requests are accepted. Call it again before each batch."""
        if self._t.pressure is None:
            from orca.errors import ServerNotFoundError

            try:
                declared = declared_capacity((await self.capabilities()).raw, kind)
            except ServerNotFoundError:
                declared = None
            self._t.pressure = Backpressure(declared or default)
        return self._t.pressure.limit

    # -- workflows -----------------------------------------------------------------------

    async def workflows(self) -> list[Workflow]:
        return [parse(Workflow, w) for w in await self._t.request("GET", "/v1/workflows")]

    async def workflow(self, name: str) -> Workflow:
        data = await self._t.request("GET", f"/v1/workflows/{_p(name)}")
        return parse(Workflow, {"name": name, **data})

    # -- runs ----------------------------------------------------------------------------

    async def start_run(
        self,
        workflow: str,
        input: dict[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        resume: Any = None,
        **options: Any,
    ) -> Run:
        """Start a run in the background (on ``thread_id``, else a new thread). Options
        are the run body's: profile, budget, seed, max_steps, time_limit_s,
        cost_limit_usd, token_limit, on_budget_exceeded, metadata, webhook,
        multitask_strategy, priority."""
        body = _run_body(workflow, input, resume, options)
        path = f"/v1/threads/{_p(thread_id)}/runs" if thread_id else "/v1/runs"
        return parse(Run, await self._t.request("POST", path, body=body))

    async def run(
        self,
        workflow: str,
        input: dict[str, Any] | None = None,
        *,
        thread_id: str | None = None,
        resume: Any = None,
        **options: Any,
    ) -> RunResult:
        """Start a run and wait for it to stop: its record, values and interrupts."""
        run = await self.start_run(workflow, input, thread_id=thread_id, resume=resume, **options)
        return await self.wait_run(run.run_id)

    async def get_run(self, run_id: str) -> Run:
        return parse(Run, await self._t.request("GET", f"/v1/runs/{_p(run_id)}"))

    async def wait_run(self, run_id: str) -> RunResult:
        data = await self._t.request("GET", f"/v1/runs/{_p(run_id)}/wait", wait=True)
        return RunResult.of(data)

    async def list_runs(
        self,
        *,
        thread_id: str | None = None,
        status: str | list[str] | None = None,
        workflow: str | None = None,
        limit: int = 50,
        since: str | None = None,
        until: str | None = None,
        min_cost_usd: str | None = None,
        max_cost_usd: str | None = None,
        q: str | None = None,
        before: str | None = None,
    ) -> list[Run]:
        """Run records, newest first, by the filters given (``GET /v1/runs``): ``status``
        one or several, times as ISO 8601 or ``7d``, money as decimal strings, ``q`` a
        text of the runs' event logs, ``before`` the last run id of the page before."""
        params = {
            "thread_id": thread_id, "status": status, "workflow": workflow, "limit": limit,
            "since": since, "until": until, "min_cost_usd": min_cost_usd,
            "max_cost_usd": max_cost_usd, "q": q, "before": before,
        }  # fmt: skip
        return [parse(Run, r) for r in await self._t.request("GET", "/v1/runs", params=params)]

    async def cancel_run(self, run_id: str, action: str = "interrupt") -> dict[str, Any]:
        """Stop a run: ``interrupt`` keeps its thread resumable, ``rollback`` drops
        what it checkpointed."""
        path = f"/v1/runs/{_p(run_id)}/cancel"
        return dict(await self._t.request("POST", path, params={"action": action}))

    async def stream_run(
        self, run_id: str, *, last_event_id: str | None = None
    ) -> AsyncIterator[Event]:
        """The run's events as the library's typed ``Event`` values, live or from its
        log, until the run has stopped; a dropped connection is resumed where it broke."""
        async for item in self._t.stream(
            f"/v1/runs/{_p(run_id)}/stream", last_event_id=last_event_id
        ):
            if item.event == "end":
                return
            if isinstance(item.data, dict):
                event = event_of(item.data)
                if event is not None:
                    yield event

    async def run_events(
        self, run_id: str, *, types: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """The run's logged events (as ``orca runs events --json``)."""
        params = {"type": types} if types else None
        found = await self._t.request("GET", f"/v1/runs/{_p(run_id)}/events", params=params)
        return list(found)

    async def inspect_run(self, run_id: str) -> dict[str, Any]:
        """The run's record, tasks and cost by node, role and model (``orca runs show``)."""
        return dict(await self._t.request("GET", f"/v1/runs/{_p(run_id)}/inspect"))

    # -- threads -------------------------------------------------------------------------

    async def create_thread(self, thread_id: str | None = None) -> str:
        found = await self._t.request("POST", "/v1/threads", params={"thread_id": thread_id})
        return str(found["thread_id"])

    async def threads(self) -> list[str]:
        return [str(t) for t in await self._t.request("GET", "/v1/threads")]

    async def thread_state(self, thread_id: str, *, workflow: str | None = None) -> ThreadState:
        path = f"/v1/threads/{_p(thread_id)}/state"
        return parse(ThreadState, await self._t.request("GET", path, params={"workflow": workflow}))

    async def thread_history(
        self, thread_id: str, *, workflow: str | None = None, limit: int = 50
    ) -> list[Checkpoint]:
        path = f"/v1/threads/{_p(thread_id)}/history"
        found = await self._t.request("GET", path, params={"workflow": workflow, "limit": limit})
        return [parse(Checkpoint, c) for c in found]

    async def update_state(
        self,
        thread_id: str,
        values: dict[str, Any],
        *,
        as_node: str | None = None,
        checkpoint_id: str | None = None,
        workflow: str | None = None,
    ) -> str:
        """Write ``values`` to the thread (as ``as_node``); the new checkpoint's id."""
        body = {"values": values, "as_node": as_node, "checkpoint_id": checkpoint_id,
                "workflow": workflow}  # fmt: skip
        found = await self._t.request("POST", f"/v1/threads/{_p(thread_id)}/state", body=body)
        return str(found["checkpoint_id"])

    async def fork_thread(
        self,
        thread_id: str,
        checkpoint_id: str,
        *,
        to_thread: str | None = None,
        values: dict[str, Any] | None = None,
        workflow: str | None = None,
    ) -> dict[str, Any]:
        body = {"checkpoint_id": checkpoint_id, "to_thread": to_thread, "values": values,
                "workflow": workflow}  # fmt: skip
        return dict(await self._t.request("POST", f"/v1/threads/{_p(thread_id)}/fork", body=body))

    async def delete_thread(self, thread_id: str) -> None:
        await self._t.request("DELETE", f"/v1/threads/{_p(thread_id)}")

    # -- LLM tasks and sessions ----------------------------------------------------------

    async def submit_task(self, **fields: Any) -> TaskAccepted:
        """``POST /v1/tasks`` with the seed's fields (``task_id``, ``session_id``,
        ``workload``, ``model_ref``, ``engine``, ``ctx``, ``priority``, ``seed``,
        ``determinism``, ``prompt`` or ``inputs``, ``max_tokens``, ``deadline_ms``,
        ``kv_hint``...). Without a ``task_id`` the client makes one, so that the
        submission can be retried safely (the server takes the same id and body again as
        the same task): after a 429 (after the wait it names), a 5xx or a lost answer."""
        body = {k: v for k, v in fields.items() if v is not None}
        body.setdefault("task_id", f"task-{uuid.uuid4().hex[:16]}")
        found = await self._t.request("POST", "/v1/tasks", body=body, idempotent=True)
        return parse(TaskAccepted, found)

    async def get_task(self, task_id: str) -> dict[str, Any]:
        return dict(await self._t.request("GET", f"/v1/tasks/{_p(task_id)}"))

    async def list_tasks(
        self, *, session_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        params = {"session_id": session_id, "status": status, "limit": limit}
        return list(await self._t.request("GET", "/v1/tasks", params=params))

    async def stream_task(
        self, task_id: str, *, last_event_id: str | None = None
    ) -> AsyncIterator[StreamEvent]:
        """The task's events (``started``, ``token``, ``metrics``, then ``end`` or
        ``error``, included), resumed where a dropped connection broke."""
        path = f"/v1/tasks/{_p(task_id)}/stream"
        async for item in self._t.stream(path, last_event_id=last_event_id, ends=TASK_ENDS):
            yield item

    async def cancel_task(self, task_id: str) -> dict[str, Any]:
        return dict(await self._t.request("POST", f"/v1/tasks/{_p(task_id)}/cancel") or {})

    async def session(self, session_id: str) -> dict[str, Any]:
        return dict(await self._t.request("GET", f"/v1/sessions/{_p(session_id)}"))

    async def delete_session(self, session_id: str) -> None:
        await self._t.request("DELETE", f"/v1/sessions/{_p(session_id)}")

    # -- budgets and usage (admin) -------------------------------------------------------

    async def budgets(self, *, all: bool = False) -> list[Budget]:
        found = await self._t.request("GET", "/v1/budgets", params={"all": all or None})
        return [parse(Budget, b) for b in found]

    async def budget(self, name: str) -> Budget:
        return parse(Budget, await self._t.request("GET", f"/v1/budgets/{_p(name)}"))

    async def create_budget(self, name: str, **fields: Any) -> Budget:
        body = {"name": name, **{k: v for k, v in fields.items() if v is not None}}
        return parse(Budget, await self._t.request("POST", "/v1/budgets", body=body))

    async def raise_budget(self, name: str, *, by: Any = None, to: Any = None) -> Budget:
        body = {k: v for k, v in (("by", by), ("to", to)) if v is not None}
        path = f"/v1/budgets/{_p(name)}/raise"
        return parse(Budget, await self._t.request("POST", path, body=body))

    async def use_budget(self, name: str) -> dict[str, Any]:
        return dict(await self._t.request("POST", f"/v1/budgets/{_p(name)}/use") or {})

    async def delete_budget(self, name: str) -> None:
        await self._t.request("DELETE", f"/v1/budgets/{_p(name)}")

    async def usage(self, by: str = "model", **filters: Any) -> Any:
        """``GET /v1/usage``: usage and cost grouped ``by`` model, node, role, day, run
        or session (filters: since, until, run_id, budget, session_id)."""
        return await self._t.request("GET", "/v1/usage", params={"by": by, **filters})


def _run_body(
    workflow: str, input: dict[str, Any] | None, resume: Any, options: dict[str, Any]
) -> dict[str, Any]:
    body: dict[str, Any] = {"workflow": workflow}
    if input is not None:
        body["input"] = input
    if resume is not None:
        body["resume"] = resume
    body.update({k: v for k, v in options.items() if v is not None})
    return body
