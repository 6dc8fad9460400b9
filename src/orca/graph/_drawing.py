"""A compiled graph as a drawing: nodes and edges, Mermaid text and JSON.

``CompiledGraph.get_graph()`` builds it from ``describe()``: START and END as nodes,
static edges and waiting edges as solid edges, conditional edges (routers and
``destinations`` of ``Command(goto=...)``) as dotted ones, labelled with the router's
result where a path map names it differently from the node.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orca.graph._types import END, START

if TYPE_CHECKING:
    from orca.graph._builder import GraphSpec

__all__ = ["DrawableGraph", "Edge", "Node", "build_drawing"]

_MERMAID_HEAD = "---\nconfig:\n  flowchart:\n    curve: linear\n---\ngraph TD;\n"
_MERMAID_STYLES = (
    "\tclassDef default fill:#f2f0ff,line-height:1.2\n"
    "\tclassDef first fill-opacity:0\n"
    "\tclassDef last fill:#bfb6fc\n"
)


@dataclass(frozen=True, slots=True)
class Node:
    """A node of the drawing; ``id`` is ``parent:child`` for a subgraph's node (xray)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Edge:
    """An edge of the drawing; ``conditional`` edges are taken only when a router (or a
    ``Command``) chooses them; ``label`` is the router's result that leads along it."""

    source: str
    target: str
    conditional: bool = False
    label: str | None = None


