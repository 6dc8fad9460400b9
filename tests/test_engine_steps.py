"""Superstep semantics: planning, parallel execution, the barrier, routing.

Every superstep runs its ready tasks concurrently against the state as of the step start,
then applies their writes in task order (never completion order) at one barrier.
"""

import asyncio
import datetime as dt
import threading
from typing import Annotated, Any, TypedDict

import pytest

from orca import END, START, Command, RunContext, Send, StateGraph, reducers
from orca.errors import (
    GraphError,
    InvalidUpdateError,
    NodeError,
    StepLimitError,
    UnknownStateKeyError,
)

WAIT = 5.0  # generous bound for a threading wait that should succeed at once


class State(TypedDict):
    count: int
    log: Annotated[list[Any], reducers.append]


def logger(name: str):  # type: ignore[no-untyped-def]
    def node(state: Any) -> dict[str, Any]:
        return {"log": [name]}

    return node


# -- the state each task sees ----------------------------------------------------------------


def test_parallel_tasks_see_the_state_as_of_the_step_start() -> None:
    def bump(name: str):  # type: ignore[no-untyped-def]
        def node(state: State) -> dict[str, Any]:
            return {"log": [(name, state["count"], len(state["log"]))]}

        return node

    class S(TypedDict):
        count: Annotated[int, reducers.sum]
        log: Annotated[list[Any], reducers.append]

    g = StateGraph(S)
    g.add_node("a", lambda s: {"count": 1, "log": [("a", s["count"], len(s["log"]))]})
    g.add_node("b", bump("b"))
    g.add_node("c", bump("c"))
    for name in "abc":
        g.add_edge(START, name)
    g.add_edge("a", "after")
    g.add_node("after", bump("after"))

    result = g.compile().invoke({"count": 10})

    # a, b and c ran in one step: none saw the others' writes
    assert result["log"] == [("a", 10, 0), ("b", 10, 0), ("c", 10, 0), ("after", 11, 3)]
    assert result["count"] == 11


def test_a_task_mutating_its_state_in_place_changes_nothing_for_parallel_tasks() -> None:
    mutated = threading.Event()

    def mutate(state: dict[str, Any]) -> None:
        state["count"] = 999
        state["log"].append("sneaky")
        mutated.set()

    def read(state: dict[str, Any]) -> dict[str, Any]:
        assert mutated.wait(WAIT)
        return {"log": [("read saw", state["count"], list(state["log"]))]}

    g = StateGraph(State)
    g.add_node("mutate", mutate)
    g.add_node("read", read)
    g.add_edge(START, "mutate")
    g.add_edge(START, "read")

    result = g.compile().invoke({"count": 1, "log": ["input"]})

    # both tasks see the state as of the step start, and only returned writes count
    assert result == {"count": 1, "log": ["input", ("read saw", 1, ["input"])]}


# -- write order -------------------------------------------------------------------------------


async def test_parallel_writes_apply_in_task_order_not_completion_order_async() -> None:
    fast_done = asyncio.Event()
    finished: list[str] = []

    async def slow(state: State) -> dict[str, Any]:
        await asyncio.wait_for(fast_done.wait(), WAIT)
        finished.append("slow")
        return {"log": ["slow"]}

    async def fast(state: State) -> dict[str, Any]:
        finished.append("fast")
        fast_done.set()
        return {"log": ["fast"]}

    g = StateGraph(State)
    # task order is by node name: "a_slow" comes first, though it finishes last
    g.add_node("b_fast", fast)
    g.add_node("a_slow", slow)
    g.add_edge(START, "b_fast")
    g.add_edge(START, "a_slow")

    result = await g.compile().ainvoke({})

    assert finished == ["fast", "slow"]
    assert result["log"] == ["slow", "fast"]


def test_parallel_writes_apply_in_task_order_not_completion_order_sync() -> None:
    fast_done = threading.Event()
    finished: list[str] = []

    def slow(state: State) -> dict[str, Any]:
        assert fast_done.wait(WAIT)
        finished.append("slow")
        return {"log": ["slow"]}

    def fast(state: State) -> dict[str, Any]:
        finished.append("fast")
        fast_done.set()
        return {"log": ["fast"]}

    g = StateGraph(State)
    # task order is by node name: "a_slow" comes first, though it finishes last
    g.add_node("b_fast", fast)
    g.add_node("a_slow", slow)
    g.add_edge(START, "b_fast")
    g.add_edge(START, "a_slow")

    result = g.compile().invoke({})

    assert finished == ["fast", "slow"]
    assert result["log"] == ["slow", "fast"]


