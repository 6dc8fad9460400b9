"""``StateGraph``: the builder users write graphs with, and its validation."""

from __future__ import annotations

import dataclasses
import inspect
import typing
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from orca import _serde
from orca.errors import GraphError, closest
from orca.graph._cache import Cache, CachePolicy, cached_call
from orca.graph._schema import StateSchema, schema_kind
from orca.graph._types import END, START, Command, RetryPolicy

if TYPE_CHECKING:
    from orca.checkpoint import Checkpointer
    from orca.engine import CompiledGraph

_RESERVED = (START, END)


@dataclass(frozen=True, slots=True)
class Callee:
    """A user callable and how to call it: awaited or not, with ``ctx`` or without."""

    fn: Callable[..., Any]
    is_async: bool
    ctx_mode: str  # "none" | "positional" | "keyword"

    @classmethod
    def of(cls, fn: Callable[..., Any], what: str) -> Callee:
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - async callable objects
        )
        try:
            params = list(inspect.signature(fn).parameters.values())
        except (TypeError, ValueError):
            return cls(fn, is_async, "none")
        positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if positional:  # what a node takes (a Send's argument) is restored from checkpoints
            _declare_input(fn, positional[0].name)
        has_varargs = any(p.kind is p.VAR_POSITIONAL for p in params)
        if not positional and not has_varargs:
            raise GraphError(
                f"{what} takes no arguments",
                fix="take the state as the first argument: def fn(state) or def fn(state, ctx)",
            )
        if any(p.name == "ctx" and p.kind is p.KEYWORD_ONLY for p in params):
            return cls(fn, is_async, "keyword")
        if len(positional) >= 2 and positional[1].default is inspect.Parameter.empty:
            return cls(fn, is_async, "positional")
        if len(positional) >= 2 and positional[1].name == "ctx":
            return cls(fn, is_async, "positional")
        return cls(fn, is_async, "none")

    def call(self, arg: Any, ctx: Any) -> Any:
        if self.ctx_mode == "none":
            return self.fn(arg)
        if self.ctx_mode == "positional":
            return self.fn(arg, ctx)
        return self.fn(arg, ctx=ctx)


def _declare_input(fn: Callable[..., Any], name: str) -> None:
    try:
        hint = typing.get_type_hints(fn).get(name)
    except Exception:  # an annotation that does not resolve declares nothing
        return
    if hint is not None:
        _serde.declare(hint)


@dataclass(frozen=True, slots=True)
class NodeSpec:
    """A node of a compiled graph."""

    name: str
    callee: Callee
    retry: RetryPolicy | tuple[RetryPolicy, ...] | None  # several: the first matching applies
    timeout: float | None
    destinations: tuple[str, ...]
    cache_policy: CachePolicy | None = None
    defer: bool = False
    input: StateSchema | None = None  # what the node sees of the state (None: all of it)


@dataclass(frozen=True, slots=True)
class Branch:
    """A conditional edge: ``router(state)`` returns node name(s), ``Send``s or END."""

    source: str
    callee: Callee
    path_map: Mapping[Hashable, str] | None


@dataclass(frozen=True, slots=True)
class GraphSpec:
    """The validated, immutable definition a compiled graph runs."""

    name: str
    state: StateSchema
    nodes: Mapping[str, NodeSpec]
    edges: Mapping[str, tuple[str, ...]]
    joins: tuple[tuple[tuple[str, ...], str], ...]
    branches: Mapping[str, tuple[Branch, ...]]
    context_schema: type | None = None
    input_keys: frozenset[str] | None = None  # what an input may hold (None: the state's)
    output_keys: tuple[str, ...] | None = None  # what invoke returns (None: the state)
    deferred: frozenset[str] = frozenset()  # the nodes added with defer=True


