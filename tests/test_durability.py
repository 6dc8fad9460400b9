"""Durability through real graphs: modes, pending writes after failures, transactions.

``sync`` commits each superstep before the next starts, ``async`` commits on a writer
thread (still in order), ``exit`` commits only when the run stops. A failed task fails the
run, but the writes of the tasks that finished in that step are kept as pending writes,
so a resume runs only what failed.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from orca import (
    END,
    START,
    CompiledGraph,
    RunContext,
    Send,
    SqliteCheckpointer,
    StateGraph,
    reducers,
)
from orca.errors import NodeError, SerializationError

MODES = ("sync", "async", "exit")
SRC = Path(__file__).resolve().parents[1] / "src"
LOOP_PROGRAM = Path(__file__).parent / "programs" / "loop_graph.py"


class State(TypedDict):
    log: Annotated[list[str], reducers.append]
    total: Annotated[int, reducers.sum]
    last: str


class Calls:
    """Counts node calls (thread-safe: parallel sync nodes run in a thread pool)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def hit(self, name: str) -> None:
        with self._lock:
            self.counts[name] += 1


def diamond(
    calls: Calls,
    failing: set[str],
    *,
    spy: Callable[[RunContext], None] | None = None,
) -> StateGraph:
    """START -> a -> (b, c, d in parallel) -> e -> f -> END; nodes in ``failing`` raise."""

    def make(name: str, amount: int) -> Callable[[Any, RunContext], dict[str, Any]]:
        def node(state: Any, ctx: RunContext) -> dict[str, Any]:
            calls.hit(name)
            if spy is not None:
                spy(ctx)
            if name in failing:
                raise RuntimeError(f"{name} is broken")
            return {"log": [f"{name}@{ctx.step}"], "total": amount}

        return node

    g = StateGraph(State, name="diamond")
    for name, amount in (("a", 1), ("b", 10), ("c", 100), ("d", 1000), ("e", 10000)):
        g.add_node(name, make(name, amount))

    def f(state: dict[str, Any], ctx: RunContext) -> dict[str, Any]:
        calls.hit("f")
        if spy is not None:
            spy(ctx)
        if "f" in failing:
            raise RuntimeError("f is broken")
        return {"last": ",".join(state["log"])}

    g.add_node("f", f)
    g.add_edge(START, "a")
    for p in ("b", "c", "d"):
        g.add_edge("a", p)
        g.add_edge(p, "e")
    g.add_edge("e", "f")
    g.add_edge("f", END)
    return g


REFERENCE = {
    "log": ["a@1", "b@2", "c@2", "d@2", "e@3"],
    "total": 11111,
    "last": "a@1,b@2,c@2,d@2,e@3",
}


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "durable.sqlite"


@pytest.fixture
def open_stores() -> Iterator[list[SqliteCheckpointer]]:
    stores: list[SqliteCheckpointer] = []
    yield stores
    for s in stores:
        s.close()


def compile_on(
    g: StateGraph, path: Path, stores: list[SqliteCheckpointer]
) -> tuple[CompiledGraph, SqliteCheckpointer]:
    store = SqliteCheckpointer(path)
    stores.append(store)
    return g.compile(checkpointer=store), store


def rows(path: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


# -- the three modes -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_every_durability_mode_ends_with_the_same_state(
    db: Path, open_stores: list[SqliteCheckpointer], mode: str
) -> None:
    calls = Calls()
    app, _ = compile_on(diamond(calls, set()), db, open_stores)
    out = app.invoke({}, thread_id="t", durability=mode)
    assert out == REFERENCE
    assert app.get_state("t").values == REFERENCE
    assert app.get_state("t").next == ()
    assert calls.counts == Counter("abcdef")


