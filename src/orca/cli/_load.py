"""Loading a workflow from ``PATH[:graph]`` (or ``package.module[:graph]``) for a
command: ``orca.flows.load_workflow``, its errors reported as usage errors (exit 2)."""

from __future__ import annotations

from typing import Any

from orca.cli._common import USAGE, fail


def load_graph(source: str, checkpointer: Any) -> tuple[Any, list[Any] | None]:
    """The compiled graph ``source`` names, compiled onto ``checkpointer``, and the
    module's ``tools`` list if it has one (see ``orca.flows.load_workflow``); a source
    that cannot be loaded exits 2 with what to fix."""
    from orca.errors import WorkflowLoadError
    from orca.flows import load_workflow

    try:
        workflow = load_workflow(source, checkpointer)
    except WorkflowLoadError as exc:
        fail(exc.message, USAGE, fix=exc.fix)
    return workflow.graph, workflow.tools
