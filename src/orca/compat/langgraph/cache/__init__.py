"""LangGraph's ``langgraph.cache``: where node results are cached (``memory``)."""