def test_sync_and_async_store_the_same_checkpoints(
    tmp_path: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    histories = {}
    for mode in ("sync", "async"):
        app, store = compile_on(diamond(Calls(), set()), tmp_path / f"{mode}.db", open_stores)
        app.invoke({}, thread_id="t", durability=mode)
        infos = store.history("t")
        histories[mode] = [
            (
                i.checkpoint_id,
                i.parent_id,
                i.step,
                i.next,
                i.metadata,
                store.get("t", i.checkpoint_id).values,
            )  # type: ignore[union-attr]
            for i in infos
        ]
    assert histories["sync"] == histories["async"]
    assert [h[2] for h in histories["sync"]] == [4, 3, 2, 1, 0]
    assert len(histories["sync"]) == len(rows(tmp_path / "sync.db", "SELECT 1 FROM checkpoints"))


def test_exit_durability_stores_only_the_final_checkpoint(
    db: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    app, store = compile_on(diamond(Calls(), set()), db, open_stores)
    app.invoke({}, thread_id="t", durability="exit")
    history = store.history("t")
    assert len(history) == 1
    final = store.get("t")
    assert final is not None
    assert final.step == 4
    assert final.next == []
    assert final.values == REFERENCE
    assert final.pending == []


def test_sync_durability_commits_each_step_before_the_next_starts(
    db: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    seen: list[tuple[int, int]] = []

    def spy(ctx: RunContext) -> None:
        # another connection, as another process would read the file
        (latest,) = rows(db, "SELECT MAX(step) FROM checkpoints WHERE thread_id = 't'")[0]
        seen.append((ctx.step, latest))

    app, _ = compile_on(diamond(Calls(), set(), spy=spy), db, open_stores)
    app.invoke({}, thread_id="t", durability="sync")
    assert len(seen) == 6
    assert all(latest == step - 1 for step, latest in seen), seen


class SlowStore(SqliteCheckpointer):
    """Real SQLite underneath, but every checkpoint takes a while to commit: a disk much
    slower than the steps."""

    def put(self, save: Any) -> None:
        time.sleep(0.005)
        super().put(save)


class Counting(TypedDict):
    n: int


def test_async_durability_never_lets_the_writer_fall_more_than_a_step_behind(
    db: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    seen: list[tuple[int, int]] = []

    def tick(state: Counting, ctx: RunContext) -> dict[str, int]:
        (latest,) = rows(db, "SELECT COALESCE(MAX(step), -1) FROM checkpoints")[0]
        seen.append((ctx.step, latest))
        return {"n": state["n"] + 1}

    g = StateGraph(Counting)
    g.add_node("tick", tick)
    g.add_edge(START, "tick")
    g.add_conditional_edges("tick", lambda s: "tick" if s["n"] < 30 else END)
    store = SlowStore(db)
    open_stores.append(store)
    out = g.compile(checkpointer=store).invoke({"n": 0}, thread_id="t", durability="async")
    assert out == {"n": 30}
    assert len(seen) == 30
    # when step S runs, step S-1 is done (executed) and S-2 at least is committed
    assert all(latest >= step - 2 for step, latest in seen), seen
    assert rows(db, "SELECT MAX(step) FROM checkpoints") == [(30,)]


def test_exit_durability_commits_nothing_until_the_run_stops(
    db: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    seen: list[int] = []

    def spy(ctx: RunContext) -> None:
        seen.append(rows(db, "SELECT COUNT(*) FROM checkpoints")[0][0])

    app, _ = compile_on(diamond(Calls(), set(), spy=spy), db, open_stores)
    app.invoke({}, thread_id="t", durability="exit")
    assert seen == [0] * 6
    assert rows(db, "SELECT COUNT(*) FROM checkpoints") == [(1,)]


def test_exit_durability_on_an_existing_thread_adds_one_checkpoint_per_run(
    db: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    app, store = compile_on(diamond(Calls(), set()), db, open_stores)
    app.invoke({}, thread_id="t", durability="sync")
    first = store.get("t")
    assert first is not None
    out = app.invoke({"log": ["again"]}, thread_id="t", durability="exit")
    history = store.history("t")
    assert len(history) == 6
    assert history[0].parent_id == first.checkpoint_id
    assert history[0].step == 9
    assert out["log"] == [*REFERENCE["log"], "again", "a@6", "b@7", "c@7", "d@7", "e@8"]
    assert store.get("t").values == out  # type: ignore[union-attr]


# -- failures and pending writes -------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_parallel_task_keeps_its_siblings_writes_so_the_resume_skips_them(
    db: Path, open_stores: list[SqliteCheckpointer], mode: str
) -> None:
    calls = Calls()
    failing = {"c"}
    app, store = compile_on(diamond(calls, failing), db, open_stores)
    with pytest.raises(NodeError) as info:
        app.invoke({}, thread_id="t", durability=mode)
    assert info.value.node == "c"
    assert calls.counts == Counter({"a": 1, "b": 1, "c": 1, "d": 1})

    head = store.get("t")
    assert head is not None
    assert head.step == 1
    assert [t["node"] for t in head.next] == ["b", "c", "d"]
    assert sorted(p.kind for p in head.pending) == ["writes", "writes"]
    kept = sorted(w for p in head.pending for w, _ in p.value["writes"])
    assert kept == ["log", "log", "total", "total"]

    failing.clear()
    out = app.invoke(None, thread_id="t", durability=mode)
    assert out == REFERENCE
    # b and d finished before the failure: their writes were reused, not recomputed
    assert calls.counts == Counter({"a": 1, "b": 1, "c": 2, "d": 1, "e": 1, "f": 1})


def test_a_resume_in_a_new_process_store_reuses_the_pending_writes(
    db: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    calls = Calls()
    app, store = compile_on(diamond(calls, {"d"}), db, open_stores)
    with pytest.raises(NodeError):
        app.invoke({}, thread_id="t")
    store.close()
    open_stores.remove(store)
    fresh_calls = Calls()
    app2, _ = compile_on(diamond(fresh_calls, set()), db, open_stores)
    assert app2.invoke(None, thread_id="t") == REFERENCE
    assert fresh_calls.counts == Counter({"d": 1, "e": 1, "f": 1})


def test_repeated_failures_accumulate_pending_writes_and_finished_tasks_run_once(
    db: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    calls = Calls()
    failing = {"b", "c"}
    app, store = compile_on(diamond(calls, failing), db, open_stores)
    with pytest.raises(NodeError):
        app.invoke({}, thread_id="t")
    failing.discard("b")
    with pytest.raises(NodeError) as info:
        app.invoke(None, thread_id="t")
    assert info.value.node == "c"
    head = store.get("t")
    assert head is not None
    assert len(head.pending) == 2  # d from the first run, b from the second
    assert len(store.history("t")) == 2
    failing.clear()
    assert app.invoke(None, thread_id="t") == REFERENCE
    assert calls.counts == Counter({"a": 1, "b": 2, "c": 3, "d": 1, "e": 1, "f": 1})


class Fan(TypedDict):
    results: Annotated[list[int], reducers.append]
    done: bool


def test_a_failed_send_task_is_the_only_one_rerun_on_resume(
    db: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    calls = Calls()
    failing = {3}

    def work(arg: int) -> dict[str, Any]:
        calls.hit(f"work:{arg}")
        if arg in failing:
            raise RuntimeError(f"item {arg} failed")
        return {"results": [arg * arg]}

    g = StateGraph(Fan)
    g.add_node("plan", lambda s: None)
    g.add_node("work", work)
    g.add_node("collect", lambda s: {"done": True})
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", lambda s: [Send("work", i) for i in range(6)])
    g.add_edge("work", "collect")
    g.add_edge("collect", END)
    app, store = compile_on(g, db, open_stores)
    with pytest.raises(NodeError):
        app.invoke({}, thread_id="t")
    assert len(store.get("t").pending) == 5  # type: ignore[union-attr]
    failing.clear()
    out = app.invoke(None, thread_id="t")
    assert out == {"results": [0, 1, 4, 9, 16, 25], "done": True}
    assert calls.counts == Counter({f"work:{i}": 2 if i == 3 else 1 for i in range(6)})


@pytest.mark.parametrize("mode", MODES)
def test_node_error_names_the_checkpoint_that_was_committed(
    db: Path, open_stores: list[SqliteCheckpointer], mode: str
) -> None:
    app, store = compile_on(diamond(Calls(), {"e"}), db, open_stores)
    with pytest.raises(NodeError) as info:
        app.invoke({}, thread_id="t", durability=mode)
    head = store.get("t")
    assert head is not None
    assert head.step == 2
    # RunError.checkpoint_id is documented as the last committed checkpoint
    assert info.value.checkpoint_id == head.checkpoint_id


def test_resuming_a_finished_thread_runs_nothing_and_adds_no_checkpoint(
    db: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    calls = Calls()
    app, store = compile_on(diamond(calls, set()), db, open_stores)
    app.invoke({}, thread_id="t")
    before = store.history("t")
    assert app.invoke(None, thread_id="t") == REFERENCE
    assert store.history("t") == before
    assert calls.counts == Counter("abcdef")


def opaque_graph(ran: list[str]) -> StateGraph:
    """START -> ok -> bad -> after -> END, where ``bad`` writes a value that cannot be stored."""

    class Opaque:  # defined in a function: cannot be restored, so cannot be stored
        pass

    class Box(TypedDict):
        value: Any
        n: int

    g = StateGraph(Box)
    g.add_node("ok", lambda s: {"n": 1})
    g.add_node("bad", lambda s: {"value": Opaque(), "n": 2})
    g.add_node("after", lambda s: ran.append("after") or {"n": 3})
    g.add_edge(START, "ok")
    g.add_edge("ok", "bad")
    g.add_edge("bad", "after")
    g.add_edge("after", END)
    return g


@pytest.mark.parametrize("mode", MODES)
def test_an_unserialisable_write_fails_the_run_and_keeps_the_last_good_checkpoint(
    db: Path, open_stores: list[SqliteCheckpointer], mode: str
) -> None:
    app, store = compile_on(opaque_graph([]), db, open_stores)
    with pytest.raises(SerializationError) as info:
        app.invoke({"value": 0, "n": 0}, thread_id="t", durability=mode)
    assert info.value.key == "value"
    assert "Opaque" in str(info.value)
    head = store.get("t")
    if mode == "exit":
        assert head is None  # the only commit, at the end, is the one that failed
        return
    assert head is not None
    assert head.values == {"value": 0, "n": 1}
    assert [t["node"] for t in head.next] == ["bad"]
    assert [i.step for i in store.history("t")] == [1, 0]


@pytest.mark.parametrize("mode", MODES)
def test_a_run_whose_commit_fails_still_ends_its_event_stream_with_error_and_finished(
    db: Path, open_stores: list[SqliteCheckpointer], mode: str
) -> None:
    app, _ = compile_on(opaque_graph([]), db, open_stores)
    events: list[Any] = []

    def drain() -> None:
        for event in app.stream({"value": 0, "n": 0}, thread_id="t", durability=mode):
            events.append(event)

    with pytest.raises(SerializationError):
        drain()
    kinds = [e.type for e in events]
    assert kinds[0] == "run.started"
    assert kinds[-2:] == ["error", "run.finished"], kinds
    assert events[-1].status == "failed"  # type: ignore[attr-defined]
    assert events[-2].error_type == "SerializationError"  # type: ignore[attr-defined]


# -- transactions ------------------------------------------------------------------------------


def trace_transactions(store: SqliteCheckpointer) -> list[str]:
    """Records the statements that open and close transactions on the store's connection."""
    seen: list[str] = []

    def trace(statement: str) -> None:
        word = statement.strip().split(" ", 1)[0].upper()
        if word in ("BEGIN", "COMMIT", "ROLLBACK"):
            seen.append(word)

    store._conn.set_trace_callback(trace)
    return seen


def test_each_superstep_is_one_transaction_with_no_pending_writes(
    db: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    app, store = compile_on(diamond(Calls(), set()), db, open_stores)
    seen = trace_transactions(store)
    app.invoke({}, thread_id="t", durability="sync")
    steps = 4  # a, then b/c/d together, then e, then f
    # one to take the thread and record the run, one per checkpoint (each carrying its
    # step's events and tasks), one for the events after the last checkpoint
    # (run.finished), and one for the run's final record, which frees the thread
    assert seen == ["BEGIN", "COMMIT"] * (1 + steps + 1 + 1 + 1)
    assert rows(db, "SELECT COUNT(*) FROM checkpoints") == [(steps + 1,)]
    assert rows(db, "SELECT COUNT(*) FROM checkpoint_writes") == [(0,)]


def test_a_failed_step_adds_its_pending_writes_in_one_more_transaction(
    db: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    app, store = compile_on(diamond(Calls(), {"b"}), db, open_stores)
    seen = trace_transactions(store)
    with pytest.raises(NodeError):
        app.invoke({}, thread_id="t", durability="sync")
    # the run's record; input and step 1 committed; step 2 failed: one transaction for
    # c's and d's writes, one for the events after the last checkpoint (task.failed,
    # error, run.finished), and the run's final record
    assert seen == ["BEGIN", "COMMIT"] * 6
    head = store.get("t")
    assert head is not None
    assert rows(db, "SELECT DISTINCT checkpoint_id FROM checkpoint_writes") == [
        (head.checkpoint_id,)
    ]
    assert rows(db, "SELECT COUNT(*) FROM checkpoint_writes") == [(2,)]
    assert rows(db, "SELECT COUNT(*) FROM checkpoints") == [(2,)]


def test_exit_durability_commits_once_when_the_run_stops(
    db: Path, open_stores: list[SqliteCheckpointer]
) -> None:
    app, store = compile_on(diamond(Calls(), set()), db, open_stores)
    seen = trace_transactions(store)
    app.invoke({}, thread_id="t", durability="exit")
    # the run's record, the one checkpoint when the run stops, the events that ended
    # it, the final record
    assert seen == ["BEGIN", "COMMIT"] * 4
    seen.clear()
    app.invoke({}, thread_id="u", durability="exit", log_events=False)
    assert seen == ["BEGIN", "COMMIT"] * 3


# -- several processes -------------------------------------------------------------------------


def test_several_processes_write_one_database_at_once(tmp_path: Path) -> None:
    db = tmp_path / "shared.sqlite"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    threads = [f"worker-{i}" for i in range(4)]
    procs = [
        subprocess.Popen(
            [sys.executable, str(LOOP_PROGRAM), str(db), thread, "60"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for thread in threads
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert p.returncode == 0, err
        assert json.loads(out)["i"] == 60
    store = SqliteCheckpointer(db)
    try:
        assert store.threads() == threads
        for thread in threads:
            assert len(store.history(thread)) == 61
            assert store.get(thread).values["items"] == [f"{thread}-{i}" for i in range(60)]  # type: ignore[union-attr]
    finally:
        store.close()
