"""Graph authoring: what ``StateGraph`` accepts, and the errors ``compile()`` gives otherwise.

Every authoring error is a ``GraphError`` (a ``ValueError``) whose message names the node,
edge or key at fault and says how to fix it ("Fix: ...").
"""

import dataclasses
from typing import Annotated, Any, TypedDict

import pydantic
import pytest

from orca import END, START, Command, CompiledGraph, StateGraph, reducers
from orca.errors import GraphError


class State(TypedDict):
    value: int
    log: Annotated[list[str], reducers.append]


def noop(state: Any) -> None:
    return None


def graph_with(*names: str) -> StateGraph:
    g = StateGraph(State)
    for name in names:
        g.add_node(name, noop)
    return g


def assert_graph_error(exc: pytest.ExceptionInfo[GraphError], *needles: str) -> None:
    message = str(exc.value)
    assert "Fix:" in message
    assert exc.value.fix
    for needle in needles:
        assert needle in message


# -- what a valid graph compiles to ------------------------------------------------------------


def test_compile_returns_a_compiled_graph_that_runs() -> None:
    g = graph_with("a")
    g.add_edge(START, "a")
    g.add_edge("a", END)

    app = g.compile(name="tiny")

    assert isinstance(app, CompiledGraph)
    assert app.name == "tiny"
    assert app.invoke({"value": 1}) == {"value": 1, "log": []}


def test_graph_name_defaults_to_the_schema_name() -> None:
    g = graph_with("a")
    g.add_edge(START, "a")
    assert g.compile().name == "State"


def test_set_entry_and_finish_point_are_edges_from_start_and_to_end() -> None:
    g = StateGraph(State)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.set_entry_point("a")
    g.set_finish_point("a")
    assert g.compile().invoke({})["log"] == ["a"]


def test_builder_methods_chain() -> None:
    app = (
        StateGraph(State)
        .add_node("a", lambda s: {"log": ["a"]})
        .add_edge(START, "a")
        .add_edge("a", END)
        .compile()
    )
    assert app.invoke({})["log"] == ["a"]


def test_graph_errors_are_value_errors() -> None:
    with pytest.raises(ValueError, match="no nodes"):
        StateGraph(State).compile()


# -- nodes -------------------------------------------------------------------------------------


def test_graph_without_nodes_is_rejected() -> None:
    with pytest.raises(GraphError) as exc:
        StateGraph(State).compile()
    assert_graph_error(exc, "no nodes", "add_node")


def test_graph_without_entry_point_is_rejected() -> None:
    g = graph_with("first", "second")
    g.add_edge("first", "second")
    with pytest.raises(GraphError) as exc:
        g.compile()
    assert_graph_error(exc, "no entry point", "add_edge(START, 'first')")


@pytest.mark.parametrize("name", [START, END, "__private"])
def test_reserved_node_names_are_rejected(name: str) -> None:
    g = StateGraph(State)
    with pytest.raises(GraphError) as exc:
        g.add_node(name, noop)
    assert_graph_error(exc, repr(name), "reserved")
    assert exc.value.node == name


@pytest.mark.parametrize("name", ["", 7])
def test_node_names_must_be_non_empty_strings(name: Any) -> None:
    with pytest.raises(GraphError) as exc:
        StateGraph(State).add_node(name, noop)
    assert_graph_error(exc, repr(name))


def test_duplicate_node_is_rejected() -> None:
    g = graph_with("worker")
    with pytest.raises(GraphError) as exc:
        g.add_node("worker", noop)
    assert_graph_error(exc, "'worker'", "already defined", "unique")
    assert exc.value.node == "worker"


def test_node_that_is_not_callable_is_rejected() -> None:
    with pytest.raises(GraphError) as exc:
        StateGraph(State).add_node("n", 42)  # type: ignore[arg-type]
    assert_graph_error(exc, "'n'", "int", "not a callable")


def test_node_that_takes_no_arguments_is_rejected() -> None:
    with pytest.raises(GraphError) as exc:
        StateGraph(State).add_node("n", lambda: None)
    assert_graph_error(exc, "'n'", "no arguments", "def fn(state)")


