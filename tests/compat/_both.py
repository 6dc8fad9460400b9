"""Run one LangGraph program on LangGraph and on Orca's compatibility layer.

A program is a function of a namespace ``lg`` holding the names a LangGraph program
imports (``StateGraph``, ``START``, ``END``, ``Send``, ``Command``, ``interrupt``,
``InMemorySaver``, ...): the same code gets LangGraph's or Orca's."""

from __future__ import annotations

import importlib
import types
from typing import Any


def orca_names() -> types.SimpleNamespace:
    from orca.compat.langgraph import errors
    from orca.compat.langgraph.checkpoint.memory import InMemorySaver
    from orca.compat.langgraph.config import get_config, get_stream_writer
    from orca.compat.langgraph.graph import END, START, StateGraph
    from orca.compat.langgraph.types import Command, RetryPolicy, Send, interrupt

    return types.SimpleNamespace(
        prebuilt=_prebuilt("orca.compat.langgraph.prebuilt"),
        StateGraph=StateGraph,
        START=START,
        END=END,
        Send=Send,
        Command=Command,
        interrupt=interrupt,
        RetryPolicy=RetryPolicy,
        InMemorySaver=InMemorySaver,
        get_config=get_config,
        get_stream_writer=get_stream_writer,
        errors=errors,
        engine="orca",
    )


def langgraph_names() -> types.SimpleNamespace:
    lg_graph = importlib.import_module("langgraph.graph")
    from langgraph import errors
    from langgraph.checkpoint.memory import InMemorySaver
    from langgraph.config import get_config, get_stream_writer
    from langgraph.types import Command, RetryPolicy, Send, interrupt

    return types.SimpleNamespace(
        prebuilt=_prebuilt("langgraph.prebuilt"),
        StateGraph=lg_graph.StateGraph,
        START=lg_graph.START,
        END=lg_graph.END,
        Send=Send,
        Command=Command,
        interrupt=interrupt,
        RetryPolicy=RetryPolicy,
        InMemorySaver=InMemorySaver,
        get_config=get_config,
        get_stream_writer=get_stream_writer,
        errors=errors,
        engine="langgraph",
    )


def _prebuilt(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:  # langchain-core missing: tests that need it skip
        return None


def plain(value: Any) -> Any:
    """``value`` with interrupts as ``("Interrupt", value)`` (their ids differ by engine)
    and tuples as lists, for comparing the two engines' outputs."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if type(value).__name__ == "Interrupt":
        return ("Interrupt", plain(value.value))
    return value


def masked(value: Any) -> Any:
    """``plain(value)`` with ids and times (which differ by engine) as ``"*"``."""
    value = plain(value)
    if isinstance(value, dict):
        return {
            k: "*" if k in ("id", "checkpoint_id", "timestamp") else masked(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [masked(v) for v in value]
    return value
