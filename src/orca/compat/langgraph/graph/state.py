"""LangGraph's ``langgraph.graph.state``."""

from orca.compat.langgraph._builder import StateGraph
from orca.compat.langgraph._compiled import CompiledStateGraph

__all__ = ["CompiledStateGraph", "StateGraph"]
