"""Tutorial-shaped LangGraph programs give the same results on LangGraph and on
``orca.compat.langgraph``."""

from __future__ import annotations

import importlib
import operator
import types
from collections.abc import Callable
from typing import Annotated, Any, Literal, TypedDict

import pytest
from tests.compat._both import langgraph_names, orca_names, plain

from orca.compat.langgraph.graph import START
from orca.compat.langgraph.graph import StateGraph as OrcaStateGraph
from orca.compat.langgraph.types import Command as OrcaCommand

# LangGraph hands config and writer only to parameters annotated with these types
StreamWriter = importlib.import_module("langgraph.types").StreamWriter
RunnableConfig = importlib.import_module("langchain_core.runnables").RunnableConfig

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


def test_command_routing_with_a_literal_annotation_and_unreached_nodes() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        def decide(state: Counter) -> Any:
            return lg.Command(goto="double", update={"x": 5, "log": ["decide"]})

        def routed(state: Counter) -> Any:  # no annotation: LangGraph does not check
            return lg.Command(goto=lg.END, update={"log": ["routed"]})

        g = lg.StateGraph(Counter)
        g.add_node("decide", decide)
        g.add_node("double", lambda s: {"x": s["x"] * 2, "log": ["double"]})
        g.add_node("never", lambda s: {"log": ["never"]})
        g.add_node("routed", routed)
        g.add_edge(lg.START, "decide")
        g.add_edge("double", "routed")
        return g.compile().invoke({"x": 0, "log": []})

    theirs, ours = both(program)
    assert ours == theirs


def test_time_travel_replays_from_an_earlier_checkpoint() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(Counter)
        g.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
        g.add_node("b", lambda s: {"x": s["x"] * 10, "log": ["b"]})
        g.add_edge(lg.START, "a")
        g.add_edge("a", "b")
        app = g.compile(checkpointer=lg.InMemorySaver())
        config = {"configurable": {"thread_id": "tt"}}
        app.invoke({"x": 1, "log": []}, config)
        before_b = next(s for s in app.get_state_history(config) if s.next == ("b",))
        edited = app.update_state(before_b.config, {"x": 100})
        replayed = list(app.stream(None, edited, stream_mode="updates"))
        latest = app.get_state(config)
        return [before_b.values, replayed, latest.values, latest.next, latest.metadata["step"]]

    theirs, ours = both(program)
    assert ours == theirs


def test_update_state_as_a_node_routes_on_from_it() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(Counter)
        g.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
        g.add_node("b", lambda s: {"x": s["x"] * 10, "log": ["b"]})
        g.add_edge(lg.START, "a")
        g.add_edge("a", "b")
        app = g.compile(checkpointer=lg.InMemorySaver(), interrupt_before=["a"])
        config = {"configurable": {"thread_id": "u"}}
        app.invoke({"x": 1, "log": []}, config)
        new_config = app.update_state(config, {"x": 7, "log": ["human"]}, as_node="a")
        state = app.get_state(config)
        assert (
            new_config["configurable"]["checkpoint_id"]
            == state.config["configurable"]["checkpoint_id"]
        )
        return [state.values, state.next, state.metadata["source"], app.invoke(None, config)]

    theirs, ours = both(program)
    assert ours == theirs


def _decide(state: Counter) -> OrcaCommand[Literal["double", "never"]]:
    return OrcaCommand(goto="double")


def test_a_command_annotation_declares_the_nodes_destinations() -> None:
    g = OrcaStateGraph(Counter)
    g.add_node("decide", _decide)
    g.add_node("double", lambda s: {"x": s["x"] * 2})
    g.add_node("never", lambda s: {"x": 0})
    g.add_edge(START, "decide")
    app = g.compile()
    assert app.native.spec.nodes["decide"].destinations == ("double", "never")
    assert app.invoke({"x": 3}) == {"x": 6, "log": []}  # the unwritten reducer key: []


class Plain(TypedDict):
    x: int
    note: str


def test_a_compiled_graph_is_a_node_of_another() -> None:
    # overwritten keys only: what a subgraph hands back to reducer keys is the engine's
    # business (tests/test_semantics_lg.py), not this layer's
    def program(lg: types.SimpleNamespace) -> Any:
        inner = lg.StateGraph(Plain)
        inner.add_node("deep", lambda s: {"x": s["x"] + 100, "note": "deep"})
        inner.add_edge(lg.START, "deep")
        g = lg.StateGraph(Plain)
        g.add_node("a", lambda s: {"x": s["x"] + 1, "note": "a"})
        g.add_node("sub", inner.compile())
        g.add_edge(lg.START, "a")
        g.add_edge("a", "sub")
        app = g.compile()
        return [app.invoke({"x": 0, "note": ""}), list(app.stream({"x": 0, "note": ""}))]

    theirs, ours = both(program)
    assert ours == theirs


def test_a_retry_policy_retries_what_langgraph_retries() -> None:
    def program(lg: types.SimpleNamespace, error: type[Exception]) -> Any:
        calls: list[int] = []

        def flaky(state: Counter) -> dict[str, Any]:
            calls.append(1)
            if len(calls) < 3:
                raise error("flaky")
            return {"log": [f"ok after {len(calls)}"]}

        g = lg.StateGraph(Counter)
        g.add_node("flaky", flaky, retry_policy=lg.RetryPolicy(initial_interval=0.001))
        g.add_edge(lg.START, "flaky")
        try:
            return g.compile().invoke({"x": 0, "log": []}), len(calls)
        except Exception as exc:
            return type(exc).__name__, len(calls)

    for error in (ConnectionError, ValueError, KeyError, Exception):
        assert program(orca_names(), error) == program(langgraph_names(), error), error


