"""LangGraph's ``langgraph.config``: a node's config and stream writer, reached from
anywhere below the node."""

from __future__ import annotations

from typing import Any

from orca.compat.langgraph import _config
from orca.errors import RunError
from orca.graph._running import current_task

__all__ = ["get_config", "get_store", "get_stream_writer"]


def _task(what: str) -> Any:
    ctx = current_task()
    if ctx is None:
        raise RunError(
            f"{what}() was called outside a node. Fix: call it from a node's function (or "
            "code the node calls) while the graph runs"
        )
    return ctx


def get_config() -> dict[str, Any]:
    """The running node's config (``configurable``, ``metadata``, ``callbacks``).

    Raises:
        RunError: called outside a node.
    """
    return _config.node_config(_config.current.get(), _task("get_config"))


def get_stream_writer() -> Any:
    """A function that sends data to the ``custom`` stream from the running node.

    Raises:
        RunError: called outside a node.
    """
    write: Any = _task("get_stream_writer").write
    return write


def get_store() -> Any:
    """The store the graph was compiled with (``compile(store=...)``), or None."""
    _task("get_store")
    call = _config.current.get()
    return call.store if call is not None else None
