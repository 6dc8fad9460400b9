"""``batch``/``abatch``: one run per input, results in input order, as LangChain's
``Runnable.batch``; and ``interrupt_before/after="*"``: every node, as LangGraph."""

from __future__ import annotations

import asyncio
import importlib
import threading
from typing import Any, TypedDict

import pytest

from orca import END, START, MemoryCheckpointer, StateGraph
from orca.errors import GraphError, InvalidInputError, NodeError


class S(TypedDict):
    x: int


def double(state: S) -> dict[str, Any]:
    if state["x"] < 0:
        raise ValueError(f"negative {state['x']}")
    return {"x": state["x"] * 2}


def _app(node: Any = double, checkpointer: Any = None) -> Any:
    g = StateGraph(S)
    g.add_node("double", node)
    g.add_edge(START, "double")
    g.add_edge("double", END)
    return g.compile(checkpointer=checkpointer)


def test_batch_returns_each_run_s_result_in_input_order() -> None:
    assert _app().batch([{"x": 1}, {"x": 2}, {"x": 3}]) == [{"x": 2}, {"x": 4}, {"x": 6}]
    assert _app().batch([]) == []


def test_batch_matches_langgraph() -> None:
    lg = importlib.import_module("langgraph.graph")
    g = lg.StateGraph(S)
    g.add_node("double", double)
    g.add_edge(lg.START, "double")
    g.add_edge("double", lg.END)
    inputs = [{"x": 1}, {"x": -2}, {"x": 3}, {"x": -4}]
    theirs = g.compile().batch(inputs, return_exceptions=True)
    ours = _app().batch(inputs, return_exceptions=True)
    assert [r if isinstance(r, dict) else "error" for r in ours] == [
        r if isinstance(r, dict) else "error" for r in theirs
    ]
    # Orca's node failure carries the node's exception as its cause
    assert isinstance(ours[1], NodeError)
    assert isinstance(ours[1].__cause__, ValueError)


def test_without_return_exceptions_the_first_failure_in_input_order_is_raised() -> None:
    ran: list[int] = []

    def node(state: S) -> dict[str, Any]:
        ran.append(state["x"])
        return double(state)

    with pytest.raises(NodeError, match="negative -2"):
        _app(node).batch([{"x": 1}, {"x": -2}, {"x": -3}, {"x": 4}])
    assert sorted(ran) == [-3, -2, 1, 4]  # every run finished


def test_options_per_input_over_shared_options() -> None:
    app = _app(checkpointer=MemoryCheckpointer())
    out = app.batch(
        [{"x": 1}, {"x": 5}],
        [{"thread_id": "a"}, {"thread_id": "b", "max_steps": 3}],
        max_steps=2,
    )
    assert out == [{"x": 2}, {"x": 10}]
    assert app.get_state("a").values == {"x": 2}
    assert app.get_state("b").values == {"x": 10}


def test_a_bad_option_fails_only_its_own_run_with_return_exceptions() -> None:
    out = _app().batch([{"x": 1}, {"x": 2}], [{}, {"max_steps": 0}], return_exceptions=True)
    assert out[0] == {"x": 2}
    assert isinstance(out[1], InvalidInputError)


def test_concurrency_limits_runs_at_once() -> None:
    lock = threading.Lock()
    now = {"running": 0, "most": 0}
    pair = threading.Barrier(2, timeout=10)  # two runs meet here: both are running at once

    def node(state: S) -> dict[str, Any]:
        with lock:
            now["running"] += 1
            now["most"] = max(now["most"], now["running"])
        pair.wait()
        with lock:
            now["running"] -= 1
        return {"x": state["x"]}

    assert _app(node).batch([{"x": i} for i in range(6)], concurrency=2) == [
        {"x": i} for i in range(6)
    ]
    assert now["most"] == 2


def test_abatch_runs_inputs_concurrently() -> None:
    started = 0
    both = asyncio.Event()

    async def node(state: S) -> dict[str, Any]:
        nonlocal started
        started += 1
        if started == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 5)  # each run waits for the other to start
        return {"x": state["x"] + 1}

    assert asyncio.run(_app(node).abatch([{"x": 1}, {"x": 2}])) == [{"x": 2}, {"x": 3}]


@pytest.mark.parametrize(
    ("inputs", "options", "kw", "message"),
    [
        ({"x": 1}, None, {}, "batch takes a list of inputs"),
        ([{"x": 1}], {"thread_id": "t"}, {}, "one dict of run options per input"),
        ([{"x": 1}], [{}, {}], {}, "1 inputs and 2 options"),
        ([{"x": 1}], None, {"concurrency": 0}, "concurrency must be a positive int"),
    ],
)
def test_bad_batch_arguments_get_clear_errors(
    inputs: Any, options: Any, kw: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _app().batch(inputs, options, **kw)


def _two_nodes(**compile_kw: Any) -> Any:
    class L(TypedDict):
        log: str

    g = StateGraph(L)
    g.add_node("a", lambda s: {"log": s["log"] + "a"})
    g.add_node("b", lambda s: {"log": s["log"] + "b"})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    g.add_edge("b", END)
    return g.compile(checkpointer=MemoryCheckpointer(), **compile_kw)


def _pauses(app: Any) -> list[tuple[tuple[str, ...], str]]:
    app.invoke({"log": ""}, thread_id="t")
    seen = []
    while True:
        state = app.get_state("t")
        seen.append((state.next, state.values["log"]))
        if not state.next:
            return seen
        app.invoke(None, thread_id="t")


def test_interrupt_before_star_pauses_before_every_node() -> None:
    # what LangGraph 1.2 does with interrupt_before="*" on the same graph
    assert _pauses(_two_nodes(interrupt_before="*")) == [(("a",), ""), (("b",), "a"), ((), "ab")]


def test_interrupt_after_star_pauses_after_every_node() -> None:
    assert _pauses(_two_nodes(interrupt_after="*")) == [(("b",), "a"), ((), "ab")]


def test_a_node_name_as_a_bare_string_is_refused() -> None:
    with pytest.raises(GraphError, match=r"interrupt_before='a' is a string.*\['a'\]"):
        _two_nodes(interrupt_before="a")