def test_send_tasks_apply_in_send_order_even_when_they_finish_in_reverse() -> None:
    n = 5
    gates = [threading.Event() for _ in range(n)]
    finished: list[int] = []

    def worker(i: int) -> dict[str, Any]:
        # each worker waits for the one after it, so they finish last-to-first
        if i + 1 < n:
            assert gates[i + 1].wait(WAIT)
        finished.append(i)
        gates[i].set()
        return {"log": [i]}

    g = StateGraph(State)
    g.add_node("worker", worker)
    g.add_conditional_edges(START, lambda s: [Send("worker", i) for i in range(n)])

    result = g.compile().invoke({})

    assert finished == [4, 3, 2, 1, 0]
    assert result["log"] == [0, 1, 2, 3, 4]


# -- parallelism -------------------------------------------------------------------------------


def test_sync_nodes_of_one_step_run_in_parallel_threads() -> None:
    barrier = threading.Barrier(2, timeout=WAIT)
    threads: list[str] = []

    def meet(name: str):  # type: ignore[no-untyped-def]
        def node(state: State) -> dict[str, Any]:
            barrier.wait()  # breaks (and the node fails) unless both run at once
            threads.append(threading.current_thread().name)
            return {"log": [name]}

        return node

    g = StateGraph(State)
    g.add_node("a", meet("a"))
    g.add_node("b", meet("b"))
    g.add_edge(START, "a")
    g.add_edge(START, "b")

    assert g.compile().invoke({})["log"] == ["a", "b"]
    assert len(set(threads)) == 2
    assert threading.current_thread().name not in threads


async def test_async_nodes_of_one_step_run_concurrently() -> None:
    barrier = asyncio.Barrier(3)

    async def meet(arg: int) -> dict[str, Any]:
        async with asyncio.timeout(WAIT):
            await barrier.wait()  # times out unless all three run at once
        return {"log": [arg]}

    g = StateGraph(State)
    g.add_node("meet", meet)
    g.add_conditional_edges(START, lambda s: [Send("meet", i) for i in range(3)])

    assert (await g.compile().ainvoke({}))["log"] == [0, 1, 2]


async def test_async_and_sync_nodes_mix_in_one_step() -> None:
    sync_started = threading.Event()

    def sync_node(state: State) -> dict[str, Any]:
        sync_started.set()
        return {"log": ["sync"]}

    async def async_node(state: State) -> dict[str, Any]:
        # the sync node runs in a thread, so this coroutine can wait for it without deadlock
        assert await asyncio.to_thread(sync_started.wait, WAIT)
        return {"log": ["async"]}

    g = StateGraph(State)
    g.add_node("async_node", async_node)
    g.add_node("sync_node", sync_node)
    g.add_edge(START, "async_node")
    g.add_edge(START, "sync_node")

    assert (await g.compile().ainvoke({}))["log"] == ["async", "sync"]


# -- Send fan-out --------------------------------------------------------------------------------


def test_send_fans_out_one_task_per_payload_and_a_reducer_node_runs_once() -> None:
    class MapReduce(TypedDict):
        items: list[str]
        results: Annotated[list[str], reducers.append]
        summary: str

    reduce_calls = 0
    seen_args: list[Any] = []

    def worker(arg: dict[str, Any]) -> dict[str, Any]:
        seen_args.append(arg)
        return {"results": [arg["item"].upper() * arg["times"]]}

    def summarise(state: MapReduce) -> dict[str, Any]:
        nonlocal reduce_calls
        reduce_calls += 1
        return {"summary": ",".join(state["results"])}

    def split(state: MapReduce) -> list[Send]:
        return [Send("worker", {"item": x, "times": i + 1}) for i, x in enumerate(state["items"])]

    g = StateGraph(MapReduce)
    g.add_node("worker", worker)
    g.add_node("summarise", summarise)
    g.add_conditional_edges(START, split)
    g.add_edge("worker", "summarise")

    result = g.compile().invoke({"items": ["a", "b", "c"]})

    assert sorted(map(str, seen_args)) == sorted(
        map(str, [{"item": "a", "times": 1}, {"item": "b", "times": 2}, {"item": "c", "times": 3}])
    )
    assert result["results"] == ["A", "BB", "CCC"]
    assert result["summary"] == "A,BB,CCC"
    assert reduce_calls == 1


