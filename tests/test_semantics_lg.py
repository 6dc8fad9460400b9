"""Orca's engine against LangGraph's: the same graph, built with each library's own
``StateGraph``, ``Send`` and ``Command``, run on both, and the results compared (issue 19,
"Semantics to align"). Each test states the behaviour both engines share."""

from __future__ import annotations

import importlib
import itertools
import operator
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Annotated, Any, TypedDict

import pytest
import typing_extensions

import orca
from orca.errors import InvalidUpdateError, StepLimitError
from orca.events import INTERRUPT, VALUES
from orca.graph import Overwrite, default_retry_on

lg_graph = importlib.import_module("langgraph.graph")
lg_types = importlib.import_module("langgraph.types")
lg_errors = importlib.import_module("langgraph.errors")

LG = SimpleNamespace(
    StateGraph=lg_graph.StateGraph,
    START=lg_graph.START,
    END=lg_graph.END,
    Send=lg_types.Send,
    Command=lg_types.Command,
    Overwrite=lg_types.Overwrite,
    name="langgraph",
)
ORCA = SimpleNamespace(
    StateGraph=orca.StateGraph,
    START=orca.START,
    END=orca.END,
    Send=orca.Send,
    Command=orca.Command,
    Overwrite=Overwrite,
    name="orca",
)
ENGINES = (LG, ORCA)

Build = Callable[[SimpleNamespace], Any]


def on_both(build: Build, input: Any) -> tuple[Any, Any]:
    """``build(engine)`` compiled and invoked on LangGraph, then on Orca."""
    return build(LG).invoke(input), build(ORCA).invoke(input)


def same_on_both(build: Build, input: Any) -> Any:
    lg, orc = on_both(build, input)
    assert orc == lg
    return orc


class Log(TypedDict):
    log: Annotated[list[str], operator.add]


def note(name: str) -> Callable[[Any], dict[str, Any]]:
    def node(state: Any) -> dict[str, Any]:
        return {"log": [name]}

    return node


def work(arg: Any) -> dict[str, Any]:
    return {"log": [f"w:{arg}"]}


# -- write order within a superstep ----------------------------------------------------------


def test_a_steps_nodes_fold_their_writes_in_name_order_not_edge_order() -> None:
    def build(e: SimpleNamespace) -> Any:
        g = e.StateGraph(Log)
        for name in ("zed", "alpha", "Mid", "beta"):
            g.add_node(name, note(name))
        for name in ("zed", "alpha", "Mid"):
            g.add_edge(e.START, name)
        g.add_edge("zed", "beta")
        return g.compile()

    # Python string order: upper case first
    assert same_on_both(build, {"log": []}) == {"log": ["Mid", "alpha", "zed", "beta"]}


def test_sends_of_several_tasks_follow_the_nodes_in_the_order_they_were_sent() -> None:
    def build(e: SimpleNamespace) -> Any:
        g = e.StateGraph(Log)
        for name in ("b", "a", "z", "y"):
            g.add_node(name, note(name))
        g.add_node("w", work)
        g.add_edge(e.START, "b")
        g.add_edge(e.START, "a")
        # "b" is added first, but "a" runs (and sends) first
        g.add_conditional_edges("b", lambda s: [e.Send("w", "b1"), "y"])
        g.add_conditional_edges("a", lambda s: [e.Send("w", "a1"), e.Send("w", "a2"), "z"])
        return g.compile()

    assert same_on_both(build, {"log": []}) == {"log": ["a", "b", "y", "z", "w:a1", "w:a2", "w:b1"]}


def test_a_commands_goto_sends_come_before_its_routers_sends() -> None:
    def build(e: SimpleNamespace) -> Any:
        def decide(state: Any) -> Any:
            return e.Command(
                update={"log": ["c"]}, goto=[e.Send("w", "goto1"), "y", e.Send("w", "goto2")]
            )

        g = e.StateGraph(Log)
        g.add_node("c", decide)
        g.add_node("w", work)
        g.add_node("y", note("y"))
        g.add_node("x", note("x"))
        g.add_edge(e.START, "c")
        g.add_conditional_edges("c", lambda s: [e.Send("w", "edge1")])
        g.add_edge("c", "x")
        return g.compile()

    assert same_on_both(build, {"log": []}) == {
        "log": ["c", "x", "y", "w:goto1", "w:goto2", "w:edge1"]
    }


