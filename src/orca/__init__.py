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

from orca import _services, context, errors, events
from orca._version import __version__
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
    reducers,
)
from orca.store import SqliteCheckpointer

context.install_services(_services.build_services)

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
    "reducers",
]