def test_send_to_the_same_node_twice_runs_two_tasks() -> None:
    g = StateGraph(State)
    g.add_node("w", lambda arg: {"log": [arg]})
    g.add_conditional_edges(START, lambda s: [Send("w", "x"), Send("w", "x")])
    assert g.compile().invoke({})["log"] == ["x", "x"]


def test_a_node_named_by_two_edges_runs_once_in_the_next_step() -> None:
    calls = 0

    def join(state: State) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {"log": ["join"]}

    g = StateGraph(State)
    g.add_node("a", logger("a"))
    g.add_node("b", logger("b"))
    g.add_node("join", join)
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.add_edge("a", "join")
    g.add_edge("b", "join")

    assert g.compile().invoke({})["log"] == ["a", "b", "join"]
    assert calls == 1


def test_send_to_an_unknown_node_fails_with_a_suggestion() -> None:
    g = StateGraph(State)
    g.add_node("worker", logger("w"))
    g.add_conditional_edges(START, lambda s: [Send("wroker", 1)])
    with pytest.raises(GraphError) as exc:
        g.compile().invoke({})
    assert "a Send to 'wroker'" in str(exc.value)
    assert "did you mean 'worker'?" in str(exc.value)


# -- Command -------------------------------------------------------------------------------------


def test_command_updates_state_and_goes_to_a_node() -> None:
    g = StateGraph(State)
    g.add_node("decide", lambda s: Command(update={"count": 7}, goto="next"), destinations=["next"])
    g.add_node("next", lambda s: {"log": [("next saw", s["count"])]})
    g.add_edge(START, "decide")

    assert g.compile().invoke({}) == {"count": 7, "log": [("next saw", 7)]}


def test_command_goto_adds_to_the_static_edges() -> None:
    g = StateGraph(State)
    g.add_node("decide", lambda s: Command(goto=["x"]), destinations=["x"])
    g.add_node("x", logger("x"))
    g.add_node("y", logger("y"))
    g.add_edge(START, "decide")
    g.add_edge("decide", "y")

    assert g.compile().invoke({})["log"] == ["x", "y"]


def test_command_goto_can_send() -> None:
    g = StateGraph(State)
    g.add_node("decide", lambda s: Command(goto=[Send("w", 1), Send("w", 2)]), destinations=["w"])
    g.add_node("w", lambda arg: {"log": [arg * 10]})
    g.add_edge(START, "decide")
    assert g.compile().invoke({})["log"] == [10, 20]


def test_command_goto_end_ends_the_run() -> None:
    g = StateGraph(State)
    g.add_node("stop", lambda s: Command(update={"count": 1}, goto=END))
    g.add_edge(START, "stop")
    assert g.compile().invoke({}) == {"count": 1, "log": []}


def test_command_goto_unknown_node_fails_with_a_suggestion() -> None:
    g = StateGraph(State)
    g.add_node("decide", lambda s: Command(goto="nxet"))
    g.add_node("next", logger("next"))
    g.add_edge(START, "decide")
    g.add_edge("decide", "next")
    with pytest.raises(GraphError) as exc:
        g.compile().invoke({})
    assert "'nxet'" in str(exc.value)
    assert "did you mean 'next'?" in str(exc.value)
    assert exc.value.node == "decide"


# -- conditional edges ---------------------------------------------------------------------------


def route_graph(router: Any, path_map: Any = None) -> Any:
    g = StateGraph(State)
    g.add_node("start", lambda s: {"log": ["start"]})
    for name in ("x", "y", "z"):
        g.add_node(name, logger(name))
    g.add_edge(START, "start")
    g.add_conditional_edges("start", router, path_map)
    return g.compile()


def test_router_returning_a_name_runs_that_node() -> None:
    app = route_graph(lambda s: "y" if s["count"] > 0 else "x")
    assert app.invoke({"count": 1})["log"] == ["start", "y"]
    assert app.invoke({"count": 0})["log"] == ["start", "x"]