@pytest.mark.parametrize("timeout", [0, -1.5])
def test_node_timeout_must_be_positive(timeout: float) -> None:
    with pytest.raises(GraphError) as exc:
        StateGraph(State).add_node("n", noop, timeout=timeout)
    assert_graph_error(exc, "'n'", f"timeout={timeout!r}", "positive")


def test_unreachable_node_is_rejected() -> None:
    g = graph_with("a", "orphan")
    g.add_edge(START, "a")
    g.add_edge("a", END)
    with pytest.raises(GraphError) as exc:
        g.compile()
    assert_graph_error(exc, "'orphan'", "unreachable from START")
    assert exc.value.node == "orphan"


def test_node_reached_only_through_a_declared_command_destination_compiles() -> None:
    g = StateGraph(State)
    g.add_node("a", lambda s: Command(goto="b"), destinations=["b"])
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_edge(START, "a")
    assert g.compile().invoke({})["log"] == ["b"]


def test_command_destination_must_be_a_node() -> None:
    g = StateGraph(State)
    g.add_node("a", noop, destinations=["bee"])
    g.add_node("b", noop)
    g.add_edge(START, "a")
    with pytest.raises(GraphError) as exc:
        g.compile()
    assert_graph_error(exc, "'bee'", "destination of 'a'")
    assert exc.value.edge == ("a", "bee")


def test_router_without_path_map_defers_reachability_to_run_time() -> None:
    g = StateGraph(State)
    g.add_node("a", noop)
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "b")
    # "b" may be returned by the router, so it is not called unreachable
    assert g.compile().invoke({})["log"] == ["b"]


# -- edges -------------------------------------------------------------------------------------


def test_unknown_edge_target_names_the_edge_and_suggests_a_node() -> None:
    g = graph_with("alpha")
    g.add_edge(START, "alpha")
    g.add_edge("alpha", "alpah")
    with pytest.raises(GraphError) as exc:
        g.compile()
    assert_graph_error(exc, "edge target 'alpah'", "did you mean 'alpha'?", "add_node('alpah'")
    assert exc.value.edge == ("alpha", "alpah")
    assert exc.value.node == "alpah"


def test_unknown_edge_source_names_the_edge_and_suggests_a_node() -> None:
    g = graph_with("writer")
    g.add_edge(START, "writer")
    g.add_edge("writter", END)
    with pytest.raises(GraphError) as exc:
        g.compile()
    assert_graph_error(exc, "edge source 'writter'", "did you mean 'writer'?")
    assert exc.value.edge == ("writter", END)


def test_start_cannot_be_an_edge_target() -> None:
    g = graph_with("a")
    g.add_edge(START, "a")
    with pytest.raises(GraphError) as exc:  # refused at once, as LangGraph does
        g.add_edge("a", START)
    assert_graph_error(exc, "START cannot be an edge target")
    assert exc.value.edge == ("a", START)


def test_end_cannot_be_an_edge_source() -> None:
    g = graph_with("a")
    g.add_edge(START, "a")
    with pytest.raises(GraphError) as exc:  # refused at once, as LangGraph does
        g.add_edge(END, "a")
    assert_graph_error(exc, "END cannot be an edge source")


def test_waiting_edge_needs_at_least_one_source() -> None:
    with pytest.raises(GraphError) as exc:
        graph_with("a").add_edge([], "a")
    assert_graph_error(exc, "empty list of sources")


def test_waiting_edge_sources_must_be_real_nodes() -> None:
    g = graph_with("a", "b")
    g.add_edge(START, "a")
    g.add_edge([START, "a"], "b")
    with pytest.raises(GraphError) as exc:
        g.compile()
    assert_graph_error(exc, START, "several sources")


def test_waiting_edge_with_unknown_source_is_rejected() -> None:
    g = graph_with("a", "b")
    g.add_edge(START, "a")
    g.add_edge(["a", "bb"], "b")
    with pytest.raises(GraphError) as exc:
        g.compile()
    assert_graph_error(exc, "edge source 'bb'", "did you mean 'b'?")


