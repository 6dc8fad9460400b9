"""Subgraphs: a compiled graph added as a node runs as one task of its parent.

The child starts from the parent's state (the keys it declares); its writes flow to the
parent through the parent's reducers, each write once.
"""

from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from orca import START, Command, RunContext, SqliteCheckpointer, StateGraph, reducers
from orca.errors import NodeError


class Parent(TypedDict):
    topic: str
    draft: str
    log: Annotated[list[str], reducers.append]
    total: Annotated[int, reducers.sum]
    meta: Annotated[dict[str, Any], reducers.merge]


class Child(TypedDict):
    topic: str
    draft: str
    log: Annotated[list[str], reducers.append]
    total: Annotated[int, reducers.sum]
    meta: Annotated[dict[str, Any], reducers.merge]


def writer_subgraph(calls: list[str] | None = None) -> Any:
    """Two steps: outline -> write. Writes every kind of key."""

    def outline(state: Child) -> dict[str, Any]:
        if calls is not None:
            calls.append("outline")
        return {
            "draft": f"outline of {state['topic']}",
            "log": ["outline"],
            "total": 2,
            "meta": {"child": {"outline": True}},
        }

    def write(state: Child) -> dict[str, Any]:
        if calls is not None:
            calls.append("write")
        return {
            "draft": state["draft"] + " -> text",
            "log": ["write"],
            "total": 3,
            "meta": {"child": {"write": True}},
        }

    g = StateGraph(Child, name="writer")
    g.add_node("outline", outline)
    g.add_node("write", write)
    g.add_edge(START, "outline")
    g.add_edge("outline", "write")
    return g.compile()


def parent_graph(sub: Any, **compile_options: Any) -> Any:
    g = StateGraph(Parent)
    g.add_node("plan", lambda s: {"log": ["plan"], "total": 1, "meta": {"parent": 1}})
    g.add_node("writer", sub)
    g.add_node("review", lambda s: {"log": [f"review of {s.get('draft', '-')}"]})
    g.add_edge(START, "plan")
    g.add_edge("plan", "writer")
    g.add_edge("writer", "review")
    return g.compile(**compile_options)


def test_subgraph_writes_flow_to_the_parent() -> None:
    result = parent_graph(writer_subgraph()).invoke({"topic": "otters", "total": 10})

    assert result["draft"] == "outline of otters -> text"
    assert result["log"] == ["plan", "outline", "write", "review of outline of otters -> text"]
    assert result["meta"] == {"parent": 1, "child": {"outline": True, "write": True}}


def test_append_and_sum_keys_are_not_duplicated_by_the_subgraph() -> None:
    result = parent_graph(writer_subgraph()).invoke({"topic": "otters", "total": 10})
    # the child started from log ["plan"] and total 11; only its own writes come back
    assert result["log"].count("plan") == 1
    assert result["total"] == 10 + 1 + 2 + 3


def test_subgraph_runs_as_one_task_of_the_parent() -> None:
    calls: list[str] = []
    app = parent_graph(writer_subgraph(calls))

    events = list(app.stream({"topic": "otters"}, mode="events"))

    started = [e.node for e in events if e.type == "task.started"]
    assert started == ["plan", "writer", "review"]
    finished = [e for e in events if e.type == "task.finished" and e.node == "writer"]
    assert len(finished) == 1
    assert calls == ["outline", "write"]
    assert events[-1].steps == 3  # the child's two steps are inside one parent step


def test_subgraph_sees_the_parent_state_at_its_step_start() -> None:
    seen: list[Any] = []

    class Narrow(TypedDict):
        topic: str
        log: Annotated[list[str], reducers.append]

    def peek(state: Narrow) -> dict[str, Any]:
        seen.append(dict(state))
        return {"log": ["peeked"]}

    child = StateGraph(Narrow)
    child.add_node("peek", peek)
    child.add_edge(START, "peek")

    result = parent_graph(child.compile()).invoke({"topic": "otters", "total": 5})

    assert seen == [{"topic": "otters", "log": ["plan"]}]
    assert result["log"] == ["plan", "peeked", "review of -"]


