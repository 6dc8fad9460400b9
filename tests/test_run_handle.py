"""Run handles (await, stream, cancel), the async faces of thread operations, injected run
services, and checkpoint times from the run's clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from orca import START, Command, RunContext, SqliteCheckpointer, StateGraph, reducers
from orca.context import RunServices, RunTotals, TaskContext
from orca.engine import RunHandle
from orca.errors import InvalidInputError, InvalidResumeError, RunCancelledError


class State(TypedDict, total=False):
    log: Annotated[list[str], reducers.append]


def chain(*nodes: Any, store: Any = None) -> Any:
    g = StateGraph(State)
    previous = START
    for i, fn in enumerate(nodes):
        g.add_node(f"n{i}", fn)
        g.add_edge(previous, f"n{i}")
        previous = f"n{i}"
    return g.compile(checkpointer=store)


def say(word: str) -> Any:
    def node(state: State) -> State:
        return {"log": [word]}

    return node


async def test_a_handle_gives_the_result_invoke_gives() -> None:
    app = chain(say("a"), say("b"))
    handle = await app.start({}, seed=3)
    assert isinstance(handle, RunHandle)
    assert handle.run_id.startswith("run-")
    assert await handle.result() == await app.ainvoke({}, seed=3)
    assert handle.done()


async def test_a_handle_streams_the_events_of_its_modes_then_its_result() -> None:
    app = chain(say("a"))
    handle = await app.start({}, mode="updates")
    seen = [e.type async for e in handle.events()]
    assert seen == ["task.finished"]
    assert (await handle.result())["log"] == ["a"]


async def test_events_are_read_once_and_only_with_a_mode() -> None:
    app = chain(say("a"))
    quiet = await app.start({})
    with pytest.raises(InvalidInputError, match="mode="):
        async for _ in quiet.events():
            pass
    loud = await app.start({}, mode="events")
    first = loud.events()
    await anext(first)
    with pytest.raises(InvalidInputError, match="read them once"):
        await anext(loud.events())
    await first.aclose()
    await loud.stop()


async def test_start_raises_what_stops_a_run_before_it_begins(tmp_path: Path) -> None:
    app = chain(say("a"), store=SqliteCheckpointer(tmp_path / "p.db"))
    with pytest.raises(InvalidInputError, match="nothing to resume"):
        await app.start(None, thread_id="empty")
    await app.ainvoke({}, thread_id="t")
    with pytest.raises(InvalidResumeError):
        await app.start(Command(resume=1), thread_id="t")


async def test_cancel_stops_a_waiting_run_promptly_and_logs_it_cancelled(tmp_path: Path) -> None:
    store = SqliteCheckpointer(tmp_path / "p.db")
    entered = asyncio.Event()

    async def slow(state: State) -> State:
        entered.set()
        await asyncio.sleep(60)
        return {"log": ["never"]}

    app = chain(say("first"), slow, store=store)
    handle = await app.start({}, thread_id="t")
    await asyncio.wait_for(entered.wait(), 10)
    started = asyncio.get_running_loop().time()
    handle.cancel()
    with pytest.raises(RunCancelledError, match=handle.run_id):
        await handle.result()
    assert asyncio.get_running_loop().time() - started < 5
    finished = [e for e in store.read_events(handle.run_id) if e["type"] == "run.finished"]
    assert [e["status"] for e in finished] == ["cancelled"]
    # what the run committed stays: the first step, not the cancelled one
    assert (await app.aget_state("t")).values["log"] == ["first"]


async def test_a_sync_node_sees_the_cancel_and_returns() -> None:
    seen: list[bool] = []
    entered = asyncio.Event()
    loop = asyncio.get_running_loop()

    def polling(state: State, ctx: RunContext) -> State:
        loop.call_soon_threadsafe(entered.set)
        for _ in range(6000):
            if ctx.cancelled:
                seen.append(True)
                break
            import time

            time.sleep(0.005)
        return {}

    app = chain(polling)
    handle = await app.start({}, tools=[])  # services: the node runs off the loop
    await asyncio.wait_for(entered.wait(), 10)
    handle.cancel()
    with pytest.raises(RunCancelledError):
        await handle.result()
    for _ in range(200):
        if seen:
            break
        await asyncio.sleep(0.01)
    assert seen == [True]


async def test_cancelling_whoever_awaits_ainvoke_cancels_the_run(tmp_path: Path) -> None:
    store = SqliteCheckpointer(tmp_path / "p.db")
    entered = asyncio.Event()

    async def slow(state: State) -> State:
        entered.set()
        await asyncio.sleep(60)
        return {}

    app = chain(slow, store=store)
    caller = asyncio.ensure_future(app.ainvoke({}, thread_id="t", run_id="run-x"))
    await asyncio.wait_for(entered.wait(), 10)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    statuses = [e["status"] for e in store.read_events("run-x") if e["type"] == "run.finished"]
    assert statuses == ["cancelled"]


async def test_thread_operations_have_async_faces_inside_a_loop(tmp_path: Path) -> None:
    app = chain(say("a"), store=SqliteCheckpointer(tmp_path / "p.db"))
    await app.ainvoke({}, thread_id="t")
    with pytest.raises(RuntimeError, match="running event loop"):
        app.update_state("t", {"log": ["no"]})
    new_id = await app.aupdate_state("t", {"log": ["edited"]})
    state = await app.aget_state("t")
    assert state.checkpoint_id == new_id
    assert state.values["log"] == ["a", "edited"]
    history = await app.aget_history("t")
    assert history[0].checkpoint_id == new_id
    forked = await app.afork("t", history[-1].checkpoint_id, to_thread="copy")
    assert (await app.aget_state("copy")).checkpoint_id == forked


class Recorder:
    """Run services of the caller's own: what a server or a test injects."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []
        self.closed = 0

    def llm(self, name: str, task: TaskContext) -> Any:
        self.asked.append((name, task.node))
        return f"model:{name}"

    def tools(self, task: TaskContext) -> Any:
        raise InvalidInputError("no tools here")

    def totals(self) -> RunTotals:
        return RunTotals(llm_calls=len(self.asked), cost_nano_usd=7)

    async def close(self) -> None:
        self.closed += 1


