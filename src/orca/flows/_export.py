"""A graph as a flow document, for viewing: a graph compiled from a flow gives its flow
back; a Python graph gives each node as a ``python`` node referencing its function,
its branches as ``conditional`` edges, its state keys with their reducers."""

from __future__ import annotations

import typing
from collections.abc import Mapping
from typing import Any

from orca.flows import _pyref
from orca.flows._spec import END_ID, FORMAT, START_ID, Flow

_KNOWN_REDUCERS = ("overwrite", "append", "merge", "sum")


def export_graph(graph: Any) -> dict[str, Any]:
    """The flow document (``orca.flow/v1``) of ``graph``: a ``StateGraph``, a compiled
    graph or a loaded ``Workflow``. Read-only for a Python graph: its branches are
    Python code, which a flow cannot run (``notes`` says what could not be expressed).

    Raises:
        GraphError: a ``StateGraph`` that does not compile.
    """
    from orca.flows._compile import FLOW_ATTRIBUTE

    spec = _spec_of(graph)
    flow = getattr(spec.state.schema, FLOW_ATTRIBUTE, None)
    if isinstance(flow, Flow):
        return flow.to_doc()
    notes: list[str] = []
    doc: dict[str, Any] = {
        "format": FORMAT,
        "name": spec.name,
        "description": _first_line(getattr(spec.state.schema, "__doc__", None)),
        "state": _state(spec, notes),
        "nodes": [],
        "edges": [],
        "notes": notes,
    }
    for node in spec.nodes.values():
        fn = node.callee.fn
        ref = _pyref.ref_of(fn)
        item: dict[str, Any] = {"id": node.name, "kind": "python", "ref": ref}
        text = _first_line(getattr(fn, "__doc__", None))
        if "as_node" in getattr(fn, "__qualname__", ""):
            notes.append(f"node {node.name!r} runs a subgraph: it has no function to reference")
        elif ref is None:
            notes.append(
                f"node {node.name!r} is a lambda, a closure or a callable object: "
                "it has no importable name (ref is null)"
            )
        if text:
            item["description"] = text
        doc["nodes"].append(item)
    edges: list[dict[str, Any]] = doc["edges"]
    for source, targets in spec.edges.items():
        edges.extend({"from": source, "to": t} for t in targets)
    for sources, target in spec.joins:
        edges.extend({"from": s, "to": target} for s in sources)
        notes.append(f"{target!r} waits for all of {', '.join(map(repr, sources))}")
    for source, branches in spec.branches.items():
        for branch in branches:
            targets = (
                sorted({str(t) for t in branch.path_map.values()})
                if branch.path_map is not None
                else list(spec.nodes[source].destinations)
                if source in spec.nodes
                else []
            )
            if not targets:
                notes.append(
                    f"the router after {source!r} ({_pyref.ref_of(branch.callee.fn) or 'a lambda'})"
                    " picks its targets at run time: none are declared"
                )
            edges.extend({"from": source, "to": t, "conditional": True} for t in targets)
    for node in spec.nodes.values():
        for target in node.destinations:
            edge = {"from": node.name, "to": target, "conditional": True}
            if edge not in edges:
                edges.append(edge)
    _lay_out(doc)
    return doc


def _spec_of(graph: Any) -> Any:
    from orca.engine import CompiledGraph
    from orca.flows._load import Workflow
    from orca.graph import StateGraph

    if isinstance(graph, Workflow):
        graph = graph.graph
    if isinstance(graph, StateGraph):
        graph = graph.compile()
    if isinstance(graph, CompiledGraph):
        return graph.spec
    raise TypeError(
        f"export_graph takes a StateGraph, a compiled graph or a Workflow, "
        f"got a {type(graph).__name__}"
    )


def _state(spec: Any, notes: list[str]) -> list[dict[str, Any]]:
    try:
        hints = typing.get_type_hints(spec.state.schema)
    except Exception:  # an annotation that does not resolve: its type is "any"
        hints = {}
    out = []
    for channel in spec.state.channels.values():
        reducer = str(channel.reducer.name)
        if reducer not in _KNOWN_REDUCERS:
            notes.append(f"state key {channel.name!r} has the custom reducer {reducer!r}")
            reducer = "overwrite"
        out.append(
            {"key": channel.name, "type": _type_name(hints.get(channel.name)), "reducer": reducer}
        )
    return out


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint) or hint
    if origin is str:
        return "string"
    if origin is bool:
        return "boolean"
    if origin is int:
        return "integer"
    if origin is float:
        return "number"
    if origin in (list, tuple, set) or (
        isinstance(origin, type) and issubclass(origin, typing.Sequence) and origin is not str
    ):
        return "list"
    if origin is dict or (isinstance(origin, type) and issubclass(origin, Mapping)):
        return "object"
    if typing.is_typeddict(hint) or hasattr(hint, "model_fields"):
        return "object"
    return "any"


def _first_line(text: Any) -> str:
    if not isinstance(text, str):
        return ""
    line = text.strip().split("\n", 1)[0].strip()
    return line[:2000]


def _lay_out(doc: dict[str, Any]) -> None:
    """Positions for the canvas: each node one column right of the first node before it."""
    layer: dict[str, int] = {START_ID: 0}
    succ: dict[str, list[str]] = {}
    for edge in doc["edges"]:
        succ.setdefault(edge["from"], []).append(edge["to"])
    todo = [START_ID]
    while todo:
        current = todo.pop(0)
        for nxt in succ.get(current, ()):
            if nxt not in layer and nxt != END_ID:
                layer[nxt] = layer[current] + 1
                todo.append(nxt)
    rows: dict[int, int] = {}
    for node in doc["nodes"]:
        column = layer.get(node["id"], 0)
        row = rows.get(column, 0)
        rows[column] = row + 1
        node["position"] = {"x": 240 * column, "y": 120 * row}