# -- conditional edges ---------------------------------------------------------------------------


def test_router_that_is_not_callable_is_rejected() -> None:
    g = graph_with("a")
    with pytest.raises(GraphError) as exc:
        g.add_conditional_edges("a", "b")  # type: ignore[arg-type]
    assert_graph_error(exc, "router of 'a'", "not callable")
    assert exc.value.node == "a"


def test_router_that_takes_no_arguments_is_rejected() -> None:
    g = graph_with("a")
    with pytest.raises(GraphError) as exc:
        g.add_conditional_edges("a", lambda: "a")
    assert_graph_error(exc, "router of 'a'", "no arguments")


def test_path_map_target_that_is_not_a_node_is_rejected() -> None:
    g = graph_with("a", "left")
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "l", {"l": "left", "r": "rigth"})
    with pytest.raises(GraphError) as exc:
        g.compile()
    assert_graph_error(exc, "path_map target of 'a'", "'rigth'")
    assert exc.value.edge == ("a", "rigth")


def test_path_map_as_a_list_of_names_is_checked_too() -> None:
    g = graph_with("a", "left")
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "left", ["left", "missing"])
    with pytest.raises(GraphError) as exc:
        g.compile()
    assert_graph_error(exc, "'missing'")


def test_path_map_makes_its_targets_reachable() -> None:
    g = graph_with("a", "left", "right")
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "l", {"l": "left", "r": "right", "stop": END})
    assert g.compile().invoke({"value": 3}) == {"value": 3, "log": []}


def test_path_map_limits_reachability_to_its_targets() -> None:
    g = graph_with("a", "left", "right")
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: "left", ["left"])
    with pytest.raises(GraphError, match="'right' is unreachable"):
        g.compile()


def test_conditional_edge_source_must_be_a_node() -> None:
    g = graph_with("a")
    g.add_edge(START, "a")
    g.add_conditional_edges("aa", lambda s: END)
    with pytest.raises(GraphError) as exc:
        g.compile()
    assert_graph_error(exc, "conditional edge source 'aa'", "did you mean 'a'?")


def test_end_cannot_have_conditional_edges() -> None:
    g = graph_with("a")
    g.add_edge(START, "a")
    g.add_conditional_edges(END, lambda s: "a")
    with pytest.raises(GraphError) as exc:
        g.compile()
    assert_graph_error(exc, "END cannot have conditional edges")


def test_conditional_edges_from_start_are_an_entry_point() -> None:
    g = StateGraph(State)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_conditional_edges(START, lambda s: "b" if s["value"] else "a", ["a", "b"])
    app = g.compile()
    assert app.invoke({"value": 1})["log"] == ["b"]
    assert app.invoke({"value": 0})["log"] == ["a"]


# -- interrupt_before / interrupt_after ---------------------------------------------------------


@pytest.mark.parametrize("option", ["interrupt_before", "interrupt_after"])
def test_interrupt_option_naming_an_unknown_node_is_rejected(option: str) -> None:
    g = graph_with("review")
    g.add_edge(START, "review")
    with pytest.raises(GraphError) as exc:
        g.compile(**{option: ["reveiw"]})
    assert_graph_error(exc, f"{option} entry 'reveiw'", "did you mean 'review'?")
    assert exc.value.node == "reveiw"


# -- state schemas and reducers ------------------------------------------------------------------


def test_reducer_that_does_not_take_two_arguments_is_rejected() -> None:
    def halve(value: int) -> int:
        return value // 2

    class Bad(TypedDict):
        total: Annotated[int, halve]

    with pytest.raises(GraphError) as exc:
        StateGraph(Bad)
    assert_graph_error(exc, "'halve'", "'total'", "two arguments", "(old, new)")
    assert exc.value.key == "total"


def test_reducer_with_three_required_arguments_is_rejected() -> None:
    def combine(a: int, b: int, c: int) -> int:
        return a + b + c

    class Bad(TypedDict):
        total: Annotated[int, combine]

    with pytest.raises(GraphError, match="'total'"):
        StateGraph(Bad)


