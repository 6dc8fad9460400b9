"""Subgraphs keep their own checkpoints in the parent's store: an interrupt inside one
resumes where it paused, as in LangGraph (each case runs on LangGraph too), and a
killed process goes on inside the subgraph without redoing its finished nodes."""

from __future__ import annotations

import operator
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START as LG_START
from langgraph.graph import StateGraph as LGStateGraph
from langgraph.types import Command as LGCommand
from langgraph.types import interrupt as lg_interrupt

from orca import START, Command, MemoryCheckpointer, StateGraph, reducers
from orca.checkpoint import Checkpointer
from orca.engine import RunContext
from orca.engine._compiled import own_threads
from orca.store import SqliteCheckpointer
from orca.store.postgres import PgCheckpointer

SRC = Path(__file__).resolve().parents[1] / "src"


class State(TypedDict):
    x: str
    log: Annotated[list[str], reducers.append]


class LGState(TypedDict):
    x: str
    log: Annotated[list[str], operator.add]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Checkpointer:
    if request.param == "memory":
        return MemoryCheckpointer()
    if request.param == "sqlite":
        return SqliteCheckpointer(tmp_path / "sub.sqlite")
    return PgCheckpointer(str(request.getfixturevalue("pg_url")))


def orca_graph(ran: list[str], store: Checkpointer) -> Any:
    """pre -> sub(a -> b(asks) -> c(asks))."""

    def step(name: str, asks: bool) -> Any:
        def node(state: State, ctx: RunContext) -> dict[str, Any]:
            ran.append(name)
            answer = ctx.interrupt(f"{name}?") if asks else ""
            return {"x": state["x"] + name + answer, "log": [name]}

        return node

    sub = StateGraph(State, name="sub")
    for name, asks in (("a", False), ("b", True), ("c", True)):
        sub.add_node(name, step(name, asks))
    sub.add_edge(START, "a")
    sub.add_edge("a", "b")
    sub.add_edge("b", "c")
    parent = StateGraph(State)
    parent.add_node("pre", step("pre", False))
    parent.add_node("sub", sub.compile())
    parent.add_edge(START, "pre")
    parent.add_edge("pre", "sub")
    return parent.compile(checkpointer=store)


def langgraph_graph(ran: list[str]) -> Any:
    def step(name: str, asks: bool) -> Any:
        def node(state: LGState) -> dict[str, Any]:
            ran.append(name)
            answer = lg_interrupt(f"{name}?") if asks else ""
            return {"x": state["x"] + name + answer, "log": [name]}

        return node

    sub = LGStateGraph(LGState)
    for name, asks in (("a", False), ("b", True), ("c", True)):
        sub.add_node(name, step(name, asks))
    sub.add_edge(LG_START, "a")
    sub.add_edge("a", "b")
    sub.add_edge("b", "c")
    parent = LGStateGraph(LGState)
    parent.add_node("pre", step("pre", False))
    parent.add_node("sub", sub.compile())
    parent.add_edge(LG_START, "pre")
    parent.add_edge("pre", "sub")
    return parent.compile(checkpointer=InMemorySaver())


def test_a_resume_goes_on_inside_the_subgraph_as_in_langgraph(store: Checkpointer) -> None:
    lg_ran: list[str] = []
    lg = langgraph_graph(lg_ran)
    config = {"configurable": {"thread_id": "t"}}
    lg_seen = [lg.invoke({"x": "", "log": []}, config)["__interrupt__"][0].value]
    lg_seen.append(lg.invoke(LGCommand(resume="1"), config)["__interrupt__"][0].value)
    lg_final = lg.invoke(LGCommand(resume="2"), config)

    ran: list[str] = []
    app = orca_graph(ran, store)
    seen = [app.invoke({"x": "", "log": []}, thread_id="t")["__interrupt__"][0].value]
    seen.append(app.invoke(Command(resume="1"), thread_id="t")["__interrupt__"][0].value)
    final = app.invoke(Command(resume="2"), thread_id="t")

    assert seen == lg_seen == ["b?", "c?"]
    # a and pre ran once; b and c twice (paused, then resumed), on both
    assert ran == lg_ran == ["pre", "a", "b", "b", "c", "c"]
    assert final["x"] == lg_final["x"] == "preab1c2"
    # Orca hands the parent the subgraph's changes (LangGraph its whole state: see below)
    assert final["log"] == ["pre", "a", "b", "c"]
    # done: the subgraph's own thread is gone
    assert store.threads() == ["t"]
    store.close()


