"""Tutorial-shaped LangGraph programs give the same results on LangGraph and on
``orca.compat.langgraph``."""

from __future__ import annotations

import operator
import types
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

import pytest
from tests.compat._both import langgraph_names, orca_names, plain

# LangGraph hands config and writer only to parameters annotated with these types
StreamWriter = pytest.importorskip("langgraph.types").StreamWriter
RunnableConfig = pytest.importorskip("langchain_core.runnables").RunnableConfig

Program = Callable[[types.SimpleNamespace], Any]


def both(program: Program) -> tuple[Any, Any]:
    return plain(program(langgraph_names())), plain(program(orca_names()))


class Counter(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


def test_a_chain_invokes_and_streams_updates_and_values_alike() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(Counter)
        g.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
        g.add_node("b", lambda s: {"x": s["x"] * 10, "log": ["b"]})
        g.add_edge(lg.START, "a")
        g.add_edge("a", "b")
        g.add_edge("b", lg.END)
        app = g.compile()
        return [
            app.invoke({"x": 1, "log": []}),
            list(app.stream({"x": 1, "log": []})),
            list(app.stream({"x": 1, "log": []}, stream_mode="values")),
            list(app.stream({"x": 1, "log": []}, stream_mode=["updates", "values"])),
        ]

    theirs, ours = both(program)
    assert ours == theirs


def test_unknown_keys_in_input_and_node_output_are_dropped() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(Counter)
        g.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"], "stray": 1})
        g.add_edge(lg.START, "a")
        return g.compile().invoke({"x": 1, "log": [], "junk": True})

    theirs, ours = both(program)
    assert ours == theirs == {"x": 2, "log": ["a"]}


def test_a_conditional_loop_stops_where_the_router_says() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(Counter)
        g.add_node("inc", lambda s: {"x": s["x"] + 1, "log": [f"inc{s['x']}"]})
        g.add_edge(lg.START, "inc")
        g.add_conditional_edges("inc", lambda s: lg.END if s["x"] >= 3 else "inc")
        return g.compile().invoke({"x": 0, "log": []})

    theirs, ours = both(program)
    assert ours == theirs


def test_map_reduce_with_send() -> None:
    class Fan(TypedDict):
        items: list[int]
        out: Annotated[list[int], operator.add]

    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(Fan)
        g.add_node("square", lambda s: {"out": [s["n"] * s["n"]]})
        g.add_node("done", lambda s: {"out": [sum(s["out"])]})
        g.add_conditional_edges(
            lg.START, lambda s: [lg.Send("square", {"n": n}) for n in s["items"]], ["square"]
        )
        g.add_edge("square", "done")
        return g.compile().invoke({"items": [1, 2, 3], "out": []})

    theirs, ours = both(program)
    assert ours == theirs


def test_human_in_the_loop_with_interrupt_and_resume() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        def review(state: Counter) -> dict[str, Any]:
            verdict = lg.interrupt({"question": "ok?", "x": state["x"]})
            return {"log": [f"review:{verdict}"]}

        g = lg.StateGraph(Counter)
        g.add_node("draft", lambda s: {"x": s["x"] + 1, "log": ["draft"]})
        g.add_node("review", review)
        g.add_edge(lg.START, "draft")
        g.add_edge("draft", "review")
        app = g.compile(checkpointer=lg.InMemorySaver())
        config = {"configurable": {"thread_id": "t1"}}
        paused = app.invoke({"x": 1, "log": []}, config)
        state = app.get_state(config)
        resumed = app.invoke(lg.Command(resume="yes"), config)
        return [paused, state.values, state.next, state.interrupts, resumed]

    theirs, ours = both(program)
    assert ours == theirs


def test_interrupts_in_streams_show_as_langgraph_shows_them() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        def ask(state: Counter) -> dict[str, Any]:
            return {"log": [str(lg.interrupt("why?"))]}

        g = lg.StateGraph(Counter)
        g.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
        g.add_node("ask", ask)
        g.add_edge(lg.START, "a")
        g.add_edge("a", "ask")
        app = g.compile(checkpointer=lg.InMemorySaver())
        return [
            list(
                app.stream(
                    {"x": 0, "log": []},
                    {"configurable": {"thread_id": str(i)}},
                    stream_mode=mode,
                )
            )
            for i, mode in enumerate(["updates", "values", ["updates", "values"]])
        ]

    theirs, ours = both(program)
    assert ours == theirs


def test_nodes_get_the_config_and_a_stream_writer() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        def by_position(state: Counter, config: RunnableConfig) -> dict[str, Any]:
            return {"log": [config["configurable"]["user"]]}

        def by_keyword(
            state: Counter, *, config: RunnableConfig, writer: StreamWriter
        ) -> dict[str, Any]:
            writer({"step": config["metadata"]["langgraph_node"]})
            return {"log": [lg.get_config()["configurable"]["thread_id"]]}

        g = lg.StateGraph(Counter)
        g.add_node("a", by_position)
        g.add_node("b", by_keyword)
        g.add_edge(lg.START, "a")
        g.add_edge("a", "b")
        app = g.compile(checkpointer=lg.InMemorySaver())
        config = {"configurable": {"thread_id": "t9", "user": "ann"}}
        return list(app.stream({"x": 0, "log": []}, config, stream_mode=["custom", "updates"]))

    theirs, ours = both(program)
    assert ours == theirs


@pytest.mark.parametrize(("nodes", "limit"), [(3, 3), (3, 4), (2, 2), (2, 3)])
def test_the_recursion_limit_counts_as_langgraph_counts(nodes: int, limit: int) -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(Counter)
        for i in range(nodes):
            g.add_node(f"n{i}", lambda s: {"x": s["x"] + 1})
            g.add_edge(lg.START if i == 0 else f"n{i - 1}", f"n{i}")
        try:
            return g.compile().invoke({"x": 0, "log": []}, {"recursion_limit": limit})
        except lg.errors.GraphRecursionError:
            return "GraphRecursionError"

    theirs, ours = both(program)
    assert ours == theirs
