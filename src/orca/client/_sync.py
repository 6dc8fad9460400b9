"""``Client``: the same calls for synchronous code. Each method runs ``AsyncClient``'s
on the client's private event loop; none has a body of its own."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, ParamSpec, TypeVar

from orca.client._async import AsyncClient
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
)
from orca.events import Event

P = ParamSpec("P")
T = TypeVar("T")


class Client:
    """A client of ``orca serve`` for synchronous code; it takes ``AsyncClient``'s
    arguments and has its methods. Use it from one thread (it owns an event loop), and
    close it (or use it as a context manager)."""

    def __init__(self, base_url: str | None = None, **options: Any) -> None:
        self._runner = asyncio.Runner()
        self.aio = AsyncClient(base_url, **options)
        """The async client underneath."""

    @property
    def base_url(self) -> str:
        return self.aio.base_url

    def _do(self, call: Callable[P, Coroutine[Any, Any, T]], *a: P.args, **kw: P.kwargs) -> T:
        return self._runner.run(call(*a, **kw))

    def _each(self, items: AsyncIterator[T]) -> Iterator[T]:
        try:
            while True:
                try:
                    yield self._runner.run(items.__anext__())  # type: ignore[arg-type]
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(items, "aclose", None)
            if aclose is not None:
                self._runner.run(aclose())

    def close(self) -> None:
        try:
            self._runner.run(self.aio.aclose())
        finally:
            self._runner.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kw: Any) -> Any:
        return self._do(self.aio.request, method, path, **kw)

    def health(self) -> dict[str, Any]:
        return self._do(self.aio.health)

    def capabilities(self) -> Capabilities:
        return self._do(self.aio.capabilities)

    def whoami(self) -> dict[str, Any]:
        return self._do(self.aio.whoami)

    def safe_concurrency(self, kind: str = "tasks", *, default: int = 4) -> int:
        return self._do(self.aio.safe_concurrency, kind, default=default)

    def workflows(self) -> list[Workflow]:
        return self._do(self.aio.workflows)

    def workflow(self, name: str) -> Workflow:
        return self._do(self.aio.workflow, name)

    def start_run(self, workflow: str, input: dict[str, Any] | None = None, **kw: Any) -> Run:
        return self._do(self.aio.start_run, workflow, input, **kw)

    def run(self, workflow: str, input: dict[str, Any] | None = None, **kw: Any) -> RunResult:
        return self._do(self.aio.run, workflow, input, **kw)

    def get_run(self, run_id: str) -> Run:
        return self._do(self.aio.get_run, run_id)

    def wait_run(self, run_id: str) -> RunResult:
        return self._do(self.aio.wait_run, run_id)

    def list_runs(self, **kw: Any) -> list[Run]:
        return self._do(self.aio.list_runs, **kw)

    def cancel_run(self, run_id: str, action: str = "interrupt") -> dict[str, Any]:
        return self._do(self.aio.cancel_run, run_id, action)

    def stream_run(self, run_id: str, *, last_event_id: str | None = None) -> Iterator[Event]:
        return self._each(self.aio.stream_run(run_id, last_event_id=last_event_id))

    def run_events(self, run_id: str, **kw: Any) -> list[dict[str, Any]]:
        return self._do(self.aio.run_events, run_id, **kw)

    def inspect_run(self, run_id: str) -> dict[str, Any]:
        return self._do(self.aio.inspect_run, run_id)

    def create_thread(self, thread_id: str | None = None) -> str:
        return self._do(self.aio.create_thread, thread_id)

    def threads(self) -> list[str]:
        return self._do(self.aio.threads)

    def thread_state(self, thread_id: str, **kw: Any) -> ThreadState:
        return self._do(self.aio.thread_state, thread_id, **kw)

    def thread_history(self, thread_id: str, **kw: Any) -> list[Checkpoint]:
        return self._do(self.aio.thread_history, thread_id, **kw)

    def update_state(self, thread_id: str, values: dict[str, Any], **kw: Any) -> str:
        return self._do(self.aio.update_state, thread_id, values, **kw)

    def fork_thread(self, thread_id: str, checkpoint_id: str, **kw: Any) -> dict[str, Any]:
        return self._do(self.aio.fork_thread, thread_id, checkpoint_id, **kw)

    def delete_thread(self, thread_id: str) -> None:
        return self._do(self.aio.delete_thread, thread_id)

    def submit_task(self, **fields: Any) -> TaskAccepted:
        return self._do(self.aio.submit_task, **fields)

    def get_task(self, task_id: str) -> dict[str, Any]:
        return self._do(self.aio.get_task, task_id)

    def list_tasks(self, **kw: Any) -> list[dict[str, Any]]:
        return self._do(self.aio.list_tasks, **kw)

    def stream_task(
        self, task_id: str, *, last_event_id: str | None = None
    ) -> Iterator[StreamEvent]:
        return self._each(self.aio.stream_task(task_id, last_event_id=last_event_id))

    def cancel_task(self, task_id: str) -> dict[str, Any]:
        return self._do(self.aio.cancel_task, task_id)

    def session(self, session_id: str) -> dict[str, Any]:
        return self._do(self.aio.session, session_id)

    def delete_session(self, session_id: str) -> None:
        return self._do(self.aio.delete_session, session_id)

    def budgets(self, *, all: bool = False) -> list[Budget]:
        return self._do(self.aio.budgets, all=all)

    def budget(self, name: str) -> Budget:
        return self._do(self.aio.budget, name)

    def create_budget(self, name: str, **fields: Any) -> Budget:
        return self._do(self.aio.create_budget, name, **fields)

    def raise_budget(self, name: str, *, by: Any = None, to: Any = None) -> Budget:
        return self._do(self.aio.raise_budget, name, by=by, to=to)

    def use_budget(self, name: str) -> dict[str, Any]:
        return self._do(self.aio.use_budget, name)

    def delete_budget(self, name: str) -> None:
        return self._do(self.aio.delete_budget, name)

    def usage(self, by: str = "model", **filters: Any) -> Any:
        return self._do(self.aio.usage, by, **filters)
