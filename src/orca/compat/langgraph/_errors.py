"""Orca's errors for the conditions where LangGraph raises a built-in class instead of
one of its own: each subclasses both, so a ported ``except TypeError`` (LangGraph's) and
an ``except orca.errors.GraphError`` (Orca's) catch it alike. The built-in comes first,
so the error reads as LangGraph's."""

from __future__ import annotations

from typing import Any

from orca.errors import GraphError, InvalidResumeError


class NodeNotCallableError(TypeError, GraphError):
    """``add_node`` was given something that is not a node (LangGraph: ``TypeError``)."""

    def __init__(self, message: str, **fields: Any) -> None:
        GraphError.__init__(self, message, **fields)


class PathMapKeyError(KeyError, GraphError):
    """A router returned a result its ``path_map`` lacks (LangGraph: ``KeyError``)."""

    def __init__(self, message: str, **fields: Any) -> None:
        GraphError.__init__(self, message, **fields)

    def __str__(self) -> str:  # the message, not KeyError's repr of it
        return str(self.args[0]) if self.args else ""


class AmbiguousResumeError(RuntimeError, InvalidResumeError):
    """A plain resume value while several interrupts are pending (LangGraph:
    ``RuntimeError``); resume them by id."""

    def __init__(self, message: str, *, pending: tuple[str, ...] = ()) -> None:
        InvalidResumeError.__init__(self, message, pending=pending)
