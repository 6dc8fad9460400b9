"""Compatibility layers: run programs written for other agent frameworks on Orca.

``orca.compat.langgraph`` mirrors LangGraph's module paths (``graph``, ``types``,
``checkpoint.memory``, ...): a LangGraph program runs on Orca's engine by changing only
its imports. See ``docs/langgraph.md``.
"""
