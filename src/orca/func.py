"""The functional API: a workflow as one plain function (``@entrypoint``) whose steps are
``@task`` calls, each run once per thread however often the function runs again.

    from orca.func import entrypoint, task

    @task
    def fetch(url: str) -> str: ...

    @entrypoint(checkpointer=MemoryCheckpointer())
    def digest(urls: list[str], *, previous: list[str] | None = None) -> list[str]:
        pages = [fetch(u) for u in urls]          # started at once, run in parallel
        return [p.result()[:100] for p in pages]

    digest.invoke(["https://a", "https://b"], thread_id="t")

An entrypoint is a graph of one node that runs the function. A task's result is kept
with the run's call records (the records that make Orca's model calls paid once), so
when the function runs again (after an ``interrupt``, a crash, or a budget pause) every
task that finished is answered from its record instead of running again. A task is
known by its name, its arguments and how many times the function called it so before.

``previous`` is what the function returned (or saved with ``entrypoint.final``) the last
time it ran on the thread.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import inspect
import threading
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar, cast

from orca import _serde
from orca.checkpoint import Checkpointer
from orca.engine import CompiledGraph, RunContext, _ids
from orca.errors import InvalidInputError, NodeInterrupt
from orca.events import Event, StreamMode, TaskFinished
from orca.graph import END, START, Command, RetryPolicy, StateGraph, StateSnapshot

__all__ = ["TaskFuture", "entrypoint", "task"]

T = TypeVar("T")
INTERRUPT = "__interrupt__"
RETURN = "__return__"
"""The key of a ``task.finished`` event's ``update`` that holds a task's return value."""

# a task's own code runs here (a sync entrypoint may wait on several at once); what is
# async in it (an async task, the call records) runs on a loop of its own, closed after
_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="orca-task")


class _Scope:
    """One run of an entrypoint's function: its task context and its tasks' counts."""

    __slots__ = ("ctx", "lock", "seen")

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.lock = threading.Lock()
        self.seen: dict[str, int] = {}

    def key(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        """The call's identity: the task, its arguments, and how many such calls came
        before it in this run of the function (so the same call twice is two tasks)."""
        try:
            shown = _serde.dumps({"args": list(args), "kwargs": kwargs})
        except _serde.UnserializableError:
            shown = b"unserialisable"  # the call order alone tells the calls apart
        base = hashlib.sha256(name.encode() + b"\0" + shown).hexdigest()[:32]
        with self.lock:
            occurrence = self.seen.get(base, 0)
            self.seen[base] = occurrence + 1
        return f"{name}:{base}:{occurrence}"


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar(
    "orca_func_scope", default=None
)


class TaskFuture(Generic[T]):
    """A started task: ``.result()`` waits for its value (sync), ``await`` it (async)."""

    __slots__ = ("_future", "name")

    def __init__(self, name: str, future: Future[T]) -> None:
        self.name = name
        self._future = future

    def result(self, timeout: float | None = None) -> T:
        """The task's value; raises what the task raised."""
        return self._future.result(timeout)

    def done(self) -> bool:
        return self._future.done()

    def __await__(self) -> Generator[Any, None, T]:
        return asyncio.wrap_future(self._future).__await__()

    def __repr__(self) -> str:
        return f"<TaskFuture {self.name!r} {'done' if self.done() else 'running'}>"