def test_sends_from_the_start_router_come_after_the_nodes_it_names() -> None:
    def build(e: SimpleNamespace) -> Any:
        g = e.StateGraph(Log)
        g.add_node("w", work)
        g.add_node("a", note("a"))
        g.add_conditional_edges(e.START, lambda s: [e.Send("w", 1), "a", e.Send("w", 2)])
        return g.compile()

    assert same_on_both(build, {"log": []}) == {"log": ["a", "w:1", "w:2"]}


def test_sends_emitted_by_sent_tasks_keep_their_senders_order() -> None:
    def build(e: SimpleNamespace) -> Any:
        def fan(arg: Any) -> Any:
            if arg in ("p1", "p2"):
                return e.Command(
                    update={"log": [arg]}, goto=[e.Send("w", f"{arg}-1"), e.Send("w", f"{arg}-2")]
                )
            return {"log": [arg]}

        g = e.StateGraph(Log)
        g.add_node("w", fan)
        g.add_node("a", note("a"))
        g.add_conditional_edges(e.START, lambda s: [e.Send("w", "p1"), e.Send("w", "p2"), "a"])
        return g.compile()

    assert same_on_both(build, {"log": []}) == {
        "log": ["a", "p1", "p2", "p1-1", "p1-2", "p2-1", "p2-2"]
    }


def test_an_order_sensitive_custom_reducer_folds_the_same_on_both() -> None:
    class Joined(TypedDict):
        text: Annotated[str, lambda old, new: f"{old}|{new}" if old else new]

    def build(e: SimpleNamespace) -> Any:
        g = e.StateGraph(Joined)
        for name in ("writer", "editor", "Critic"):
            g.add_node(name, lambda s, name=name: {"text": name})
            g.add_edge(e.START, name)
        return g.compile()

    assert same_on_both(build, {"text": ""}) == {"text": "Critic|editor|writer"}


def test_a_waiting_edges_target_takes_its_place_by_name() -> None:
    def build(e: SimpleNamespace) -> Any:
        g = e.StateGraph(Log)
        for name in ("a", "b", "c", "join", "after_a"):
            g.add_node(name, note(name))
        g.add_edge(e.START, "a")
        g.add_edge(e.START, "b")
        g.add_edge("b", "c")
        g.add_edge(["a", "c"], "join")
        g.add_edge("a", "after_a")
        g.add_edge("c", "after_a")
        return g.compile()

    assert same_on_both(build, {"log": []}) == {
        "log": ["a", "b", "after_a", "c", "after_a", "join"]
    }


# -- initial values of reducer keys ----------------------------------------------------------


class Thing:
    def __init__(self, x: int) -> None:
        self.x = x


def concat(old: Any, new: Any) -> Any:
    return old + new


class Many(TypedDict):
    x: int
    items: Annotated[list[str], operator.add]
    count: Annotated[int, operator.add]
    scores: Annotated[dict[str, int], operator.or_]
    text: Annotated[str, operator.add]
    tags: Annotated[set[str], operator.or_]
    pair: Annotated[tuple[int, ...], operator.add]
    ratio: Annotated[float, concat]
    seq: Annotated[Sequence[int], concat]
    thing: Annotated[Thing, concat]
    maybe: Annotated[int | None, operator.add]
    plain: list[str]


def test_reducer_keys_no_one_wrote_read_as_their_types_empty_value() -> None:
    seen: dict[str, dict[str, Any]] = {}

    def build(e: SimpleNamespace) -> Any:
        def peek(state: Any) -> dict[str, Any]:
            seen[e.name] = {k: state.get(k, "absent") for k in Many.__annotations__}
            return {"x": 2}

        g = e.StateGraph(Many)
        g.add_node("peek", peek)
        g.add_edge(e.START, "peek")
        return g.compile()

    out = same_on_both(build, {"x": 1})
    assert seen["orca"] == seen["langgraph"]
    assert seen["orca"] == {
        "x": 1,
        "items": [],
        "count": 0,
        "scores": {},
        "text": "",
        "tags": set(),
        "pair": (),
        "ratio": 0.0,
        "seq": [],
        "thing": "absent",  # needs an argument
        "maybe": "absent",  # a union
        "plain": "absent",  # no reducer
    }
    assert "items" in out
    assert "thing" not in out
    assert "plain" not in out