def test_subgraph_with_a_narrower_schema_writes_only_its_keys() -> None:
    class Narrow(TypedDict):
        draft: str

    child = StateGraph(Narrow)
    child.add_node("d", lambda s: {"draft": "from child"})
    child.add_edge(START, "d")

    result = parent_graph(child.compile()).invoke({"topic": "otters"})
    assert result["draft"] == "from child"
    assert result["topic"] == "otters"
    assert result["log"] == ["plan", "review of from child"]


def test_subgraph_in_a_parallel_step_merges_in_task_order() -> None:
    g = StateGraph(Parent)
    g.add_node("writer", writer_subgraph())
    g.add_node("sibling", lambda s: {"log": ["sibling"], "total": 100})
    g.add_edge(START, "writer")
    g.add_edge(START, "sibling")

    result = g.compile().invoke({"topic": "t"})

    # "sibling" sorts before "writer": its writes fold first
    assert result["log"] == ["sibling", "outline", "write"]
    assert result["total"] == 105


def test_subgraph_custom_events_reach_the_parent_stream() -> None:
    class Narrow(TypedDict):
        draft: str

    def talk(state: Narrow, ctx: RunContext) -> dict[str, Any]:
        ctx.write("hello from the child")
        return {"draft": "x"}

    child = StateGraph(Narrow)
    child.add_node("talk", talk)
    child.add_edge(START, "talk")

    events = list(parent_graph(child.compile()).stream({"topic": "t"}, mode="custom"))
    assert [e.data for e in events] == ["hello from the child"]


def test_subgraph_node_failure_fails_the_parent_run() -> None:
    class Narrow(TypedDict):
        draft: str

    def explode(state: Narrow) -> None:
        raise ValueError("child broke")

    child = StateGraph(Narrow)
    child.add_node("explode", explode)
    child.add_edge(START, "explode")

    with pytest.raises(NodeError) as exc:
        parent_graph(child.compile()).invoke({"topic": "t"})
    assert "child broke" in str(exc.value)
    root = exc.value
    while root.__cause__ is not None:
        root = root.__cause__  # type: ignore[assignment]
    assert isinstance(root, ValueError)


def test_subgraph_command_goto_stays_inside_the_subgraph() -> None:
    class Narrow(TypedDict):
        log: Annotated[list[str], reducers.append]

    child = StateGraph(Narrow)
    child.add_node("jump", lambda s: Command(goto="land"), destinations=["land"])
    child.add_node("land", lambda s: {"log": ["landed"]})
    child.add_edge(START, "jump")

    result = parent_graph(child.compile()).invoke({"topic": "t"})
    assert result["log"] == ["plan", "landed", "review of -"]


def test_subgraph_interrupt_pauses_the_parent_and_resumes(tmp_path: Path) -> None:
    class Narrow(TypedDict):
        draft: str

    def approve(state: Narrow, ctx: RunContext) -> dict[str, Any]:
        return {"draft": f"approved: {ctx.interrupt('approve the draft?')}"}

    child = StateGraph(Narrow)
    child.add_node("approve", approve)
    child.add_edge(START, "approve")
    app = parent_graph(child.compile(), checkpointer=SqliteCheckpointer(tmp_path / "x.db"))

    paused = app.invoke({"topic": "t"}, thread_id="t")
    [pause] = paused["__interrupt__"]
    assert pause.value == "approve the draft?"
    assert pause.node == "writer"

    result = app.invoke(Command(resume="yes"), thread_id="t")
    assert result["draft"] == "approved: yes"
    assert result["log"] == ["plan", "review of approved: yes"]


def test_the_same_compiled_graph_runs_standalone_and_as_a_subgraph() -> None:
    sub = writer_subgraph()
    standalone = sub.invoke({"topic": "x"})
    assert standalone["log"] == ["outline", "write"]
    assert standalone["total"] == 5
    nested = parent_graph(sub).invoke({"topic": "x"})
    assert nested["draft"] == standalone["draft"]