class _Task(Generic[T]):
    """A function made a task by ``@task``: calling it inside an entrypoint starts it."""

    def __init__(
        self,
        fn: Callable[..., T],
        name: str | None,
        retry_policy: RetryPolicy | Sequence[RetryPolicy] | None,
    ) -> None:
        if not callable(fn):
            raise InvalidInputError(f"@task needs a function, got {type(fn).__name__}")
        self.fn = fn
        self.name: str = name or str(getattr(fn, "__name__", "task"))
        self.retry_policy: RetryPolicy | tuple[RetryPolicy, ...] | None = (
            tuple(retry_policy) if isinstance(retry_policy, Sequence) else retry_policy
        )
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"<task {self.name!r}>"

    def __call__(self, *args: Any, **kwargs: Any) -> TaskFuture[T]:
        scope = _scope.get()
        if scope is None:
            raise InvalidInputError(
                f"task {self.name!r} was called outside an entrypoint. Fix: call it from a "
                "function decorated with @entrypoint(), or call the plain function "
                f"{self.name}.fn(...)"
            )
        key = scope.key(self.name, args, kwargs)
        context = contextvars.copy_context()
        future = _pool.submit(context.run, self._execute, scope, key, args, kwargs)
        return TaskFuture(self.name, future)

    def _execute(self, scope: _Scope, key: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        calls = scope.ctx.calls
        if calls is not None:
            _occurrence, known = asyncio.run(calls.lookup("task", key))
            if known is not None:
                return cast(T, known["value"])
        value = self._attempts(scope, args, kwargs)
        if calls is not None:
            try:
                _serde.dumps(value)
            except _serde.UnserializableError as exc:
                raise InvalidInputError(
                    f"task {self.name!r} returned a {exc.type_name}, which cannot be kept "
                    "for the run to resume from. Fix: return JSON-like data, dataclasses "
                    "or pydantic models"
                ) from None
            asyncio.run(calls.record("task", key, 0, {"value": value}))
        emitter = scope.ctx.events
        if emitter is not None:  # the "updates" stream shows what the task returned
            ctx = scope.ctx
            emitter.emit(
                TaskFinished,
                ctx.step,
                task_id=_ids.digest("func", ctx.task_id, key),
                node=self.name,
                update={RETURN: value},
                goto=[],
                duration_ms=0.0,
            )
        return value

    def _attempts(self, scope: _Scope, args: tuple[Any, ...], kwargs: dict[str, Any]) -> T:
        policy = self.retry_policy
        attempt = 1
        while True:
            try:
                result = self.fn(*args, **kwargs)
                if inspect.isawaitable(result):
                    return cast(T, asyncio.run(_awaited(result)))
                return result
            except NodeInterrupt:
                raise
            except Exception as exc:
                chosen = policy
                if isinstance(chosen, tuple):  # several: the first whose retry_on matches
                    chosen = next((p for p in chosen if p.should_retry(exc)), None)
                if chosen is None or attempt >= chosen.max_attempts or not chosen.should_retry(exc):
                    raise
                time.sleep(chosen.delay(attempt, scope.ctx.random.random()))
                attempt += 1


async def _awaited(value: Any) -> Any:
    return await value


def task(
    fn: Callable[..., T] | None = None,
    *,
    name: str | None = None,
    retry_policy: RetryPolicy | Sequence[RetryPolicy] | None = None,
) -> Any:
    """Make ``fn`` a task: ``@task`` or ``@task(name=..., retry_policy=...)``.

    Called inside an entrypoint it starts at once (on a worker thread; an async task on
    that thread's loop) and returns a ``TaskFuture``. Its value is kept with the run's
    call records: when the entrypoint's function runs again on the thread's same
    checkpoint, the call is answered from them. Without a checkpointer nothing is kept.
    """
    if fn is None:
        return lambda f: _Task(f, name, retry_policy)
    return _Task(fn, name, retry_policy)


@dataclass(frozen=True, slots=True)
class final(Generic[T]):
    """Return ``value`` to the caller and keep ``save`` as the next run's ``previous``."""

    value: Any
    save: Any


class _State(TypedDict, total=False):
    input: Any
    value: Any
    saved: Any


def _takes(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params


class Entrypoint:
    """A function run as a workflow (made by ``@entrypoint``): ``invoke``, ``stream``
    and the thread methods of a compiled graph, with the function's argument as input
    and its return value as output.

    Attributes:
        graph: the one-node ``CompiledGraph`` that runs it (state keys ``input``,
            ``value`` and ``saved``).
    """

    def __init__(self, fn: Callable[..., Any], checkpointer: Checkpointer | None, name: str):
        if not callable(fn):
            raise InvalidInputError(f"@entrypoint needs a function, got {type(fn).__name__}")
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        if not params:
            raise InvalidInputError(
                f"the entrypoint {name!r} takes no input. Fix: give it one positional "
                "parameter (a dict carries several values)"
            )
        self.fn = fn
        self.name = name
        wants_previous = _takes(fn, "previous")
        wants_ctx = _takes(fn, "ctx")
        asynchronous = inspect.iscoroutinefunction(fn)

        def extras(state: _State, ctx: RunContext) -> dict[str, Any]:
            out: dict[str, Any] = {}
            if wants_previous:
                out["previous"] = state.get("saved")
            if wants_ctx:
                out["ctx"] = ctx
            return out

        def written(result: Any) -> dict[str, Any]:
            if isinstance(result, final):
                return {"value": result.value, "saved": result.save}
            return {"value": result, "saved": result}

        if asynchronous:

            async def run_async(state: _State, ctx: RunContext) -> dict[str, Any]:
                token = _scope.set(_Scope(ctx))
                try:
                    return written(await fn(state.get("input"), **extras(state, ctx)))
                finally:
                    _scope.reset(token)

            node: Callable[..., Any] = run_async
        else:

            def run(state: _State, ctx: RunContext) -> dict[str, Any]:
                token = _scope.set(_Scope(ctx))
                try:
                    return written(fn(state.get("input"), **extras(state, ctx)))
                finally:
                    _scope.reset(token)

            node = run
        builder = StateGraph(_State, name=name)
        builder.add_node(name, node)
        builder.add_edge(START, name)
        builder.add_edge(name, END)
        self.graph: CompiledGraph = builder.compile(checkpointer=checkpointer)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"<entrypoint {self.name!r}>"

    @staticmethod
    def _input(input: Any) -> Any:
        return input if input is None or isinstance(input, Command) else {"input": input}

    @staticmethod
    def _output(values: dict[str, Any]) -> Any:
        if INTERRUPT in values:  # paused: what the last finished run returned, and why
            last = values.get("value")
            return {**(last if isinstance(last, dict) else {}), INTERRUPT: values[INTERRUPT]}
        return values.get("value")

    def invoke(self, input: Any, **options: Any) -> Any:
        """Run the function on ``input`` (``None`` continues the thread,
        ``Command(resume=...)`` answers an interrupt) and return what it returned; a
        paused run returns ``{"__interrupt__": [...]}``. Options as ``CompiledGraph``."""
        return self._output(self.graph.invoke(self._input(input), **options))

    async def ainvoke(self, input: Any, **options: Any) -> Any:
        """Async ``invoke``."""
        return self._output(await self.graph.ainvoke(self._input(input), **options))

    def stream(
        self, input: Any, *, mode: StreamMode | Sequence[StreamMode] = "events", **options: Any
    ) -> Iterator[Event]:
        """The run's events, as ``CompiledGraph.stream``."""
        return self.graph.stream(self._input(input), mode=mode, **options)

    def astream(
        self, input: Any, *, mode: StreamMode | Sequence[StreamMode] = "events", **options: Any
    ) -> AsyncIterator[Event]:
        """Async ``stream``."""
        return self.graph.astream(self._input(input), mode=mode, **options)

    def get_state(self, thread_id: str, checkpoint_id: str | None = None) -> StateSnapshot:
        """The thread's snapshot: ``values["value"]`` is what the function last returned."""
        return self.graph.get_state(thread_id, checkpoint_id)

    def get_history(self, thread_id: str, **options: Any) -> Any:
        """The thread's checkpoints, newest first (as ``CompiledGraph.get_history``)."""
        return self.graph.get_history(thread_id, **options)


class entrypoint:
    """Make a function a workflow: ``@entrypoint()`` or
    ``@entrypoint(checkpointer=SqliteCheckpointer(path))``.

    The function takes one positional input, and may take ``previous`` (what it returned
    last time on the thread) and ``ctx`` (the ``RunContext``). Return
    ``entrypoint.final(value=..., save=...)`` to return one thing and keep another.
    """

    final = final

    def __init__(self, checkpointer: Checkpointer | None = None, *, name: str | None = None):
        self.checkpointer = checkpointer
        self.name = name

    def __call__(self, fn: Callable[..., Any]) -> Entrypoint:
        return Entrypoint(fn, self.checkpointer, self.name or str(getattr(fn, "__name__", "flow")))
