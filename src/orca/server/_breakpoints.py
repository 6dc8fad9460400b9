"""Breakpoints of one run (a run body's ``interrupt_before`` and ``interrupt_after``):
checked against the workflow's nodes when the run is accepted, and applied by running
it on a compiled graph of the same spec that pauses there too (cheap: a compiled graph
is its spec, its store and the two sets)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from orca.errors import InvalidFieldError, closest

if TYPE_CHECKING:
    from orca.engine import CompiledGraph
    from orca.server._models import RunBody


def _nodes(graph: CompiledGraph, field: str, given: list[str] | str | None) -> frozenset[str]:
    known = list(graph.spec.nodes)
    if given is None:
        return frozenset()
    if given == "*":
        return frozenset(known)
    for node in given:
        if node not in graph.spec.nodes:
            raise InvalidFieldError(
                f"{field} names {node[:80]!r}, which is not a node of workflow "
                f"{graph.name!r}{closest(node, known)}",
                field=field,
                fix=f"name nodes of the workflow ({', '.join(known)}), or '*' for all",
            )
    return frozenset(given)


def check(graph: CompiledGraph, body: RunBody) -> None:
    """Raises ``InvalidFieldError`` (a 422 naming the field and the node) when a
    breakpoint names no node of ``graph``."""
    _nodes(graph, "interrupt_before", body.interrupt_before)
    _nodes(graph, "interrupt_after", body.interrupt_after)


def run_graph(graph: CompiledGraph, body: RunBody) -> CompiledGraph:
    """The graph the run runs on: ``graph`` itself, or with the body's breakpoints added
    to its own.

    Raises:
        InvalidFieldError: a breakpoint names no node.
    """
    before = _nodes(graph, "interrupt_before", body.interrupt_before)
    after = _nodes(graph, "interrupt_after", body.interrupt_after)
    if not before and not after:
        return graph
    from orca.engine import CompiledGraph

    return CompiledGraph(
        graph.spec,
        checkpointer=graph.checkpointer,
        interrupt_before=graph.interrupt_before | before,
        interrupt_after=graph.interrupt_after | after,
    )
