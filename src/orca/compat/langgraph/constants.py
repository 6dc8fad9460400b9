"""LangGraph's ``langgraph.constants``."""

from orca.graph._types import END, START

__all__ = ["CONF", "END", "START", "TAG_HIDDEN", "TAG_NOSTREAM"]

CONF = "configurable"
TAG_HIDDEN = "langsmith:hidden"
TAG_NOSTREAM = "nostream"