def test_reducer_with_a_defaulted_third_argument_is_accepted() -> None:
    def combine(old: int, new: int, scale: int = 1) -> int:
        return old + new * scale

    class Ok(TypedDict):
        total: Annotated[int, combine]

    g = StateGraph(Ok)
    g.add_node("add", lambda s: {"total": 5})
    g.add_edge(START, "add")
    assert g.compile().invoke({"total": 1}) == {"total": 6}


def test_two_reducers_on_one_key_are_rejected() -> None:
    class Bad(TypedDict):
        items: Annotated[list[int], reducers.append, reducers.merge]

    with pytest.raises(GraphError) as exc:
        StateGraph(Bad)
    assert_graph_error(exc, "'items'", "2 reducers", "exactly one reducer")
    assert exc.value.key == "items"


def test_a_custom_and_a_builtin_reducer_on_one_key_are_rejected() -> None:
    class Bad(TypedDict):
        best: Annotated[int, max, reducers.sum]

    with pytest.raises(GraphError, match="'best' has 2 reducers"):
        StateGraph(Bad)


def test_non_callable_annotation_metadata_is_not_a_reducer() -> None:
    class Documented(TypedDict):
        note: Annotated[str, "a human-readable remark"]

    g = StateGraph(Documented)
    g.add_node("a", lambda s: {"note": "first"})
    g.add_node("b", lambda s: {"note": "second"})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    assert g.compile().invoke({}) == {"note": "second"}


def test_plain_class_is_not_a_state_schema() -> None:
    class Plain:
        value: int

    with pytest.raises(GraphError) as exc:
        StateGraph(Plain)
    assert_graph_error(exc, "Plain", "not a TypedDict, dataclass or pydantic model")


def test_schema_must_be_a_class() -> None:
    with pytest.raises(GraphError) as exc:
        StateGraph({"value": int})  # type: ignore[arg-type]
    assert_graph_error(exc, "must be a class", "TypedDict")


@pytest.mark.parametrize("kind", ["typeddict", "dataclass", "pydantic"])
def test_schema_without_keys_is_rejected(kind: str) -> None:
    class EmptyTD(TypedDict):
        pass

    empty: type
    if kind == "typeddict":
        empty = EmptyTD
    elif kind == "dataclass":
        empty = dataclasses.make_dataclass("EmptyDC", [])
    else:
        empty = pydantic.create_model("EmptyModel")
    with pytest.raises(GraphError) as exc:
        StateGraph(empty)
    assert_graph_error(exc, empty.__name__, "declares no keys")


def test_state_key_with_double_underscore_is_reserved() -> None:
    class Bad(TypedDict):
        __joins__: int
        ok: int

    with pytest.raises(GraphError) as exc:
        StateGraph(Bad)
    assert_graph_error(exc, "'__joins__'", "reserves")
    assert exc.value.key == "__joins__"


def test_unresolvable_annotation_is_reported() -> None:
    class Bad(TypedDict):
        x: "NoSuchType"  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(GraphError) as exc:
        StateGraph(Bad)
    assert_graph_error(exc, "Bad", "annotations")


# -- immutability --------------------------------------------------------------------------------


def test_changing_the_builder_after_compile_does_not_change_the_compiled_graph() -> None:
    g = StateGraph(State)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_edge(START, "a")
    app = g.compile()

    g.add_node("b", lambda s: {"log": ["b"]})
    g.add_edge("a", "b")

    assert list(app.spec.nodes) == ["a"]
    assert app.invoke({})["log"] == ["a"]


def test_a_list_of_retry_policies_must_hold_only_policies() -> None:
    from orca import RetryPolicy

    g = StateGraph(State)
    with pytest.raises(GraphError, match="retry of node 'n' holds a str") as exc:
        g.add_node("n", lambda s: {}, retry=[RetryPolicy(), "again"])  # type: ignore[list-item]
    assert exc.value.node == "n"
    g.add_node("m", lambda s: {}, retry=[RetryPolicy(max_attempts=2)])  # one: kept as it is
    g.add_edge(START, "m")
    assert g.compile().describe()["nodes"][0]["retry"] == {"max_attempts": 2}
