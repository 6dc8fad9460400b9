"""A compiled graph's shape as JSON-able data: what a server shows a UI, and what a
builder or a diagram reads."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orca.graph._builder import GraphSpec
    from orca.graph._types import RetryPolicy


def describe(spec: GraphSpec) -> dict[str, Any]:
    """The graph's name, state keys (with their reducers), nodes (sync or async, retry,
    timeout), static edges, joins and conditional edges (their possible targets when a
    path map or the node's ``destinations`` declare them, else ``null``: decided at run
    time)."""
    from orca.graph._types import END, START

    def reducer_name(reducer: Any) -> str:
        return str(getattr(reducer, "name", None) or getattr(reducer, "__name__", "custom"))

    state = [
        {"key": c.name, "reducer": reducer_name(c.reducer), "has_default": c.initial is not None}
        for c in spec.state.channels.values()
    ]
    nodes = [
        {
            "name": n.name,
            "async": n.callee.is_async,
            "retry": None if n.retry is None else {"max_attempts": _max_attempts(n.retry)},
            "timeout_s": n.timeout,
            "destinations": list(n.destinations) or None,
        }
        for n in spec.nodes.values()
    ]
    edges = [
        {"source": source, "target": target}
        for source, targets in spec.edges.items()
        for target in targets
    ]
    joins = [{"sources": list(sources), "target": target} for sources, target in spec.joins]
    branches = [
        {
            "source": b.source,
            "targets": sorted({str(t) for t in b.path_map.values()})
            if b.path_map is not None
            else (list(spec.nodes[b.source].destinations) or None)
            if b.source in spec.nodes
            else None,
        }
        for bs in spec.branches.values()
        for b in bs
    ]
    return {
        "name": spec.name,
        "start": START,
        "end": END,
        "state": state,
        "nodes": nodes,
        "edges": edges,
        "joins": joins,
        "branches": branches,
    }


def _max_attempts(retry: RetryPolicy | tuple[RetryPolicy, ...]) -> int:
    """The most attempts a node may take (several policies: the largest)."""
    if isinstance(retry, tuple):
        return max(p.max_attempts for p in retry)
    return retry.max_attempts
