"""LangGraph's ``langgraph.func``: ``@entrypoint`` and ``@task`` on Orca's functional API
(``orca.func``), with LangGraph's config dict, injected parameters and stream chunks."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from orca import func as native
from orca._sync import iterate_sync
from orca.compat.langgraph import _config, _state
from orca.compat.langgraph._builder import native_retry
from orca.compat.langgraph._nodes import GraphInfo
from orca.compat.langgraph.types import Command, StateSnapshot
from orca.errors import InvalidInputError
from orca.events import Custom, Event, InterruptEvent, TaskFinished, Values
from orca.graph._types import Command as NativeCommand

__all__ = ["entrypoint", "task"]

_INFO = GraphInfo(("input", "value", "saved"))
_INJECTED = ("config", "writer", "runtime", "store")
_MODES = {"values", "updates", "custom"}


def task(
    __func_or_none__: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    retry_policy: Any = None,
    cache_policy: Any = None,
) -> Any:
    """Make a function a task (``@task`` or ``@task(name=..., retry_policy=...)``):
    called in an entrypoint it starts at once and returns a future (``.result()``, or
    ``await``); its result is kept, so a resumed entrypoint does not run it again."""
    if cache_policy is not None:
        raise InvalidInputError(
            "task(cache_policy=...) is not supported by Orca's LangGraph layer. Fix: leave "
            "it out (a finished task is never run again on its thread anyway)"
        )

    def made(fn: Callable[..., Any]) -> Any:
        policy = native_retry(retry_policy, name or str(getattr(fn, "__name__", "task")))
        return native.task(fn, name=name, retry_policy=policy)

    return made if __func_or_none__ is None else made(__func_or_none__)


class entrypoint:
    """``@entrypoint(checkpointer=...)``: the function as a graph with LangGraph's
    ``invoke``/``stream``/``get_state``."""

    final = native.final

    def __init__(
        self,
        checkpointer: Any = None,
        store: Any = None,
        cache: Any = None,
        context_schema: type | None = None,
        cache_policy: Any = None,
        retry_policy: Any = None,
    ) -> None:
        if cache is not None or cache_policy is not None or retry_policy is not None:
            raise InvalidInputError(
                "entrypoint(cache=, cache_policy=, retry_policy=) are not supported by "
                "Orca's LangGraph layer. Fix: give the retry policy to the @task calls"
            )
        self.checkpointer = checkpointer
        self.store = store
        self.context_schema = context_schema

    def __call__(self, fn: Callable[..., Any]) -> FunctionalGraph:
        return FunctionalGraph(fn, self)


def _adapted(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` taking Orca's ``previous`` and ``ctx``, handing it what LangGraph injects
    (``previous``, ``config``, ``writer``, ``runtime``, ``store``) where it asks."""
    params = inspect.signature(fn).parameters
    wanted = [n for n in ("previous", *_INJECTED) if n in params]

    def injected(previous: Any, ctx: Any) -> dict[str, Any]:
        from orca.compat.langgraph._nodes import runtime_of

        found: dict[str, Any] = {}
        for name in wanted:
            if name == "previous":
                found[name] = previous
            elif name == "config":
                found[name] = _config.node_config(_config.current.get(), ctx)
            elif name == "writer":
                found[name] = ctx.write
            elif name == "runtime":
                found[name] = runtime_of(ctx)
            else:
                call = _config.current.get()
                found[name] = call.store if call is not None else None
        return found

    if inspect.iscoroutinefunction(fn):

        async def run_async(input: Any, *, previous: Any = None, ctx: Any) -> Any:
            return await fn(input, **injected(previous, ctx))

        return run_async

    def run(input: Any, *, previous: Any = None, ctx: Any) -> Any:
        return fn(input, **injected(previous, ctx))

    return run


def _shown(result: Any) -> Any:
    """What an entrypoint returned, its pause's interrupts in LangGraph's shape."""
    if isinstance(result, dict) and native.INTERRUPT in result:
        return {**result, native.INTERRUPT: _state.interrupts_of(result[native.INTERRUPT])}
    return result


