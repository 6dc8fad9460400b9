"""Nodes and routers written for LangGraph, as Orca nodes: their parameters filled the
way LangGraph fills them, their updates cut to the state's keys, their ``Command``
turned into Orca's."""

from __future__ import annotations

import functools
import inspect
import sys
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, Generic

from typing_extensions import TypeVar

from orca.compat.langgraph import _config, _messages
from orca.compat.langgraph.errors import InvalidUpdateError
from orca.compat.langgraph.types import Command

_INJECTED = ("config", "writer", "store", "runtime")


C = TypeVar("C", default=Any)  # the context schema, as in Runtime[Ctx]


@dataclass(frozen=True, slots=True)
class Runtime(Generic[C]):
    """What a node's ``runtime`` parameter gets: the call's ``context=``, the graph's
    store, the stream writer (``previous`` is always None on Orca)."""

    context: Any = None
    store: Any = None
    stream_writer: Callable[[Any], None] = lambda _data: None
    previous: Any = None


def runtime_of(ctx: Any) -> Runtime:
    """The running node's ``Runtime``."""
    call = _config.current.get()
    return Runtime(
        context=ctx.context,
        store=call.store if call is not None else None,
        stream_writer=ctx.write,
    )


@dataclass(frozen=True, slots=True)
class Shape:
    """Which of LangGraph's extra parameters a callable takes (by name, as LangGraph
    finds them: ``config``, ``writer``, ``store``, ``runtime``)."""

    keywords: tuple[str, ...]
    is_async: bool


def shape_of(fn: Callable[..., Any]) -> Shape:
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - async callable objects
    )
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return Shape((), is_async)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    rest = params[1:] if positional else params
    keywords = tuple(
        p.name for p in rest if p.name in _INJECTED and p.kind is not p.POSITIONAL_ONLY
    )
    return Shape(keywords, is_async)


class _Call:
    """One call of a node or router: the arguments LangGraph would pass it, and the
    LangChain config that runnables called inside it inherit."""

    __slots__ = ("config", "kwargs", "sink")

    def __init__(self, shape: Shape, ctx: Any) -> None:
        call = _config.current.get()
        self.sink = call.messages if call is not None else None
        langchain = _langchain_config_var() is not None
        self.config: dict[str, Any] | None = None
        if shape.keywords or langchain:
            self.config = config = _config.node_config(call, ctx)
            if self.sink is not None and langchain:
                tap = _messages.handler(self.sink, config["metadata"])
                config["callbacks"] = _config.with_handler(config["callbacks"], tap)
        store = call.store if call is not None else None
        self.kwargs: dict[str, Any] = {}
        for name in shape.keywords:
            if name == "config":
                self.kwargs[name] = self.config
            elif name == "writer":
                self.kwargs[name] = ctx.write
            elif name == "store":
                self.kwargs[name] = store
            else:
                self.kwargs[name] = runtime_of(ctx)

    def langchain(self) -> AbstractContextManager[Any]:
        """LangChain runnables called in the node inherit its config (callbacks,
        metadata), as under LangGraph: LangChain reads it from its context variable.
        Only where the program imported LangChain (nothing else could read it)."""
        var = _langchain_config_var()
        if var is None or self.config is None:
            return nullcontext()
        return _setting(var, self.config)

    def before(self, state: Any) -> None:
        """The messages a node is given are not news: ``messages`` leaves them out."""
        if self.sink is not None:
            self.sink.mark_seen(_messages.messages_in(state))

    def after(self, output: Any) -> None:
        """Messages the node returns that no model streamed go to ``messages``."""
        if self.sink is None or self.config is None:
            return
        update = output.update if isinstance(output, Command) else output
        if update is None:
            return
        metadata = {**self.config["metadata"], "ls_integration": "langgraph"}
        for message in _messages.messages_in(update):
            if not self.sink.seen(getattr(message, "id", None)):
                self.sink.put(message, metadata)


