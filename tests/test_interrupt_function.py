"""``orca.interrupt(value)``: the node's ``ctx.interrupt`` without the ``ctx``."""

import asyncio
from typing import TypedDict

import pytest

import orca
from orca import END, START, Command, MemoryCheckpointer, StateGraph
from orca.errors import RunError


class State(TypedDict, total=False):
    topic: str
    answer: str
    other: str


def _ask(question: str) -> str:
    # a helper deep below the node: it was never handed ctx
    return str(orca.interrupt({"question": question}))


def _graph(node: object, *, parallel: bool = False) -> orca.CompiledGraph:
    g = StateGraph(State)
    g.add_node("ask", node)  # type: ignore[arg-type]
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    if parallel:  # a second task in the step: sync nodes then run on the thread pool
        g.add_node("side", lambda s: {"other": "x"})
        g.add_edge(START, "side")
        g.add_edge("side", END)
    return g.compile(checkpointer=MemoryCheckpointer())


def test_interrupt_pauses_a_sync_node_and_returns_the_resume_value() -> None:
    app = _graph(lambda s: {"answer": _ask(s["topic"])})
    paused = app.invoke({"topic": "tea"}, thread_id="t")
    [pending] = paused["__interrupt__"]
    assert pending.value == {"question": "tea"}
    assert pending.node == "ask"
    assert app.invoke(Command(resume="green"), thread_id="t")["answer"] == "green"


def test_interrupt_works_in_a_sync_node_run_on_the_thread_pool() -> None:
    app = _graph(lambda s: {"answer": _ask(s["topic"])}, parallel=True)
    paused = app.invoke({"topic": "tea"}, thread_id="t")
    assert [i.value for i in paused["__interrupt__"]] == [{"question": "tea"}]
    done = app.invoke(Command(resume="black"), thread_id="t")
    assert done["answer"] == "black"
    assert done["other"] == "x"


def test_interrupt_works_in_an_async_node_and_ainvoke() -> None:
    async def node(state: State) -> State:
        await asyncio.sleep(0)
        return {"answer": _ask(state["topic"])}

    app = _graph(node, parallel=True)

    async def go() -> dict[str, object]:
        await app.ainvoke({"topic": "tea"}, thread_id="t")
        return await app.ainvoke(Command(resume="oolong"), thread_id="t")

    assert asyncio.run(go())["answer"] == "oolong"


def test_interrupt_with_a_timeout_node_sees_its_task() -> None:
    g = StateGraph(State)
    g.add_node("ask", lambda s: {"answer": _ask("t")}, timeout=30)
    g.add_edge(START, "ask")
    app = g.compile(checkpointer=MemoryCheckpointer())
    assert app.invoke({}, thread_id="t")["__interrupt__"][0].value == {"question": "t"}


def test_interrupt_outside_a_node_is_a_clear_error() -> None:
    with pytest.raises(RunError, match=r"outside a node.*ctx\.interrupt"):
        orca.interrupt("hello")


def test_the_running_task_does_not_leak_out_of_the_node() -> None:
    app = _graph(lambda s: {"answer": "no pause"})
    assert app.invoke({"topic": "x"}, thread_id="t")["answer"] == "no pause"
    with pytest.raises(RunError):
        orca.graph.interrupt()
