"""LangGraph's error classes. Each subclasses the Orca error raised for the same
condition, so ``except GraphRecursionError`` and ``except orca.errors.StepLimitError``
both catch a run that reached its step limit."""

from __future__ import annotations

from typing import Any

from orca import errors as _orca

__all__ = [
    "EmptyInputError",
    "GraphInterrupt",
    "GraphRecursionError",
    "InvalidUpdateError",
    "NodeInterrupt",
    "ParentCommand",
]


class GraphRecursionError(_orca.StepLimitError, RecursionError):
    """The run took ``recursion_limit`` supersteps without finishing."""

    def __init__(self, message: str, *, recursion_limit: int | None = None) -> None:
        Exception.__init__(self, message)
        self.recursion_limit = recursion_limit
        self.max_steps = recursion_limit or 0


class InvalidUpdateError(_orca.InvalidUpdateError):
    """A node's update cannot be applied (not a dict, or two overwrites of one key)."""

    def __init__(self, message: str, *, node: str | None = None, key: str | None = None) -> None:
        super().__init__(message, node=node, key=key)


class EmptyInputError(_orca.InvalidInputError):
    """The graph was given no input to start from."""


class GraphInterrupt(Exception):
    """Raised by LangGraph when a run pauses inside a node. On Orca a pause is the
    ``NodeInterrupt`` signal inside the node and an ``__interrupt__`` result outside: this
    class exists for ``except`` clauses ported from LangGraph and is never raised."""

    def __init__(self, interrupts: Any = ()) -> None:
        super().__init__(interrupts)
        self.interrupts = interrupts


NodeInterrupt = _orca.NodeInterrupt


class ParentCommand(Exception):
    """LangGraph's signal for ``Command(graph=Command.PARENT)``; not raised by Orca."""
