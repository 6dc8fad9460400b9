"""The event log: every run's events stored in order with its checkpoints, on every store,
and read back by run, range and type."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

import pytest

from orca import END, START, Command, StateGraph, reducers
from orca.errors import NodeError

from ._support import StoreUnderTest

DATABASES = ["sqlite", "postgres"]
"""The stores with a database of their own (the tests of what reads cost run on both)."""


def checkpointer_class(kind: str) -> Any:
    if kind == "postgres":
        from orca.store.postgres import PgCheckpointer

        return PgCheckpointer
    from orca import SqliteCheckpointer

    return SqliteCheckpointer


def database(request: pytest.FixtureRequest, kind: str, tmp_path: Any, name: str) -> Any:
    """Where a store of ``kind`` keeps its data: a new file, or a new database."""
    return request.getfixturevalue("pg_url") if kind == "postgres" else tmp_path / name


class S(TypedDict, total=False):
    log: Annotated[list[str], reducers.append]
    n: int


def graph(store: Any, *, fail_at: int | None = None, ask: bool = False) -> Any:
    def step(state: S, ctx: Any) -> dict[str, Any]:
        n = state.get("n", 0)
        if n == fail_at:
            raise ValueError("boom")
        if ask and n == 1:
            ctx.interrupt({"q": "go on?"})
        return {"log": [f"step {n}"], "n": n + 1}

    g = StateGraph(S, name="counter")
    g.add_node("step", step)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", lambda s: "step" if s["n"] < 3 else END)
    return g.compile(checkpointer=store)


def test_a_runs_events_are_logged_in_order(store: StoreUnderTest) -> None:
    app = graph(store.cp)
    streamed = list(app.stream({"n": 0}, thread_id="t", mode="events"))
    run_id = streamed[0].run_id
    for view in store.views():
        logged = view.read_events(run_id)
        assert [e["seq"] for e in logged] == sorted(e["seq"] for e in logged)
        kinds = [e["type"] for e in logged]
        assert kinds[0] == "run.started"
        assert kinds[-1] == "run.finished"
        assert "token" not in kinds
        assert "values" not in kinds
        assert "checkpoint.saved" not in kinds
        # the same events the caller saw, apart from values (and trimmed updates)
        wanted = [e for e in streamed if e.type not in ("values", "token", "checkpoint.saved")]
        assert [(e["seq"], e["type"]) for e in logged] == [(e.seq, e.type) for e in wanted]
        finished = [e for e in logged if e["type"] == "task.finished"]
        assert [sorted(e["update"]) for e in finished] == [["log", "n"]] * 3
        assert all(v is None for e in finished for v in e["update"].values())


def test_events_are_logged_without_a_listener(store: StoreUnderTest) -> None:
    app = graph(store.cp)
    app.invoke({"n": 0}, thread_id="t")
    run_id = app.get_history("t")[0].metadata["run_id"]
    logged = store.cp.read_events(run_id)
    assert [e["type"] for e in logged].count("step.started") == 3
    assert logged[-1]["status"] == "done"


def test_reading_a_range_of_types(store: StoreUnderTest) -> None:
    app = graph(store.cp)
    app.invoke({"n": 0}, thread_id="t")
    run_id = app.get_history("t")[0].metadata["run_id"]
    every = store.cp.read_events(run_id)
    middle = store.cp.read_events(run_id, start=2, stop=6)
    assert [e["seq"] for e in middle] == [e["seq"] for e in every if 2 <= e["seq"] < 6]
    steps = store.cp.read_events(run_id, types=["step.started"])
    assert {e["type"] for e in steps} == {"step.started"}
    assert len(store.cp.read_events(run_id, limit=2)) == 2
    assert store.cp.read_events("no-such-run") == []


def test_a_failed_run_logs_its_error(store: StoreUnderTest) -> None:
    app = graph(store.cp, fail_at=1)
    with pytest.raises(NodeError):
        app.invoke({"n": 0}, thread_id="t")
    run_id = app.get_history("t")[0].metadata["run_id"]
    logged = store.cp.read_events(run_id)
    kinds = [e["type"] for e in logged]
    assert "task.failed" in kinds
    assert "error" in kinds
    assert logged[-1]["type"] == "run.finished"
    assert logged[-1]["status"] == "failed"


def test_a_paused_and_resumed_thread_logs_both_runs(store: StoreUnderTest) -> None:
    app = graph(store.cp, ask=True)
    first = list(app.stream({"n": 0}, thread_id="t", mode="events"))
    second = list(app.stream(Command(resume=True), thread_id="t", mode="events"))
    assert first[0].run_id != second[0].run_id
    a = store.cp.read_events(first[0].run_id)
    b = store.cp.read_events(second[0].run_id)
    assert "interrupt" in [e["type"] for e in a]
    assert a[-1]["status"] == "interrupted"
    assert b[-1]["status"] == "done"


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_every_durability_mode_logs_every_event(store: StoreUnderTest, durability: str) -> None:
    app = graph(store.cp)
    streamed = list(app.stream({"n": 0}, thread_id="t", mode="events", durability=durability))
    logged = store.cp.read_events(streamed[0].run_id)
    wanted = [e.seq for e in streamed if e.type not in ("values", "token", "checkpoint.saved")]
    assert [e["seq"] for e in logged] == wanted


def test_the_log_can_be_turned_off(store: StoreUnderTest) -> None:
    app = graph(store.cp)
    streamed = list(app.stream({"n": 0}, thread_id="t", mode="events", log_events=False))
    assert store.cp.read_events(streamed[0].run_id) == []


def test_log_events_must_be_a_bool(store: StoreUnderTest) -> None:
    from orca.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="log_events"):
        graph(store.cp).invoke({"n": 0}, thread_id="t", log_events="yes")


def test_large_batches_and_small_ones_read_back_as_one_ordered_log(tmp_path: Any) -> None:
    # SQLite only: where a batch goes (inline in its checkpoint row, or apart) is its own
    # layout; PostgreSQL keeps every batch apart, read by the suites above
    import sqlite3

    from orca import SqliteCheckpointer

    def big(state: S, ctx: Any) -> dict[str, Any]:
        n = state.get("n", 0)
        if n == 1:
            ctx.write("x" * 5000)  # this step's batch cannot ride in its checkpoint row
        return {"n": n + 1}

    g = StateGraph(S, name="mixed")
    g.add_node("step", big)
    g.add_edge(START, "step")
    g.add_conditional_edges("step", lambda s: "step" if s["n"] < 3 else END)
    path = tmp_path / "mixed.db"
    with SqliteCheckpointer(path) as store:
        app = g.compile(checkpointer=store)
        streamed = list(app.stream({"n": 0}, thread_id="t", mode="events"))
        logged = store.read_events(streamed[0].run_id)
    wanted = [e for e in streamed if e.type not in ("values", "checkpoint.saved")]
    assert [(e["seq"], e["type"]) for e in logged] == [(e.seq, e.type) for e in wanted]
    assert [e["data"] for e in logged if e["type"] == "custom"] == ["x" * 5000]
    conn = sqlite3.connect(path)
    try:
        inline = conn.execute("SELECT COUNT(*) FROM checkpoints WHERE events IS NOT NULL")
        apart = conn.execute("SELECT COUNT(*) FROM events")
        assert inline.fetchone()[0] >= 2  # the input step and the small steps
        assert apart.fetchone()[0] == 2  # the large step and the run's tail
    finally:
        conn.close()


@pytest.mark.parametrize("kind", DATABASES)
def test_pruning_checkpoints_keeps_their_inline_events(
    request: pytest.FixtureRequest, tmp_path: Any, kind: str
) -> None:
    with checkpointer_class(kind)(database(request, kind, tmp_path, "p.db")) as store:
        app = graph(store)
        app.invoke({"n": 0}, thread_id="t")
        run_id = app.get_history("t")[0].metadata["run_id"]
        before = store.read_events(run_id)
        assert store.prune("t", keep=1) > 0
        assert store.read_events(run_id) == before


def test_a_version_2_file_is_upgraded_and_its_log_still_reads(tmp_path: Any) -> None:
    # SQLite only: PostgreSQL's schema starts at the current shape
    import sqlite3

    from orca import SqliteCheckpointer
    from orca.store.sqlite._schema import CHECKPOINT_MIGRATIONS as MIGRATIONS

    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:2]:
        for statement in migration:
            conn.execute(statement)
    conn.execute("CREATE TABLE orca_schema (component TEXT PRIMARY KEY, version INTEGER)")
    conn.execute("INSERT INTO orca_schema VALUES ('checkpoints', 2)")
    batch = b'[["run.started",{"run_id":"r1","thread_id":"t","step":0,"seq":0,"ts":1.0}]]'
    conn.execute("INSERT INTO events VALUES ('t', 'r1', ?)", (batch,))
    conn.commit()
    conn.close()
    with SqliteCheckpointer(path) as store:
        assert [e["type"] for e in store.read_events("r1")] == ["run.started"]
        app = graph(store)
        app.invoke({"n": 0}, thread_id="new")
        run_id = app.get_history("new")[0].metadata["run_id"]
        assert store.read_events(run_id)[-1]["type"] == "run.finished"
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("SELECT version FROM orca_schema WHERE component='checkpoints'")
        assert version.fetchone()[0] == len(MIGRATIONS) == 5
    finally:
        conn.close()


# -- reads cost what they return ---------------------------------------------------------------


def _long_log(store: Any, run_id: str, n: int) -> None:
    from orca.checkpoint import EventRecord

    store.put_events(
        [EventRecord("custom", run_id, "t", i // 10, i, 1_000.0 + i, {"data": i}) for i in range(n)]
    )


class CountingStore:
    """Wraps a real store's row primitive to count the event batches it hands over."""

    @staticmethod
    def make(kind: str, where: Any) -> Any:
        class Counting(checkpointer_class(kind)):  # type: ignore[misc]
            batches = 0

            def _events(self, run_id: str, start: int, stop: int | None) -> Any:
                for batch in super()._events(run_id, start, stop):
                    self.batches += 1
                    yield batch

        return Counting(where)