def test_get_state_with_subgraphs_shows_where_the_subgraph_paused(store: Checkpointer) -> None:
    app = orca_graph([], store)
    app.invoke({"x": "", "log": []}, thread_id="t")
    outer = app.get_state("t", subgraphs=True)
    assert outer.next == ("sub",)
    assert app.get_state("t").subgraphs == {}
    (inner,) = outer.subgraphs.values()
    assert inner.values == {"x": "prea", "log": ["pre", "a"]}
    assert inner.next == ("b",)
    assert [i.value for i in inner.interrupts] == ["b?"]
    assert [i.id for i in outer.interrupts] == [i.id for i in inner.interrupts]

    app.delete_thread("t")  # with the subgraph's thread
    assert store.threads() == []
    store.close()


def test_a_subgraph_inside_a_subgraph_resumes_at_its_own_depth() -> None:
    ran: list[str] = []

    def node(name: str, asks: bool = False) -> Any:
        def run(state: State, ctx: RunContext) -> dict[str, Any]:
            ran.append(name)
            answer = ctx.interrupt(name) if asks else ""
            return {"log": [name + answer]}

        return run

    def chain(name: str, *steps: tuple[str, Any]) -> Any:
        g = StateGraph(State, name=name)
        previous = START
        for step_name, fn in steps:
            g.add_node(step_name, fn)
            g.add_edge(previous, step_name)
            previous = step_name
        return g

    inner = chain("inner", ("i1", node("i1")), ("i2", node("i2", asks=True))).compile()
    middle = chain("middle", ("m1", node("m1")), ("inner", inner), ("m2", node("m2", True)))
    outer = chain("outer", ("o1", node("o1")), ("middle", middle.compile()))
    memory = MemoryCheckpointer()
    app = outer.compile(checkpointer=memory)

    assert app.invoke({"x": "", "log": []}, thread_id="t")["__interrupt__"][0].value == "i2"
    [(parent, subs)] = own_threads(memory).items()  # two levels, one listed
    assert (parent, len(subs)) == ("t", 2)
    nested = app.get_state("t", subgraphs=True)
    (mid,) = nested.subgraphs.values()
    (deep,) = mid.subgraphs.values()
    assert (mid.next, deep.next) == (("inner",), ("i2",))
    assert app.invoke(Command(resume="!"), thread_id="t")["__interrupt__"][0].value == "m2"
    final = app.invoke(Command(resume="?"), thread_id="t")
    assert final["log"] == ["o1", "m1", "i1", "i2!", "m2?"]
    assert ran == ["o1", "m1", "i1", "i2", "i2", "m2", "m2"]


def test_output_state_hands_the_parent_the_whole_state_as_langgraph_does() -> None:
    def sub_nodes(g: Any) -> Any:
        g.add_node("a", lambda s: {"log": ["a"], "x": "A"})
        g.add_node("b", lambda s: {"log": ["b"]})
        g.add_edge(g_start(g), "a")
        g.add_edge("a", "b")
        return g.compile()

    def g_start(g: Any) -> str:
        return LG_START if isinstance(g, LGStateGraph) else START

    lg_parent = LGStateGraph(LGState)
    lg_parent.add_node("pre", lambda s: {"log": ["pre"]})
    lg_parent.add_node("sub", sub_nodes(LGStateGraph(LGState)))
    lg_parent.add_edge(LG_START, "pre")
    lg_parent.add_edge("pre", "sub")
    expected = lg_parent.compile().invoke({"log": ["start"], "x": "0"})

    parent = StateGraph(State)
    parent.add_node("pre", lambda s: {"log": ["pre"]})
    parent.add_node("sub", sub_nodes(StateGraph(State)).as_node(output="state"))
    parent.add_edge(START, "pre")
    parent.add_edge("pre", "sub")
    got = parent.compile().invoke({"log": ["start"], "x": "0"})
    assert got == expected == {"log": ["start", "pre", "start", "pre", "a", "b"], "x": "A"}

    with pytest.raises(Exception, match="output must be"):
        sub_nodes(StateGraph(State)).as_node(output="everything")


