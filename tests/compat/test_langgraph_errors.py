"""Errors as LangGraph raises them, and bad calls refused with the field at fault."""

from __future__ import annotations

import importlib
import operator
import types
from typing import Annotated, Any, TypedDict

import pytest
from tests.compat._both import langgraph_names, orca_names

import orca.errors
from orca.compat.langgraph.checkpoint.memory import InMemorySaver
from orca.compat.langgraph.errors import GraphRecursionError, InvalidUpdateError
from orca.compat.langgraph.graph import END, START, StateGraph
from orca.compat.langgraph.types import Command, interrupt


class State(TypedDict):
    x: int
    log: Annotated[list[str], operator.add]


def outcome(program: Any, lg: types.SimpleNamespace) -> Any:
    try:
        return program(lg)
    except Exception as exc:
        return type(exc).__name__


def both(program: Any) -> tuple[Any, Any]:
    return outcome(program, langgraph_names()), outcome(program, orca_names())


def test_a_node_error_is_raised_as_the_node_raised_it() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        def boom(state: State) -> dict[str, Any]:
            raise KeyError("missing")

        g = lg.StateGraph(State)
        g.add_node("boom", boom)
        g.add_edge(lg.START, "boom")
        return g.compile().invoke({"x": 1, "log": []})

    theirs, ours = both(program)
    assert ours == theirs == "KeyError"


def test_a_node_returning_a_non_dict_is_an_invalid_update() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(State)
        g.add_node("bad", lambda s: 5)
        g.add_edge(lg.START, "bad")
        return g.compile().invoke({"x": 1, "log": []})

    theirs, ours = both(program)
    assert ours == theirs == "InvalidUpdateError"


def test_two_overwrites_of_one_key_in_a_step_are_an_invalid_update() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(State)
        g.add_node("a", lambda s: {"x": 1})
        g.add_node("b", lambda s: {"x": 2})
        g.add_edge(lg.START, "a")
        g.add_edge(lg.START, "b")
        return g.compile().invoke({"x": 0, "log": []})

    theirs, ours = both(program)
    assert ours == theirs == "InvalidUpdateError"


def test_layer_errors_are_orca_errors_too() -> None:
    g = StateGraph(State)
    g.add_node("loop", lambda s: {"x": s["x"] + 1})
    g.add_edge(START, "loop")
    g.add_edge("loop", "loop")
    with pytest.raises(GraphRecursionError) as caught:
        g.compile().invoke({"x": 0}, {"recursion_limit": 5})
    assert isinstance(caught.value, orca.errors.StepLimitError)
    assert isinstance(caught.value, RecursionError)
    assert "recursion_limit" in str(caught.value)
    bad = StateGraph(State)
    bad.add_node("bad", lambda s: "nope")
    bad.add_edge(START, "bad")
    with pytest.raises(InvalidUpdateError) as update:
        bad.compile().invoke({"x": 0})
    assert isinstance(update.value, orca.errors.InvalidUpdateError)


def test_where_langgraph_raises_a_builtin_the_layer_raises_both_it_and_orcas_error() -> None:
    with pytest.raises(TypeError) as not_callable:
        StateGraph(State).add_node("a", 42)
    assert isinstance(not_callable.value, orca.errors.GraphError)
    assert not_callable.value.node == "a"

    g = StateGraph(State)
    g.add_node("a", lambda s: {"x": 1})
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "maybe", {"yes": END})
    with pytest.raises(KeyError) as unmapped:
        g.compile().invoke({"x": 0})
    assert isinstance(unmapped.value, orca.errors.GraphError)
    assert "returned 'maybe', which its path_map lacks" in str(unmapped.value)

    two = StateGraph(State)
    for name in ("p", "q"):
        two.add_node(name, lambda s, name=name: {"log": [str(interrupt(name))]})
        two.add_edge(START, name)
    app = two.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    app.invoke({"x": 0, "log": []}, config)
    with pytest.raises(RuntimeError) as ambiguous:
        app.invoke(Command(resume="same"), config)
    assert isinstance(ambiguous.value, orca.errors.InvalidResumeError)
    assert len(ambiguous.value.pending) == 2


@pytest.mark.parametrize(("nodes", "limit"), [(2, 1), (3, 1), (3, 2), (4, 2), (4, 3)])
def test_a_resumed_run_counts_its_recursion_limit_as_langgraph(nodes: int, limit: int) -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        def first(state: State) -> dict[str, Any]:
            lg.interrupt("go?")
            return {"x": 1}

        g = lg.StateGraph(State)
        g.add_node("n0", first)
        for i in range(1, nodes):
            g.add_node(f"n{i}", lambda s: {"x": s["x"] + 1})
            g.add_edge(f"n{i - 1}", f"n{i}")
        g.add_edge(lg.START, "n0")
        app = g.compile(checkpointer=lg.InMemorySaver())
        config = {"configurable": {"thread_id": "t"}}
        app.invoke({"x": 0, "log": []}, config)
        try:
            return app.invoke(lg.Command(resume=1), {**config, "recursion_limit": limit})
        except lg.errors.GraphRecursionError:
            return "GraphRecursionError"

    theirs, ours = both(program)
    assert ours == theirs