@pytest.mark.parametrize("kind", DATABASES)
def test_reading_a_few_events_of_a_long_log_decodes_a_few_rows(
    request: pytest.FixtureRequest, tmp_path: Any, kind: str
) -> None:
    from orca.checkpoint._rows import EVENTS_PER_ROW

    with CountingStore.make(kind, database(request, kind, tmp_path, "long.db")) as store:
        _long_log(store, "r", 100_000)
        first = store.read_events("r", limit=10)
        assert [e["data"] for e in first] == list(range(10))
        assert store.batches == 1
        store.batches = 0
        middle = store.read_events("r", start=50_000, limit=10)
        assert [e["seq"] for e in middle] == list(range(50_000, 50_010))
        assert store.batches == 1
        store.batches = 0
        ranged = store.read_events("r", start=99_990, stop=99_995)
        assert [e["seq"] for e in ranged] == list(range(99_990, 99_995))
        assert store.batches == 1
        store.batches = 0
        everything = store.read_events("r")
        assert [e["seq"] for e in everything] == list(range(100_000))
        assert store.batches == -(-100_000 // EVENTS_PER_ROW)


@pytest.mark.parametrize("kind", DATABASES)
def test_reading_ten_events_of_a_long_log_allocates_little(
    request: pytest.FixtureRequest, tmp_path: Any, kind: str
) -> None:
    import tracemalloc

    with checkpointer_class(kind)(database(request, kind, tmp_path, "long.db")) as store:
        _long_log(store, "r", 100_000)
        store.read_events("r", limit=1)  # warm: the statement cache, lazy imports
        tracemalloc.start()
        try:
            got = store.read_events("r", limit=10)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert len(got) == 10
    assert peak < 1_000_000  # the whole log decoded takes tens of megabytes


def test_the_log_index_is_used_for_a_runs_events(tmp_path: Any) -> None:
    from orca import SqliteCheckpointer

    with SqliteCheckpointer(tmp_path / "i.db") as store:
        plan = store._conn.execute(
            "EXPLAIN QUERY PLAN SELECT batch FROM events WHERE run_id = 'r' "
            "AND last_seq >= 0 ORDER BY first_ts, first_seq"
        ).fetchall()
    assert any("events_by_run_seq" in str(row) for row in plan), plan


def test_the_log_index_is_used_for_a_runs_events_on_postgresql(pg_url: str) -> None:
    import psycopg

    from orca.store.postgres import PgCheckpointer

    PgCheckpointer(pg_url).close()
    with psycopg.connect(pg_url) as conn:
        # an empty table is scanned whatever its indexes; what is asked is whether the
        # index serves the query at all
        conn.execute("SET enable_seqscan = off")
        plan = conn.execute(
            "EXPLAIN SELECT batch FROM events WHERE run_id = 'r' AND last_seq >= 0 "
            "ORDER BY first_ts, first_seq, id LIMIT 16"
        ).fetchall()
    assert any("events_by_run_seq" in str(row) for row in plan), plan
