"""Managed state keys: ``RemainingSteps`` and ``IsLastStep`` read what the step limit
leaves, as LangGraph's do (its ``recursion_limit`` counts the input as a step: a fresh
run's ``max_steps`` is the limit minus one)."""

from __future__ import annotations

from typing import Any, TypedDict

import pytest
from langgraph.graph import END as LG_END
from langgraph.graph import START as LG_START
from langgraph.graph import StateGraph as LGStateGraph
from langgraph.managed import IsLastStep as LGIsLastStep
from langgraph.managed import RemainingSteps as LGRemainingSteps

from orca import END, START, StateGraph
from orca.errors import UnknownStateKeyError
from orca.graph import IsLastStep, RemainingSteps


class State(TypedDict):
    n: int
    remaining_steps: RemainingSteps
    last: IsLastStep


class LGState(TypedDict):
    n: int
    remaining_steps: LGRemainingSteps
    last: LGIsLastStep


def build(lib: str, seen: list[Any], stop_at: int) -> Any:
    graph, start, end, schema = (
        (LGStateGraph, LG_START, LG_END, LGState)
        if lib == "langgraph"
        else (StateGraph, START, END, State)
    )

    def loop(state: Any) -> dict[str, Any]:
        seen.append((state["remaining_steps"], state["last"]))
        return {"n": state["n"] + 1}

    def route(state: Any) -> str:
        return end if state["remaining_steps"] <= stop_at or state["last"] else "loop"

    g = graph(schema)
    g.add_node("loop", loop)
    g.add_edge(start, "loop")
    g.add_conditional_edges("loop", route)
    return g.compile()


@pytest.mark.parametrize(("limit", "stop_at"), [(6, 2), (5, 0), (3, 0)])
def test_remaining_steps_count_down_as_in_langgraph(limit: int, stop_at: int) -> None:
    lg_seen: list[Any] = []
    seen: list[Any] = []
    expected = build("langgraph", lg_seen, stop_at).invoke({"n": 0}, {"recursion_limit": limit})
    got = build("orca", seen, stop_at).invoke({"n": 0}, max_steps=limit - 1)
    assert got == expected
    assert seen == lg_seen
    assert seen[0] == (limit - 1, limit - 1 <= 1)


def test_a_managed_key_is_never_stored_nor_written() -> None:
    seen: list[Any] = []
    app = build("orca", seen, 1)
    out = app.invoke({"n": 0}, max_steps=4)
    assert out == {"n": 4}  # four steps, the last one knowing it; no managed key kept
    g = StateGraph(State)
    g.add_node("cheat", lambda s: {"remaining_steps": 99})
    g.add_edge(START, "cheat")
    with pytest.raises(UnknownStateKeyError, match="remaining_steps"):
        g.compile().invoke({"n": 0})