class FunctionalGraph:
    """What ``@entrypoint`` makes: LangGraph's ``Pregel`` face over ``orca.func``'s
    ``Entrypoint`` (``native``)."""

    stream_mode = "updates"

    def __init__(self, fn: Callable[..., Any], options: entrypoint) -> None:
        self.name = getattr(fn, "__name__", "flow")
        self.checkpointer = options.checkpointer
        self._store = options.store
        self.native = native.Entrypoint(_adapted(fn), options.checkpointer, self.name)

    def __repr__(self) -> str:
        return f"<entrypoint {self.name!r} on Orca>"

    def _begin(self, input: Any, config: Any, context: Any) -> tuple[Any, dict[str, Any], Any]:
        call = _config.parse(config)
        if context is not None or self._store is not None:
            import dataclasses

            call = dataclasses.replace(call, context=context, store=self._store)
        options: dict[str, Any] = {}
        if self.checkpointer is not None:
            if call.thread_id is None:
                raise InvalidInputError(
                    "an entrypoint with a checkpointer needs "
                    "config['configurable']['thread_id']. Fix: pass "
                    "config={'configurable': {'thread_id': '1'}}"
                )
            options["thread_id"] = call.thread_id
        if isinstance(input, Command):
            if input.update is not None or input.goto or input.graph is not None:
                raise InvalidInputError(
                    "an entrypoint resumes with Command(resume=...) only. Fix: pass "
                    "Command(resume=value)"
                )
            input = NativeCommand(resume=input.resume)
        return input, options, call

    def invoke(self, input: Any, config: Any = None, *, context: Any = None, **kwargs: Any) -> Any:
        """Run the function; return what it returned (a pause: ``__interrupt__``)."""
        given, options, call = self._begin(input, config, context)
        token = _config.current.set(call)
        try:
            result = self.native.invoke(given, **options)
        finally:
            _config.current.reset(token)
        return _shown(result)

    async def ainvoke(
        self, input: Any, config: Any = None, *, context: Any = None, **kwargs: Any
    ) -> Any:
        """Async ``invoke``."""
        given, options, call = self._begin(input, config, context)
        token = _config.current.set(call)
        try:
            result = await self.native.ainvoke(given, **options)
        finally:
            _config.current.reset(token)
        return _shown(result)

    def stream(
        self,
        input: Any,
        config: Any = None,
        *,
        stream_mode: str | Sequence[str] | None = None,
        context: Any = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """LangGraph's chunks: ``updates`` (each task's result under its name, then the
        function's), ``values`` (what it returned), ``custom``; a list of modes gives
        ``(mode, chunk)`` pairs."""
        return iterate_sync("stream", self.astream(input, config, stream_mode=stream_mode,
                                                   context=context))  # fmt: skip

    async def astream(
        self,
        input: Any,
        config: Any = None,
        *,
        stream_mode: str | Sequence[str] | None = None,
        context: Any = None,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """Async ``stream``."""
        chosen = stream_mode or self.stream_mode
        modes = [chosen] if isinstance(chosen, str) else list(chosen)
        unknown = [m for m in modes if m not in _MODES]
        if unknown:
            raise InvalidInputError(
                f"stream_mode {unknown[0]!r} is not supported for an entrypoint by Orca's "
                f"LangGraph layer. Fix: use {', '.join(sorted(_MODES))}"
            )
        # LangGraph shows the values once the function returned; a resumed run first
        # shows the value kept on the thread
        showing = input is None or isinstance(input, Command)
        given, options, call = self._begin(input, config, context)
        token = _config.current.set(call)
        try:
            async for event in self.native.astream(given, mode="events", **options):
                for mode, chunk in self._chunks(event, modes, showing):
                    yield chunk if isinstance(chosen, str) else (mode, chunk)
                if isinstance(event, Values) or (
                    isinstance(event, TaskFinished) and event.node == self.name
                ):
                    showing = isinstance(event, TaskFinished)
        finally:
            with contextlib.suppress(ValueError):  # resumed in another context: nothing set
                _config.current.reset(token)

    def _chunks(self, event: Event, modes: list[str], showing: bool) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if isinstance(event, TaskFinished) and "updates" in modes:
            if native.RETURN in event.update:
                out.append(("updates", {event.node: event.update[native.RETURN]}))
            elif event.node == self.name:
                out.append(("updates", {self.name: event.update.get("value")}))
        elif isinstance(event, Values) and "values" in modes and showing:
            out.append(("values", event.values.get("value")))
        elif isinstance(event, Custom) and "custom" in modes:
            out.append(("custom", event.data))
        elif isinstance(event, InterruptEvent):
            shown = tuple(_state.interrupts_of(event.interrupts))
            out += [(m, {native.INTERRUPT: shown}) for m in modes if m in ("values", "updates")]
        return out

    def get_state(self, config: Any, *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's snapshot: ``values`` is what the function last returned."""
        call = _config.parse(config)
        if call.thread_id is None:
            raise InvalidInputError(
                "get_state needs config['configurable']['thread_id']. Fix: pass "
                "config={'configurable': {'thread_id': '1'}}"
            )
        snap = self.native.get_state(call.thread_id, call.checkpoint_id)
        shown = _state.snapshot_of(snap, _INFO)
        # LangGraph's snapshot of an entrypoint holds what it returned, not a dict
        return shown._replace(values=snap.values.get("value"))
