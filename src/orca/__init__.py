"""Orca: run AI-agent workflows as Pregel graphs, with durable checkpoints and exact cost control.

from typing import Annotated, TypedDict
from orca import END, START, StateGraph, reducers

class State(TypedDict):
    log: Annotated[list[str], reducers.append]

g = StateGraph(State)
g.add_node("hello", lambda s: {"log": ["hello"]})
g.add_edge(START, "hello")
g.add_edge("hello", END)
print(g.compile().invoke({}))   # {'log': ['hello']}
"""

from typing import TYPE_CHECKING, Any

from orca import _services, context
from orca._version import __version__

if TYPE_CHECKING:
    from orca import errors, events
    from orca.checkpoint import Checkpointer, MemoryCheckpointer
    from orca.engine import CompiledGraph, Durability, RunContext
    from orca.graph import (
        END,
        START,
        Command,
        Interrupt,
        RetryPolicy,
        Send,
        StateGraph,
        StateSnapshot,
        interrupt,
        reducers,
    )
    from orca.store import SqliteCheckpointer

context.install_services(_services.build_services)

# The public names are imported on first use: `import orca` (and `orca --version`) stays
# cheap, and `from orca import StateGraph` works as always.
_LAZY = {
    "errors": "orca.errors",
    "events": "orca.events",
    "Checkpointer": "orca.checkpoint",
    "MemoryCheckpointer": "orca.checkpoint",
    "CompiledGraph": "orca.engine",
    "Durability": "orca.engine",
    "RunContext": "orca.engine",
    "END": "orca.graph",
    "START": "orca.graph",
    "Command": "orca.graph",
    "Interrupt": "orca.graph",
    "RetryPolicy": "orca.graph",
    "Send": "orca.graph",
    "StateGraph": "orca.graph",
    "StateSnapshot": "orca.graph",
    "interrupt": "orca.graph",
    "reducers": "orca.graph",
    "SqliteCheckpointer": "orca.store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'orca' has no attribute {name!r}")
    import importlib

    value = importlib.import_module(module)
    if module != f"orca.{name}":
        value = getattr(value, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "END",
    "START",
    "Checkpointer",
    "Command",
    "CompiledGraph",
    "Durability",
    "Interrupt",
    "MemoryCheckpointer",
    "RetryPolicy",
    "RunContext",
    "Send",
    "SqliteCheckpointer",
    "StateGraph",
    "StateSnapshot",
    "__version__",
    "errors",
    "events",
    "interrupt",
    "reducers",
]