def test_router_returning_a_list_runs_each_node_in_one_step() -> None:
    app = route_graph(lambda s: ["z", "x"])
    # the nodes of a step run in name order, as in LangGraph
    assert app.invoke({})["log"] == ["start", "x", "z"]


def test_router_returning_end_ends_the_run() -> None:
    app = route_graph(lambda s: END)
    assert app.invoke({})["log"] == ["start"]


def test_router_returning_none_ends_the_branch() -> None:
    app = route_graph(lambda s: None)
    assert app.invoke({})["log"] == ["start"]


def test_router_returning_sends_fans_out() -> None:
    app = route_graph(lambda s: [Send("x", {}), Send("y", {})])
    assert app.invoke({})["log"] == ["start", "x", "y"]


def test_router_results_go_through_the_path_map() -> None:
    app = route_graph(
        lambda s: "small" if s["count"] < 10 else "big", {"small": "x", "mid": "y", "big": "z"}
    )
    assert app.invoke({"count": 3})["log"] == ["start", "x"]
    assert app.invoke({"count": 30})["log"] == ["start", "z"]


def test_router_result_missing_from_the_path_map_fails() -> None:
    app = route_graph(lambda s: "medium", {"small": "x", "mid": "y", "big": "z"})
    with pytest.raises(GraphError) as exc:
        app.invoke({})
    assert "router of 'start' returned 'medium'" in str(exc.value)
    assert "path_map" in str(exc.value)
    assert "Fix:" in str(exc.value)
    assert exc.value.node == "start"


def test_router_returning_an_unknown_node_fails_with_a_suggestion() -> None:
    app = route_graph(lambda s: "zz")
    with pytest.raises(GraphError) as exc:
        app.invoke({})
    assert exc.value.node == "start"
    assert "'zz'" in str(exc.value)
    assert "did you mean 'z'?" in str(exc.value)


def test_router_sees_the_nodes_own_writes() -> None:
    seen: list[int] = []

    def router(state: State) -> str:
        seen.append(state["count"])
        return "big" if state["count"] > 5 else "small"

    g = StateGraph(State)
    g.add_node("set", lambda s: {"count": 9, "log": ["set"]})
    g.add_node("big", logger("big"))
    g.add_node("small", logger("small"))
    g.add_edge(START, "set")
    g.add_conditional_edges("set", router, ["big", "small"])

    assert g.compile().invoke({"count": 0})["log"] == ["set", "big"]
    assert seen == [9]


def test_router_does_not_see_writes_of_parallel_tasks() -> None:
    seen: list[int] = []

    def router(state: State) -> str:
        seen.append(state["count"])
        return END

    g = StateGraph(State)
    g.add_node("a", lambda s: None)
    g.add_node("b", lambda s: {"count": 42})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.add_conditional_edges("a", router)

    assert g.compile().invoke({"count": 1})["count"] == 42
    assert seen == [1]


async def test_async_router_and_router_with_ctx() -> None:
    async def router(state: State, ctx: RunContext) -> str:
        await asyncio.sleep(0)
        return "x" if ctx.node == "start" else "y"

    assert (await route_graph(router).ainvoke({}))["log"] == ["start", "x"]


def test_loop_until_a_router_says_end() -> None:
    g = StateGraph(State)
    g.add_node("inc", lambda s: {"count": s["count"] + 1})
    g.add_edge(START, "inc")
    g.add_conditional_edges("inc", lambda s: "inc" if s["count"] < 5 else END)
    assert g.compile().invoke({"count": 0})["count"] == 5


# -- waiting edges -----------------------------------------------------------------------------


def test_waiting_edge_runs_its_target_once_after_all_sources_ran() -> None:
    steps: dict[str, int] = {}

    def track(name: str):  # type: ignore[no-untyped-def]
        def node(state: State, ctx: RunContext) -> dict[str, Any]:
            steps[name] = ctx.step
            return {"log": [name]}

        return node

    g = StateGraph(State)
    for name in ("a", "b1", "b2", "c"):
        g.add_node(name, track(name))
    g.add_edge(START, "a")
    g.add_edge(START, "b1")
    g.add_edge("b1", "b2")
    g.add_edge(["a", "b2"], "c")

    result = g.compile().invoke({})

    assert result["log"] == ["a", "b1", "b2", "c"]
    assert steps["c"] == steps["b2"] + 1
    assert steps["c"] > steps["a"] + 1  # c waited for b2, not just for a


