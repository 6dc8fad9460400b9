"""LangGraph's ``langgraph.cache``: where cached node results live."""
