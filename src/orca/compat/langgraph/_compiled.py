"""``CompiledStateGraph``: an Orca compiled graph behind LangGraph's calling conventions."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import functools
import queue
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from typing import Any

from orca._sync import iterate_sync, off_loop
from orca.compat.langgraph import _config, _state
from orca.compat.langgraph._config import CallConfig
from orca.compat.langgraph._errors import AmbiguousResumeError
from orca.compat.langgraph._messages import MessageSink
from orca.compat.langgraph._nodes import GraphInfo
from orca.compat.langgraph._stream import INTERRUPT_KEY, Namespaced, Shaper, modes_of
from orca.compat.langgraph.errors import EmptyInputError, GraphRecursionError, InvalidUpdateError
from orca.compat.langgraph.types import Command, StateSnapshot
from orca.engine import CompiledGraph
from orca.engine._algo import fold_commands
from orca.engine._compiled import EPHEMERAL_THREAD
from orca.errors import (
    CheckpointNotFoundError,
    InvalidInputError,
    InvalidResumeError,
    NodeError,
    StepLimitError,
)
from orca.errors import InvalidUpdateError as NativeInvalidUpdateError
from orca.events import Event
from orca.graph import START


class CompiledStateGraph:
    """What LangGraph's ``StateGraph.compile()`` returns, running on Orca's engine.

    ``native`` is the ``orca.CompiledGraph`` it runs: Orca's own API (``get_history``,
    ``fork``, cost options, ...) stays reachable there.
    """

    def __init__(
        self,
        native: CompiledGraph,
        info: GraphInfo,
        *,
        builder: Any = None,
        store: Any = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        self.native = native
        self.builder = builder
        self.store = store
        self.name = native.name
        self.checkpointer = native.checkpointer
        self.nodes: dict[str, Any] = dict(getattr(builder, "nodes", {}))
        self._info = info
        self._defaults = dict(defaults or {})

    def __repr__(self) -> str:
        return f"<CompiledStateGraph {self.name!r} on Orca>"

    # -- the call's config and input ---------------------------------------------------------

    def with_config(self, config: Mapping[str, Any] | None = None, **kwargs: Any) -> Any:
        """This graph with ``config`` (and ``kwargs``) as the defaults of every call's
        config; a call's own keys win, ``configurable`` and ``metadata`` merge."""
        merged = _config.merge(self._defaults, _config.merge(config or {}, kwargs))
        return CompiledStateGraph(
            self.native, self._info, builder=self.builder, store=self.store, defaults=merged
        )

    def _parse(self, config: Any) -> CallConfig:
        if self._defaults and (config is None or isinstance(config, Mapping)):
            config = _config.merge(self._defaults, config or {})
        return _config.parse(config)

    def _call(self, config: Any, context: Any, *, messages: Any = None) -> CallConfig:
        call = self._parse(config)
        if context is not None or self.store is not None or messages is not None:
            call = dataclasses.replace(call, context=context, store=self.store, messages=messages)
        return call

    def _thread(self, call: CallConfig, what: str) -> str:
        thread_id = call.thread_id
        if thread_id is None:
            raise InvalidInputError(
                f"{what} needs config['configurable']['thread_id']. Fix: pass "
                "config={'configurable': {'thread_id': '1'}}"
            )
        return thread_id

    def _input(self, input: Any) -> tuple[Any, dict[str, Any] | None]:
        """Orca's input for LangGraph's, and the update a ``Command(update=...)`` applies
        to the thread before the run (as ``update_state`` does)."""
        if isinstance(input, Command):
            if input.graph is not None:
                raise InvalidInputError(
                    "Command(graph=...) cannot be a graph's input. Fix: pass "
                    "Command(resume=...) or Command(update=...)"
                )
            if input.goto:
                # the engine applies the update and runs the named nodes next, as LangGraph
                pairs = input.update
                if isinstance(pairs, Mapping):
                    pairs = {k: v for k, v in pairs.items() if k in self._info.keys}
                elif isinstance(pairs, list | tuple):
                    pairs = [
                        w for w in pairs if not isinstance(w, tuple) or w[0] in self._info.keys
                    ]
                return Command(update=pairs, goto=input.goto, resume=input.resume), None
            update = None
            if input.update is not None:
                if self.checkpointer is None:
                    raise InvalidInputError(
                        "Command(update=...) updates a thread, and this graph keeps none. "
                        "Fix: compile(checkpointer=InMemorySaver())"
                    )
                update = self._update_values(input.update)
            resume = Command(resume=input.resume) if input.resume is not None else None
            return resume, update
        if isinstance(input, Mapping):  # LangGraph drops keys the input schema lacks
            given = {k: v for k, v in input.items() if k in self._info.inputs}
            return self._as_given(given), None
        if input is None or isinstance(input, Command) or _is_state_object(input):
            return input, None
        raise InvalidUpdateError(
            f"Expected dict, got {input!r}. Fix: pass the input as a dict of state keys"
        )

    def _as_given(self, given: dict[str, Any]) -> Any:
        """The input for a pydantic state: checked (pydantic's ``ValidationError``, as
        LangGraph raises it) but kept as given, as LangGraph keeps it; a node sees it
        validated. Orca's own API keeps the validated values."""
        state = self.native.spec.state
        if state.kind != "pydantic":
            return given
        model = state.schema
        fields = model.model_fields  # type: ignore[attr-defined]
        if not given or not all(k in fields for k in given):
            return given  # an input schema's keys: Orca checks them
        holder = model.model_construct()  # type: ignore[attr-defined]
        validator = model.__pydantic_validator__  # type: ignore[attr-defined]
        for key, value in given.items():
            validator.validate_assignment(holder, key, value)
        return model.model_construct(**given)  # type: ignore[attr-defined]

    def _empty_input(
        self, exc: Exception, input: Any, options: Mapping[str, Any]
    ) -> Exception | None:
        """LangGraph's ``EmptyInputError`` where Orca refused to continue a thread that
        has no checkpoint (or a graph that keeps none) with ``None``."""
        if input is not None or not isinstance(exc, InvalidInputError):
            return None
        store = self.checkpointer
        if store is not None and store.get(options["thread_id"], None) is not None:
            return None
        empty = EmptyInputError(
            "Received no input for __start__. Fix: start the thread with an input dict; "
            "None continues a thread that has a checkpoint"
        )
        empty.__cause__ = exc
        return empty

    def _options(self, input: Any, call: CallConfig, durability: Any) -> dict[str, Any]:
        options: dict[str, Any] = {}
        if self.checkpointer is not None:
            options["thread_id"] = self._thread(call, "a graph with a checkpointer")
            if call.checkpoint_id is not None:
                options["checkpoint_id"] = call.checkpoint_id
        # LangGraph counts the input as a step of its recursion limit, and a run that
        # continues a thread (None, a resume) may take two more steps than the limit says;
        # at the limit it runs one step more, then fails (overrun_step)
        fresh = input is not None and not isinstance(input, Command)
        options["max_steps"] = call.recursion_limit - 1 if fresh else call.recursion_limit + 1
        options["overrun_step"] = True
        if call.max_concurrency is not None:
            options["max_concurrency"] = call.max_concurrency
        if durability is not None:
            options["durability"] = durability
        if call.metadata:
            options["metadata"] = call.metadata
        if call.context is not None:
            options["context"] = call.context
        return options

    def _graph_for(self, kwargs: Mapping[str, Any]) -> CompiledGraph:
        """The graph a call runs: this one, or with the call's own breakpoints
        (``interrupt_before=`` / ``interrupt_after=`` given to ``invoke`` or ``stream``)."""
        known = {"interrupt_before", "interrupt_after", "subgraphs", "debug", "print_mode"}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise InvalidInputError(f"unexpected keyword argument {unknown[0]!r}")
        before, after = kwargs.get("interrupt_before"), kwargs.get("interrupt_after")
        if not before and not after:
            return self.native
        nodes = tuple(self.native.spec.nodes)

        def chosen(names: Any, role: str) -> frozenset[str]:
            if not names:
                return frozenset()
            if names == "*":
                return frozenset(nodes)
            names = (names,) if isinstance(names, str) else tuple(names)
            wrong = [n for n in names if n not in nodes]
            if wrong:
                raise InvalidInputError(
                    f"{role}= names {wrong[0]!r}, which is not a node. Fix: use one of "
                    f"{', '.join(nodes)}"
                )
            return frozenset(names)

        return CompiledGraph(
            self.native.spec,
            checkpointer=self.native.checkpointer,
            interrupt_before=chosen(before, "interrupt_before"),
            interrupt_after=chosen(after, "interrupt_after"),
        )

    # -- invoke -------------------------------------------------------------------------------

    def invoke(
        self,
        input: Any,
        config: Any = None,
        *,
        stream_mode: str = "values",
        output_keys: str | Sequence[str] | None = None,
        durability: Any = None,
        context: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Run to the end (or to a pause) and return the state; a pause shows as
        ``"__interrupt__"``: a list of ``Interrupt``. Called where an event loop runs
        (a notebook), it runs on a helper thread, as LangGraph's ``invoke`` works there."""
        if _loop_running():
            return off_loop(
                contextvars.copy_context().run,
                functools.partial(
                    self.invoke,
                    input,
                    config,
                    stream_mode=stream_mode,
                    output_keys=output_keys,
                    durability=durability,
                    context=context,
                    **kwargs,
                ),
            )
        native = self._graph_for(kwargs)
        if stream_mode != "values":
            chunks = list(
                self.stream(input, config, stream_mode=stream_mode, context=context, **kwargs)
            )
            return chunks
        call = self._call(config, context)
        native_input, update = self._input(input)
        options = self._options(input, call, durability)
        token = _config.current.set(call)
        try:
            if update is not None:
                self.native.update_state(
                    options["thread_id"], update, checkpoint_id=options.pop("checkpoint_id", None)
                )
            result = native.invoke(native_input, **options)
        except Exception as exc:
            error = self._empty_input(exc, input, options) or _translate(exc, call)
        else:
            return self._output(result, output_keys)
        finally:
            _config.current.reset(token)
        raise error

    async def ainvoke(
        self,
        input: Any,
        config: Any = None,
        *,
        stream_mode: str = "values",
        output_keys: str | Sequence[str] | None = None,
        durability: Any = None,
        context: Any = None,
        **kwargs: Any,
    ) -> Any:
        """Async ``invoke``."""
        native = self._graph_for(kwargs)
        if stream_mode != "values":
            return [
                c
                async for c in self.astream(
                    input, config, stream_mode=stream_mode, context=context, **kwargs
                )
            ]
        call = self._call(config, context)
        native_input, update = self._input(input)
        options = self._options(input, call, durability)
        token = _config.current.set(call)
        try:
            if update is not None:
                await self.native.aupdate_state(
                    options["thread_id"], update, checkpoint_id=options.pop("checkpoint_id", None)
                )
            result = await native.ainvoke(native_input, **options)
        except Exception as exc:
            error = self._empty_input(exc, input, options) or _translate(exc, call)
        else:
            return self._output(result, output_keys)
        finally:
            _config.current.reset(token)
        raise error

    def _output(self, result: dict[str, Any], output_keys: str | Sequence[str] | None) -> Any:
        pending = result.pop(INTERRUPT_KEY, None)
        result = self._info.ordered(result)
        if isinstance(output_keys, str):
            out: Any = result.get(output_keys)
            return out
        if output_keys is not None:
            result = {k: v for k, v in result.items() if k in output_keys}
        pending = _state.raised(pending or ())
        if pending:
            result[INTERRUPT_KEY] = _state.interrupts_of(pending)
        return result

    # -- stream -------------------------------------------------------------------------------

    def stream(
        self,
        input: Any,
        config: Any = None,
        *,
        stream_mode: str | Sequence[str] | None = None,
        output_keys: str | Sequence[str] | None = None,
        durability: Any = None,
        context: Any = None,
        **kwargs: Any,
    ) -> Iterator[Any]:
        """Run and yield LangGraph's chunks: one mode gives its chunks, a list of modes
        gives ``(mode, chunk)`` pairs."""
        return _iterate(
            lambda: self.astream(
                input,
                config,
                stream_mode=stream_mode,
                output_keys=output_keys,
                durability=durability,
                context=context,
                **kwargs,
            ),
        )

    async def astream(
        self,
        input: Any,
        config: Any = None,
        *,
        stream_mode: str | Sequence[str] | None = None,
        output_keys: str | Sequence[str] | None = None,
        durability: Any = None,
        context: Any = None,
        **kwargs: Any,
    ) -> AsyncIterator[Any]:
        """Async ``stream``."""
        native = self._graph_for(kwargs)
        modes, single = modes_of(stream_mode)
        sink = MessageSink() if "messages" in modes else None
        call = self._call(config, context, messages=sink)
        native_input, update = self._input(input)
        options = self._options(input, call, durability)
        shaper: Shaper | Namespaced
        if kwargs.get("subgraphs"):
            options["subgraphs"] = True
            top = options.get("thread_id", EPHEMERAL_THREAD)
            shaper = Namespaced(modes, single, output_keys, self._info, self._read_snapshot, top)
        else:
            shaper = Shaper(modes, single, output_keys, self._info, self._read_snapshot)
        error: Exception | None = None
        if update is not None:
            try:
                await self.native.aupdate_state(
                    options["thread_id"], update, checkpoint_id=options.pop("checkpoint_id", None)
                )
            except Exception as exc:
                error = _translate(exc, call)
            if error is not None:
                raise error
        token = _config.current.set(call)
        try:
            events = native.astream(native_input, mode="events", **options)
        finally:
            _config.current.reset(token)
        # the run starts (and copies the context) at the first step of its iterator
        token = _config.current.set(call)
        try:
            first: Event | None = await events.__anext__()
        except StopAsyncIteration:
            first = None
        except Exception as exc:
            error = self._empty_input(exc, input, options) or _translate(exc, call)
        finally:
            _reset(token)
        if error is not None:
            raise error
        if first is None:
            return
        pending: asyncio.Future[Event] | None = None
        try:
            for chunk in await shaper.shape(first):
                yield chunk
            while True:
                if sink is None:
                    try:
                        event = await events.__anext__()
                    except StopAsyncIteration:
                        break
                    except Exception as exc:
                        error = _translate(exc, call)
                        break
                else:  # chunks of model output come while a step runs
                    if pending is None:
                        pending = asyncio.ensure_future(events.__anext__())
                    waiting = asyncio.ensure_future(sink.queue.get())
                    both: set[asyncio.Future[Any]] = {pending, waiting}
                    await asyncio.wait(both, return_when=asyncio.FIRST_COMPLETED)
                    if not waiting.done():
                        waiting.cancel()
                    elif not waiting.cancelled():
                        shaper.hold(waiting.result())
                    for item in sink.drain():
                        shaper.hold(item)
                    if not pending.done():
                        for chunk in shaper.live():
                            yield chunk
                        continue
                    done, pending = pending, None
                    try:
                        event = done.result()
                    except StopAsyncIteration:
                        break
                    except Exception as exc:
                        error = _translate(exc, call)
                        break
                for chunk in await shaper.shape(event):
                    yield chunk
            if error is None:
                for chunk in shaper.finish():
                    yield chunk
        finally:
            if pending is not None:
                pending.cancel()
                await asyncio.gather(pending, return_exceptions=True)
            await events.aclose()  # type: ignore[attr-defined]
        if error is not None:
            raise error

    async def _read_snapshot(self, thread_id: str, checkpoint_id: str) -> StateSnapshot | None:
        if self.checkpointer is None:
            return None
        try:
            snap = await self.native.aget_state(thread_id, checkpoint_id)
        except CheckpointNotFoundError:  # not committed yet (durability "exit")
            return None
        return _state.snapshot_of(snap, self._info)

    # -- threads ------------------------------------------------------------------------------

    def get_state(self, config: Any, *, subgraphs: bool = False) -> StateSnapshot:
        """The thread's state at its latest checkpoint (or at ``checkpoint_id``), as
        LangGraph's ``StateSnapshot``; an unknown thread gives an empty one."""
        call = self._parse(config)
        thread_id = self._thread(call, "get_state")
        try:
            snap = self.native.get_state(thread_id, call.checkpoint_id, subgraphs=subgraphs)
        except CheckpointNotFoundError:  # LangGraph shows an empty state for it
            return _state.empty_snapshot(thread_id)
        return self._shown(snap)

    def _shown(self, snap: Any) -> StateSnapshot:
        log = step = None
        if snap.next:  # a step that began from here and paused: its tasks' ids
            log = _state.read_step(self.checkpointer, [snap.metadata.get("run_id")], snap.step + 1)
            step = self._step_of(snap)
        shown = _state.snapshot_of(snap, self._info, log, step, tuple(self.native.spec.nodes))
        if not snap.subgraphs:
            return shown
        # a paused subgraph's own state, in its task, as LangGraph shows it
        tasks = tuple(
            t._replace(state=self._shown(snap.subgraphs[t.id])) if t.id in snap.subgraphs else t
            for t in shown.tasks
        )
        return shown._replace(tasks=tasks)

    def _step_of(self, snap: Any) -> Any:
        """The stored checkpoint of ``snap``: its whole plan and its finished tasks."""
        store = self.checkpointer
        if store is None:
            return None
        cp = store.get(snap.thread_id, snap.checkpoint_id)
        commands = [p.value for p in cp.pending if p.kind == "command"] if cp else []
        if cp is not None and commands:  # the tasks a Command's goto added to the step
            _, _, planned = fold_commands(self.native.spec, cp.values, cp.next, commands)
            cp = dataclasses.replace(cp, next=planned)
        return cp

    async def aget_state(self, config: Any, *, subgraphs: bool = False) -> StateSnapshot:
        """Async ``get_state``."""
        return await asyncio.to_thread(self.get_state, config, subgraphs=subgraphs)

    def get_state_history(
        self,
        config: Any,
        *,
        filter: Mapping[str, Any] | None = None,
        before: Any = None,
        limit: int | None = None,
    ) -> Iterator[StateSnapshot]:
        """The thread's snapshots, newest first."""
        call = self._parse(config)
        thread_id = self._thread(call, "get_state_history")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise InvalidInputError(f"limit must be an int, got {limit!r}")
        before_id = _config.parse(before).checkpoint_id if before is not None else None
        if self.checkpointer is None:
            raise InvalidInputError(
                "this graph keeps no threads. Fix: compile(checkpointer=InMemorySaver())"
            )
        infos = self.native.get_history(thread_id, before=before_id)
        # the step that ran from a checkpoint is told by the run that made its child
        child_run = {i.parent_id: i.metadata.get("run_id") for i in reversed(infos) if i.parent_id}
        start = call.checkpoint_id
        count = 0
        events: dict[str, list[dict[str, Any]]] = {}
        for info in infos:
            if start is not None:
                if info.checkpoint_id != start:
                    continue
                start = None
            native = self.native.get_state(thread_id, info.checkpoint_id)
            runs = (child_run.get(info.checkpoint_id), native.metadata.get("run_id"))
            log = _state.read_step(self.checkpointer, runs, native.step + 1, events)
            step = self._step_of(native) if native.next else None
            snap = _state.snapshot_of(native, self._info, log, step, tuple(self.native.spec.nodes))
            if filter and any((snap.metadata or {}).get(k) != v for k, v in filter.items()):
                continue
            if limit is not None and count >= limit:
                return
            count += 1
            yield snap

    async def aget_state_history(
        self,
        config: Any,
        *,
        filter: Mapping[str, Any] | None = None,
        before: Any = None,
        limit: int | None = None,
    ) -> AsyncIterator[StateSnapshot]:
        """Async ``get_state_history``."""
        snaps = await asyncio.to_thread(
            lambda: list(self.get_state_history(config, filter=filter, before=before, limit=limit))
        )
        for snap in snaps:
            yield snap

    def update_state(
        self, config: Any, values: Any, as_node: str | None = None, task_id: str | None = None
    ) -> dict[str, Any]:
        """Apply ``values`` as if ``as_node`` wrote them; returns the new checkpoint's
        config."""
        if _loop_running():
            again = functools.partial(self.update_state, config, values, as_node, task_id)
            return off_loop(contextvars.copy_context().run, again)
        call = self._parse(config)
        thread_id = self._thread(call, "update_state")
        self._check_as_node(as_node)
        update = self._update_values(values)
        try:
            new_id = self.native.update_state(
                thread_id, update, as_node=as_node, checkpoint_id=call.checkpoint_id
            )
        except Exception as exc:
            error = _translate(exc, call)
        else:
            return _config.thread_config(thread_id, new_id)
        raise error

    def bulk_update_state(self, config: Any, supersteps: Sequence[Sequence[Any]]) -> Any:
        """Apply several updates, superstep after superstep (``StateUpdate(values,
        as_node)`` each); returns the last checkpoint's config. Orca writes a checkpoint
        per update, where LangGraph writes one per superstep."""
        if not supersteps:
            raise InvalidInputError(
                "bulk_update_state got no supersteps. Fix: pass [[StateUpdate(values, "
                "as_node)], ...]"
            )
        latest, base = config, config
        for updates in supersteps:
            if not updates:
                raise InvalidInputError(
                    "a superstep of bulk_update_state holds no update. Fix: give each "
                    "superstep at least one StateUpdate"
                )
            for update in updates:
                values, as_node = update[0], update[1] if len(update) > 1 else None
                latest = self.update_state(base, values, as_node)
                # the next update goes on from the thread's head: an update, not a fork
                base = {"configurable": {"thread_id": latest["configurable"]["thread_id"]}}
        return latest

    async def aupdate_state(
        self, config: Any, values: Any, as_node: str | None = None, task_id: str | None = None
    ) -> dict[str, Any]:
        """Async ``update_state``."""
        call = self._parse(config)
        thread_id = self._thread(call, "update_state")
        self._check_as_node(as_node)
        update = self._update_values(values)
        try:
            new_id = await self.native.aupdate_state(
                thread_id, update, as_node=as_node, checkpoint_id=call.checkpoint_id
            )
        except Exception as exc:
            error = _translate(exc, call)
        else:
            return _config.thread_config(thread_id, new_id)
        raise error

    def _check_as_node(self, as_node: str | None) -> None:
        if as_node is not None and as_node != START and as_node not in self.native.spec.nodes:
            known = ", ".join(self.native.spec.nodes)
            raise InvalidUpdateError(
                f"Node {as_node} does not exist. Fix: pass as_node= one of {known}",
                node=as_node,
            )

    def _update_values(self, values: Any) -> dict[str, Any]:
        if values is None:
            return {}
        if isinstance(values, Mapping):
            return {k: v for k, v in values.items() if k in self._info.keys}
        if isinstance(values, list | tuple) and all(
            isinstance(w, tuple) and len(w) == 2 and isinstance(w[0], str) for w in values
        ):
            return {k: v for k, v in values if k in self._info.keys}
        raise InvalidInputError(
            f"update_state's values must be a dict of state keys, got {type(values).__name__}"
        )

    # -- more of LangGraph's surface -------------------------------------------------------

    def batch(
        self,
        inputs: Sequence[Any],
        config: Any = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """``invoke`` each input (with the config, or the matching one of a list); with
        ``return_exceptions`` a failed input's exception takes its place in the list."""
        configs = _configs(config, len(inputs))
        out: list[Any] = []
        for item, one in zip(inputs, configs, strict=True):
            try:
                out.append(self.invoke(item, one, **kwargs))
            except Exception as exc:
                if not return_exceptions:
                    raise
                out.append(exc)
        return out

    async def abatch(
        self,
        inputs: Sequence[Any],
        config: Any = None,
        *,
        return_exceptions: bool = False,
        **kwargs: Any,
    ) -> list[Any]:
        """Async ``batch``: the inputs run concurrently."""
        configs = _configs(config, len(inputs))
        return list(
            await asyncio.gather(
                *(self.ainvoke(i, c, **kwargs) for i, c in zip(inputs, configs, strict=True)),
                return_exceptions=return_exceptions,
            )
        )

    def get_graph(self, *args: Any, **kwargs: Any) -> Any:
        """The graph's drawing, where Orca's engine offers one."""
        draw = getattr(self.native, "get_graph", None)
        if draw is None:
            raise InvalidInputError(
                "get_graph() is not available in this Orca. Fix: use "
                "graph.native.describe() for the graph's shape as data"
            )
        return draw(*args, **kwargs)


def _is_state_object(value: Any) -> bool:
    """A dataclass or pydantic instance: an instance of a state schema."""
    fields = getattr(type(value), "__dataclass_fields__", None)
    return fields is not None or callable(getattr(value, "model_dump", None))


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _iterate(make: Callable[[], AsyncIterator[Any]]) -> Iterator[Any]:
    """The sync face of an async stream: on this thread's private loop, or, where an
    event loop already runs here (a notebook), on a helper thread of its own."""
    if not _loop_running():
        return iterate_sync("stream", make())
    return _iterate_on_thread(make)


def _iterate_on_thread(make: Callable[[], AsyncIterator[Any]]) -> Iterator[Any]:
    items: queue.SimpleQueue[tuple[bool, Any]] = queue.SimpleQueue()
    stop = threading.Event()

    def work() -> None:
        chunks = iterate_sync("stream", make())
        assert isinstance(chunks, Generator)
        try:
            for chunk in chunks:
                if stop.is_set():
                    break
                items.put((True, chunk))
            items.put((False, None))
        except BaseException as exc:  # handed to the reader, who raises it
            items.put((False, exc))
        finally:
            chunks.close()

    context = contextvars.copy_context()
    threading.Thread(target=context.run, args=(work,), name="orca-lg-stream", daemon=True).start()
    try:
        while True:
            more, item = items.get()
            if more:
                yield item
            elif item is None:
                return
            else:
                raise item
    finally:
        stop.set()  # the reader stopped: the run stops at its next chunk


def _configs(config: Any, n: int) -> list[Any]:
    if isinstance(config, list):
        if len(config) != n:
            raise InvalidInputError(
                f"batch got {n} inputs and {len(config)} configs. Fix: pass one config, or "
                "one per input"
            )
        return config
    return [config] * n


def _recursion_error(limit: int) -> GraphRecursionError:
    return GraphRecursionError(
        f"Recursion limit of {limit} reached without hitting a stop condition. Fix: raise "
        "config['recursion_limit'] if the graph loops on purpose; otherwise check the "
        "conditions that should route to END",
        recursion_limit=limit,
    )


def _translate(exc: Exception, call: CallConfig) -> Exception:
    """The exception LangGraph raises for the same condition (raised by the caller
    outside its ``except``, so no chain of Orca's own errors leads to it)."""
    if isinstance(exc, NodeError) and isinstance(exc.__cause__, Exception):
        return _translate(exc.__cause__, call)  # LangGraph raises the node's own error
    new: Exception
    if isinstance(exc, StepLimitError) and not isinstance(exc, GraphRecursionError):
        new = _recursion_error(call.recursion_limit)
    elif isinstance(exc, NativeInvalidUpdateError) and not isinstance(exc, InvalidUpdateError):
        new = InvalidUpdateError(str(exc), node=exc.node, key=exc.key)
    elif isinstance(exc, InvalidResumeError) and exc.pending:
        if isinstance(exc, AmbiguousResumeError):
            return exc
        new = AmbiguousResumeError(str(exc), pending=exc.pending)
    else:
        return exc
    new.__cause__ = exc
    return new


def _reset(token: Any) -> None:
    # the generator resumed in another context: nothing to undo there
    with contextlib.suppress(ValueError):
        _config.current.reset(token)