def _app(checkpointer: Any = None) -> Any:
    g = StateGraph(State)
    g.add_node("a", lambda s: {"x": s["x"] + 1})
    g.add_edge(START, "a")
    g.add_edge("a", END)
    return g.compile(checkpointer=checkpointer)


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ("thread-1", "config is a str"),
        ({"configurable": "t1"}, "config['configurable']"),
        ({"configurable": {"thread_id": ""}}, "config['configurable']['thread_id']"),
        ({"configurable": {"thread_id": ["t"]}}, "config['configurable']['thread_id']"),
        ({"configurable": {"thread_id": "t", "checkpoint_id": 7}}, "['checkpoint_id']"),
        ({"recursion_limit": "3"}, "config['recursion_limit']"),
        ({"recursion_limit": 0}, "config['recursion_limit']"),
        ({"metadata": ["a"]}, "config['metadata']"),
        ({"tags": "a"}, "config['tags']"),
        ({"max_concurrency": -1}, "config['max_concurrency']"),
    ],
)
def test_a_bad_config_names_its_field_and_the_fix(config: Any, field: str) -> None:
    with pytest.raises(orca.errors.InvalidInputError) as caught:
        _app(InMemorySaver()).invoke({"x": 0}, config)
    assert field in str(caught.value)
    assert "Fix:" in str(caught.value)


def test_a_checkpointer_needs_a_thread_id_and_says_where_it_goes() -> None:
    with pytest.raises(orca.errors.InvalidInputError, match=r"\['configurable'\]\['thread_id'\]"):
        _app(InMemorySaver()).invoke({"x": 0})
    with pytest.raises(orca.errors.InvalidInputError, match="thread_id"):
        _app(InMemorySaver()).get_state({})


def test_a_thread_id_beside_configurable_counts_as_langgraph_counts_it() -> None:
    app = _app(InMemorySaver())
    # a reducer key no one wrote reads as its empty value, as in LangGraph
    assert app.invoke({"x": 0}, {"thread_id": "t"}) == {"x": 1, "log": []}
    assert app.get_state({"configurable": {"thread_id": "t"}}).values == {"x": 1, "log": []}


def test_langgraphs_own_checkpointer_is_refused_with_the_import_to_use() -> None:
    saver = importlib.import_module("langgraph.checkpoint.memory").InMemorySaver()
    with pytest.raises(orca.errors.InvalidInputError, match=r"orca\.compat\.langgraph\.checkpoint"):
        _app(saver)


def test_unsupported_options_are_refused_not_ignored() -> None:
    app = _app(InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    # breakpoints per call are LangGraph's too; one naming no node says so
    with pytest.raises(orca.errors.InvalidInputError, match="interrupt_before= names 'nope'"):
        app.invoke({"x": 0}, config, interrupt_before=["nope"])
    with pytest.raises(orca.errors.InvalidInputError, match="unexpected keyword argument 'bogus'"):
        app.invoke({"x": 0}, config, bogus=True)
    with pytest.raises(orca.errors.InvalidInputError, match="stream_mode 'bogus'"):
        list(app.stream({"x": 0}, config, stream_mode="bogus"))
    with pytest.raises(orca.errors.GraphError, match="'bogus'"):
        StateGraph(State, bogus=1)


def test_a_command_resume_returned_by_a_node_is_refused() -> None:
    g = StateGraph(State)
    g.add_node("a", lambda s: Command(resume=1))
    g.add_edge(START, "a")
    with pytest.raises(InvalidUpdateError, match="resume"):
        g.compile().invoke({"x": 0})


def test_more_conditions_raise_langgraphs_classes() -> None:
    def program(lg: types.SimpleNamespace) -> Any:
        g = lg.StateGraph(State)
        g.add_node("a", lambda s: {"x": 1})
        g.add_edge(lg.START, "a")
        app = g.compile(checkpointer=lg.InMemorySaver())
        config = {"configurable": {"thread_id": "1"}}
        seen = [outcome(lambda _: app.invoke(None, config), lg)]
        seen.append(outcome(lambda _: g.compile().invoke(5), lg))
        app.invoke({"x": 0, "log": []}, config)
        seen.append(outcome(lambda _: app.update_state(config, {"x": 5}, as_node="zzz"), lg))
        missing = {"configurable": {"thread_id": "1", "checkpoint_id": "nope"}}
        seen.append(app.get_state(missing).values)
        return seen

    theirs, ours = both(program)
    assert ours == theirs == ["EmptyInputError", "InvalidUpdateError", "InvalidUpdateError", {}]


def test_bulk_update_state_refuses_empty_supersteps() -> None:
    app = _app(InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    app.invoke({"x": 0}, config)
    with pytest.raises(orca.errors.InvalidInputError, match="no supersteps"):
        app.bulk_update_state(config, [])
    with pytest.raises(orca.errors.InvalidInputError, match="holds no update"):
        app.bulk_update_state(config, [[]])
