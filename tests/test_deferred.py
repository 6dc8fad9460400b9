"""Deferred nodes (``add_node(..., defer=True)``): a triggered deferred node waits until
no other task is planned, then runs once, as LangGraph runs it."""

from __future__ import annotations

import importlib
import operator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from orca import END, START, MemoryCheckpointer, Send, SqliteCheckpointer, StateGraph
from orca.errors import GraphError


class S(TypedDict):
    log: Annotated[list[str], operator.add]


def mark(name: str) -> Any:
    return lambda s: {"log": [name]}


def summarise(state: Any) -> dict[str, Any]:
    return {"log": ["d saw " + ",".join(state["log"])]}


def uneven_fan_in(graph_cls: Any, start: str, end: str, **compile_kw: Any) -> Any:
    """``b1`` reaches ``d`` one step before ``c2`` does."""
    g = graph_cls(S)
    for name in ("a", "b1", "c1", "c2"):
        g.add_node(name, mark(name))
    g.add_node("d", summarise, defer=True)
    g.add_edge(start, "a")
    g.add_edge("a", "b1")
    g.add_edge("a", "c1")
    g.add_edge("c1", "c2")
    g.add_edge("b1", "d")
    g.add_edge("c2", "d")
    g.add_edge("d", end)
    return g.compile(**compile_kw)


def test_a_deferred_node_waits_for_the_other_branches_and_runs_once() -> None:
    out = uneven_fan_in(StateGraph, START, END).invoke({"log": []})
    assert out["log"] == ["a", "b1", "c1", "c2", "d saw a,b1,c1,c2"]


def test_deferred_runs_as_on_langgraph() -> None:
    lg = importlib.import_module("langgraph.graph")
    theirs = uneven_fan_in(lg.StateGraph, lg.START, lg.END).invoke({"log": []})
    ours = uneven_fan_in(StateGraph, START, END).invoke({"log": []})
    assert ours == theirs


def test_a_waiting_deferred_node_is_not_in_next_until_its_turn() -> None:
    app = uneven_fan_in(StateGraph, START, END, checkpointer=MemoryCheckpointer())
    app.invoke({"log": []}, thread_id="t")
    steps = [app.get_state("t", h.checkpoint_id) for h in reversed(app.get_history("t"))]
    # the same next tuples LangGraph 1.2's history shows for this graph
    assert [s.next for s in steps] == [("a",), ("b1", "c1"), ("c2",), ("d",), ()]


def test_the_wait_survives_a_pause_and_a_new_process(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    app = uneven_fan_in(StateGraph, START, END, checkpointer=SqliteCheckpointer(path))
    app_paused = uneven_fan_in(
        StateGraph, START, END, checkpointer=SqliteCheckpointer(path), interrupt_after=["b1"]
    )
    paused = app_paused.invoke({"log": []}, thread_id="t")
    assert paused["log"] == ["a", "b1", "c1"]
    assert app.get_state("t").next == ("c2",)
    # a second graph over the same file continues: d still waits for c2, then runs once
    out = app.invoke(None, thread_id="t")
    assert out["log"] == ["a", "b1", "c1", "c2", "d saw a,b1,c1,c2"]


def test_a_deferred_node_in_a_loop_runs_each_time_it_is_reached() -> None:
    g = StateGraph(S)
    g.add_node("a", mark("a"))
    g.add_node("d", mark("d"), defer=True)
    g.add_edge(START, "a")
    g.add_edge("a", "d")
    g.add_conditional_edges("d", lambda s: "a" if s["log"].count("d") < 2 else END, ["a", END])
    assert g.compile().invoke({"log": []})["log"] == ["a", "d", "a", "d"]


def test_a_send_to_a_deferred_node_runs_at_once() -> None:
    def fan(state: Any) -> list[Send]:
        return [Send("d", {"log": ["sent"]})]

    g = StateGraph(S)
    g.add_node("a", mark("a"))
    g.add_node("b", mark("b"))
    g.add_node("d", lambda s: {"log": ["d:" + ",".join(s["log"])]}, defer=True)
    g.add_edge(START, "a")
    g.add_conditional_edges("a", fan, ["d"])
    g.add_edge("a", "b")
    g.add_edge("b", "b2")
    g.add_node("b2", mark("b2"))
    out = g.compile().invoke({"log": []})
    assert out["log"].index("d:sent") < out["log"].index("b2")


def test_update_state_as_node_holds_a_deferred_target() -> None:
    g = StateGraph(S)
    g.add_node("a", mark("a"))
    g.add_node("b", mark("b"))
    g.add_node("d", summarise, defer=True)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("a", "d")
    g.add_edge("b", END)
    g.add_edge("d", END)
    app = g.compile(checkpointer=MemoryCheckpointer(), interrupt_before=["a"])
    app.invoke({"log": []}, thread_id="t")
    app.update_state("t", {"log": ["edited"]}, as_node="a")
    assert app.get_state("t").next == ("b",)
    assert app.invoke(None, thread_id="t")["log"] == ["edited", "b", "d saw edited,b"]


def test_defer_must_be_a_bool() -> None:
    with pytest.raises(GraphError, match="defer='yes'"):
        StateGraph(S).add_node("d", mark("d"), defer="yes")  # type: ignore[arg-type]
