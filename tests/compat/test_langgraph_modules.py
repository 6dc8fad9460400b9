"""``orca.compat.langgraph`` mirrors LangGraph's module paths: each module exports
names LangGraph's module has, and at least the ones programs import."""

from __future__ import annotations

import importlib

import pytest

importlib.import_module("langgraph")

# module -> the names a LangGraph program imports from it
MODULES = {
    "graph": {"StateGraph", "START", "END", "MessagesState", "add_messages"},
    "graph.state": {"StateGraph", "CompiledStateGraph"},
    "graph.message": {"add_messages", "MessagesState"},
    "types": {
        "Send",
        "Command",
        "interrupt",
        "RetryPolicy",
        "Interrupt",
        "StateSnapshot",
        "StreamMode",
        "PregelTask",
        "Durability",
        "StreamWriter",
        "All",
        "Overwrite",
        "CachePolicy",
    },
    "errors": {"GraphRecursionError", "InvalidUpdateError", "GraphInterrupt", "EmptyInputError"},
    "config": {"get_config", "get_stream_writer", "get_store"},
    "constants": {"START", "END", "CONF", "TAG_HIDDEN", "TAG_NOSTREAM"},
    "runtime": {"Runtime", "get_runtime"},
    "checkpoint.memory": {"InMemorySaver", "MemorySaver"},
    "checkpoint.sqlite": {"SqliteSaver"},
    "checkpoint.postgres": {"PostgresSaver"},
    "checkpoint.sqlite.aio": {"AsyncSqliteSaver"},
    "checkpoint.postgres.aio": {"AsyncPostgresSaver"},
    "prebuilt": {"ToolNode", "tools_condition"},
    "cache.memory": {"InMemoryCache"},
    "managed": {"RemainingSteps", "IsLastStep"},
    "func": {"entrypoint", "task"},
}


@pytest.mark.parametrize("path", sorted(MODULES))
def test_each_module_exports_langgraphs_names(path: str) -> None:
    ours = importlib.import_module(f"orca.compat.langgraph.{path}")
    theirs = importlib.import_module(f"langgraph.{path}")
    exported = set(getattr(ours, "__all__", ()))
    assert MODULES[path] <= exported, sorted(MODULES[path] - exported)
    invented = sorted(n for n in exported if not hasattr(theirs, n))
    assert invented == [], f"orca.compat.langgraph.{path} exports names LangGraph lacks"
    lazy = {"MessagesState", "add_messages"}  # Orca's own where orca.graph.messages is
    for name in exported - lazy:
        assert hasattr(ours, name), name