PROGRAM = """
import os, signal, sys
from typing import Annotated, TypedDict
from orca import START, StateGraph, reducers
from orca.store import SqliteCheckpointer

class State(TypedDict):
    log: Annotated[list[str], reducers.append]

effects = open(sys.argv[2], "a")

def step(name):
    def node(state):
        if name == "b" and os.environ.get("KILL"):
            os.kill(os.getpid(), signal.SIGKILL)
        effects.write(name + "\\n"); effects.flush()
        return {"log": [name]}
    return node

sub = StateGraph(State, name="sub")
for name in ("a", "b"):
    sub.add_node(name, step(name))
sub.add_edge(START, "a"); sub.add_edge("a", "b")
parent = StateGraph(State)
parent.add_node("pre", step("pre")); parent.add_node("sub", sub.compile())
parent.add_edge(START, "pre"); parent.add_edge("pre", "sub")
app = parent.compile(checkpointer=SqliteCheckpointer(sys.argv[1]))
print(app.invoke({"log": []} if sys.argv[3] == "start" else None, thread_id="t")["log"])
"""


def test_a_process_killed_inside_a_subgraph_goes_on_without_redoing_its_nodes(
    tmp_path: Path,
) -> None:
    db, effects = tmp_path / "sub.sqlite", tmp_path / "effects.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCA_")}
    env.update(PYTHONPATH=str(SRC), ORCA_HOME=str(tmp_path / "home"))

    def run(mode: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-c", PROGRAM, str(db), str(effects), mode],
            env={**env, **extra}, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip

    killed = run("start", KILL="1")
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert effects.read_text().split() == ["pre", "a"]
    resumed = run("resume")
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.strip() == "['pre', 'a', 'b']"
    assert effects.read_text().split() == ["pre", "a", "b"]  # a did not run again


def test_subgraphs_stream_their_own_updates_as_in_langgraph() -> None:
    def chunks_of_langgraph() -> list[Any]:
        sub = LGStateGraph(LGState)
        sub.add_node("a", lambda s: {"log": ["a"]})
        sub.add_node("b", lambda s: {"log": ["b"]})
        sub.add_edge(LG_START, "a")
        sub.add_edge("a", "b")
        parent = LGStateGraph(LGState)
        parent.add_node("pre", lambda s: {"log": ["pre"]})
        parent.add_node("sub", sub.compile())
        parent.add_edge(LG_START, "pre")
        parent.add_edge("pre", "sub")
        app = parent.compile()
        return [
            (tuple(n.split(":")[0] for n in ns), chunk)
            for ns, chunk in app.stream({"x": "", "log": []}, stream_mode="updates", subgraphs=True)
        ]

    sub = StateGraph(State, name="sub")
    sub.add_node("a", lambda s: {"log": ["a"]})
    sub.add_node("b", lambda s: {"log": ["b"]})
    sub.add_edge(START, "a")
    sub.add_edge("a", "b")
    parent = StateGraph(State)
    parent.add_node("pre", lambda s: {"log": ["pre"]})
    parent.add_node("sub", sub.compile())
    parent.add_edge(START, "pre")
    parent.add_edge("pre", "sub")
    app = parent.compile()
    got = [
        (tuple(n.split(":")[0] for n in e.thread_id.split("/")[1:]), {e.node: e.update})
        for e in app.stream({"x": "", "log": []}, mode="updates", subgraphs=True)
    ]
    lg = chunks_of_langgraph()
    # the subgraph's own steps, under its namespace, then its node's update in the parent
    assert (
        got[:3]
        == lg[:3]
        == [
            ((), {"pre": {"log": ["pre"]}}),
            (("sub",), {"a": {"log": ["a"]}}),
            (("sub",), {"b": {"log": ["b"]}}),
        ]
    )
    # the parent's update for the subgraph: Orca hands over the changes (see above)
    assert got[3] == ((), {"sub": {"log": ["a", "b"]}})
    # without subgraphs=True only the parent's events come
    plain = [e.node for e in app.stream({"x": "", "log": []}, mode="updates")]
    assert plain == ["pre", "sub"]


def test_listings_show_the_parent_thread_and_deleting_it_spares_look_alikes(
    store: Checkpointer,
) -> None:
    app = orca_graph([], store)
    plain = orca_graph([], store)
    plain.invoke({"x": "", "log": []}, thread_id="t/mine")  # a user's thread, not a subgraph's
    plain.invoke({"x": "", "log": []}, thread_id="t-2")
    # a user's paused thread named exactly as a subgraph's thread under "t" would be
    plain.invoke({"x": "", "log": []}, thread_id="t/sub:0123456789abcdef")
    app.invoke({"x": "", "log": []}, thread_id="t")
    threads = store.threads()
    assert len(threads) == 8  # each paused run's own, and its subgraph's
    own = own_threads(store)
    assert sorted(own) == ["t", "t-2", "t/mine", "t/sub:0123456789abcdef"]
    assert [len(subs) for subs in own.values()] == [1, 1, 1, 1]
    app.delete_thread("t")  # with its subgraph's thread, and nobody else's
    assert sorted(own_threads(store)) == ["t-2", "t/mine", "t/sub:0123456789abcdef"]
    assert len(store.threads()) == 6
    store.close()


def test_a_subgraph_node_named_with_a_slash_goes_with_its_parent(store: Checkpointer) -> None:
    sub = StateGraph(State, name="sub")
    sub.add_node("ask", lambda s, ctx: {"x": ctx.interrupt("?")})
    sub.add_edge(START, "ask")
    parent = StateGraph(State)
    parent.add_node("team/sub", sub.compile())
    parent.add_edge(START, "team/sub")
    app = parent.compile(checkpointer=store)
    app.invoke({"x": "", "log": []}, thread_id="t")
    assert len(store.threads()) == 2
    assert list(own_threads(store)) == ["t"]
    app.delete_thread("t")
    assert store.threads() == []
    store.close()


def test_prune_removes_a_finished_thread_with_the_subgraph_thread_it_left(
    store: Checkpointer,
) -> None:
    import datetime as dt

    from orca.manage._runs import prune

    sub = StateGraph(State, name="sub")
    sub.add_node("ask", lambda s, ctx: {"x": ctx.interrupt("?")})
    sub.add_edge(START, "ask")
    parent = StateGraph(State)
    parent.add_node("sub", sub.compile())
    parent.add_node("post", lambda s: {"log": ["post"]})
    parent.add_edge(START, "sub")
    parent.add_edge("sub", "post")
    app = parent.compile(checkpointer=store)
    app.invoke({"x": "", "log": []}, thread_id="t")  # paused inside the subgraph
    # the parent is moved past the subgraph by hand: its paused thread is left behind
    app.update_state("t", {"x": "skipped"}, as_node="sub")
    assert app.invoke(None, thread_id="t")["log"] == ["post"]
    assert len(store.threads()) == 2
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    seen = prune(store, later, dry_run=True)
    assert (seen["removed"], seen["kept"]) == (["t"], [])  # listed once, as the parent
    prune(store, later, dry_run=False)
    assert store.threads() == []
    store.close()
