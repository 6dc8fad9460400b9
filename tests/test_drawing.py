"""``get_graph()``: a compiled graph drawn as Mermaid text and JSON, as LangGraph draws it."""

from __future__ import annotations

import importlib
import json
import operator
from typing import Annotated, Any, TypedDict

import pytest

from orca import END, START, Command, StateGraph
from orca.errors import InvalidInputError

lg = importlib.import_module("langgraph.graph")


class S(TypedDict):
    x: Annotated[list[Any], operator.add]


def noop(state: Any) -> dict[str, Any]:
    return {}


def _router(state: Any) -> str:
    return "b"


def _goto(state: Any) -> Command:
    return Command(goto="b")


def build(graph_cls: Any, start: str, end: str, shape: str) -> Any:
    """The same graph on either engine."""
    g = graph_cls(S)
    if shape == "branches_and_join":
        for name in "abcd":
            g.add_node(name, noop)
        g.add_edge(start, "a")
        g.add_conditional_edges("a", _router, {"go": "b", "stop": end})
        g.add_edge("b", "c")
        g.add_edge(["b", "c"], "d")
        g.add_edge("d", end)
    elif shape == "command_destinations":
        g.add_node("a", _goto, destinations=("b",))
        g.add_node("b", noop)
        g.add_edge(start, "a")
        g.add_edge("b", end)
    elif shape == "loop":
        g.add_node("a", noop)
        g.add_node("b", noop)
        g.add_edge(start, "a")
        g.add_conditional_edges("a", _router, ["b", end])
        g.add_edge("b", "a")
    elif shape == "subgraph":
        sub = graph_cls(S)
        sub.add_node("s1", noop)
        sub.add_node("s2", noop)
        sub.add_edge(start, "s1")
        sub.add_conditional_edges("s1", _router, ["s2", end])
        sub.add_edge("s2", end)
        g.add_node("a", noop)
        g.add_node("inner", sub.compile())
        g.add_edge(start, "a")
        g.add_edge("a", "inner")
        g.add_edge("inner", end)
    elif shape == "subgraph_fan":  # two ways into the subgraph, one out
        sub = graph_cls(S)
        sub.add_node("p", noop)
        sub.add_node("q", noop)
        sub.add_edge(start, "p")
        sub.add_edge(start, "q")
        sub.add_edge(["p", "q"], end)
        g.add_node("inner", sub.compile())
        g.add_edge(start, "inner")
        g.add_edge("inner", end)
    elif shape == "router_at_start":
        for name in "abc":
            g.add_node(name, noop)
        g.add_conditional_edges(start, _router, {"first": "a", "second": "b"})
        g.add_edge("a", "c")
        g.add_edge("b", "c")
        g.add_edge("c", end)
    elif shape == "sends":
        for name in ("split", "work", "join"):
            g.add_node(name, noop)
        g.add_edge(start, "split")
        g.add_conditional_edges("split", _fan_out, ["work"])
        g.add_edge("work", "join")
        g.add_edge("join", end)
    elif shape == "names_with_spaces":
        g.add_node("look up", noop)
        g.add_node("answer (short)", noop)
        g.add_edge(start, "look up")
        g.add_edge("look up", "answer (short)")
        g.add_edge("answer (short)", end)
    return g.compile()


def _fan_out(state: Any) -> list[Any]:
    return []


SHAPES = [
    ("branches_and_join", {}),
    ("command_destinations", {}),
    ("loop", {}),
    ("subgraph", {}),
    ("subgraph", {"xray": True}),
    ("subgraph", {"xray": 1}),
    ("subgraph_fan", {"xray": True}),
    ("router_at_start", {}),
    ("sends", {}),
    ("names_with_spaces", {}),
]


@pytest.mark.parametrize(("shape", "kw"), SHAPES, ids=[f"{s}{k}" for s, k in SHAPES])
def test_mermaid_text_is_langgraph_s(shape: str, kw: dict[str, Any]) -> None:
    ours = build(StateGraph, START, END, shape).get_graph(**kw)
    theirs = build(lg.StateGraph, lg.START, lg.END, shape).get_graph(**kw)
    assert ours.draw_mermaid() == theirs.draw_mermaid()


@pytest.mark.parametrize(("shape", "kw"), SHAPES, ids=[f"{s}{k}" for s, k in SHAPES])
def test_json_edges_are_langgraph_s(shape: str, kw: dict[str, Any]) -> None:
    ours = build(StateGraph, START, END, shape).get_graph(**kw).to_json()
    theirs = build(lg.StateGraph, lg.START, lg.END, shape).get_graph(**kw).to_json()
    assert ours["edges"] == theirs["edges"]
    assert [n["id"] for n in ours["nodes"]] == [n["id"] for n in theirs["nodes"]]
    json.dumps(ours)  # JSON-able as it is


def test_conditional_edges_are_dotted_and_labelled() -> None:
    text = build(StateGraph, START, END, "branches_and_join").get_graph().draw_mermaid()
    assert "\t__start__([<p>__start__</p>]):::first\n" in text
    assert "\t__end__([<p>__end__</p>]):::last\n" in text
    assert "\ta -. &nbsp;go&nbsp; .-> b;\n" in text
    assert "\ta -. &nbsp;stop&nbsp; .-> __end__;\n" in text
    assert "\tb --> d;\n\tc --> d;\n" in text  # a waiting edge: one arrow per source


def test_a_router_without_a_path_map_may_go_to_any_node() -> None:
    g = StateGraph(S)
    for name in "abc":
        g.add_node(name, noop)
    g.add_edge(START, "a")
    g.add_conditional_edges("a", _router)
    g.add_edge("b", END)
    g.add_edge("c", END)
    edges = g.compile().get_graph().to_json()["edges"]
    from_a = [(e["target"], e.get("conditional")) for e in edges if e["source"] == "a"]
    assert from_a == [("__end__", True), ("a", True), ("b", True), ("c", True)]


def test_without_xray_a_subgraph_is_one_node() -> None:
    drawing = build(StateGraph, START, END, "subgraph").get_graph()
    assert list(drawing.nodes) == ["__start__", "a", "inner", "__end__"]
    assert drawing.nodes["inner"].name == "inner"


def test_xray_must_be_a_bool_or_a_depth() -> None:
    app = build(StateGraph, START, END, "loop")
    with pytest.raises(InvalidInputError, match="xray must be"):
        app.get_graph(xray=-1)


def test_xray_draws_nested_subgraphs_inside_each_other() -> None:
    def chain(names: str, inner: Any = None) -> Any:
        g = StateGraph(S)
        prev = START
        for name in names:
            g.add_node(name, noop)
            g.add_edge(prev, name)
            prev = name
        if inner is not None:
            g.add_node("deep", inner)
            g.add_edge(prev, "deep")
            prev = "deep"
        g.add_edge(prev, END)
        return g.compile()

    app = chain("a", chain("m", chain("z")))
    text = app.get_graph(xray=True).draw_mermaid()
    # LangGraph 1.2 leaves the innermost node out of its drawing; Orca draws it
    assert "\tsubgraph deep\n\tdeep\\3am(m)\n\tdeep\\3am --> deep\\3adeep\\3az;\n" in text
    assert "\tsubgraph deep\n\tdeep\\3adeep\\3az(z)\n\tend\n\tend\n" in text
    assert "\tdeep\\3adeep\\3az --> __end__;\n" in text
    one_level = app.get_graph(xray=1).to_json()
    assert [n["id"] for n in one_level["nodes"]] == [
        "__start__",
        "a",
        "__end__",
        "deep:m",
        "deep:deep",
    ]