def test_a_run_uses_the_services_it_is_given() -> None:
    services = Recorder()

    def node(state: State, ctx: RunContext) -> State:
        return {"log": [ctx.llm("judge"), ctx.worker]}

    app = chain(node)
    events = list(app.stream({}, mode="events", services=services))
    assert events[-1].type == "run.finished"
    assert events[-1].llm_calls == 2
    assert events[-1].cost_nano_usd == 7
    assert [e for e in events if e.type == "values"][-1].values["log"] == [
        "model:judge",
        "model:worker",
    ]
    assert services.asked == [("judge", "n0"), ("worker", "n0")]
    assert services.closed == 1
    assert isinstance(services, RunServices)  # structurally: no base class needed


def test_services_and_the_options_that_build_them_do_not_mix() -> None:
    app = chain(say("a"))
    with pytest.raises(InvalidInputError, match="models= cannot be given beside it"):
        app.invoke({}, services=Recorder(), models={})


def test_a_subgraph_shares_its_parents_services() -> None:
    services = Recorder()

    def inner(state: State, ctx: RunContext) -> State:
        return {"log": [ctx.llm("planner")]}

    sub = chain(inner)
    g = StateGraph(State)
    g.add_node("outer", sub.as_node())
    g.add_edge(START, "outer")
    assert g.compile().invoke({}, services=services)["log"] == ["model:planner"]
    assert services.asked == [("planner", "outer")]  # the parent's task owns the call


def test_checkpoints_are_timed_by_the_runs_clock(tmp_path: Path) -> None:
    moment = dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    app = chain(say("a"), say("b"), store=SqliteCheckpointer(tmp_path / "p.db"))
    app.invoke({}, thread_id="t", clock=lambda: moment)
    times = {h.created_at for h in app.get_history("t")}
    assert times == {moment.isoformat()}
