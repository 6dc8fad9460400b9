"""LangGraph features that Orca's engine has natively, reached through the layer:
deferred nodes, node caching, Command.PARENT, the runtime context, Overwrite."""

from __future__ import annotations

import importlib
import operator
import types
from dataclasses import dataclass
from typing import Annotated, Any, TypedDict

import pytest
from tests.compat._both import langgraph_names, orca_names, plain

from orca.compat.langgraph.managed import RemainingSteps as OrcaRemainingSteps

TheirRemainingSteps = importlib.import_module("langgraph.managed").RemainingSteps


class State(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


def both(program: Any) -> tuple[Any, Any]:
    return plain(program(langgraph_names(), "langgraph")), plain(
        program(orca_names(), "orca.compat.langgraph")
    )


def test_a_deferred_node_waits_for_the_other_branches() -> None:
    def program(lg: types.SimpleNamespace, _: str) -> Any:
        g = lg.StateGraph(State)
        g.add_node("a", lambda s: {"log": ["a"]})
        g.add_node("b", lambda s: {"log": ["b"]})
        g.add_node("b2", lambda s: {"log": ["b2"]})
        g.add_node("join", lambda s: {"log": [f"join saw {len(s['log'])}"]}, defer=True)
        g.add_edge(lg.START, "a")
        g.add_edge(lg.START, "b")
        g.add_edge("b", "b2")
        g.add_edge("a", "join")
        g.add_edge("b2", "join")
        return g.compile().invoke({"x": 0, "log": []})

    theirs, ours = both(program)
    assert ours == theirs


def test_a_cached_node_runs_once_per_input() -> None:
    def program(lg: types.SimpleNamespace, root: str) -> Any:
        cache = importlib.import_module(f"{root}.cache.memory").InMemoryCache()
        policy = importlib.import_module(f"{root}.types").CachePolicy
        calls: list[int] = []

        def slow(state: State) -> dict[str, Any]:
            calls.append(state["x"])
            return {"log": [f"slow {state['x']}"]}

        g = lg.StateGraph(State)
        g.add_node("slow", slow, cache_policy=policy())
        g.add_edge(lg.START, "slow")
        app = g.compile(cache=cache)
        outs = [app.invoke({"x": x, "log": []}) for x in (1, 1, 2)]
        return outs, calls

    theirs, ours = both(program)
    assert ours == theirs


def test_command_parent_routes_in_the_parent_graph() -> None:
    def program(lg: types.SimpleNamespace, _: str) -> Any:
        def inner_node(state: State) -> Any:
            return lg.Command(graph=lg.Command.PARENT, goto="after", update={"x": 42})

        inner = lg.StateGraph(State)
        inner.add_node("inner", inner_node)
        inner.add_edge(lg.START, "inner")
        g = lg.StateGraph(State)
        g.add_node("sub", inner.compile(), destinations=("after",))
        g.add_node("after", lambda s: {"log": [f"after {s['x']}"]})
        g.add_edge(lg.START, "sub")
        return g.compile().invoke({"x": 0, "log": []})

    theirs, ours = both(program)
    assert ours == theirs


@dataclass
class Who:
    user: str


def test_the_runtime_context_follows_the_context_schema() -> None:
    def program(lg: types.SimpleNamespace, root: str) -> Any:
        runtime = importlib.import_module(f"{root}.runtime")

        def greet(state: State, runtime: Any) -> dict[str, Any]:
            return {"log": [f"{type(runtime.context).__name__}:{runtime.context.user}"]}

        g = lg.StateGraph(State, context_schema=Who)
        g.add_node("greet", greet)
        g.add_edge(lg.START, "greet")
        app = g.compile()
        return [
            app.invoke({"x": 0, "log": []}, context=Who(user="ann")),
            runtime.Runtime.__name__,
        ]

    theirs, ours = both(program)
    assert ours == theirs


def test_overwrite_replaces_a_reducer_keys_value() -> None:
    def program(lg: types.SimpleNamespace, root: str) -> Any:
        overwrite = importlib.import_module(f"{root}.types").Overwrite
        g = lg.StateGraph(State)
        g.add_node("a", lambda s: {"log": ["a"]})
        g.add_node("reset", lambda s: {"log": overwrite(["fresh"])})
        g.add_edge(lg.START, "a")
        g.add_edge("a", "reset")
        return g.compile().invoke({"x": 0, "log": ["given"]})

    theirs, ours = both(program)
    assert ours == theirs


def test_get_state_with_subgraphs_shows_a_paused_subgraphs_state() -> None:
    def program(lg: types.SimpleNamespace, _: str) -> Any:
        def ask(state: State) -> dict[str, Any]:
            return {"log": [str(lg.interrupt("inner?"))]}

        inner = lg.StateGraph(State)
        inner.add_node("first", lambda s: {"log": ["first"]})
        inner.add_node("ask", ask)
        inner.add_edge(lg.START, "first")
        inner.add_edge("first", "ask")
        g = lg.StateGraph(State)
        g.add_node("sub", inner.compile())
        g.add_edge(lg.START, "sub")
        app = g.compile(checkpointer=lg.InMemorySaver())
        config = {"configurable": {"thread_id": "s"}}
        app.invoke({"x": 0, "log": []}, config)
        state = app.get_state(config, subgraphs=True)
        [task] = state.tasks
        return [task.name, task.state.values, task.state.next]

    theirs, ours = both(program)
    assert ours == theirs


@pytest.mark.parametrize("mode", ["updates", "values", "custom", ["updates", "values"]])
def test_stream_with_subgraphs_gives_each_chunk_its_namespace(mode: Any) -> None:
    def program(lg: types.SimpleNamespace, _: str) -> Any:
        def a(state: State) -> dict[str, Any]:
            lg.get_stream_writer()("inside")
            return {"log": ["a"]}

        inner = lg.StateGraph(State)
        inner.add_node("a", a)
        inner.add_node("b", lambda s: {"log": ["b"]})
        inner.add_edge(lg.START, "a")
        inner.add_edge("a", "b")
        g = lg.StateGraph(State)
        g.add_node("pre", lambda s: {"log": ["pre"]})
        g.add_node("sub", inner.compile())
        g.add_edge(lg.START, "pre")
        g.add_edge("pre", "sub")
        app = g.compile(checkpointer=lg.InMemorySaver())
        config = {"configurable": {"thread_id": "s"}}
        return [
            # a namespace is "node:task-id"; the task ids are each engine's own
            (tuple(n.split(":")[0] for n in chunk[0]), *chunk[1:])
            for chunk in app.stream({"x": 0, "log": []}, config, stream_mode=mode, subgraphs=True)
        ]

    theirs, ours = both(program)
    assert ours == theirs
    if mode == "updates":  # the subgraph's own steps are there, under its namespace
        assert [["sub"], {"a": {"log": ["a"]}}] in ours


@pytest.mark.parametrize("root", ["orca.compat.langgraph"])
def test_the_cache_refuses_a_serde(root: str) -> None:
    from orca.errors import InvalidInputError

    cache = importlib.import_module(f"{root}.cache.memory")
    with pytest.raises(InvalidInputError, match="serde"):
        cache.InMemoryCache(serde=object())


class Question(TypedDict):
    question: str


class Answer(TypedDict):
    answer: str


class Work(Question, Answer):
    notes: str


def test_input_and_output_schemas_cut_the_input_and_the_result() -> None:
    def program(lg: types.SimpleNamespace, _: str) -> Any:
        g = lg.StateGraph(Work, input_schema=Question, output_schema=Answer)
        g.add_node("think", lambda s: {"notes": "n:" + s["question"]})
        g.add_node("answer", lambda s: {"answer": s["notes"].upper()})
        g.add_edge(lg.START, "think")
        g.add_edge("think", "answer")
        app = g.compile()
        given = {"question": "q", "notes": "given", "answer": "pre"}
        return [app.invoke(given), list(app.stream(given, stream_mode=["values", "updates"]))]

    theirs, ours = both(program)
    assert ours == theirs


class Private(TypedDict):
    scratch: str


class Overall(TypedDict):
    question: str
    answer: str


def _plan(state: Overall) -> Private:
    return {"scratch": "plan:" + state["question"]}


def _use(state: Private) -> dict[str, Any]:  # sees the private key through its schema
    return {"answer": state["scratch"].upper()}


def test_private_state_passes_between_nodes_through_their_input_schemas() -> None:
    def program(lg: types.SimpleNamespace, _: str) -> Any:
        g = lg.StateGraph(Overall, input_schema=Question, output_schema=Answer)
        g.add_node("plan", _plan)
        g.add_node("use", _use)
        g.add_edge(lg.START, "plan")
        g.add_edge("plan", "use")
        app = g.compile()
        return [app.invoke({"question": "q"}), list(app.stream({"question": "q"}))]

    theirs, ours = both(program)
    assert ours == theirs


class OrcaSteps(TypedDict):
    log: Annotated[list[str], operator.add]
    remaining: OrcaRemainingSteps


class TheirSteps(TypedDict):
    log: Annotated[list[str], operator.add]
    remaining: TheirRemainingSteps


def test_managed_remaining_steps_count_as_langgraphs() -> None:
    def program(lg: types.SimpleNamespace, root: str) -> Any:
        schema = OrcaSteps if root.startswith("orca") else TheirSteps

        def step(state: Any) -> dict[str, Any]:
            return {"log": [str(state["remaining"])]}

        g = lg.StateGraph(schema)
        g.add_node("step", step)
        g.add_edge(lg.START, "step")
        g.add_conditional_edges("step", lambda s: lg.END if len(s["log"]) >= 3 else "step")
        return g.compile().invoke({"log": []}, {"recursion_limit": 10})

    theirs, ours = both(program)
    assert ours == theirs