@dataclass(frozen=True, slots=True)
class DrawableGraph:
    """The nodes and edges of a compiled graph, for diagrams and UIs: ``nodes`` maps
    each node's id to it (in drawing order), as LangGraph's drawing does."""

    nodes: Mapping[str, Node]
    edges: tuple[Edge, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"nodes": [{"id", "name"}], "edges": [{"source", "target"}]}``, JSON-able; an
        edge has ``"conditional": true`` when it is one, and its label as ``"data"``
        (LangGraph's edge shape)."""
        edges = []
        for e in self.edges:
            item: dict[str, Any] = {"source": e.source, "target": e.target}
            if e.label is not None:
                item["data"] = e.label
            if e.conditional:
                item["conditional"] = True
            edges.append(item)
        nodes = [{"id": n.id, "name": n.name} for n in self.nodes.values()]
        return {"nodes": nodes, "edges": edges}

    def draw_mermaid(self) -> str:
        """Mermaid flowchart text: START and END as rounded terminals, conditional edges
        dotted, a subgraph's nodes (xray) inside a ``subgraph`` block."""
        out = [_MERMAID_HEAD]
        groups: dict[str, list[str]] = {}
        for node in self.nodes.values():
            prefix, _, _ = node.id.rpartition(":")
            if node.id == START:
                line = f"\t{_mid(node.id)}([<p>{START}</p>]):::first\n"
            elif node.id == END:
                line = f"\t{_mid(node.id)}([<p>{END}</p>]):::last\n"
            elif node.name in (START, END):
                line = f"\t{_mid(node.id)}(<p>{node.name}</p>)\n"
            else:
                line = f"\t{_mid(node.id)}({_label(node.name)})\n"
            groups.setdefault(prefix, []).append(line)
        edge_groups: dict[str, list[str]] = {}
        for edge in self.edges:
            edge_groups.setdefault(_group(edge), []).append(_mermaid_edge(edge))
        out.extend(groups.get("", []))
        out.extend(edge_groups.get("", []))
        prefixes = sorted(p for p in set(groups) | set(edge_groups) if p)

        def block(prefix: str) -> None:
            out.append(f"\tsubgraph {prefix.rpartition(':')[2]}\n")
            out.extend(groups.get(prefix, []))
            out.extend(edge_groups.get(prefix, []))
            for child in prefixes:
                if child.rpartition(":")[0] == prefix:
                    block(child)
            out.append("\tend\n")

        for prefix in prefixes:
            if ":" not in prefix:
                block(prefix)
        out.append(_MERMAID_STYLES)
        return "".join(out)


def _group(edge: Edge) -> str:
    """The innermost subgraph holding both ends of an edge ("" for the graph itself)."""
    source = edge.source.split(":")[:-1]
    target = edge.target.split(":")[:-1]
    common: list[str] = []
    for a, b in zip(source, target, strict=False):
        if a != b:
            break
        common.append(a)
    return ":".join(common)


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")


def _mid(node_id: str) -> str:
    """A Mermaid-safe node id: letters, digits, ``_`` and ``-`` as they are, any other
    character as a backslash and its code point in hex (``:`` is ``\\3a``), as LangGraph
    writes them, so two names never share an id."""
    return "".join(c if c in _SAFE else f"\\{ord(c):x}" for c in node_id)


def _label(text: str) -> str:
    return text.replace('"', "#quot;")


def _mermaid_edge(edge: Edge) -> str:
    src, dst = _mid(edge.source), _mid(edge.target)
    if edge.conditional:
        if edge.label is not None:
            return f"\t{src} -. &nbsp;{_label(edge.label)}&nbsp; .-> {dst};\n"
        return f"\t{src} -.-> {dst};\n"
    if edge.label is not None:
        return f"\t{src} -- &nbsp;{_label(edge.label)}&nbsp; --> {dst};\n"
    return f"\t{src} --> {dst};\n"


def build_drawing(
    spec: GraphSpec, subgraphs: Mapping[str, DrawableGraph] | None = None
) -> DrawableGraph:
    """The drawing of ``spec``; the drawings in ``subgraphs`` (by node name) are drawn
    inside their node (xray): edges into the node lead to the subgraph's first nodes,
    edges out of it leave from its END."""
    nodes, edges = _parts(spec)
    inner_nodes: list[Node] = []
    for name, sub in (subgraphs or {}).items():
        starts = [e for e in sub.edges if e.source == START]
        ends = [e for e in sub.edges if e.target == END]
        # one way in (or out): the parent's edge meets that node; several: the subgraph's
        # START (or END) stays, drawn inside it
        entry = starts[0].target if len(starts) == 1 else START
        exit_ = ends[0].source if len(ends) == 1 else END
        dropped = {e for e in (*starts, *ends) if len(starts if e in starts else ends) == 1}
        kept = set(sub.nodes) - {START} if entry != START else set(sub.nodes)
        if exit_ != END:
            kept.discard(END)
        inner_nodes.extend(
            Node(f"{name}:{n.id}", n.name) for n in sub.nodes.values() if n.id in kept
        )
        rewired = [
            Edge(f"{name}:{e.source}", f"{name}:{e.target}", e.conditional, e.label)
            for e in sub.edges
            if e not in dropped
        ]
        for e in edges:
            if e.target == name:
                rewired.append(Edge(e.source, f"{name}:{entry}", e.conditional, e.label))
            elif e.source == name:
                rewired.append(Edge(f"{name}:{exit_}", e.target, e.conditional, e.label))
            else:
                rewired.append(e)
        nodes = [n for n in nodes if n.id != name]
        edges = rewired
    # START first, END after the graph's own nodes, a subgraph's nodes after them
    ordered = (*nodes, *inner_nodes)
    order = {n.id: i for i, n in enumerate(ordered)}
    unique = {(e.source, e.target, e.label): e for e in edges}
    sorted_edges = sorted(
        unique.values(),
        key=lambda e: (
            _group(e),
            order.get(e.source, len(order)),
            e.source,
            e.target,
            e.label or "",
        ),
    )
    return DrawableGraph({n.id: n for n in ordered}, tuple(sorted_edges))


def _parts(spec: GraphSpec) -> tuple[list[Node], list[Edge]]:
    from orca.graph._describe import describe

    shape = describe(spec)
    names = [n["name"] for n in shape["nodes"]]
    nodes = [Node(START, START), *(Node(n, n) for n in names), Node(END, END)]
    edges: list[Edge] = [Edge(e["source"], e["target"]) for e in shape["edges"]]
    for join in shape["joins"]:
        edges.extend(Edge(source, join["target"]) for source in join["sources"])
    for source, branches in spec.branches.items():
        for branch in branches:
            if branch.path_map is not None:
                edges.extend(_mapped(source, branch.path_map.items()))
            else:
                declared = spec.nodes[source].destinations if source in spec.nodes else ()
                # a router without a path map may go to any node, or end the run
                targets = declared or (*names, END)
                edges.extend(Edge(source, t, True) for t in targets)
    for node in shape["nodes"]:
        for target in node["destinations"] or ():
            edges.append(Edge(node["name"], target, True))
    return nodes, edges


def _mapped(source: str, items: Iterable[tuple[Any, str]]) -> Iterable[Edge]:
    for key, target in items:
        label = None if str(key) == target else str(key)
        yield Edge(source, str(target), True, label)
