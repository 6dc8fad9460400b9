"""LangGraph's functional API through ``orca.compat.langgraph.func``: the same program
on LangGraph and on the layer gives the same results, streams and snapshots."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig

from orca.errors import InvalidInputError

LIBS = {
    "langgraph": "langgraph",
    "orca": "orca.compat.langgraph",
}


def lib(name: str) -> dict[str, Any]:
    root = LIBS[name]
    func = importlib.import_module(f"{root}.func")
    types = importlib.import_module(f"{root}.types")
    memory = importlib.import_module(f"{root}.checkpoint.memory")
    return {
        "entrypoint": func.entrypoint,
        "task": func.task,
        "Command": types.Command,
        "interrupt": types.interrupt,
        "RetryPolicy": types.RetryPolicy,
        "saver": memory.InMemorySaver,
    }


def both(program: Any) -> None:
    assert program(lib("orca")) == program(lib("langgraph"))


CFG = {"configurable": {"thread_id": "t"}}


def plain(chunks: Any) -> Any:
    """Stream chunks with interrupts as their values (ids differ by engine)."""
    out = []
    for chunk in chunks:
        if isinstance(chunk, dict) and "__interrupt__" in chunk:
            chunk = {**chunk, "__interrupt__": [i.value for i in chunk["__interrupt__"]]}
        out.append(chunk)
    return out


def test_tasks_run_in_parallel_and_return_in_order() -> None:
    def program(lg: dict[str, Any]) -> Any:
        @lg["task"]
        def double(x: int) -> int:
            return x * 2

        @lg["entrypoint"](checkpointer=lg["saver"]())
        def flow(numbers: list[int]) -> list[int]:
            return [f.result() for f in [double(n) for n in numbers]]

        return flow.invoke([1, 2, 3], CFG)

    both(program)


def test_a_resumed_entrypoint_does_not_run_its_finished_tasks_again() -> None:
    def program(lg: dict[str, Any]) -> Any:
        calls: list[str] = []

        @lg["task"]
        def draft(topic: str) -> str:
            calls.append(topic)
            return f"essay on {topic}"

        @lg["entrypoint"](checkpointer=lg["saver"]())
        def flow(topic: str) -> dict[str, Any]:
            essay = draft(topic).result()
            return {"essay": essay, "verdict": lg["interrupt"]({"essay": essay})}

        first = flow.invoke("cats", CFG)
        paused = flow.get_state(CFG)
        final = flow.invoke(lg["Command"](resume="approved"), CFG)
        return {
            "first": [i.value for i in first["__interrupt__"]],
            "paused": [paused.values, paused.next],
            "final": final,
            "state": flow.get_state(CFG).values,
            "calls": calls,
        }

    both(program)


def test_the_updates_stream_shows_tasks_then_the_return_value() -> None:
    def program(lg: dict[str, Any]) -> Any:
        @lg["task"]
        def inc(x: int) -> int:
            return x + 1

        @lg["entrypoint"](checkpointer=lg["saver"]())
        def flow(x: int) -> int:
            return inc(inc(x).result()).result()

        return [plain(flow.stream(1, CFG)), plain(flow.stream(5, CFG, stream_mode="values"))]

    both(program)


def test_previous_final_and_injected_parameters() -> None:
    def program(lg: dict[str, Any]) -> Any:
        @lg["entrypoint"](checkpointer=lg["saver"]())
        def tally(x: int, *, previous: Any = None, config: RunnableConfig) -> Any:
            thread = config["configurable"]["thread_id"]
            return lg["entrypoint"].final(value=f"{thread}:{x}", save=(previous or 0) + x)

        return [tally.invoke(1, CFG), tally.invoke(2, CFG), tally.get_state(CFG).values]

    both(program)


def test_a_task_retries_under_its_policy_and_async_entrypoints_await() -> None:
    def program(lg: dict[str, Any]) -> Any:
        calls: list[int] = []

        @lg["task"](retry_policy=lg["RetryPolicy"](initial_interval=0.0, jitter=False))
        def flaky() -> str:
            calls.append(1)
            if len(calls) < 3:
                raise ConnectionError("try again")
            return "ok"

        @lg["entrypoint"]()
        def flow(_: Any) -> str:
            return flaky().result()

        @lg["task"]
        async def shout(text: str) -> str:
            return text.upper()

        @lg["entrypoint"]()
        async def loud(text: str) -> str:
            return await shout(text)

        return [flow.invoke("go"), len(calls), asyncio.run(loud.ainvoke("hi"))]

    both(program)


def test_misuse_names_the_fix() -> None:
    orca = lib("orca")

    @orca["entrypoint"](checkpointer=orca["saver"]())
    def flow(x: int) -> int:
        return x

    with pytest.raises(InvalidInputError, match="thread_id"):
        flow.invoke(1)
    with pytest.raises(InvalidInputError, match=r"Command\(resume=value\)"):
        flow.invoke(orca["Command"](update={"x": 1}), CFG)
    with pytest.raises(InvalidInputError, match="stream_mode 'debug'"):
        list(flow.stream(1, CFG, stream_mode="debug"))


def test_managed_values_and_the_node_cache_through_the_layer() -> None:
    from typing import TypedDict

    def program(root: str) -> Any:
        graph = importlib.import_module(f"{root}.graph")
        managed = importlib.import_module(f"{root}.managed")
        cache = importlib.import_module(f"{root}.cache.memory")

        S = TypedDict("S", {"n": int, "remaining_steps": managed.RemainingSteps})  # noqa: UP013

        seen: list[int] = []

        def loop(state: Any) -> dict[str, int]:
            seen.append(state["remaining_steps"])
            return {"n": state["n"] + 1}

        g = graph.StateGraph(S)
        g.add_node("loop", loop)
        g.add_edge(graph.START, "loop")
        g.add_conditional_edges(
            "loop", lambda s: graph.END if s["remaining_steps"] <= 2 else "loop"
        )
        out = g.compile().invoke({"n": 0}, {"recursion_limit": 6})
        return [out, seen, type(cache.InMemoryCache()).__name__]

    assert program("orca.compat.langgraph") == program("langgraph")
