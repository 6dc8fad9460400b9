"""LangGraph's functional API (``@entrypoint``, ``@task``) through the layer."""

from __future__ import annotations

import asyncio
import importlib
from typing import Any

import pytest
from tests.compat._both import plain

pytest.importorskip("langgraph.func")


def _program(root: str) -> Any:
    func = importlib.import_module(f"{root}.func")
    types = importlib.import_module(f"{root}.types")
    memory = importlib.import_module(f"{root}.checkpoint.memory")
    calls: list[int] = []

    @func.task
    def double(x: int) -> int:
        calls.append(x)
        return x * 2

    @func.entrypoint(checkpointer=memory.InMemorySaver())
    def workflow(n: int, *, previous: Any = None) -> dict[str, Any]:
        doubled = double(n).result()
        verdict = types.interrupt({"doubled": doubled})
        return {"doubled": doubled, "verdict": verdict, "previous": previous}

    config = {"configurable": {"thread_id": "f"}}
    seen = [workflow.invoke(3, config), workflow.invoke(types.Command(resume="yes"), config)]
    seen.append(workflow.get_state(config).values)
    seen.append(workflow.invoke(4, config))
    return plain(seen), calls


def test_an_entrypoint_pauses_resumes_and_keeps_its_tasks_results() -> None:
    assert _program("orca.compat.langgraph") == _program("langgraph")


def test_an_async_entrypoint_and_a_final_value() -> None:
    def program(root: str) -> Any:
        func = importlib.import_module(f"{root}.func")
        memory = importlib.import_module(f"{root}.checkpoint.memory")

        @func.entrypoint(checkpointer=memory.InMemorySaver())
        async def counter(step: int, *, previous: Any = None) -> Any:
            total = (previous or 0) + step
            return func.entrypoint.final(value=f"total {total}", save=total)

        async def go() -> list[Any]:
            config = {"configurable": {"thread_id": "c"}}
            return [await counter.ainvoke(2, config), await counter.ainvoke(5, config)]

        return asyncio.run(go())

    assert program("orca.compat.langgraph") == program("langgraph") == ["total 2", "total 7"]


def test_what_the_layer_does_not_do_for_workflows_is_refused() -> None:
    from orca.compat.langgraph.func import entrypoint
    from orca.errors import GraphError, InvalidInputError

    with pytest.raises(GraphError, match="cache"):
        entrypoint(cache=object())

    @entrypoint()
    def flow(x: int) -> int:
        return x

    assert flow.invoke(5) == 5
    with pytest.raises(InvalidInputError, match="invoke"):
        flow.stream(5)