def test_a_reducer_key_with_no_empty_value_stores_its_first_write_as_is() -> None:
    class Product(TypedDict):
        product: Annotated[int | None, operator.mul]
        zeroed: Annotated[int, operator.mul]

    def build(e: SimpleNamespace) -> Any:
        g = e.StateGraph(Product)
        g.add_node("a", lambda s: {"product": 2, "zeroed": 2})
        g.add_node("b", lambda s: {"product": 5, "zeroed": 5})
        g.add_edge(e.START, "a")
        g.add_edge(e.START, "b")
        return g.compile()

    assert same_on_both(build, {"product": 3, "zeroed": 3}) == {"product": 30, "zeroed": 0}


def test_get_state_holds_the_empty_values_of_a_new_thread() -> None:
    from langgraph.checkpoint.memory import InMemorySaver

    class S(TypedDict):
        x: int
        items: Annotated[list[str], operator.add]
        count: Annotated[int, operator.add]

    def graph(e: SimpleNamespace) -> Any:
        g = e.StateGraph(S)
        g.add_node("n", lambda s: {"x": s["x"] + len(s["items"]) + s["count"]})
        g.add_edge(e.START, "n")
        return g

    lg = graph(LG).compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t"}}
    lg.invoke({"x": 1}, config)
    app = graph(ORCA).compile(checkpointer=orca.MemoryCheckpointer())
    app.invoke({"x": 1}, thread_id="t")
    assert app.get_state("t").values == lg.get_state(config).values
    assert app.get_state("t").values == {"x": 1, "items": [], "count": 0}


# -- typing_extensions schemas ---------------------------------------------------------------


class Extended(typing_extensions.TypedDict, total=False):
    topic: typing_extensions.Required[str]
    log: typing_extensions.NotRequired[Annotated[list[str], operator.add]]
    hits: Annotated[typing_extensions.NotRequired[int], operator.add]
    note: str


def test_typing_extensions_typeddict_with_required_marks_is_a_schema() -> None:
    def build(e: SimpleNamespace) -> Any:
        g = e.StateGraph(Extended)
        g.add_node("n", lambda s: {"log": [s["topic"]], "hits": 2})
        g.add_edge(e.START, "n")
        return g.compile()

    assert same_on_both(build, {"topic": "otters"}) == {
        "topic": "otters",
        "log": ["otters"],
        "hits": 2,
    }
    assert same_on_both(build, {"topic": "t", "log": ["in"], "hits": 1}) == {
        "topic": "t",
        "log": ["in", "t"],
        "hits": 3,
    }


# -- RetryPolicy defaults --------------------------------------------------------------------


def test_retry_policy_defaults_are_langgraphs() -> None:
    theirs = lg_types.RetryPolicy()
    ours = orca.RetryPolicy()
    for field in ("initial_interval", "backoff_factor", "max_interval", "max_attempts", "jitter"):
        assert getattr(ours, field) == getattr(theirs, field), field


class ProviderRateLimit(Exception):
    pass


