"""The LangGraph parity suite: each case runs one graph on LangGraph and on
``orca.compat.langgraph`` and compares what they do (see docs/langgraph.md)."""
