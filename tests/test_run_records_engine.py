"""Every run on a store gets its record from the engine (whoever starts it), with its
tasks' real outcomes; a thread is held by one run at a time (``ThreadBusyError`` before
any work); a dead holder's lease is taken over; a lost lease stops the run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from orca import START, Command, RunContext, SqliteCheckpointer, StateGraph, reducers
from orca.checkpoint import Checkpointer, Lease, MemoryCheckpointer, RunRecord
from orca.context import RunTotals, TaskContext
from orca.engine import _records
from orca.errors import InvalidInputError, NodeError, ThreadBusyError


class State(TypedDict, total=False):
    log: Annotated[list[str], reducers.append]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    made = (
        MemoryCheckpointer() if request.param == "memory" else SqliteCheckpointer(tmp_path / "p.db")
    )
    yield made
    made.close()


def fan(store: Checkpointer, *, fail: bool = False, pause: bool = False) -> Any:
    """plan -> (good, bad) in parallel: bad fails or pauses when asked."""

    def plan(state: State) -> State:
        return {"log": ["plan"]}

    def good(state: State) -> State:
        return {"log": ["good"]}

    def bad(state: State, ctx: RunContext) -> State:
        if fail:
            raise ValueError("boom")
        if pause:
            return {"log": [str(ctx.interrupt("why?"))]}
        return {"log": ["bad"]}

    g = StateGraph(State, name="fan")
    for name, fn in (("plan", plan), ("good", good), ("bad", bad)):
        g.add_node(name, fn)
    g.add_edge(START, "plan")
    g.add_edge("plan", "good")
    g.add_edge("plan", "bad")
    return g.compile(checkpointer=store)


def outcomes(store: Checkpointer, run_id: str) -> dict[str, str]:
    return {t.node: t.status for t in store.run_tasks(run_id)}


def only_run(store: Checkpointer) -> RunRecord:
    [record] = store.list_runs()
    return record


def test_a_library_run_is_recorded_with_its_totals_and_tasks(store: Checkpointer) -> None:
    app = fan(store)
    events = list(app.stream({}, thread_id="t", metadata={"ticket": "T-1"}, mode="events"))
    finished = events[-1]
    record = only_run(store)
    assert record.run_id == finished.run_id
    assert (record.status, record.graph, record.thread_id) == ("done", "fan", "t")
    assert record.steps == finished.steps == 2
    assert record.checkpoint_id == finished.checkpoint_id
    assert record.metadata == {"ticket": "T-1"}
    assert record.ended_at is not None
    assert record.error is None
    assert outcomes(store, record.run_id) == {"plan": "done", "good": "done", "bad": "done"}


def test_a_task_that_finished_in_a_failed_step_is_done(store: Checkpointer) -> None:
    app = fan(store, fail=True)
    with pytest.raises(NodeError):
        app.invoke({}, thread_id="t")
    record = only_run(store)
    assert record.status == "failed"
    assert "boom" in (record.error or "")
    assert record.steps == 1
    assert outcomes(store, record.run_id) == {"plan": "done", "good": "done", "bad": "failed"}
    [bad] = [t for t in store.run_tasks(record.run_id) if t.node == "bad"]
    assert bad.error is not None
    assert "ValueError: boom" in bad.error


def test_a_pause_and_its_resume_are_two_records(store: Checkpointer) -> None:
    app = fan(store, pause=True)
    app.invoke({}, thread_id="t")
    paused = only_run(store)
    assert paused.status == "interrupted"
    assert outcomes(store, paused.run_id)["bad"] == "interrupted"
    # bad's answer, then good's kept write: a step's writes in node-name order
    assert app.invoke(Command(resume="because"), thread_id="t")["log"] == [
        "plan",
        "because",
        "good",
    ]
    resumed = [r for r in store.list_runs() if r.run_id != paused.run_id]
    assert [r.status for r in resumed] == ["done"]
    # the resumed run ran only the paused task: good's writes were kept from the first
    assert outcomes(store, resumed[0].run_id) == {"bad": "done"}


def test_a_derived_run_id_is_never_reused(store: Checkpointer) -> None:
    app = fan(store, fail=True)
    with pytest.raises(NodeError):
        app.invoke({}, thread_id="t")
    ids = set()
    for _ in range(2):  # resumed twice, failing the same way from the same checkpoint
        with pytest.raises(NodeError):
            app.invoke(None, thread_id="t")
    for record in store.list_runs():
        ids.add(record.run_id)
        starts = [e for e in store.read_events(record.run_id) if e["type"] == "run.started"]
        assert len(starts) == 1, record.run_id  # one id, one run, one log
    assert len(ids) == 3


def test_metadata_must_be_a_dict_of_strings(store: Checkpointer) -> None:
    app = fan(store)
    for bad in (["x"], {1: "x"}, "tag"):
        with pytest.raises(InvalidInputError, match="metadata"):
            app.invoke({}, thread_id="t", metadata=bad)
    assert store.list_runs() == []


class Counting:
    """Run services that count the model calls the run makes."""

    def __init__(self) -> None:
        self.calls = 0

    def llm(self, name: str, task: TaskContext) -> Any:
        self.calls += 1
        return name

    def tools(self, task: TaskContext) -> Any:
        raise InvalidInputError("none")

    def totals(self) -> RunTotals:
        return RunTotals(llm_calls=self.calls)

    async def close(self) -> None:
        return None


async def test_a_second_run_on_a_busy_thread_is_refused_before_any_work(
    store: Checkpointer,
) -> None:
    entered = asyncio.Event()
    release = asyncio.Event()
    ran: list[str] = []

    async def hold(state: State, ctx: RunContext) -> State:
        ran.append(ctx.run_id)
        ctx.llm("worker")
        entered.set()
        await release.wait()
        return {"log": ["held"]}

    g = StateGraph(State, name="holder")
    g.add_node("hold", hold)
    g.add_edge(START, "hold")
    app = g.compile(checkpointer=store)
    first = await app.start({}, thread_id="t", services=Counting())
    await asyncio.wait_for(entered.wait(), 10)
    second_services = Counting()
    with pytest.raises(ThreadBusyError) as info:
        await app.start({}, thread_id="t", services=second_services)
    assert info.value.thread_id == "t"
    assert info.value.holder == first.run_id
    assert first.run_id in str(info.value)
    assert "Fix:" in str(info.value)
    assert ran == [first.run_id]  # no node of the refused run ran
    assert second_services.calls == 0  # and nothing was paid for
    assert [r.run_id for r in store.list_runs()] == [first.run_id]  # nor recorded
    release.set()
    await first.result()
    # the thread is free again
    again = await app.start({}, thread_id="t", services=Counting())
    entered.clear()
    release.set()
    await again.result()
    assert sorted(r.status for r in store.list_runs()) == ["done", "done"]


def waiting(store: Checkpointer, entered: asyncio.Event) -> Any:
    """One async node that says it began, then waits a minute."""

    async def slow(state: State) -> State:
        entered.set()
        await asyncio.sleep(60)
        return {}

    g = StateGraph(State, name="slow")
    g.add_node("slow", slow)
    g.add_edge(START, "slow")
    return g.compile(checkpointer=store)


async def test_a_cancelled_run_is_recorded_cancelled_and_frees_its_thread(
    store: Checkpointer,
) -> None:
    entered = asyncio.Event()
    app = waiting(store, entered)
    handle = await app.start({}, thread_id="t")
    await asyncio.wait_for(entered.wait(), 10)
    await handle.stop()
    record = only_run(store)
    assert record.status == "cancelled"
    assert outcomes(store, record.run_id) == {"slow": "cancelled"}
    entered.clear()
    later = await app.start(None, thread_id="t")  # the thread is free
    await asyncio.wait_for(entered.wait(), 10)
    await later.stop()


async def test_a_run_whose_lease_was_taken_over_stops(
    store: Checkpointer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_records, "LEASE_TTL_S", 0.3)  # a heartbeat every 0.1 s
    entered = asyncio.Event()
    app = waiting(store, entered)
    handle = await app.start({}, thread_id="t")
    await asyncio.wait_for(entered.wait(), 10)
    # another host finds the lease run out (its clock is past the expiry) and takes it
    later = time.time() + 60
    thief = RunRecord("run-thief", "t", "slow", "running", "2030-01-01T00:00:00")
    taken = Lease("t", "run-thief", "elsewhere:1:x", later + 60)
    assert await asyncio.to_thread(store.begin_run, thief, taken, later) == taken
    with pytest.raises(ThreadBusyError, match="lost thread 't' to run 'run-thief'"):
        await asyncio.wait_for(handle.result(), 10)
    mine = store.get_run(handle.run_id)
    assert mine is not None
    assert mine.status == "failed"


HOLDER = textwrap.dedent(
    """
    import sys, time
    from typing import TypedDict
    from orca import START, SqliteCheckpointer, StateGraph

    class S(TypedDict, total=False):
        n: int

    def hold(state):
        print("holding", flush=True)
        time.sleep(120)
        return {"n": 1}

    def quick(state):
        return {"n": 2}

    g = StateGraph(S, name="g")
    g.add_node("hold", hold if sys.argv[2] == "hold" else quick)
    g.add_edge(START, "hold")
    app = g.compile(checkpointer=SqliteCheckpointer(sys.argv[1]))
    try:
        print(app.invoke({}, thread_id="shared"), flush=True)
    except Exception as exc:
        print(type(exc).__name__, exc, flush=True)
        sys.exit(6)
    """
)


def test_processes_share_a_thread_one_at_a_time_and_a_killed_holder_frees_it(
    tmp_path: Path,
) -> None:
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    db = tmp_path / "p.db"
    holder = subprocess.Popen(
        [sys.executable, str(script), str(db), "hold"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        busy = subprocess.run(
            [sys.executable, str(script), str(db), "quick"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert busy.returncode == 6, busy.stderr
        assert busy.stdout.startswith("ThreadBusyError thread 'shared' is busy")
        assert f"process {holder.pid}" in busy.stdout
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(10)
        # the dead holder's lease is taken over at once, not after its ttl
        took = subprocess.run(
            [sys.executable, str(script), str(db), "quick"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert took.returncode == 0, took.stdout + took.stderr
        assert took.stdout.strip() == "{'n': 2}"
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
    with SqliteCheckpointer(db) as store:
        later, killed = store.list_runs()  # newest first
        assert later.status == "done"
        # the run that took the thread over recorded the killed one as failed
        assert killed.status == "failed"
        assert killed.error is not None
        assert f"run {later.run_id} took the thread" in killed.error
        # its task was running, not yet stored (a task's record lands when it ends)
        assert store.run_tasks(killed.run_id) == []


def test_a_run_given_a_stored_record_s_id_continues_its_log_and_totals(store: Any) -> None:
    """A queued record started later, or a run resumed under its own id (as the server
    does after a restart), numbers its events after the logged ones and adds its steps."""
    graph = fan(store, pause=True)
    store.put_run(RunRecord("run-q", "t", graph.name, "queued", "2026-01-01T00:00:00+00:00"))
    paused = graph.invoke({}, thread_id="t", run_id="run-q")
    assert "__interrupt__" in paused
    first = store.read_events("run-q")
    first_record = store.get_run("run-q")
    assert first_record.status == "interrupted"
    graph.invoke(Command(resume="ok"), thread_id="t", run_id="run-q")
    both = store.read_events("run-q")
    seqs = [e["seq"] for e in both]
    assert seqs == sorted(set(seqs))  # numbered on: no seq twice
    assert both[: len(first)] == first
    assert len(both) > len(first)
    assert [e["type"] for e in both].count("run.started") == 2
    record = store.get_run("run-q")
    assert record.status == "done"
    assert record.steps > first_record.steps


def test_runs_of_one_process_started_at_once_on_a_thread_are_one_run_and_busy_refusals(
    store: Any,
) -> None:
    """They derive the same run id, and the lease of the same run and owner would be a
    retry: the process's own claim on the thread refuses all but one."""
    graph = fan(store)

    async def crowd() -> list[Any]:
        return await asyncio.gather(
            *(graph.ainvoke({}, thread_id="t") for _ in range(12)), return_exceptions=True
        )

    outcomes = asyncio.run(crowd())
    done = [o for o in outcomes if isinstance(o, dict)]
    busy = [o for o in outcomes if isinstance(o, ThreadBusyError)]
    assert len(done) == 1
    assert len(busy) == 11
    assert [r.status for r in store.list_runs(thread_id="t")] == ["done"]
    # the thread is free again for the next run of this process
    assert graph.invoke(None, thread_id="t")["log"]


def test_a_run_whose_end_was_logged_but_not_recorded_is_recorded_and_not_run_again(
    tmp_path: Path,
) -> None:
    """A process killed between logging ``run.finished`` and writing the final record
    left the record ``running``: whoever takes the run up again records its end from the
    log and does not run it a second time (one run, one ``run.finished``)."""
    import sqlite3

    from orca.errors import RunEndedError

    store = SqliteCheckpointer(tmp_path / "p.db")
    app = fan(store)
    app.invoke({}, thread_id="t", run_id="r1")
    done = store.get_run("r1")
    assert done is not None
    assert done.status == "done"
    with sqlite3.connect(tmp_path / "p.db") as conn:  # the crash: the record as begun
        conn.execute(
            "UPDATE runs SET status = 'running', ended_at = NULL, steps = 0, "
            "checkpoint_id = NULL WHERE id = 'r1'"
        )
    with pytest.raises(RunEndedError):
        app.invoke(None, thread_id="t", run_id="r1")
    again = store.get_run("r1")
    assert again is not None
    assert again.status == "done"
    assert (again.steps, again.checkpoint_id) == (done.steps, done.checkpoint_id)
    types = [e["type"] for e in store.read_events("r1")]
    assert types.count("run.finished") == 1
    store.close()
