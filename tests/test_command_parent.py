"""``Command(graph=Command.PARENT)`` hands a subgraph's command to its parent, and a
``-> Command[Literal[...]]`` annotation declares where a node may go, as in LangGraph
(each case runs on LangGraph too)."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

import pytest
from langgraph.graph import START as LG_START
from langgraph.graph import StateGraph as LGStateGraph
from langgraph.types import Command as LGCommand

from orca import START, Command, MemoryCheckpointer, StateGraph, reducers
from orca.errors import GraphError, InvalidUpdateError


class State(TypedDict):
    log: Annotated[list[str], reducers.append]
    x: str


class LGState(TypedDict):
    log: Annotated[list[str], operator.add]
    x: str


def build(lib: str, checkpointer: Any = None) -> Any:
    """A subgraph (s1 -> s2 -> s3) whose s2 hands the parent a command to go to handoff."""
    graph, command, start, schema = (
        (LGStateGraph, LGCommand, LG_START, LGState)
        if lib == "langgraph"
        else (StateGraph, Command, START, State)
    )
    sub = graph(schema)
    sub.add_node("s1", lambda s: {"log": ["s1"], "x": "s1"})
    sub.add_node(
        "s2",
        lambda s: command(
            graph=command.PARENT, goto="handoff", update={"log": ["s2->parent"], "x": "sub"}
        ),
    )
    sub.add_node("s3", lambda s: {"log": ["s3"]})
    sub.add_edge(start, "s1")
    sub.add_edge("s1", "s2")
    sub.add_edge("s2", "s3")
    parent = graph(schema)
    if lib == "langgraph":
        parent.add_node("sub", sub.compile())
    else:  # Orca checks every node is reachable: the handoff is declared
        parent.add_node("sub", sub.compile(), destinations=["handoff"])
    parent.add_node("handoff", lambda s: {"log": [f"handoff x={s['x']}"]})
    parent.add_node("after", lambda s: {"log": ["after"]})
    parent.add_edge(start, "sub")
    parent.add_edge("sub", "after")
    return parent.compile(checkpointer=checkpointer)


def test_a_parent_command_routes_and_updates_the_parent_as_in_langgraph() -> None:
    expected = build("langgraph").invoke({"log": [], "x": "0"})
    got = build("orca").invoke({"log": [], "x": "0"})
    assert got == expected
    assert got == {"log": ["s2->parent", "after", "handoff x=sub"], "x": "sub"}


def test_a_parent_command_from_a_subgraph_that_keeps_checkpoints_leaves_nothing() -> None:
    store = MemoryCheckpointer()
    got = build("orca", store).invoke({"log": [], "x": "0"}, thread_id="t")
    assert got["log"] == ["s2->parent", "after", "handoff x=sub"]
    assert store.threads() == ["t"]  # the subgraph's own thread is gone


def test_a_parent_command_outside_a_subgraph_is_an_error_naming_the_node() -> None:
    g = StateGraph(State)
    g.add_node("lost", lambda s: Command(graph=Command.PARENT, goto="x"))
    g.add_edge(START, "lost")
    with pytest.raises(InvalidUpdateError, match=r"'lost'.*not a subgraph"):
        g.compile().invoke({"log": [], "x": ""})

    g = StateGraph(State)
    g.add_node("odd", lambda s: Command(graph="elsewhere"))
    g.add_edge(START, "odd")
    with pytest.raises(InvalidUpdateError, match=r"graph='elsewhere'.*Command\.PARENT"):
        g.compile().invoke({"log": [], "x": ""})


def test_a_command_return_annotation_declares_the_destinations() -> None:
    def review(state: State) -> Command[Literal["publish", "discard"]]:
        return Command(goto="discard" if state["x"] == "bad" else "publish")

    g = StateGraph(State)
    g.add_node("review", review)
    g.add_node("publish", lambda s: {"log": ["published"]})
    g.add_node("discard", lambda s: {"log": ["discarded"]})
    g.add_edge(START, "review")
    app = g.compile()  # without the annotation, publish and discard are unreachable
    assert app.invoke({"log": [], "x": "bad"})["log"] == ["discarded"]
    assert app.invoke({"log": [], "x": "good"})["log"] == ["published"]

    def bare(state: State) -> Command:  # type: ignore[type-arg]
        return Command(goto="publish")

    g = StateGraph(State)
    g.add_node("bare", bare)
    g.add_node("publish", lambda s: {"log": ["published"]})
    g.add_edge(START, "bare")
    with pytest.raises(GraphError, match="'publish' is unreachable"):
        g.compile()
