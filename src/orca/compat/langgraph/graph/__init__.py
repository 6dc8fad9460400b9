"""LangGraph's ``langgraph.graph``: ``StateGraph``, ``START``, ``END``."""

from orca.compat.langgraph._builder import StateGraph
from orca.compat.langgraph._compiled import CompiledStateGraph
from orca.graph._types import END, START

__all__ = ["END", "START", "CompiledStateGraph", "StateGraph"]