def test_waiting_edge_fires_again_when_all_sources_run_again() -> None:
    calls = 0

    def c(state: State) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {"count": state["count"] + 1}

    g = StateGraph(State)
    g.add_node("a", lambda s: None)
    g.add_node("b", lambda s: None)
    g.add_node("c", c)
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.add_edge(["a", "b"], "c")
    g.add_conditional_edges("c", lambda s: ["a", "b"] if s["count"] < 3 else END)

    assert g.compile().invoke({"count": 0})["count"] == 3
    assert calls == 3


def test_waiting_edge_does_not_fire_when_one_source_never_runs() -> None:
    g = StateGraph(State)
    g.add_node("a", logger("a"))
    g.add_node("b", logger("b"))
    g.add_node("c", logger("c"))
    g.add_edge(START, "a")
    g.add_conditional_edges("a", lambda s: END, ["b", END])
    g.add_edge(["a", "b"], "c")
    assert g.compile().invoke({})["log"] == ["a"]


def test_hidden_join_bookkeeping_is_not_part_of_the_result() -> None:
    g = StateGraph(State)
    g.add_node("a", logger("a"))
    g.add_node("b", logger("b"))
    g.add_node("c", logger("c"))
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    g.add_edge(["a", "b"], "c")
    assert set(g.compile().invoke({})) == {"log"}


# -- node call forms -----------------------------------------------------------------------------


def test_nodes_may_take_ctx_positionally_or_by_keyword_or_not_at_all() -> None:
    def positional(state: State, ctx: RunContext) -> dict[str, Any]:
        return {"log": [("positional", ctx.node)]}

    def keyword(state: State, *, ctx: RunContext) -> dict[str, Any]:
        return {"log": [("keyword", ctx.node)]}

    def bare(state: State) -> dict[str, Any]:
        return {"log": [("bare", None)]}

    class Callable_:
        async def __call__(self, state: State, ctx: RunContext) -> dict[str, Any]:
            return {"log": [("object", ctx.node)]}

    g = StateGraph(State)
    g.add_node("p", positional)
    g.add_node("k", keyword)
    g.add_node("b", bare)
    g.add_node("o", Callable_())
    for name in "pkbo":
        g.add_edge(START, name)

    assert g.compile().invoke({})["log"] == [
        ("bare", None),
        ("keyword", "k"),
        ("object", "o"),
        ("positional", "p"),
    ]


def test_ctx_reports_step_node_thread_and_a_stable_task_id() -> None:
    seen: list[tuple[int, str, str, str]] = []

    def node(state: State, ctx: RunContext) -> None:
        seen.append((ctx.step, ctx.node, ctx.thread_id, ctx.task_id))

    g = StateGraph(State)
    g.add_node("a", node)
    g.add_node("b", node)
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    app = g.compile()
    app.invoke({})
    app.invoke({})

    first, second = seen[:2], seen[2:]
    assert [(s, n) for s, n, _, _ in first] == [(1, "a"), (2, "b")]
    assert first == second  # ids derive from thread, step and task path, not from clocks
    assert first[0][3] != first[1][3]


def test_ctx_random_is_seeded_by_the_run_seed() -> None:
    def draw(state: State, ctx: RunContext) -> dict[str, Any]:
        return {"log": [ctx.random.random()]}

    g = StateGraph(State)
    g.add_node("draw", draw)
    g.add_edge(START, "draw")
    app = g.compile()

    assert app.invoke({}, seed=1) == app.invoke({}, seed=1)
    assert app.invoke({}, seed=1) != app.invoke({}, seed=2)


def test_ctx_now_comes_from_the_run_clock() -> None:
    fixed = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)

    def stamp(state: State, ctx: RunContext) -> dict[str, Any]:
        return {"log": [ctx.now()]}

    g = StateGraph(State)
    g.add_node("stamp", stamp)
    g.add_edge(START, "stamp")
    assert g.compile().invoke({}, clock=lambda: fixed)["log"] == [fixed]