@pytest.mark.parametrize(
    "error",
    [
        ConnectionError("reset"),
        ConnectionRefusedError("refused"),
        ValueError("bad"),
        TypeError("bad"),
        KeyError("k"),
        ZeroDivisionError("z"),
        RuntimeError("r"),
        FileNotFoundError("f"),
        TimeoutError("t"),
        NotImplementedError("n"),
        ProviderRateLimit("429"),
        Exception("plain"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_default_retry_on_retries_what_langgraph_retries(error: Exception) -> None:
    from langgraph._internal._retry import default_retry_on as theirs

    assert default_retry_on(error) == theirs(error)
    assert orca.RetryPolicy().should_retry(error) == theirs(error)


@pytest.mark.parametrize(("status", "retried"), [(503, True), (500, True), (404, False)])
def test_default_retry_on_retries_http_5xx_only(status: int, retried: bool) -> None:
    httpx = pytest.importorskip("httpx")
    from langgraph._internal._retry import default_retry_on as theirs

    request = httpx.Request("GET", "http://x")
    error = httpx.HTTPStatusError(
        "status", request=request, response=httpx.Response(status, request=request)
    )
    assert default_retry_on(error) is retried
    assert theirs(error) is retried


def test_a_node_is_retried_under_the_default_policy_only_when_langgraph_retries_it() -> None:
    calls: dict[str, int] = {}

    def build(e: SimpleNamespace, policy: Any, error: Exception) -> Any:
        def flaky(state: Any) -> dict[str, Any]:
            calls[e.name] = calls.get(e.name, 0) + 1
            if calls[e.name] == 1:
                raise error
            return {"log": ["ok"]}

        g = e.StateGraph(Log)
        kw = "retry_policy" if e is LG else "retry"
        g.add_node("flaky", flaky, **{kw: policy})
        g.add_edge(e.START, "flaky")
        return g.compile()

    for error, retried in ((ConnectionError("blip"), True), (ValueError("bug"), False)):
        calls.clear()
        outcomes = []
        for e, policy in (
            (LG, lg_types.RetryPolicy(initial_interval=0, jitter=False)),
            (ORCA, orca.RetryPolicy(initial_interval=0, jitter=False)),
        ):
            try:
                outcomes.append(build(e, policy, error).invoke({"log": []}))
            except Exception as exc:
                outcomes.append(type(getattr(exc, "__cause__", None) or exc).__name__)
        assert outcomes[0] == outcomes[1]
        assert calls == {"langgraph": 2 if retried else 1, "orca": 2 if retried else 1}


# -- the step limit --------------------------------------------------------------------------


class Counter(TypedDict):
    x: int


def chain(e: SimpleNamespace, k: int) -> Any:
    g = e.StateGraph(Counter)
    for i in range(k):
        g.add_node(f"n{i}", lambda s: {"x": s["x"] + 1})
        g.add_edge(e.START if i == 0 else f"n{i - 1}", f"n{i}")
    return g.compile()


@pytest.mark.parametrize("k", [2, 3, 5])
def test_recursion_limit_n_allows_what_max_steps_n_minus_1_allows(k: int) -> None:
    """LangGraph counts the input as a step: k node steps need recursion_limit=k+1; Orca's
    max_steps counts node steps only: max_steps=k."""
    lg, app = chain(LG, k), chain(ORCA, k)
    assert lg.invoke({"x": 0}, {"recursion_limit": k + 1}) == {"x": k}
    assert app.invoke({"x": 0}, max_steps=k) == {"x": k}
    with pytest.raises(lg_errors.GraphRecursionError) as theirs:
        lg.invoke({"x": 0}, {"recursion_limit": k})
    with pytest.raises(StepLimitError) as ours:
        app.invoke({"x": 0}, max_steps=k - 1)
    # both are RuntimeErrors
    assert isinstance(theirs.value, RuntimeError)
    assert isinstance(ours.value, RuntimeError)


# -- Overwrite -------------------------------------------------------------------------------


def overwrite_graph(nodes: dict[str, Callable[[SimpleNamespace], Any]]) -> Build:
    class S(TypedDict):
        log: Annotated[list[str], operator.add]

    def build(e: SimpleNamespace) -> Any:
        g = e.StateGraph(S)
        for name, make in nodes.items():
            g.add_node(name, lambda s, make=make: {"log": make(e)})
            g.add_edge(e.START, name)
        return g.compile()

    return build


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        ({"a": lambda e: e.Overwrite(["A"])}, ["A"]),
        # the writes after an Overwrite in task order are ignored
        ({"a": lambda e: e.Overwrite(["A"]), "b": lambda e: ["B"]}, ["A"]),
        # the writes before it are replaced
        ({"a": lambda e: ["A"], "b": lambda e: e.Overwrite(["B"])}, ["B"]),
    ],
)
def test_overwrite_bypasses_the_reducer(nodes: dict[str, Any], expected: list[str]) -> None:
    assert same_on_both(overwrite_graph(nodes), {"log": ["in"]}) == {"log": expected}


def test_two_overwrites_of_one_key_in_a_step_are_refused_on_both() -> None:
    build = overwrite_graph({"a": lambda e: e.Overwrite(["A"]), "b": lambda e: e.Overwrite(["B"])})
    with pytest.raises(lg_errors.InvalidUpdateError):
        build(LG).invoke({"log": []})
    with pytest.raises(InvalidUpdateError, match="Overwrite"):
        build(ORCA).invoke({"log": []})


def test_an_overwrite_in_the_input_replaces_the_start_value() -> None:
    build = overwrite_graph({"a": lambda e: ["A"]})
    lg = build(LG).invoke({"log": LG.Overwrite(["I"])})
    assert build(ORCA).invoke({"log": Overwrite(["I"])}) == lg == {"log": ["I", "A"]}


# -- editing a paused thread -----------------------------------------------------------------


class Draft(TypedDict):
    draft: str
    log: Annotated[list[str], operator.add]


class Threads:
    """One graph, write -> ask (interrupts) -> fin, on a thread of each engine."""

    def __init__(self) -> None:
        from langgraph.checkpoint.memory import InMemorySaver

        self.lg = self.graph(LG).compile(checkpointer=InMemorySaver())
        self.orca = self.graph(ORCA).compile(checkpointer=orca.MemoryCheckpointer())
        self.config = {"configurable": {"thread_id": "t"}}

    @staticmethod
    def graph(e: SimpleNamespace) -> Any:
        def ask(state: Any, ctx: Any = None) -> dict[str, Any]:
            question = {"draft": state["draft"]}
            answer = lg_types.interrupt(question) if e is LG else ctx.interrupt(question)
            return {"log": [f"ask saw {state['draft']}, answer {answer}"]}

        g = e.StateGraph(Draft)
        g.add_node("write", lambda s: {"draft": "v1", "log": ["write"]})
        g.add_node("ask", ask)
        g.add_node("fin", lambda s: {"log": [f"fin {s['draft']}"]})
        g.add_edge(e.START, "write")
        g.add_edge("write", "ask")
        g.add_edge("ask", "fin")
        return g

    def invoke(self, value: Any) -> tuple[Any, Any]:
        lg = self.lg.invoke(value, self.config)
        return lg, self.orca.invoke(value, thread_id="t")

    def resume(self, value: Any) -> tuple[Any, Any]:
        lg = self.lg.invoke(LG.Command(resume=value), self.config)
        return lg, self.orca.invoke(ORCA.Command(resume=value), thread_id="t")

    def update(self, values: dict[str, Any], as_node: str | None = None) -> None:
        self.lg.update_state(self.config, values, as_node=as_node)
        self.orca.update_state("t", values, as_node=as_node)

    def state(self) -> tuple[Any, Any]:
        return self.lg.get_state(self.config), self.orca.get_state("t")


def without_interrupts(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k != "__interrupt__"}


def test_an_edit_while_paused_is_seen_by_the_resumed_node() -> None:
    t = Threads()
    lg, ours = t.invoke({"log": []})
    assert without_interrupts(ours) == without_interrupts(lg)
    t.update({"draft": "edited", "log": ["human"]})
    lg_state, state = t.state()
    assert state.values == lg_state.values
    assert state.next == lg_state.next == ("ask",)
    lg, ours = t.resume("ok")
    assert (
        ours
        == lg
        == {
            "draft": "edited",
            "log": ["write", "human", "ask saw edited, answer ok", "fin edited"],
        }
    )


def test_an_edit_as_the_paused_node_skips_it() -> None:
    t = Threads()
    t.invoke({"log": []})
    t.update({"draft": "by hand"}, as_node="ask")
    lg_state, state = t.state()
    assert state.values == lg_state.values
    assert state.next == lg_state.next == ("fin",)
    lg, ours = t.invoke(None)
    assert ours == lg == {"draft": "by hand", "log": ["write", "fin by hand"]}


@pytest.mark.parametrize("as_node", [None, "write"])
def test_update_state_on_a_new_thread_makes_its_first_checkpoint(as_node: str | None) -> None:
    t = Threads()
    t.update({"draft": "seed"}, as_node=as_node)
    lg_state, state = t.state()
    assert state.values == lg_state.values == {"draft": "seed", "log": []}
    assert state.next == lg_state.next
    assert state.metadata["source"] == lg_state.metadata["source"] == "update"
    assert state.step == lg_state.metadata["step"] == 0
    lg, ours = t.invoke(None)
    assert without_interrupts(ours) == without_interrupts(lg)


# -- a step that pauses or fails part-way ----------------------------------------------------


class PartWay:
    """a and b run in one step, b pauses (or fails once); c follows a."""

    def __init__(self, how: str) -> None:
        from langgraph.checkpoint.memory import InMemorySaver

        self.calls: dict[str, dict[str, int]] = {"langgraph": {}, "orca": {}}
        self.how = how
        self.lg = self.graph(LG).compile(checkpointer=InMemorySaver())
        self.orca = self.graph(ORCA).compile(checkpointer=orca.MemoryCheckpointer())
        self.config = {"configurable": {"thread_id": "t"}}

    def graph(self, e: SimpleNamespace) -> Any:
        calls = self.calls[e.name]

        def a(state: Any) -> dict[str, Any]:
            calls["a"] = calls.get("a", 0) + 1
            return {"log": ["a"]}

        def b(state: Any, ctx: Any = None) -> dict[str, Any]:
            calls["b"] = calls.get("b", 0) + 1
            if self.how == "fail":
                if calls["b"] == 1:
                    raise ValueError("boom")
                return {"log": ["b"]}
            answer = lg_types.interrupt("q") if e is LG else ctx.interrupt("q")
            return {"log": [f"b {answer}"]}

        g = e.StateGraph(Log)
        g.add_node("a", a)
        g.add_node("b", b)
        g.add_node("c", note("c"))
        g.add_edge(e.START, "a")
        g.add_edge(e.START, "b")
        g.add_edge("a", "c")
        return g


def test_a_paused_steps_finished_siblings_show_in_the_result_state_and_updates() -> None:
    t = PartWay("pause")
    lg_updates = [
        chunk
        for chunk in t.lg.stream({"log": []}, t.config, stream_mode="updates")
        if "__interrupt__" not in chunk
    ]
    ours = [(e.node, e.update) for e in t.orca.stream({"log": []}, thread_id="t", mode="updates")]
    assert lg_updates == [{"a": {"log": ["a"]}}]
    assert ours == [("a", {"log": ["a"]})]

    lg_state, state = t.lg.get_state(t.config), t.orca.get_state("t")
    assert state.values == lg_state.values == {"log": ["a"]}
    assert state.next == lg_state.next == ("b",)

    lg = t.lg.invoke(LG.Command(resume="ok"), t.config)
    assert t.orca.invoke(ORCA.Command(resume="ok"), thread_id="t") == lg
    assert lg == {"log": ["a", "b ok", "c"]}
    # the finished sibling did not run again
    assert t.calls == {"langgraph": {"a": 1, "b": 2}, "orca": {"a": 1, "b": 2}}


def test_the_result_of_a_paused_run_holds_its_finished_siblings_writes() -> None:
    t = PartWay("pause")
    lg = t.lg.invoke({"log": []}, t.config)
    ours = t.orca.invoke({"log": []}, thread_id="t")
    assert without_interrupts(ours) == without_interrupts(lg) == {"log": ["a"]}
    assert len(ours["__interrupt__"]) == len(lg["__interrupt__"]) == 1


def test_a_failed_steps_finished_siblings_are_kept_and_not_run_again() -> None:
    t = PartWay("fail")
    with pytest.raises(ValueError, match="boom"):
        t.lg.invoke({"log": []}, t.config)
    with pytest.raises(orca.errors.NodeError) as failed:
        t.orca.invoke({"log": []}, thread_id="t")
    assert isinstance(failed.value.__cause__, ValueError)

    lg_state, state = t.lg.get_state(t.config), t.orca.get_state("t")
    assert state.values == lg_state.values == {"log": ["a"]}
    assert state.next == lg_state.next == ("b",)

    lg = t.lg.invoke(None, t.config)
    assert t.orca.invoke(None, thread_id="t") == lg == {"log": ["a", "b", "c"]}
    assert t.calls == {"langgraph": {"a": 1, "b": 2}, "orca": {"a": 1, "b": 2}}


# -- the values stream -----------------------------------------------------------------------


class Streams:
    """a -> noop (writes nothing) -> b, paused before b, on a thread of each engine."""

    def __init__(self) -> None:
        from langgraph.checkpoint.memory import InMemorySaver

        self.lg = self.graph(LG).compile(checkpointer=InMemorySaver(), interrupt_before=["b"])
        self.orca = self.graph(ORCA).compile(
            checkpointer=orca.MemoryCheckpointer(), interrupt_before=["b"]
        )
        self.config = {"configurable": {"thread_id": "t"}}

    @staticmethod
    def graph(e: SimpleNamespace) -> Any:
        g = e.StateGraph(Log)
        g.add_node("a", note("a"))
        g.add_node("noop", lambda s: None)
        g.add_node("b", note("b"))
        g.add_edge(e.START, "a")
        g.add_edge("a", "noop")
        g.add_edge("noop", "b")
        return g

    def values(self, input: Any, checkpoint_id: tuple[Any, str] | None = None) -> list[Any]:
        config = self.config if checkpoint_id is None else checkpoint_id[0]
        lg = list(self.lg.stream(input, config, stream_mode="values"))
        at = {} if checkpoint_id is None else {"checkpoint_id": checkpoint_id[1]}
        ours = [e.values for e in self.orca.stream(input, thread_id="t", mode="values", **at)]
        assert ours == lg
        return ours


def test_values_stream_skips_a_step_that_wrote_nothing() -> None:
    t = Streams()
    assert t.values({"log": []}) == [{"log": []}, {"log": ["a"]}]


def test_values_stream_of_a_continued_run_starts_with_the_state_it_continues_from() -> None:
    t = Streams()
    t.values({"log": []})
    assert t.values(None) == [{"log": ["a"]}, {"log": ["a", "b"]}]
    # a thread with nothing left to run still shows where it stands
    assert t.values(None) == [{"log": ["a", "b"]}]


def test_values_stream_of_time_travel_and_of_an_empty_input() -> None:
    t = Streams()
    t.values({"log": []})
    t.values(None)
    old_lg = next(h for h in t.lg.get_state_history(t.config) if h.next == ("noop",))
    old = next(h for h in t.orca.get_history("t") if [n["node"] for n in h.next] == ["noop"])
    assert t.values(None, (old_lg.config, old.checkpoint_id)) == [{"log": ["a"]}]
    # an input that writes nothing adds no values event of its own
    assert t.values({}) == [{"log": ["a", "a"]}]  # on the time-travel branch


# -- differences kept on purpose (docs/langgraph.md) ------------------------------------------


def test_a_schema_default_is_a_state_value_in_orca_and_only_the_nodes_view_in_langgraph() -> None:
    """Orca starts a key at its dataclass default (stored, returned, and what a reducer
    folds into); LangGraph's defaults only fill the object a node receives, and a reducer
    key starts at its type's empty value whatever the default."""
    import dataclasses

    @dataclasses.dataclass
    class D:
        x: int
        y: int = 3
        n: Annotated[int, operator.add] = 5

    seen: dict[str, tuple[int, int]] = {}

    def build(e: SimpleNamespace) -> Any:
        def node(state: D) -> dict[str, Any]:
            seen[e.name] = (state.y, state.n)
            return {"n": 1}

        g = e.StateGraph(D)
        g.add_node("node", node)
        g.add_edge(e.START, "node")
        return g.compile()

    lg, ours = on_both(build, {"x": 1})
    assert lg == {"x": 1, "n": 1}
    assert seen["langgraph"] == (3, 0)
    assert ours == {"x": 1, "y": 3, "n": 6}
    assert seen["orca"] == (3, 5)


# -- lists of retry policies, update pairs, the step-limit boundary, a paused step's values -----


def test_with_several_retry_policies_the_first_matching_one_applies() -> None:
    calls: dict[str, int] = {}

    def build(e: SimpleNamespace, errors: list[Exception]) -> Any:
        def flaky(state: Any) -> dict[str, Any]:
            calls[e.name] = calls.get(e.name, 0) + 1
            if calls[e.name] <= len(errors):
                raise errors[calls[e.name] - 1]
            return {"log": ["ok"]}

        kinds = (lg_types.RetryPolicy, "retry_policy") if e is LG else (orca.RetryPolicy, "retry")
        policy, kw = kinds
        policies = [
            policy(retry_on=KeyError, max_attempts=2, initial_interval=0, jitter=False),
            policy(retry_on=Exception, max_attempts=4, initial_interval=0, jitter=False),
        ]
        g = e.StateGraph(Log)
        g.add_node("flaky", flaky, **{kw: policies})
        g.add_edge(e.START, "flaky")
        return g.compile()

    for errors, outcome, attempts in (
        ([KeyError("a"), KeyError("b")], "KeyError", 2),  # the first policy: 2 attempts
        ([OSError("a"), OSError("b"), OSError("c")], {"log": ["ok"]}, 4),  # the second
    ):
        calls.clear()
        seen = []
        for e in ENGINES:
            try:
                seen.append(build(e, errors).invoke({"log": []}))
            except Exception as exc:
                seen.append(type(exc.__cause__ or exc).__name__)
        assert seen == [outcome, outcome]
        assert calls == {"langgraph": attempts, "orca": attempts}


def test_a_command_update_of_pairs_applies_a_key_twice_through_its_reducer() -> None:
    def build(e: SimpleNamespace) -> Any:
        g = e.StateGraph(Log)
        g.add_node("n", lambda s: e.Command(update=[("log", ["a"]), ("log", ["b"])]))
        g.add_edge(e.START, "n")
        return g.compile()

    assert same_on_both(build, {"log": []}) == {"log": ["a", "b"]}


@pytest.mark.parametrize("limit", [1, 2, 3, 5])
def test_overrun_step_is_langgraphs_recursion_limit_boundary(limit: int) -> None:
    """LangGraph's recursion_limit=N is max_steps=N-1 with overrun_step: a loop runs N
    steps then fails; a chain of N-1 steps finishes, one of N runs them all and fails."""

    def loop(e: SimpleNamespace) -> Any:
        g = e.StateGraph(Log)
        g.add_node("spin", lambda s: {"log": ["s"]})
        g.add_edge(e.START, "spin")
        g.add_edge("spin", "spin")
        return g.compile()

    def chain(e: SimpleNamespace, length: int) -> Any:
        g = e.StateGraph(Log)
        names = [f"n{i}" for i in range(length)]
        for name in names:
            g.add_node(name, lambda s, name=name: {"log": [name]})
        g.add_edge(e.START, names[0])
        for a, b in itertools.pairwise(names):
            g.add_edge(a, b)
        return g.compile()

    def outcome(e: SimpleNamespace, app: Any) -> Any:
        if e is LG:
            stream = app.stream({"log": []}, {"recursion_limit": limit}, stream_mode="updates")
        else:
            stream = app.stream({"log": []}, mode="updates", max_steps=limit - 1, overrun_step=True)
        steps = 0
        try:
            for _ in stream:
                steps += 1
        except (RecursionError, StepLimitError):
            return steps, "limit"
        return steps, "done"

    for make in (loop, lambda e: chain(e, max(limit - 1, 1)), lambda e: chain(e, limit)):
        lg, orc = outcome(LG, make(LG)), outcome(ORCA, make(ORCA))
        assert orc == lg
    assert outcome(ORCA, loop(ORCA)) == (limit, "limit")


def test_a_step_that_pauses_part_way_ends_the_values_stream_with_its_finished_writes() -> None:
    g = orca.StateGraph(Log)
    g.add_node("a", lambda s: {"log": ["a done"]})
    g.add_node("b", lambda s, ctx: {"log": [f"b:{ctx.interrupt('b?')}"]})
    g.add_edge(orca.START, "a")
    g.add_edge(orca.START, "b")
    app = g.compile(orca.MemoryCheckpointer())
    events = [e for e in app.stream({"log": []}, thread_id="t") if e.type in (VALUES, INTERRUPT)]
    # the input's values, the pause, then the state with a's write (b still pending)
    assert [e.type for e in events] == [VALUES, INTERRUPT, VALUES]
    assert events[-1].values == {"log": ["a done"]}
    assert app.get_state("t").values == {"log": ["a done"]}
