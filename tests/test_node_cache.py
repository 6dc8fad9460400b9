"""Node caching: a node with a ``CachePolicy`` answers an input it saw before from the
cache given to ``compile(cache=...)``, as LangGraph's does (compared on LangGraph)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any, TypedDict

import pytest
from langgraph.cache.memory import InMemoryCache
from langgraph.graph import START as LG_START
from langgraph.graph import StateGraph as LGStateGraph
from langgraph.types import CachePolicy as LGCachePolicy

from orca import START, StateGraph
from orca.errors import GraphError
from orca.events import TaskFinished
from orca.graph import CachePolicy, MemoryCache


class State(TypedDict):
    x: int
    y: int


def test_a_cached_node_runs_once_per_input_as_in_langgraph() -> None:
    runs: dict[str, list[int]] = {"langgraph": [], "orca": []}

    def slow(lib: str) -> Any:
        def node(state: State) -> dict[str, int]:
            runs[lib].append(state["x"])
            return {"y": state["x"] * 2}

        return node

    lg = LGStateGraph(State)
    lg.add_node("slow", slow("langgraph"), cache_policy=LGCachePolicy(ttl=60))
    lg.add_edge(LG_START, "slow")
    lg_app = lg.compile(cache=InMemoryCache())
    g = StateGraph(State)
    g.add_node("slow", slow("orca"), cache_policy=CachePolicy(ttl=60))
    g.add_edge(START, "slow")
    app = g.compile(cache=MemoryCache())

    inputs = [{"x": 2}, {"x": 2}, {"x": 3}, {"x": 2}]
    assert [app.invoke(i) for i in inputs] == [lg_app.invoke(i) for i in inputs]
    assert runs["orca"] == runs["langgraph"] == [2, 3]


def test_the_stream_says_which_results_came_from_the_cache() -> None:
    g = StateGraph(State)
    g.add_node("slow", lambda s: {"y": s["x"] + 1}, cache_policy=CachePolicy())
    g.add_edge(START, "slow")
    app = g.compile(cache=MemoryCache())
    first = [e for e in app.stream({"x": 1}) if isinstance(e, TaskFinished)]
    again = [e for e in app.stream({"x": 1}) if isinstance(e, TaskFinished)]
    assert [(e.update, e.cached) for e in first] == [({"y": 2}, False)]
    assert [(e.update, e.cached) for e in again] == [({"y": 2}, True)]


def test_results_expire_after_their_ttl_and_the_key_function_decides_what_matches() -> None:
    now = [0.0]
    runs: list[int] = []

    def node(state: State) -> dict[str, int]:
        runs.append(state["x"])
        return {"y": len(runs)}

    g = StateGraph(State)
    g.add_node("n", node, cache_policy=CachePolicy(ttl=10, key_func=lambda s: str(s["x"] % 2)))
    g.add_edge(START, "n")
    cache = MemoryCache(clock=lambda: now[0])
    app = g.compile(cache=cache)
    assert app.invoke({"x": 1})["y"] == 1
    assert app.invoke({"x": 3})["y"] == 1  # same parity: the same key
    now[0] = 10.0
    assert app.invoke({"x": 3})["y"] == 2  # expired
    assert app.invoke({"x": 4})["y"] == 3
    cache.clear()
    assert app.invoke({"x": 4})["y"] == 4
    assert runs == [1, 3, 4, 4]


def test_async_nodes_are_cached_and_results_are_copies() -> None:
    async def node(state: State) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {"y": state["x"]}

    g = StateGraph(State)
    g.add_node("n", node, cache_policy=CachePolicy())
    g.add_edge(START, "n")
    cache = MemoryCache()
    app = g.compile(cache=cache)
    assert asyncio.run(app.ainvoke({"x": 5})) == {"x": 5, "y": 5}
    assert asyncio.run(app.ainvoke({"x": 5})) == {"x": 5, "y": 5}
    assert len(cache) == 1
    mutable = MemoryCache()
    mutable.set("k", {"items": [1]}, None)
    _hit, value = mutable.get("k")
    value["items"].append(2)
    assert mutable.get("k") == (True, {"items": [1]})


def test_an_input_that_cannot_be_keyed_is_not_cached_and_bad_policies_are_refused() -> None:
    class Lockish(TypedDict):
        x: Any
        y: int

    runs: list[int] = []

    def node(state: Lockish) -> dict[str, int]:
        runs.append(1)
        return {"y": len(runs)}

    g = StateGraph(Lockish)
    g.add_node("n", node, cache_policy=CachePolicy())
    g.add_edge(START, "n")
    app = g.compile(cache=MemoryCache())
    lock = threading.Lock()
    app.invoke({"x": lock})
    app.invoke({"x": lock})
    assert runs == [1, 1]  # a lock has no canonical form: no key, so no cache

    with pytest.raises(GraphError, match="ttl"):
        CachePolicy(ttl=0)
    with pytest.raises(GraphError, match="cache_policy of node 'n'"):
        StateGraph(State).add_node("n", node, cache_policy=60)  # type: ignore[arg-type]
    g = StateGraph(State)
    g.add_node("n", node)
    g.add_edge(START, "n")
    with pytest.raises(GraphError, match="not a cache"):
        g.compile(cache={})  # type: ignore[arg-type]
