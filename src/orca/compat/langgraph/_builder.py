"""``StateGraph`` with LangGraph's methods, building an Orca graph underneath."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from orca.checkpoint import Checkpointer
from orca.compat.langgraph._compiled import CompiledStateGraph
from orca.compat.langgraph._errors import NodeNotCallableError, PathMapKeyError
from orca.compat.langgraph._nodes import GraphInfo, runnable_node, wrap_node, wrap_router
from orca.compat.langgraph.types import RetryPolicy
from orca.errors import GraphError, InvalidInputError
from orca.graph import StateGraph as NativeStateGraph
from orca.graph._types import END, START, Send
from orca.graph._types import RetryPolicy as NativeRetryPolicy


def _not_supported(what: str, fix: str) -> GraphError:
    return GraphError(f"{what} is not supported by Orca's LangGraph layer yet", fix=fix)


def native_retry(
    policy: Any, node: str
) -> NativeRetryPolicy | tuple[NativeRetryPolicy, ...] | None:
    """LangGraph's ``RetryPolicy`` (or a list of them: the first whose ``retry_on``
    matches a failure applies) as Orca's."""
    if policy is None:
        return None
    if isinstance(policy, Sequence) and not isinstance(policy, RetryPolicy):
        policies = tuple(p for p in (native_retry(p, node) for p in policy) if p is not None)
        if not policies:
            return None
        return policies[0] if len(policies) == 1 else policies  # type: ignore[return-value]
    if isinstance(policy, NativeRetryPolicy):
        return policy
    if not isinstance(policy, RetryPolicy):
        raise GraphError(
            f"retry_policy of node {node!r} is a {type(policy).__name__}",
            fix="pass RetryPolicy(...) from orca.compat.langgraph.types",
            node=node,
        )
    retry_on = policy.retry_on
    if isinstance(retry_on, Sequence):
        retry_on = tuple(retry_on)
    return NativeRetryPolicy(
        max_attempts=policy.max_attempts,
        initial_interval=policy.initial_interval,
        backoff_factor=policy.backoff_factor,
        max_interval=policy.max_interval,
        jitter=policy.jitter,
        retry_on=retry_on,
    )


def _mapped_only(
    router: Callable[..., Any], source: str, path_map: Mapping[Hashable, str]
) -> Callable[..., Any]:
    """``router``, raising LangGraph's ``KeyError`` for a result its ``path_map`` lacks."""

    def check(result: Any) -> Any:
        items = result if isinstance(result, list | tuple) else (result,)
        for item in items:
            if not isinstance(item, Send) and item not in path_map:
                raise PathMapKeyError(
                    f"the router of {source!r} returned {item!r}, which its path_map lacks",
                    fix=f"return one of {list(path_map)} or add {item!r} to the path_map",
                    node=source,
                )
        return result

    if inspect.iscoroutinefunction(router):

        async def async_router(*args: Any, **kwargs: Any) -> Any:
            return check(await router(*args, **kwargs))

        return functools.update_wrapper(async_router, router)

    def mapped(*args: Any, **kwargs: Any) -> Any:
        return check(router(*args, **kwargs))

    return functools.update_wrapper(mapped, router)


class _Native(NativeStateGraph):
    """Orca's builder without its reachability check: LangGraph compiles a graph with a
    node nothing leads to (it never runs), and a node may reach another only by
    ``Command(goto=...)`` without saying so."""

    def _check_reachable(self) -> None:
        return None


