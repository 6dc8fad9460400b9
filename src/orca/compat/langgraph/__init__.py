"""LangGraph's API over Orca's engine: change ``langgraph`` to ``orca.compat.langgraph``
in a program's imports and it runs on Orca (``docs/langgraph.md``).

The modules mirror LangGraph's: ``graph`` (``StateGraph``, ``START``, ``END``),
``types`` (``Send``, ``Command``, ``interrupt``, ``RetryPolicy``, ...), ``errors``,
``config``, ``constants``, ``runtime``, ``prebuilt`` (``ToolNode``,
``tools_condition``) and ``checkpoint.memory`` / ``checkpoint.sqlite`` /
``checkpoint.postgres`` (Orca's checkpointers under LangGraph's names). It is a thin
layer: every graph built here compiles to an ``orca.CompiledGraph`` and runs on Orca's
one engine; this package only translates LangGraph's calling conventions (the config
dict, node signatures, stream shapes, snapshots, error classes).
"""
