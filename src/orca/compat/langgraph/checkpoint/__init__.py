"""LangGraph's checkpointers, as Orca's: ``memory.InMemorySaver``, ``sqlite.SqliteSaver``
and ``postgres.PostgresSaver``."""