class StateGraph:
    """LangGraph's ``StateGraph``: nodes over a state schema, compiled to run on Orca.

    Nodes take ``(state)``, ``(state, config)``, or keyword ``config``, ``writer``,
    ``store``, ``runtime`` parameters, as in LangGraph; what they return may hold keys
    the state lacks (dropped, as LangGraph drops them).
    """

    def __init__(
        self,
        state_schema: Any,
        context_schema: Any = None,
        *,
        input_schema: Any = None,
        output_schema: Any = None,
        **kwargs: Any,
    ) -> None:
        if kwargs:
            name = sorted(kwargs)[0]
            raise GraphError(
                f"StateGraph got the unexpected argument {name!r}",
                fix="pass state_schema, context_schema, input_schema or output_schema",
            )
        self._native = _Native(
            state_schema,
            context_schema=context_schema,
            input_schema=input_schema,
            output_schema=output_schema,
        )
        self.state_schema = state_schema
        self.context_schema = context_schema
        self._info = GraphInfo(())
        self._refresh()
        self.nodes: dict[str, Any] = {}

    def _refresh(self) -> None:
        """The wrappers' view of the state's keys: an input or output schema's and a
        node's input schema's keys join the state's."""
        self._info.reset(tuple(self._native.state.channels), inputs=self._native.input_keys)

    def add_node(
        self,
        node: Any,
        action: Any = None,
        *,
        defer: bool = False,
        metadata: Mapping[str, Any] | None = None,
        input_schema: Any = None,
        retry_policy: Any = None,
        cache_policy: Any = None,
        destinations: Mapping[str, str] | Sequence[str] | None = None,
        **kwargs: Any,
    ) -> StateGraph:
        """Add a node: ``add_node("name", fn)`` or ``add_node(fn)`` (named after ``fn``)."""
        if not isinstance(node, str):
            action, node = node, getattr(node, "name", None) or getattr(node, "__name__", None)
            if not isinstance(node, str):
                raise GraphError(
                    f"cannot name the node {action!r}",
                    fix="pass a name: add_node('name', fn)",
                )
        retry = retry_policy if retry_policy is not None else kwargs.pop("retry", None)
        if kwargs:
            raise GraphError(
                f"add_node got the unexpected argument {sorted(kwargs)[0]!r}",
                fix="see LangGraph's add_node arguments",
                node=node,
            )
        targets = tuple(destinations) if destinations is not None else ()
        if isinstance(action, CompiledStateGraph):
            # as in LangGraph, the subgraph hands its parent its whole final state (a
            # parent reducer that appends sees what it passed in again)
            self._native.add_node(
                node,
                action.native.as_node(output="state"),
                retry=native_retry(retry, node),
                destinations=targets,
                cache_policy=cache_policy,
                defer=defer,
                input_schema=input_schema,
            )
        elif callable(action) or callable(getattr(action, "invoke", None)):
            if not callable(action):
                action = runnable_node(action)
            self._native.add_node(
                node,
                wrap_node(action, node, self._info),
                retry=native_retry(retry, node),
                destinations=targets,
                cache_policy=cache_policy,
                defer=defer,
                input_schema=input_schema,
            )
        else:
            raise NodeNotCallableError(
                f"node {node!r} is a {type(action).__name__}, not a callable",
                fix="pass a function, an async function, a LangChain runnable or a compiled graph",
                node=node,
            )
        self.nodes[node] = action
        self._refresh()
        return self

    def add_edge(self, start_key: str | Sequence[str], end_key: str) -> StateGraph:
        """Run ``end_key`` after ``start_key`` (after all of a list of them)."""
        self._native.add_edge(start_key, end_key)
        return self

    def add_conditional_edges(
        self,
        source: str,
        path: Callable[..., Any],
        path_map: Mapping[Hashable, str] | Sequence[str] | None = None,
    ) -> StateGraph:
        """After ``source``, run what ``path(state)`` returns (names, ``Send``s, END)."""
        if not callable(path):
            raise GraphError(
                f"the router of {source!r} is not callable",
                fix="pass a function (state) -> node name(s)",
                node=source,
            )
        router = wrap_router(path, source, self._info)
        if isinstance(path_map, Mapping):
            router = _mapped_only(router, source, path_map)
        self._native.add_conditional_edges(source, router, path_map)
        return self

    def add_sequence(self, nodes: Sequence[Any]) -> StateGraph:
        """Add nodes (callables, or ``(name, callable)`` pairs) chained in order."""
        if not nodes:
            raise GraphError("add_sequence got no nodes", fix="pass at least one node")
        previous: str | None = None
        for item in nodes:
            if isinstance(item, tuple):
                name, fn = item
            else:
                fn = item
                name = getattr(fn, "name", None) or getattr(fn, "__name__", None)
            self.add_node(name, fn)
            if previous is not None:
                self.add_edge(previous, name)
            previous = name
        return self

    def set_entry_point(self, key: str) -> StateGraph:
        return self.add_edge(START, key)

    def set_conditional_entry_point(
        self,
        path: Callable[..., Any],
        path_map: Mapping[Hashable, str] | Sequence[str] | None = None,
    ) -> StateGraph:
        return self.add_conditional_edges(START, path, path_map)

    def set_finish_point(self, key: str) -> StateGraph:
        return self.add_edge(key, END)

    def compile(
        self,
        checkpointer: Any = None,
        *,
        cache: Any = None,
        store: Any = None,
        interrupt_before: Sequence[str] | str | None = None,
        interrupt_after: Sequence[str] | str | None = None,
        debug: bool = False,
        name: str | None = None,
    ) -> CompiledStateGraph:
        """Validate the graph and return a ``CompiledStateGraph``."""
        if checkpointer is not None and not isinstance(checkpointer, Checkpointer):
            raise InvalidInputError(
                f"checkpointer is a {type(checkpointer).__module__}."
                f"{type(checkpointer).__name__}, not an Orca checkpointer. Fix: import it "
                "from orca.compat.langgraph.checkpoint.memory (InMemorySaver), .sqlite "
                "(SqliteSaver) or .postgres (PostgresSaver)"
            )
        before = self._every(interrupt_before)
        after = self._every(interrupt_after)
        self._refresh()
        native = self._native.compile(
            checkpointer, interrupt_before=before, interrupt_after=after, name=name, cache=cache
        )
        return CompiledStateGraph(native, self._info, builder=self, store=store)

    def _every(self, names: Sequence[str] | str | None) -> Sequence[str]:
        if names is None:
            return ()
        if names == "*":
            return tuple(self.nodes)
        if isinstance(names, str):
            return (names,)
        return tuple(names)
