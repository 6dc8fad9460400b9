"""The graph a flow's nodes and edges make: edges that name nothing or go where they
may not, the entry, and that every node is reachable from ``__start__`` and has a way to
``__end__``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from orca.errors import closest
from orca.flows import _template
from orca.flows._read import FlowIssue, issue
from orca.flows._spec import END_ID, KINDS, START_ID, Edge, MapNode, RouterNode


def graph_issues(
    nodes: Mapping[str, Any],
    node_paths: Mapping[str, str],
    broken: Mapping[str, Any],
    edges: Sequence[tuple[str, Edge]],
) -> list[FlowIssue]:
    """The problems of the graph of ``nodes`` (parsed, by id; ``node_paths`` says where
    each is) and ``edges`` (with their paths); ``broken`` holds the ids (and kinds) of
    nodes that did not parse, which edges may name."""
    issues: list[FlowIssue] = []

    def add(message: str, fix: str, path: str = "", node: str | None = None) -> None:
        issues.append(issue(message, fix, path, node=node))

    known = list(nodes)
    succ: dict[str, set[str]] = {START_ID: set(), **{b: set() for b in broken}}
    for node_id, node in nodes.items():
        succ[node_id] = set()
        if isinstance(node, RouterNode):
            succ[node_id].update(r.to for r in node.routes)
            succ[node_id].add(node.default)
        elif isinstance(node, MapNode):
            succ[node_id].add(node.to)
    plain_into: dict[str, list[str]] = {}
    for path, edge in edges:
        source, target = edge.source, edge.target
        ok = True
        if source == END_ID:
            add(
                f"an edge leaves {END_ID}",
                f"{END_ID} ends the run: remove the edge",
                f"{path}.from",
            )
            ok = False
        elif source != START_ID and source not in nodes and source not in broken:
            add(
                f"edge from {source[:64]!r}, which is not a node{closest(source, known)}",
                f"use a node id or {START_ID}",
                f"{path}.from",
            )
            ok = False
        if target == START_ID:
            add(
                f"an edge goes into {START_ID}",
                f"{START_ID} begins the run: remove the edge",
                f"{path}.to",
            )
            ok = False
        elif target != END_ID and target not in nodes and target not in broken:
            add(
                f"edge to {target[:64]!r}, which is not a node{closest(target, known)}",
                f"use a node id or {END_ID}",
                f"{path}.to",
            )
            ok = False
        node = nodes.get(source)
        if edge.conditional:
            add(
                f"the edge {source!r} -> {target!r} is conditional: a Python router "
                "decides it, which a flow cannot run",
                "replace the branch with a router node (an exported graph is for viewing)",
                f"{path}.conditional",
                source if source in nodes else None,
            )
        elif isinstance(node, RouterNode | MapNode):
            what = "its routes and default" if isinstance(node, RouterNode) else "its to"
            add(
                f"an edge leaves {node.kind} {source!r}, which goes where {what} say",
                f"remove the edge; set {what} instead",
                path,
                source,
            )
            ok = False
        if ok:
            succ[source].add(target)
            plain_into.setdefault(target, []).append(source)
    if (nodes or broken) and not succ[START_ID]:
        first = next(iter([*nodes, *broken]))
        add(
            "the flow has no entry: no edge leaves __start__",
            f'add {{"from": "{START_ID}", "to": "{first}"}} to edges',
            "edges",
        )
    for node_id, node in nodes.items():
        if (
            isinstance(node, MapNode)
            and node.to in nodes
            and plain_into.get(node.to)
            and node.item in _uses(nodes[node.to])
        ):
            add(
                f"node {node.to!r} uses map {node_id!r}'s item {{{{{node.item}}}}} but "
                "is also reached by an edge, where it has no item",
                f"reach {node.to!r} only through the map",
                node_paths[node.to],
                node.to,
            )
    if any(kind not in KINDS or kind in ("router", "map") for kind in broken.values()):
        return issues  # a node that did not parse may route anywhere: reachability is unknown
    reached = _reach(START_ID, succ)
    back: dict[str, set[str]] = {}
    for source, targets in succ.items():
        for target in targets:
            back.setdefault(target, set()).add(source)
    ends = _reach(END_ID, back)
    for node_id in nodes:
        path = node_paths[node_id]
        if node_id not in reached:
            add(
                f"node {node_id!r} is unreachable from {START_ID}",
                f"add an edge into {node_id!r} (or route to it), or remove it",
                path,
                node_id,
            )
        if node_id not in ends:
            add(
                f"node {node_id!r} has no way to {END_ID}",
                f"add an edge from {node_id!r} (or a node after it) to {END_ID}",
                path,
                node_id,
            )
    return issues


def _reach(start: str, succ: Mapping[str, set[str]]) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        current = todo.pop()
        for nxt in succ.get(current, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def _uses(node: Any) -> set[str]:
    """The state variables a node's templates start from."""
    texts: list[str] = []
    for field in ("prompt", "system"):
        value = getattr(node, field, None)
        if isinstance(value, str):
            texts.append(value)
    for name in ("args", "input"):
        value = getattr(node, name, None)
        if isinstance(value, dict):
            texts.extend(t for _, t in _template.value_roots(value))
    return {root for text in texts for root in _template.roots(text)}