class GraphInfo:
    """What wrappers need of their graph: its state keys (in the schema's order), and
    those of its input schema."""

    __slots__ = ("inputs", "keys", "order")

    def __init__(self, order: tuple[str, ...]) -> None:
        self.reset(order)

    def reset(self, order: tuple[str, ...], *, inputs: frozenset[str] | None = None) -> None:
        self.order = order
        self.keys = frozenset(order)
        self.inputs = self.keys if inputs is None else inputs  # what the input may set

    def ordered(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` in the schema's key order, as LangGraph shows state."""
        out = {k: values[k] for k in self.order if k in values}
        if len(out) != len(values):
            out.update((k, v) for k, v in values.items() if k not in out)
        return out


@contextmanager
def _setting(var: Any, value: Any) -> Iterator[None]:
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def _langchain_config_var() -> Any:
    module = sys.modules.get("langchain_core.runnables.config")
    return getattr(module, "var_child_runnable_config", None) if module is not None else None


def _metered(ctx: Any) -> AbstractContextManager[Any]:
    # LLM METERING HOOK: the one place LangChain chat models called inside a node are
    # metered by Orca (orca.compat.langchain.metered). Skipped where LangChain is not
    # installed (that module then cannot be imported).
    metered = _meter_factory()
    return metered(ctx) if metered is not None else nullcontext()


@functools.cache
def _meter_factory() -> Callable[[Any], AbstractContextManager[Any]] | None:
    try:
        from orca.compat import langchain
    except ImportError:
        return None
    factory: Callable[[Any], AbstractContextManager[Any]] | None = getattr(
        langchain, "metered", None
    )
    return factory


def to_native(output: Any, node: str, graph: GraphInfo) -> Any:
    """A LangGraph node's return value as an Orca node's: unknown keys dropped (as
    LangGraph drops them), ``Command`` converted."""
    if output is None:
        return None
    if isinstance(output, Command):  # LangGraph's Command is Orca's
        if output.resume is not None:
            raise InvalidUpdateError(
                f"node {node!r} returned Command(resume=...), which only invoke() takes. "
                "Fix: return Command(update=..., goto=...)",
                node=node,
            )
        if output.graph == Command.PARENT or output.update is None:
            return output  # an update for the parent is checked against the parent's keys
        update: Any = output.update
        if isinstance(update, list | tuple) and all(
            isinstance(w, tuple) and len(w) == 2 and isinstance(w[0], str) for w in update
        ):  # (key, value) pairs: a key may come twice, each write through its reducer
            update = [(k, v) for k, v in update if k in graph.keys]
        else:
            update = _update(update, node, graph)
        return Command(update=update, goto=output.goto, graph=output.graph)
    if isinstance(output, list | tuple) and output and all(isinstance(c, Command) for c in output):
        raise InvalidUpdateError(
            f"node {node!r} returned a list of Commands, which Orca's LangGraph layer does "
            "not support yet. Fix: return one Command(update={...}, goto=[...])",
            node=node,
        )
    return _update(output, node, graph)


def _update(update: Any, node: str, graph: GraphInfo) -> Any:
    if isinstance(update, Mapping):
        return {k: v for k, v in update.items() if k in graph.keys}
    if update is not None and not isinstance(update, str | bytes | int | float | bool | list):
        fields = _object_fields(update)
        if fields is not None:  # a dataclass or pydantic state: its set fields
            return {k: v for k, v in fields.items() if k in graph.keys}
    raise InvalidUpdateError(f"Expected dict, got {update!r}", node=node)


def _object_fields(value: Any) -> dict[str, Any] | None:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dict(dump(exclude_unset=True))
    fields = getattr(value, "__dataclass_fields__", None)
    if isinstance(fields, Mapping):
        return {name: getattr(value, name) for name in fields}
    return None


def validated(state: Any) -> Any:
    """A pydantic state as LangGraph hands it to a node: validated (coerced) from the
    values kept, which hold the input as it was given (Orca builds the view unchecked)."""
    return type(state).model_validate({k: getattr(state, k) for k in state.__pydantic_fields_set__})


def wrap_node(fn: Callable[..., Any], name: str, graph: GraphInfo) -> Callable[..., Any]:
    """``fn`` as an Orca node ``(state, ctx)``."""
    shape = shape_of(fn)
    if shape.is_async:

        async def async_node(state: Any, ctx: Any) -> Any:
            if hasattr(state, "__pydantic_fields_set__"):
                state = validated(state)
            call = _Call(shape, ctx)
            call.before(state)
            with _metered(ctx), call.langchain():
                output = await fn(state, **call.kwargs)
            call.after(output)
            return to_native(output, name, graph)

        return _annotated_like(async_node, fn)

    def node(state: Any, ctx: Any) -> Any:
        if hasattr(state, "__pydantic_fields_set__"):
            state = validated(state)
        call = _Call(shape, ctx)
        call.before(state)
        with _metered(ctx), call.langchain():
            output = fn(state, **call.kwargs)
        call.after(output)
        return to_native(output, name, graph)

    return _annotated_like(node, fn)


def _annotated_like(wrapper: Callable[..., Any], fn: Callable[..., Any]) -> Callable[..., Any]:
    """``wrapper`` with ``fn``'s annotations of its state and return value, which Orca's
    builder reads as LangGraph does: a node's input schema, the destinations of
    ``-> Command[Literal[...]]``, the type a checkpointed ``Send`` argument restores to."""
    target = fn if inspect.isroutine(fn) else getattr(fn, "__call__", fn)  # noqa: B004
    try:
        hints = typing.get_type_hints(target)
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except Exception:  # annotations that do not resolve declare nothing, as in LangGraph
        return wrapper
    shown = {}
    if params and params[0].name in hints:
        shown["state"] = hints[params[0].name]
    if "return" in hints:
        shown["return"] = hints["return"]
    wrapper.__annotations__ = shown
    return wrapper


def runnable_node(runnable: Any) -> Callable[..., Any]:
    """A LangChain ``Runnable`` (an object with ``invoke``/``ainvoke``, not callable)
    as a node function ``(state, *, config)``."""
    ainvoke = getattr(runnable, "ainvoke", None)
    if callable(ainvoke):

        async def arun(state: Any, *, config: Any) -> Any:
            return await ainvoke(state, config)

        return arun

    def run(state: Any, *, config: Any) -> Any:
        return runnable.invoke(state, config)

    return run


def wrap_router(fn: Callable[..., Any], source: str, graph: GraphInfo) -> Callable[..., Any]:
    """A LangGraph router as an Orca router ``(state, ctx)``."""
    shape = shape_of(fn)
    if not shape.keywords:
        return fn
    if shape.is_async:

        async def async_router(state: Any, ctx: Any) -> Any:
            call = _Call(shape, ctx)
            return await fn(state, **call.kwargs)

        return async_router

    def router(state: Any, ctx: Any) -> Any:
        call = _Call(shape, ctx)
        return fn(state, **call.kwargs)

    return router
