"""The Pregel engine: compiled graphs, run contexts, and the superstep loop."""

from orca.engine._compiled import CompiledGraph
from orca.engine._context import RunContext
from orca.engine._handle import RunHandle
from orca.engine._persist import Durability

__all__ = ["CompiledGraph", "Durability", "RunContext", "RunHandle"]
