"""LangGraph's ``langgraph.prebuilt``: ``ToolNode`` and ``tools_condition``, the two
pieces of a ReAct-style agent graph, over LangChain tools (needs ``langchain-core``)."""

from orca.compat.langgraph.prebuilt._tools import ToolNode, tools_condition

__all__ = ["ToolNode", "tools_condition"]
