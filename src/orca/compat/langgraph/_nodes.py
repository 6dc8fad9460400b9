"""Nodes and routers written for LangGraph, as Orca nodes: their parameters filled the
way LangGraph fills them, their updates cut to the state's keys, their ``Command``
turned into Orca's."""

from __future__ import annotations

import functools
import inspect
import typing
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from orca import _serde
from orca.compat.langgraph import _config
from orca.compat.langgraph.errors import InvalidUpdateError
from orca.compat.langgraph.types import Command
from orca.graph._types import Command as NativeCommand

_INJECTED = ("config", "writer", "store", "runtime")


@dataclass(frozen=True, slots=True)
class Runtime:
    """What a node's ``runtime`` parameter gets: the call's ``context=``, the graph's
    store, the stream writer (``previous`` is always None on Orca)."""

    context: Any = None
    store: Any = None
    stream_writer: Callable[[Any], None] = lambda _data: None
    previous: Any = None


@dataclass(frozen=True, slots=True)
class Shape:
    """Which of LangGraph's extra parameters a callable takes, and how."""

    config_positional: bool
    keywords: tuple[str, ...]
    is_async: bool


def shape_of(fn: Callable[..., Any], what: str) -> Shape:
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - async callable objects
    )
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return Shape(False, (), is_async)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if positional:  # a Send's argument is restored from checkpoints by its declared type
        try:
            hint = typing.get_type_hints(fn).get(positional[0].name)
        except Exception:  # an annotation that does not resolve declares nothing
            hint = None
        if hint is not None:
            _serde.declare(hint)
    rest = params[1:] if positional else params
    keywords = tuple(
        p.name for p in rest if p.name in _INJECTED and p.kind is not p.POSITIONAL_ONLY
    )
    # LangGraph hands the config to a second parameter
    config_positional = (
        len(positional) >= 2
        and positional[1].name not in _INJECTED
        and positional[1].default is inspect.Parameter.empty
    )
    return Shape(config_positional, keywords, is_async)


def _arguments(shape: Shape, ctx: Any, graph: GraphInfo) -> tuple[tuple[Any, ...], dict[str, Any]]:
    call = _config.current.get()
    store = call.store if call is not None else None
    config = _config.node_config(call, ctx) if shape.config_positional or shape.keywords else None
    kwargs: dict[str, Any] = {}
    for name in shape.keywords:
        if name == "config":
            kwargs[name] = config
        elif name == "writer":
            kwargs[name] = ctx.write
        elif name == "store":
            kwargs[name] = store
        else:
            kwargs[name] = Runtime(
                context=call.context if call is not None else None,
                store=store,
                stream_writer=ctx.write,
            )
    return ((config,) if shape.config_positional else ()), kwargs


@dataclass(slots=True)
class GraphInfo:
    """What wrappers need of their graph: its state keys."""

    keys: frozenset[str]


def _metered(ctx: Any) -> AbstractContextManager[Any]:
    # LLM METERING HOOK: the one place LangChain chat models called inside a node are
    # metered by Orca (orca.compat.langchain.metered). Skipped while that module (or
    # LangChain) is missing.
    metered = _meter_factory()
    return metered(ctx) if metered is not None else nullcontext()


@functools.cache
def _meter_factory() -> Callable[[Any], AbstractContextManager[Any]] | None:
    try:
        from orca.compat import langchain  # type: ignore[attr-defined,unused-ignore]
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
    if isinstance(output, Command):
        if output.graph == Command.PARENT:
            raise InvalidUpdateError(
                f"node {node!r} returned Command(graph=Command.PARENT), which Orca's "
                "LangGraph layer does not support yet. Fix: route within this graph, or "
                "return the update and let the parent graph's edges route",
                node=node,
            )
        if output.resume is not None:
            raise InvalidUpdateError(
                f"node {node!r} returned Command(resume=...), which only invoke() takes. "
                "Fix: return Command(update=..., goto=...)",
                node=node,
            )
        update = _update(output.update, node, graph) if output.update is not None else None
        return NativeCommand(update=update, goto=output.goto)
    if isinstance(output, NativeCommand):
        update = _update(output.update, node, graph) if output.update is not None else None
        return NativeCommand(update=update, goto=output.goto, resume=output.resume)
    if (
        isinstance(output, list | tuple)
        and output
        and all(isinstance(c, Command | NativeCommand) for c in output)
    ):
        raise InvalidUpdateError(
            f"node {node!r} returned a list of Commands, which Orca's LangGraph layer does "
            "not support yet. Fix: return one Command(update={...}, goto=[...])",
            node=node,
        )
    return _update(output, node, graph)


def _update(update: Any, node: str, graph: GraphInfo) -> Any:
    if isinstance(update, Mapping):
        return {k: v for k, v in update.items() if k in graph.keys}
    if isinstance(update, list | tuple) and all(
        isinstance(w, tuple) and len(w) == 2 and isinstance(w[0], str) for w in update
    ):
        return {k: v for k, v in update if k in graph.keys}
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


def wrap_node(fn: Callable[..., Any], name: str, graph: GraphInfo) -> Callable[..., Any]:
    """``fn`` as an Orca node ``(state, ctx)``."""
    shape = shape_of(fn, f"node {name!r}")
    if shape.is_async:

        async def async_node(state: Any, ctx: Any) -> Any:
            args, kwargs = _arguments(shape, ctx, graph)
            with _metered(ctx):
                output = await fn(state, *args, **kwargs)
            return to_native(output, name, graph)

        return async_node

    def node(state: Any, ctx: Any) -> Any:
        args, kwargs = _arguments(shape, ctx, graph)
        with _metered(ctx):
            output = fn(state, *args, **kwargs)
        return to_native(output, name, graph)

    return node


def wrap_router(fn: Callable[..., Any], source: str, graph: GraphInfo) -> Callable[..., Any]:
    """A LangGraph router as an Orca router ``(state, ctx)``."""
    shape = shape_of(fn, f"the router of {source!r}")
    if not shape.config_positional and not shape.keywords:
        return fn
    if shape.is_async:

        async def async_router(state: Any, ctx: Any) -> Any:
            args, kwargs = _arguments(shape, ctx, graph)
            return await fn(state, *args, **kwargs)

        return async_router

    def router(state: Any, ctx: Any) -> Any:
        args, kwargs = _arguments(shape, ctx, graph)
        return fn(state, *args, **kwargs)

    return router
