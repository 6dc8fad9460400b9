"""The task running now, as a context variable: what ``interrupt(value)`` pauses.

The engine sets it around each node call (in the thread a sync node runs in, too), so
code anywhere below a node can reach the node's ``ctx`` without being handed it. It
lives here, beside the authoring values, because the engine imports graph and not the
other way round.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, Protocol

from orca.errors import RunError


class _Pausable(Protocol):
    def interrupt(self, value: Any = None) -> Any: ...


_task: ContextVar[Any] = ContextVar("orca_running_task", default=None)


def current_task() -> Any:
    """The ``ctx`` of the node running in this context, or None outside a node."""
    return _task.get()


def interrupt(value: Any = None) -> Any:
    """Pause the run, showing ``value`` to whoever resumes it: ``ctx.interrupt(value)``
    for code that has no ``ctx`` at hand (a helper the node calls, a tool).

    On resume (``invoke(Command(resume=answer))``) the node runs again from its start and
    this call returns ``answer``.

    Raises:
        RunError: called outside a node of a running graph.
    """
    ctx: _Pausable | None = _task.get()
    if ctx is None:
        raise RunError(
            "interrupt() was called outside a node. Fix: call it from a node's function "
            "(or code the node calls) while the graph runs, or use ctx.interrupt(value)"
        )
    return ctx.interrupt(value)
