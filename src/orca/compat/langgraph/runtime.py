"""LangGraph's ``langgraph.runtime``: what a node's ``runtime`` parameter holds."""

from __future__ import annotations

from typing import Any

from orca.compat.langgraph._nodes import Runtime, runtime_of
from orca.errors import RunError
from orca.graph._running import current_task

__all__ = ["Runtime", "get_runtime"]


def get_runtime(context_schema: Any = None) -> Runtime:
    """The running node's ``Runtime`` (``context``, ``store``, ``stream_writer``).

    Raises:
        RunError: called outside a node.
    """
    ctx = current_task()
    if ctx is None:
        raise RunError(
            "get_runtime() was called outside a node. Fix: call it from a node's function "
            "(or code the node calls) while the graph runs"
        )
    return runtime_of(ctx)