# -- bad node output -----------------------------------------------------------------------------


def test_node_writing_an_unknown_key_names_node_and_key_with_a_suggestion() -> None:
    g = StateGraph(State)
    g.add_node("counter", lambda s: {"cuont": 1})
    g.add_edge(START, "counter")
    with pytest.raises(UnknownStateKeyError) as exc:
        g.compile().invoke({})
    message = str(exc.value)
    assert "node 'counter'" in message
    assert "'cuont'" in message
    assert "did you mean 'count'?" in message
    assert "Fix:" in message
    assert exc.value.node == "counter"
    assert exc.value.key == "cuont"


@pytest.mark.parametrize("output", [["count", 1], "count", 3, ("log", "x")])
def test_node_returning_a_non_dict_is_an_invalid_update(output: Any) -> None:
    g = StateGraph(State)
    g.add_node("oops", lambda s: output)
    g.add_edge(START, "oops")
    with pytest.raises(InvalidUpdateError) as exc:
        g.compile().invoke({})
    assert "node 'oops'" in str(exc.value)
    assert type(output).__name__ in str(exc.value)
    assert "Fix:" in str(exc.value)
    assert exc.value.node == "oops"


def test_node_returning_none_writes_nothing() -> None:
    g = StateGraph(State)
    g.add_node("quiet", lambda s: None)
    g.add_edge(START, "quiet")
    assert g.compile().invoke({"count": 4}) == {"count": 4, "log": []}


def test_node_raising_is_a_node_error_with_the_original_as_cause() -> None:
    boom = KeyError("missing thing")

    def explode(state: State) -> None:
        raise boom

    g = StateGraph(State)
    g.add_node("explode", explode)
    g.add_edge(START, "explode")

    with pytest.raises(NodeError) as exc:
        g.compile().invoke({})

    assert exc.value.__cause__ is boom
    assert exc.value.node == "explode"
    assert exc.value.attempts == 1
    assert exc.value.task_id
    assert "node 'explode' failed after 1 attempt" in str(exc.value)
    assert "KeyError" in str(exc.value)
    assert isinstance(exc.value, RuntimeError)


def test_failing_task_in_a_parallel_step_fails_the_run_before_the_next_step() -> None:
    after_calls = 0

    def explode(state: State) -> None:
        raise RuntimeError("nope")

    def after(state: State) -> None:
        nonlocal after_calls
        after_calls += 1

    g = StateGraph(State)
    g.add_node("fine", logger("fine"))
    g.add_node("explode", explode)
    g.add_node("after", after)
    g.add_edge(START, "fine")
    g.add_edge(START, "explode")
    g.add_edge("fine", "after")
    with pytest.raises(NodeError) as exc:
        g.compile().invoke({})
    assert exc.value.node == "explode"
    assert after_calls == 0


# -- max_steps -----------------------------------------------------------------------------------


def test_max_steps_stops_an_endless_loop_with_a_clear_error() -> None:
    calls = 0

    def spin(state: State) -> dict[str, Any]:
        nonlocal calls
        calls += 1
        return {"count": state["count"] + 1}

    g = StateGraph(State)
    g.add_node("spin", spin)
    g.add_edge(START, "spin")
    g.add_edge("spin", "spin")

    with pytest.raises(StepLimitError) as exc:
        g.compile().invoke({"count": 0}, max_steps=7)

    assert exc.value.max_steps == 7
    assert calls == 7
    assert "max_steps=7" in str(exc.value)
    assert "invoke(..., max_steps=N)" in str(exc.value)


def test_run_that_needs_exactly_max_steps_finishes() -> None:
    g = StateGraph(State)
    g.add_node("inc", lambda s: {"count": s["count"] + 1})
    g.add_edge(START, "inc")
    g.add_conditional_edges("inc", lambda s: "inc" if s["count"] < 3 else END)
    assert g.compile().invoke({"count": 0}, max_steps=3)["count"] == 3


def test_default_max_steps_is_finite() -> None:
    g = StateGraph(State)
    g.add_node("spin", lambda s: None)
    g.add_edge(START, "spin")
    g.add_edge("spin", "spin")
    with pytest.raises(StepLimitError) as exc:
        g.compile().invoke({})
    assert exc.value.max_steps == 100
