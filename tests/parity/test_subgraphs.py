"""Subgraphs: as nodes with shared keys, called from a function, their output to the
parent, interrupts and resume inside them, their state and their stream events."""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from ._harness import (
    Cases,
    Library,
    attempt,
    cfg,
    chunks,
    history,
    namespaced,
    run_async,
    state,
)

case = Cases("subgraphs")


class Parent(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    topic: str
    result: str


class Child(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    topic: str
    scratch: str


class Item(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    item: str


def _child(lg: Library, calls: list[str] | None = None, ask: bool = False, **kw: Any) -> Any:
    def c1(s: Child) -> Child:
        if calls is not None:
            calls.append("c1")
        return {"scratch": s["topic"] + "!", "log": ["c1"]}

    def c2(s: Child) -> Child:
        if calls is not None:
            calls.append("c2")
        extra = f":{lg.interrupt('child?')}" if ask else ""
        return {"topic": s["scratch"] + extra, "log": ["c2"]}

    g = lg.StateGraph(Child)
    g.add_node("c1", c1)
    g.add_node("c2", c2)
    g.add_edge(lg.START, "c1")
    g.add_edge("c1", "c2")
    return g.compile(**kw)


def _parent(lg: Library, child: Any, **kw: Any) -> Any:
    g = lg.StateGraph(Parent)
    g.add_node("p1", lambda s: {"log": ["p1"]})
    g.add_node("child", child)
    g.add_node("p2", lambda s: {"result": s["topic"], "log": ["p2"]})
    g.add_edge(lg.START, "p1")
    g.add_edge("p1", "child")
    g.add_edge("child", "p2")
    return g.compile(**kw)


@case
def compiled_subgraph_as_node(lg: Library) -> Any:
    return _parent(lg, _child(lg)).invoke({"topic": "t", "log": []})


@case
def subgraph_list_output_appended_again(lg: Library) -> Any:
    """The child's whole list comes back as its update: the parent's reducer appends it
    to what the parent already had (LangGraph's documented duplication)."""
    return _parent(lg, _child(lg)).invoke({"topic": "t", "log": ["start"]})


@case
def subgraph_private_key_not_in_parent(lg: Library) -> Any:
    out = _parent(lg, _child(lg)).invoke({"topic": "t"})
    return sorted(out)


@case
def subgraph_called_from_function(lg: Library) -> Any:
    class Other(TypedDict):
        text: str

    sub = lg.StateGraph(Other)
    sub.add_node("shout", lambda s: {"text": s["text"].upper()})
    sub.add_edge(lg.START, "shout")
    inner = sub.compile()

    def call(s: Parent) -> Parent:
        return {"result": inner.invoke({"text": s["topic"]})["text"]}

    g = lg.StateGraph(Parent)
    g.add_node("call", call)
    g.add_edge(lg.START, "call")
    return g.compile().invoke({"topic": "quiet"})


@case
def subgraph_updates_stream(lg: Library) -> Any:
    app = _parent(lg, _child(lg))
    return chunks(app.stream({"topic": "t"}, stream_mode="updates"))


@case
def subgraph_events_with_subgraphs_true(lg: Library) -> Any:
    app = _parent(lg, _child(lg))
    return namespaced(app.stream({"topic": "t"}, stream_mode="updates", subgraphs=True))


@case
def subgraph_values_with_subgraphs_true(lg: Library) -> Any:
    app = _parent(lg, _child(lg))
    return namespaced(app.stream({"topic": "t"}, stream_mode="values", subgraphs=True))


@case
def nested_subgraphs_two_levels(lg: Library) -> Any:
    inner = _child(lg)
    mid = lg.StateGraph(Child)
    mid.add_node("inner", inner)
    mid.add_node("m", lambda s: {"log": ["m"]})
    mid.add_edge(lg.START, "inner")
    mid.add_edge("inner", "m")
    app = _parent(lg, mid.compile())
    return namespaced(app.stream({"topic": "t"}, stream_mode="updates", subgraphs=True))


@case
def interrupt_inside_subgraph(lg: Library) -> Any:
    app = _parent(lg, _child(lg, ask=True), checkpointer=lg.saver())
    return app.invoke({"topic": "t", "log": []}, cfg())


@case
def resume_inside_subgraph_skips_finished_nodes(lg: Library) -> Any:
    calls: list[str] = []
    app = _parent(lg, _child(lg, calls, ask=True), checkpointer=lg.saver())
    app.invoke({"topic": "t", "log": []}, cfg())
    final = app.invoke(lg.Command(resume="yes"), cfg())
    return {"final": final, "calls": calls}


@case
def state_with_subgraphs_while_paused(lg: Library) -> Any:
    app = _parent(lg, _child(lg, ask=True), checkpointer=lg.saver())
    app.invoke({"topic": "t", "log": []}, cfg())
    snap = app.get_state(cfg(), subgraphs=True)
    inner = snap.tasks[0].state
    return {"parent": state(app, cfg()), "child_values": inner.values, "child_next": inner.next}


@case
def subgraph_interrupt_stream_namespaces(lg: Library) -> Any:
    app = _parent(lg, _child(lg, ask=True), checkpointer=lg.saver())
    first = namespaced(app.stream({"topic": "t"}, cfg(), stream_mode="updates", subgraphs=True))
    then = namespaced(
        app.stream(lg.Command(resume="ok"), cfg(), stream_mode="updates", subgraphs=True)
    )
    return {"first": first, "then": then}


@case
def parent_history_with_subgraph(lg: Library) -> Any:
    app = _parent(lg, _child(lg), checkpointer=lg.saver())
    app.invoke({"topic": "t"}, cfg())
    return history(app, cfg())


@case
def subgraph_error_propagates(lg: Library) -> Any:
    sub = lg.StateGraph(Child)

    def boom(s: Child) -> Child:
        raise KeyError("inner")

    sub.add_node("boom", boom)
    sub.add_edge(lg.START, "boom")
    return attempt(_parent(lg, sub.compile()).invoke, {"topic": "t"})


@case
def subgraphs_in_parallel_via_send(lg: Library) -> Any:
    sub = lg.StateGraph(Item)
    sub.add_node("work", lambda s: {"log": [f"w:{s['item']}"]})
    sub.add_edge(lg.START, "work")
    g = lg.StateGraph(Parent)
    g.add_node("fan", lambda s: {})
    g.add_node("sub", sub.compile())
    g.add_edge(lg.START, "fan")
    g.add_conditional_edges("fan", lambda s: [lg.Send("sub", {"item": t}) for t in "xyz"])
    return g.compile().invoke({"log": []})


@case
def subgraph_with_interrupt_before_inside(lg: Library) -> Any:
    app = _parent(lg, _child(lg, interrupt_before=["c2"]), checkpointer=lg.saver())
    first = app.invoke({"topic": "t"}, cfg())
    return {"first": first, "next": state(app, cfg())["next"], "then": app.invoke(None, cfg())}


@case
def command_parent_from_subgraph(lg: Library) -> Any:
    sub = lg.StateGraph(Child)
    sub.add_node(
        "jump",
        lambda s: lg.Command(graph=lg.Command.PARENT, goto="p2", update={"topic": "from child"}),
    )
    sub.add_edge(lg.START, "jump")
    g = lg.StateGraph(Parent)
    g.add_node("child", sub.compile())
    g.add_node("p2", lambda s: {"result": s["topic"]})
    g.add_edge(lg.START, "child")
    return g.compile().invoke({"topic": "t"})


@case
def command_parent_with_reducer_update(lg: Library) -> Any:
    sub = lg.StateGraph(Child)
    sub.add_node("c1", lambda s: {"log": ["c1"]})
    sub.add_node(
        "jump", lambda s: lg.Command(graph=lg.Command.PARENT, goto="p2", update={"log": ["up"]})
    )
    sub.add_edge(lg.START, "c1")
    sub.add_edge("c1", "jump")
    g = lg.StateGraph(Parent)
    g.add_node("child", sub.compile())
    g.add_node("p2", lambda s: {"result": ",".join(s["log"])})
    g.add_edge(lg.START, "child")
    return g.compile().invoke({"log": ["start"]})


@case
def two_interrupts_in_subgraph_resumed_in_turn(lg: Library) -> Any:
    calls: list[str] = []

    def c1(s: Child) -> Child:
        calls.append("c1")
        return {"log": [f"c1:{lg.interrupt('one?')}"]}

    def c2(s: Child) -> Child:
        calls.append("c2")
        return {"log": [f"c2:{lg.interrupt('two?')}"]}

    sub = lg.StateGraph(Child)
    sub.add_node("c1", c1)
    sub.add_node("c2", c2)
    sub.add_edge(lg.START, "c1")
    sub.add_edge("c1", "c2")
    app = _parent(lg, sub.compile(), checkpointer=lg.saver())
    out = [app.invoke({"topic": "t", "log": []}, cfg())]
    out.append(app.invoke(lg.Command(resume="A"), cfg()))
    out.append(app.invoke(lg.Command(resume="B"), cfg()))
    return {"out": out, "calls": calls}


@case
def state_with_subgraphs_after_finish(lg: Library) -> Any:
    app = _parent(lg, _child(lg), checkpointer=lg.saver())
    app.invoke({"topic": "t"}, cfg())
    return state(app, cfg(), subgraphs=True)


@case
def custom_events_from_subgraph(lg: Library) -> Any:
    sub = lg.StateGraph(Child)
    sub.add_node("talk", lambda s: lg.get_stream_writer()({"from": "child"}) or {"log": ["t"]})
    sub.add_edge(lg.START, "talk")
    app = _parent(lg, sub.compile())
    return namespaced(app.stream({"topic": "t"}, stream_mode="custom", subgraphs=True))


@case
def astream_with_subgraphs(lg: Library) -> Any:
    app = _parent(lg, _child(lg))

    async def go() -> list[Any]:
        return [c async for c in app.astream({"topic": "t"}, stream_mode="updates", subgraphs=True)]

    return namespaced(run_async(go()))


test_parity = case.test()