def test_nodes_read_the_calls_context_through_runtime() -> None:
    def program(lg: types.SimpleNamespace, runtime_module: Any) -> Any:
        def node(state: Counter, runtime: Any) -> dict[str, Any]:
            user = runtime.context["user"]
            again = runtime_module.get_runtime().context["user"]
            runtime.stream_writer({"user": user})
            return {"log": [user, again]}

        g = lg.StateGraph(Counter)
        g.add_node("node", node)
        g.add_edge(lg.START, "node")
        app = g.compile()
        return list(
            app.stream(
                {"x": 0, "log": []}, context={"user": "ann"}, stream_mode=["custom", "values"]
            )
        )

    import importlib

    theirs = program(langgraph_names(), importlib.import_module("langgraph.runtime"))
    ours = program(orca_names(), importlib.import_module("orca.compat.langgraph.runtime"))
    assert ours == theirs


def test_a_resume_with_an_update_lets_the_resumed_node_see_the_edit() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        def ask(state: Counter) -> dict[str, Any]:
            return {"log": [f"{lg.interrupt('x?')}:{state['x']}"]}

        g = lg.StateGraph(Counter)
        g.add_node("ask", ask)
        g.add_edge(lg.START, "ask")
        app = g.compile(checkpointer=lg.InMemorySaver())
        config = {"configurable": {"thread_id": "ru"}}
        app.invoke({"x": 1, "log": []}, config)
        return app.invoke(lg.Command(resume="r", update={"x": 9}), config)

    theirs, ours = both(program)
    assert ours == theirs == {"x": 9, "log": ["r:9"]}


def test_a_command_with_goto_as_input_runs_the_node_as_langgraph_does() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(Counter)
        g.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
        g.add_node("b", lambda s: {"log": [f"b:{s['x']}"]})
        g.add_edge(lg.START, "a")
        app = g.compile(checkpointer=lg.InMemorySaver())
        config = {"configurable": {"thread_id": "g"}}
        app.invoke({"x": 0, "log": []}, config)
        out = app.invoke(lg.Command(goto="b", update={"x": 5, "log": ["cmd"]}), config)
        return out, app.get_state(config).values

    theirs, ours = both(program)
    assert ours == theirs == [{"x": 5, "log": ["a", "cmd", "b:5"]}] * 2


def test_with_config_sets_defaults_that_a_calls_config_extends() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        def who(state: Counter, config: RunnableConfig) -> dict[str, Any]:
            conf = config["configurable"]
            return {"log": [f"{conf['thread_id']}/{conf['user']}/{conf.get('extra')}"]}

        g = lg.StateGraph(Counter)
        g.add_node("who", who)
        g.add_edge(lg.START, "who")
        bound = g.compile(checkpointer=lg.InMemorySaver()).with_config(
            {"configurable": {"thread_id": "w", "user": "ann"}}
        )
        first = bound.invoke({"x": 0, "log": []})
        second = bound.invoke({"x": 1, "log": []}, {"configurable": {"extra": "e"}})
        return [first, second, bound.get_state({"configurable": {"thread_id": "w"}}).values]

    theirs, ours = both(program)
    assert ours == theirs


def test_sync_calls_work_where_an_event_loop_runs_as_in_a_notebook() -> None:
    import asyncio

    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(Counter)
        g.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
        g.add_edge(lg.START, "a")
        app = g.compile(checkpointer=lg.InMemorySaver())
        config = {"configurable": {"thread_id": "nb"}}

        async def cell() -> Any:  # code typed into a notebook cell runs inside a loop
            first = app.invoke({"x": 1, "log": []}, config)
            chunks = list(app.stream({"x": 5, "log": []}, config, stream_mode="values"))
            app.update_state(config, {"x": 0})
            return first, chunks, app.get_state(config).values

        return asyncio.run(cell())

    theirs, ours = both(program)
    assert ours == theirs


def test_a_command_input_whose_goto_pauses_keeps_its_update_and_goto() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(Counter)
        g.add_node("a", lambda s: {"x": s["x"] + 1, "log": ["a"]})
        g.add_node("ask", lambda s: {"log": [f"ask:{lg.interrupt('ok?')}:{s['x']}"]})
        g.add_edge(lg.START, "a")
        app = g.compile(checkpointer=lg.InMemorySaver())
        config = {"configurable": {"thread_id": "p"}}
        app.invoke({"x": 0, "log": []}, config)
        paused = app.invoke(lg.Command(goto="ask", update={"x": 7, "log": ["cmd"]}), config)
        state = app.get_state(config)
        done = app.invoke(lg.Command(resume="yes"), config)
        return paused, state.values, state.next, done, app.get_state(config).next

    theirs, ours = both(program)
    assert ours[:2] == theirs[:2]
    assert ours[0]["log"] == ["a", "cmd"]
    assert ours[3:] == theirs[3:] == [{"x": 7, "log": ["a", "cmd", "ask:yes:7"]}, []]
    # while paused, Orca's next names the node the goto started (LangGraph's is empty)
    assert (ours[2], theirs[2]) == (["ask"], [])