class StateGraph:
    """Build a graph of nodes over a state schema, then ``compile()`` it.

    Example::

        class State(TypedDict):
            count: int

        g = StateGraph(State)
        g.add_node("inc", lambda s: {"count": s["count"] + 1})
        g.add_edge(START, "inc")
        g.add_edge("inc", END)
        app = g.compile()
        app.invoke({"count": 0})  # {'count': 1}
    """

    def __init__(
        self,
        state_schema: type,
        *,
        name: str | None = None,
        context_schema: type | None = None,
        input_schema: type | None = None,
        output_schema: type | None = None,
    ) -> None:
        """Args:
        state_schema: the state's keys and reducers (TypedDict, dataclass or pydantic).
        name: the graph's name (default: the schema's).
        context_schema: what a run's ``context=`` option holds (a dataclass, TypedDict
            or pydantic model): read-only data for the nodes (``ctx.context``), such
            as the user a run acts for; never checkpointed.
        input_schema: the keys an input may hold (default: the state's); its keys
            join the state.
        output_schema: the keys ``invoke`` returns (default: the state's); its keys
            join the state.
        """
        self.state = StateSchema(state_schema)
        self.name = name or state_schema.__name__
        self.input_keys = (
            frozenset(self.state.extend(input_schema).keys) if input_schema is not None else None
        )
        self.output_keys = (
            self.state.extend(output_schema).keys if output_schema is not None else None
        )
        if context_schema is not None and not isinstance(context_schema, type):
            raise GraphError(
                f"context_schema is a {type(context_schema).__name__}, not a class",
                fix="pass a dataclass, TypedDict or pydantic model class",
            )
        self.context_schema = context_schema
        self._nodes: dict[str, NodeSpec] = {}
        self._edges: dict[str, list[str]] = {}
        self._joins: list[tuple[tuple[str, ...], str]] = []
        self._branches: dict[str, list[Branch]] = {}

    # -- authoring -----------------------------------------------------------------------

    def add_node(
        self,
        name: str,
        fn: Callable[..., Any] | CompiledGraph,
        *,
        retry: RetryPolicy | Sequence[RetryPolicy] | None = None,
        timeout: float | None = None,
        destinations: Sequence[str] = (),
        cache_policy: CachePolicy | None = None,
        defer: bool = False,
        input_schema: type | None = None,
    ) -> StateGraph:
        """Add a node: a sync or async callable ``(state[, ctx]) -> update | Command | None``,
        or a compiled graph (a subgraph).

        Args:
            name: unique node name.
            fn: the callable, or a compiled graph run as one task.
            retry: how failures are retried (default: not retried); with a list of
                policies, a failure is retried by the first whose ``retry_on`` matches it.
            timeout: seconds one attempt may take.
            destinations: nodes this node may reach with ``Command(goto=...)``; declaring
                them lets ``compile()`` check reachability.
            cache_policy: reuse the node's result for an input seen before, from the
                cache given to ``compile(cache=...)``.
            defer: when triggered, wait until no other task is planned, then run once
                (a ``Send`` to it runs at once).
            input_schema: the keys the node sees (a TypedDict, dataclass or pydantic
                model; default: the annotation of its first parameter when that is
                such a schema other than the state's, else the whole state). Its keys
                join the state: private keys that only some nodes read and write.
        """
        if not isinstance(name, str) or not name:
            raise GraphError(f"node name {name!r} is not a non-empty string", fix="name nodes")
        if name in _RESERVED or name.startswith("__"):
            raise GraphError(f"node name {name!r} is reserved", fix="pick another name", node=name)
        if name in self._nodes:
            raise GraphError(
                f"node {name!r} is already defined", fix="give each node a unique name", node=name
            )
        if timeout is not None and not timeout > 0:
            raise GraphError(
                f"node {name!r} has timeout={timeout!r}",
                fix="pass a positive number of seconds, or None for no timeout",
                node=name,
            )
        as_node = getattr(fn, "as_node", None)
        if as_node is not None and hasattr(fn, "spec"):
            if getattr(fn, "interrupt_before", None) or getattr(fn, "interrupt_after", None):
                raise GraphError(
                    f"subgraph {name!r} was compiled with interrupt_before/after, which a "
                    "subgraph cannot honour",
                    fix="compile the subgraph without them and call ctx.interrupt(...) in its "
                    "node, or set interrupt_before/after on the parent graph",
                    node=name,
                )
            callee = Callee(as_node(), True, "positional")
        elif callable(fn):
            callee = Callee.of(fn, f"node {name!r}")
        else:
            raise GraphError(
                f"node {name!r} is a {type(fn).__name__}, not a callable",
                fix="pass a function, an async function or a compiled graph",
                node=name,
            )
        if cache_policy is not None and not isinstance(cache_policy, CachePolicy):
            raise GraphError(
                f"cache_policy of node {name!r} is a {type(cache_policy).__name__}",
                fix="pass CachePolicy(ttl=...) or leave it out",
                node=name,
            )
        if not isinstance(defer, bool):
            raise GraphError(
                f"node {name!r} has defer={defer!r}", fix="pass True or False", node=name
            )
        retry = _retry_of(retry, name)
        declared = tuple(destinations) or _annotated_destinations(fn)
        schema = input_schema if input_schema is not None else _annotated_input(fn)
        self._nodes[name] = NodeSpec(
            name,
            callee,
            retry,
            timeout,
            declared,
            defer=defer,
            cache_policy=cache_policy,
            input=self.state.extend(schema) if schema is not None else None,
        )
        return self

    def add_edge(self, source: str | Sequence[str], target: str) -> StateGraph:
        """Run ``target`` after ``source``; a list of sources waits for all of them.

        Raises:
            GraphError: at once, for an edge out of END or into START.
        """
        named = [source] if isinstance(source, str) else list(source)
        if END in named:
            raise GraphError("END cannot be an edge source", fix="END ends the run",
                             edge=(END, target))  # fmt: skip
        if target == START:
            raise GraphError(
                "START cannot be an edge target",
                fix="START is where a run begins: add an edge from START instead",
                edge=(named[0] if named else START, START),
            )
        if isinstance(source, str):
            self._edges.setdefault(source, []).append(target)
        else:
            sources = tuple(source)
            if not sources:
                raise GraphError("add_edge got an empty list of sources", fix="name sources")
            self._joins.append((sources, target))
        return self

    def add_conditional_edges(
        self,
        source: str,
        router: Callable[..., Any],
        path_map: Mapping[Hashable, str] | Iterable[str] | None = None,
    ) -> StateGraph:
        """After ``source``, call ``router(state[, ctx])`` (seeing ``source``'s own writes) and
        run what it returns: a node name, a list of names, ``Send``s, or END.

        Args:
            path_map: maps router results to node names (a dict), or lists the names the
                router may return; lets ``compile()`` check the targets.
        """
        if not callable(router):
            raise GraphError(
                f"the router of {source!r} is not callable",
                fix="pass a function (state) -> node name(s)",
                node=source,
            )
        mapping: Mapping[Hashable, str] | None
        if path_map is None:
            mapping = None
        elif isinstance(path_map, Mapping):
            mapping = dict(path_map)
        else:
            mapping = {name: name for name in path_map}
        branch = Branch(source, Callee.of(router, f"the router of {source!r}"), mapping)
        self._branches.setdefault(source, []).append(branch)
        return self

    def set_entry_point(self, node: str) -> StateGraph:
        return self.add_edge(START, node)

    def set_finish_point(self, node: str) -> StateGraph:
        return self.add_edge(node, END)

    # -- compile --------------------------------------------------------------------------

    def compile(
        self,
        checkpointer: Checkpointer | None = None,
        *,
        interrupt_before: Sequence[str] | Literal["*"] = (),
        interrupt_after: Sequence[str] | Literal["*"] = (),
        name: str | None = None,
        cache: Cache | None = None,
    ) -> CompiledGraph:
        """Validate the graph and return an immutable compiled graph.

        Args:
            interrupt_before: nodes to pause before (``"*"``: every node).
            interrupt_after: nodes to pause after (``"*"``: every node).
            cache: keeps the results of the nodes added with a ``cache_policy`` (a
                ``MemoryCache``); without it those nodes always run.

        Raises:
            GraphError: naming the node, edge or key at fault and how to fix it.
        """
        interrupt_before = self._interrupt_nodes("interrupt_before", interrupt_before)
        interrupt_after = self._interrupt_nodes("interrupt_after", interrupt_after)
        spec = self._validate(name or self.name, interrupt_before, interrupt_after)
        if cache is not None:
            spec = _with_cache(spec, cache)
        from orca.engine import CompiledGraph  # graph authoring does not import the engine

        return CompiledGraph(
            spec,
            checkpointer=checkpointer,
            interrupt_before=frozenset(interrupt_before),
            interrupt_after=frozenset(interrupt_after),
        )

    def _interrupt_nodes(self, role: str, nodes: Sequence[str] | str) -> Sequence[str]:
        if nodes == "*":
            return tuple(self._nodes)
        if isinstance(nodes, str):
            raise GraphError(
                f"{role}={nodes!r} is a string",
                fix=f"pass a list of node names, e.g. {role}=[{nodes!r}], or '*' for every node",
            )
        return nodes

    def _validate(self, name: str, before: Sequence[str], after: Sequence[str]) -> GraphSpec:
        if not self._nodes:
            raise GraphError("the graph has no nodes", fix="add a node with add_node(name, fn)")
        known = list(self._nodes)

        def check_node(node: str, role: str, edge: tuple[str, str] | None = None) -> None:
            if node not in self._nodes:
                raise GraphError(
                    f"{role} {node!r} is not a node{closest(node, known)}",
                    fix=f"add it with add_node({node!r}, fn) or use one of: {', '.join(known)}",
                    node=node,
                    edge=edge,
                )

        for source, targets in self._edges.items():
            if source == END:
                raise GraphError(
                    "END cannot be an edge source",
                    fix="END ends the run",
                    edge=(source, targets[0]),
                )
            if source != START:
                check_node(source, "edge source", (source, targets[0]))
            for target in targets:
                if target == START:
                    raise GraphError(
                        "START cannot be an edge target",
                        fix="START begins the run",
                        edge=(source, target),
                    )
                if target != END:
                    check_node(target, "edge target", (source, target))
        for sources, target in self._joins:
            for source in sources:
                if source in _RESERVED:
                    raise GraphError(
                        f"{source} cannot be one of several sources",
                        fix="join only real nodes",
                        edge=(source, target),
                    )
                check_node(source, "edge source", (source, target))
            if target != END:
                check_node(target, "edge target", (sources[0], target))
        for source, branches in self._branches.items():
            if source == END:
                raise GraphError(
                    "END cannot have conditional edges", fix="END ends the run", node=source
                )
            if source != START:
                check_node(source, "conditional edge source")
            for branch in branches:
                for target in (branch.path_map or {}).values():
                    if target != END:
                        check_node(target, f"path_map target of {source!r}", (source, target))
        for node in self._nodes.values():
            for target in node.destinations:
                if target != END:
                    check_node(target, f"destination of {node.name!r}", (node.name, target))
        for role, names in (("interrupt_before", before), ("interrupt_after", after)):
            for node_name in names:
                check_node(node_name, f"{role} entry")
        if START not in self._edges and START not in self._branches:
            raise GraphError(
                "the graph has no entry point",
                fix=f"add an edge from START, e.g. add_edge(START, {known[0]!r})",
            )
        self._check_reachable()
        return GraphSpec(
            name=name,
            state=self.state,
            nodes=dict(self._nodes),
            edges={k: tuple(v) for k, v in self._edges.items()},
            joins=tuple(self._joins),
            branches={k: tuple(v) for k, v in self._branches.items()},
            context_schema=self.context_schema,
            input_keys=self.input_keys,
            # invoke returns the state schema's keys, not the private ones nodes added
            output_keys=self.output_keys
            or (self.state.keys if len(self.state.channels) > len(self.state.keys) else None),
            deferred=frozenset(n for n, node in self._nodes.items() if node.defer),
        )

    def _check_reachable(self) -> None:
        if any(b.path_map is None for bs in self._branches.values() for b in bs):
            return  # a router may return any node: reachability is only known at run time
        targets: dict[str, set[str]] = {}
        for source, ts in self._edges.items():
            targets.setdefault(source, set()).update(ts)
        for sources, target in self._joins:
            for source in sources:
                targets.setdefault(source, set()).add(target)
        for source, bs in self._branches.items():
            for b in bs:
                targets.setdefault(source, set()).update((b.path_map or {}).values())
        for node in self._nodes.values():
            targets.setdefault(node.name, set()).update(node.destinations)
        seen: set[str] = set()
        todo = [START]
        while todo:
            current = todo.pop()
            for nxt in targets.get(current, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        for name in self._nodes:
            if name not in seen:
                raise GraphError(
                    f"node {name!r} is unreachable from START",
                    fix=f"add an edge into {name!r}, list it in a router's path_map, or "
                    f"declare it in destinations=... of a node that sends Command(goto={name!r})",
                    node=name,
                )


def _annotated_destinations(fn: Any) -> tuple[str, ...]:
    """The nodes a function annotated ``-> Command[Literal["a", "b"]]`` may go to."""
    try:
        hint = typing.get_type_hints(fn).get("return")
    except Exception:  # an annotation that does not resolve declares nothing
        return ()
    if typing.get_origin(hint) is not Command:
        return ()
    (target,) = typing.get_args(hint) or (None,)
    names = typing.get_args(target) if typing.get_origin(target) is Literal else ()
    return tuple(n for n in names if isinstance(n, str) and n != END)


def _with_cache(spec: GraphSpec, cache: Cache) -> GraphSpec:
    """The spec whose nodes with a cache policy answer from ``cache``."""
    if not all(callable(getattr(cache, m, None)) for m in ("get", "set", "clear")):
        raise GraphError(
            f"cache is a {type(cache).__name__}, not a cache",
            fix="pass MemoryCache() or an object with get, set and clear",
        )
    nodes = dict(spec.nodes)
    for name, node in spec.nodes.items():
        if node.cache_policy is None:
            continue
        fn = cached_call(name, node.callee.call, node.callee.is_async, node.cache_policy, cache)
        nodes[name] = dataclasses.replace(
            node, callee=Callee(fn, node.callee.is_async, "positional")
        )
    return dataclasses.replace(spec, nodes=nodes)


def _annotated_input(fn: Any) -> type | None:
    """The schema a node's first parameter is annotated with, when it is one (a
    TypedDict, dataclass or pydantic model), as LangGraph reads it."""
    try:
        params = [
            p
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        hint = typing.get_type_hints(fn).get(params[0].name) if params else None
    except Exception:  # an annotation that does not resolve declares nothing
        return None
    return hint if isinstance(hint, type) and schema_kind(hint) is not None else None


def _retry_of(
    retry: RetryPolicy | Sequence[RetryPolicy] | None, node: str
) -> RetryPolicy | tuple[RetryPolicy, ...] | None:
    """A node's retry policy: one, or several (a tuple) of which the first that matches
    a failure applies."""
    if retry is None or isinstance(retry, RetryPolicy):
        return retry
    policies = tuple(retry) if isinstance(retry, Sequence) else (retry,)
    wrong = [p for p in policies if not isinstance(p, RetryPolicy)]
    if wrong:
        raise GraphError(
            f"retry of node {node!r} holds a {type(wrong[0]).__name__}",
            fix="pass RetryPolicy(...), a list of them, or None",
            node=node,
        )
    if not policies:
        return None
    return policies[0] if len(policies) == 1 else policies
