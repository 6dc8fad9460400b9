"""Errors: which exception class comes out for the same condition (messages are not
compared), at build time, compile time and run time, and the step limit's boundary."""

from __future__ import annotations

import asyncio
import itertools
import operator
from typing import Annotated, Any, TypedDict

from ._harness import Cases, Library, attempt, cfg, history, run_async, state

case = Cases("errors")


class S(TypedDict, total=False):
    log: Annotated[list[str], operator.add]
    n: int


def _chain(lg: Library, length: int) -> Any:
    """A chain of ``length`` nodes: ``length`` steps."""
    g = lg.StateGraph(S)
    names = [f"n{i:02d}" for i in range(length)]
    for name in names:
        g.add_node(name, lambda s, name=name: {"log": [name]})
    g.add_edge(lg.START, names[0])
    for a, b in itertools.pairwise(names):
        g.add_edge(a, b)
    return g.compile()


def _limit(lg: Library, length: int, limit: int) -> Any:
    out = attempt(_chain(lg, length).invoke, {"log": []}, {"recursion_limit": limit})
    return out["error"] if "error" in out else len(out["ok"]["log"])


@case
def node_exception_propagates(lg: Library) -> Any:
    def bad(s: S) -> S:
        raise ValueError("bad")

    g = lg.StateGraph(S)
    g.add_node("bad", bad)
    g.add_edge(lg.START, "bad")
    return attempt(g.compile().invoke, {"log": []})


@case
def custom_exception_class_kept(lg: Library) -> Any:
    class Oops(Exception):
        pass

    def bad(s: S) -> S:
        raise Oops()

    g = lg.StateGraph(S)
    g.add_node("bad", bad)
    g.add_edge(lg.START, "bad")
    return attempt(g.compile().invoke, {"log": []})


@case
def endless_loop_hits_recursion_limit(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("spin", lambda s: {"log": ["s"]})
    g.add_edge(lg.START, "spin")
    g.add_edge("spin", "spin")
    return attempt(g.compile().invoke, {"log": []}, {"recursion_limit": 40})


@case
def recursion_error_is_recursion_error(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("spin", lambda s: {"log": ["s"]})
    g.add_edge(lg.START, "spin")
    g.add_edge("spin", "spin")
    try:
        g.compile().invoke({"log": []}, {"recursion_limit": 3})
    except RecursionError as exc:
        return [isinstance(exc, lg.GraphRecursionError), lg.error_name(exc)]
    return "no error"


@case
def limit_equal_to_steps(lg: Library) -> Any:
    return _limit(lg, 5, 5)


@case
def limit_one_below_steps(lg: Library) -> Any:
    return _limit(lg, 5, 4)


@case
def limit_one_above_steps(lg: Library) -> Any:
    return _limit(lg, 5, 6)


@case
def limit_of_one(lg: Library) -> Any:
    return [_limit(lg, 1, 1), _limit(lg, 2, 1)]


@case
def default_limit_is_above_25(lg: Library) -> Any:
    return [_limit(lg, 25, 25), attempt(_chain(lg, 26).invoke, {"log": []}).get("error")]


@case
def recursion_limit_with_checkpointer_keeps_state(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("spin", lambda s: {"log": ["s"]})
    g.add_edge(lg.START, "spin")
    g.add_edge("spin", "spin")
    app = g.compile(checkpointer=lg.saver())
    error = attempt(app.invoke, {"log": []}, cfg(recursion_limit=3))
    return {"error": error, "state": state(app, cfg())}


@case
def edge_to_unknown_node(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {})
    g.add_edge(lg.START, "a")
    g.add_edge("a", "ghost")
    return attempt(g.compile)


@case
def edge_from_unknown_node(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {})
    g.add_edge(lg.START, "a")
    g.add_edge("ghost", "a")
    return attempt(g.compile)


@case
def duplicate_node_name(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {})
    return attempt(g.add_node, "a", lambda s: {})


@case
def reserved_node_name(lg: Library) -> Any:
    g = lg.StateGraph(S)
    return [attempt(g.add_node, lg.START, lambda s: {}), attempt(g.add_node, lg.END, lambda s: {})]


@case
def no_entry_point(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {})
    return attempt(g.compile)


@case
def edge_out_of_end(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {})
    g.add_edge(lg.START, "a")
    return attempt(g.add_edge, lg.END, "a")


@case
def edge_into_start(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {})
    return attempt(g.add_edge, "a", lg.START)


@case
def interrupt_before_unknown_node(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {})
    g.add_edge(lg.START, "a")
    return attempt(g.compile, checkpointer=lg.saver(), interrupt_before=["ghost"])


@case
def router_returns_unknown_node(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {})
    g.add_edge(lg.START, "a")
    g.add_conditional_edges("a", lambda s: "ghost")
    return attempt(g.compile().invoke, {"log": []})


@case
def router_with_path_map(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("yes", lambda s: {"log": ["yes"]})
    g.add_edge(lg.START, "a")
    g.add_conditional_edges("a", lambda s: True, {True: "yes", False: lg.END})
    return g.compile().invoke({"log": []})


@case
def router_path_map_missing_key(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_edge(lg.START, "a")
    g.add_conditional_edges("a", lambda s: "maybe", {"yes": lg.END})
    return attempt(g.compile().invoke, {"log": []})


@case
def failed_step_keeps_sibling_writes(lg: Library) -> Any:
    """ok finishes, flaky fails in the same step; the resume re-runs only flaky (async
    nodes: LangGraph's thread pool makes the sync form racy)."""
    calls: list[str] = []
    fail = [True]

    async def ok(s: S) -> S:
        calls.append("ok")
        return {"log": ["ok"]}

    async def flaky(s: S) -> S:
        calls.append("flaky")
        await asyncio.sleep(0)
        if fail[0]:
            raise ConnectionError("down")
        return {"log": ["flaky"]}

    g = lg.StateGraph(S)
    g.add_node("ok", ok)
    g.add_node("flaky", flaky)
    g.add_edge(lg.START, "ok")
    g.add_edge(lg.START, "flaky")
    app = g.compile(checkpointer=lg.saver())

    async def go() -> Any:
        error = None
        try:
            await app.ainvoke({"log": []}, cfg())
        except ConnectionError as exc:
            error = lg.error_name(exc)
        paused = state(app, cfg())
        fail[0] = False
        final = await app.ainvoke(None, cfg())
        return {"error": error, "paused": paused, "final": final, "calls": sorted(calls)}

    return run_async(go())


@case
def history_after_failure(lg: Library) -> Any:
    def bad(s: S) -> S:
        raise ValueError("bad")

    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_node("bad", bad)
    g.add_edge(lg.START, "a")
    g.add_edge("a", "bad")
    app = g.compile(checkpointer=lg.saver())
    attempt(app.invoke, {"log": []}, cfg())
    return history(app, cfg())


@case
def node_not_callable(lg: Library) -> Any:
    g = lg.StateGraph(S)
    return attempt(g.add_node, "a", 42)


@case
def compile_twice_gives_independent_apps(lg: Library) -> Any:
    g = lg.StateGraph(S)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_edge(lg.START, "a")
    one, two = g.compile(), g.compile()
    return [one.invoke({"log": ["1"]}), two.invoke({"log": ["2"]})]


test_parity = case.test()
