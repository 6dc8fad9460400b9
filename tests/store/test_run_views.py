"""The run views' contract (``orca.store.RunViews``), for every backend: runs listed by
each filter and by a stable cursor, counted, searched by the text of their event log
(case-insensitive, bounded, never matching or showing a redacted secret), and a
workflow's per-node task figures."""

from __future__ import annotations

import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import psycopg
import pytest

from orca import END, START, StateGraph
from orca.checkpoint import EventRecord, Lease, RunRecord, TaskRecord
from orca.errors import CorruptDatabaseError, InvalidInputError
from orca.store import RunFilter, RunViews, SqliteCheckpointer, SqliteStore
from orca.store._runviews import SCANNED_RUNS, NodeTimes
from orca.store.postgres import PgCheckpointer, PostgresStore

BACKENDS = ["sqlite", "postgres"]
SECRET = "sk-proj-" + "Zq8" * 12
DAY = dt.datetime(2026, 5, 13, 9, 0, tzinfo=dt.UTC)


class Project:
    """A backend's project store: its checkpointer (written as the engine writes) and
    its run views (read as the server reads)."""

    def __init__(self, store: SqliteStore | PostgresStore) -> None:
        self.store = store
        self.checkpoints: SqliteCheckpointer | PgCheckpointer
        if isinstance(store, PostgresStore):
            self.checkpoints = PgCheckpointer(store.url)
        else:
            # the engine's writes, without a sync each (the tests stay fast; what is read
            # back is the same)
            self.checkpoints = SqliteCheckpointer(store.path, synchronous="OFF")
        self.views: RunViews = store.run_views

    def write_raw(self, sql: str) -> None:
        """Change the database behind Orca's back, as a damaged disk or another tool may."""
        if isinstance(self.store, PostgresStore):
            with psycopg.connect(self.store.url, autocommit=True) as raw:
                raw.execute(sql.encode())
        else:
            with sqlite3.connect(self.store.path) as raw:
                raw.execute(sql)

    def run(
        self,
        run_id: str,
        *,
        status: str = "done",
        graph: str = "g",
        thread: str | None = None,
        started: dt.datetime = DAY,
        cost: int = 0,
        tokens: tuple[int, int] = (0, 0),
        tasks: tuple[tuple[str, str, float | None], ...] = (),
    ) -> RunRecord:
        """A run record as the engine (or a server's queue) stores it; ``tasks`` are
        (node, status, duration_ms)."""
        record = RunRecord(run_id, thread or f"t-{run_id}", graph, "running", started.isoformat())
        if status in ("queued", "failed", "cancelled") and not tasks:
            done = dataclasses.replace(record, status=status)  # type: ignore[arg-type]
            self.checkpoints.put_run(done)
            return done
        self.checkpoints.begin_run(record, Lease(record.thread_id, run_id, "h:1:n", 1e12), 0.0)
        done = dataclasses.replace(
            record,
            status=status,  # type: ignore[arg-type]
            cost_nano_usd=cost,
            input_tokens=tokens[0],
            output_tokens=tokens[1],
        )
        if status != "running":
            rows = [
                TaskRecord(run_id, f"task-{i}", i, node, s, record.started_at, None, ms)  # type: ignore[arg-type]
                for i, (node, s, ms) in enumerate(tasks)
            ]
            self.checkpoints.end_run(done, rows)
        return done

    def log(self, run_id: str, *events: tuple[str, dict[str, Any]], ts: float = 1000.0) -> None:
        """Events of a run in its log (after its last checkpoint: the ``events`` table)."""
        thread = self.checkpoints.get_run(run_id).thread_id
        self.checkpoints.put_events(
            [
                EventRecord(kind, run_id, thread, 0, seq, ts + seq, fields)
                for seq, (kind, fields) in enumerate(events)
            ]
        )


@pytest.fixture(params=BACKENDS)
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Project]:
    store: SqliteStore | PostgresStore
    if request.param == "postgres":
        store = PostgresStore(request.getfixturevalue("pg_url"))
    elif request.param == "sqlite":
        store = SqliteStore(tmp_path / "project.db")
    else:
        raise AssertionError(f"no such backend {request.param!r}")
    project = Project(store)
    try:
        yield project
    finally:
        project.checkpoints.close()
        store.close()


def ids(found: list[RunRecord]) -> list[str]:
    return [r.run_id for r in found]


# -- listing ---------------------------------------------------------------------------------


def test_runs_are_listed_newest_first_by_each_filter(project: Project) -> None:
    p = project
    p.run("a", status="done", graph="g", started=DAY, cost=10)
    p.run("b", status="failed", graph="g", started=DAY + dt.timedelta(hours=1))
    p.run(
        "c",
        status="interrupted",
        graph="h",
        thread="shared",
        started=DAY + dt.timedelta(hours=2),
        cost=2_500_000_000,
    )
    p.run("d", status="queued", graph="h", thread="shared", started=DAY + dt.timedelta(hours=3))
    assert isinstance(p.views, RunViews)  # the backend keeps the protocol
    find = p.views.find_runs
    assert ids(find(RunFilter())) == ["d", "c", "b", "a"]
    assert ids(find(RunFilter(statuses=("done", "failed")))) == ["b", "a"]
    assert ids(find(RunFilter(graph="h"))) == ["d", "c"]
    assert ids(find(RunFilter(thread_id="shared", statuses=("interrupted",)))) == ["c"]
    hour = dt.timedelta(hours=1)
    assert ids(find(RunFilter(since=DAY + hour, until=DAY + 3 * hour))) == ["c", "b"]
    # another zone names the same instant
    paris = dt.timezone(dt.timedelta(hours=2))
    assert ids(find(RunFilter(since=(DAY + 3 * hour).astimezone(paris)))) == ["d"]
    assert ids(find(RunFilter(min_cost_nano_usd=10))) == ["c", "a"]
    assert ids(find(RunFilter(min_cost_nano_usd=11, max_cost_nano_usd=2_500_000_000))) == ["c"]
    assert ids(find(RunFilter(max_cost_nano_usd=9))) == ["d", "b"]
    assert find(RunFilter(graph="nothing")) == []


def test_a_cursor_pages_through_runs_started_at_the_same_instant_without_gaps(
    project: Project,
) -> None:
    for i in range(7):
        project.run(f"r{i}", started=DAY)  # ties: the order they were stored breaks them
    project.run("later", started=DAY + dt.timedelta(seconds=1))
    seen: list[str] = []
    before = None
    while True:
        page = ids(project.views.find_runs(RunFilter(limit=3, before=before)))
        if not page:
            break
        seen += page
        before = page[-1]
    assert seen == ["later", "r6", "r5", "r4", "r3", "r2", "r1", "r0"]


def test_a_cursor_naming_no_run_is_refused(project: Project) -> None:
    with pytest.raises(InvalidInputError, match="before names run 'ghost'"):
        project.views.find_runs(RunFilter(before="ghost"))


@pytest.mark.parametrize(
    ("bad", "said"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"since": dt.datetime(2026, 1, 1)}, "time zone"),
        ({"text": ""}, "1 to 200"),
        ({"text": "x" * 201}, "1 to 200"),
        ({"text": "a\x00b"}, "NUL"),
    ],
)
def test_a_bad_filter_is_refused(bad: dict[str, Any], said: str) -> None:
    with pytest.raises(InvalidInputError, match=said):
        RunFilter(**bad)


# -- text search -----------------------------------------------------------------------------


class S(TypedDict, total=False):
    text: str
    out: str


def _shout(state: S, ctx: Any) -> dict[str, Any]:
    ctx.write(f"Heard: {state['text']}")
    return {"out": state["text"].upper()}


def test_text_finds_runs_by_their_logged_events_in_either_table(project: Project) -> None:
    builder = StateGraph(S, name="shouter")
    builder.add_node("shout", _shout)
    builder.add_edge(START, "shout")
    builder.add_edge("shout", END)
    graph = builder.compile(checkpointer=project.checkpoints)
    graph.invoke({"text": "the Grey Heron"}, thread_id="t1", run_id="inline")  # inline events
    project.run("tail")
    project.log("tail", ("custom", {"data": 'a Blue HERON, quoted "so" and 100%_sure'}))
    project.run("other")
    project.log("other", ("custom", {"data": "a sparrow"}))
    project.run("ünicode")
    project.log("ünicode", ("custom", {"data": "ÉCHASSIER"}))
    find = project.views.find_runs
    assert set(ids(find(RunFilter(text="heron")))) == {"inline", "tail"}
    assert ids(find(RunFilter(text="GREY heron"))) == ["inline"]
    assert ids(find(RunFilter(text='"so"'))) == ["tail"]  # quotes, as the log escapes them
    assert ids(find(RunFilter(text="100%_"))) == ["tail"]  # LIKE's wildcards are literal
    assert ids(find(RunFilter(text="0%x"))) == []
    assert ids(find(RunFilter(text="échassier"))) == ["ünicode"]  # beyond ASCII too
    assert ids(find(RunFilter(text="heron", graph="shouter"))) == ["inline"]
    assert find(RunFilter(text="pelican")) == []


def test_text_never_matches_a_secret_the_log_kept(project: Project) -> None:
    project.run("leaky")
    project.log("leaky", ("custom", {"data": f"calling with api_key={SECRET} now"}))
    assert project.views.find_runs(RunFilter(text="Zq8Zq8")) == []
    assert project.views.search_events("Zq8Zq8") == []
    [hit] = project.views.search_events("calling with")
    assert SECRET not in hit.excerpt
    assert "Zq8" not in hit.excerpt
    assert "[REDACTED:" in hit.excerpt


def test_text_search_looks_into_the_newest_runs_only(project: Project) -> None:
    project.run("old", started=DAY)
    project.log("old", ("custom", {"data": "needle"}))
    for i in range(SCANNED_RUNS):  # as many newer runs as a search looks into
        later = (DAY + dt.timedelta(minutes=1)).isoformat()
        project.checkpoints.put_run(RunRecord(f"new{i}", f"t-new{i}", "g", "queued", later))
    assert project.views.find_runs(RunFilter(text="needle")) == []
    assert project.views.search_events("needle") == []
    # narrowed by the other filters, the old run is within reach again
    assert ids(project.views.find_runs(RunFilter(text="needle", statuses=("done",)))) == ["old"]
    assert [h.run_id for h in project.views.search_events("needle", run_id="old")] == ["old"]


def test_search_answers_each_matching_event_latest_first_with_an_excerpt(
    project: Project,
) -> None:
    project.run("r1")
    project.log(
        "r1",
        ("task.started", {"node": "plan", "task_id": "x", "attempt": 1, "triggers": []}),
        ("custom", {"data": "x" * 200 + " the Heron flies " + "y" * 200, "node": "plan"}),
        ("custom", {"data": "a heron again"}),
    )
    project.run("r2")
    project.log("r2", ("custom", {"data": "no birds"}))
    found = project.views.search_events("HERON")
    assert [(h.run_id, h.seq, h.type) for h in found] == [("r1", 2, "custom"), ("r1", 1, "custom")]
    assert found[1].node == "plan"
    assert found[0].node is None
    assert "the Heron flies" in found[1].excerpt
    assert found[1].excerpt.startswith("...")
    assert found[1].excerpt.endswith("...")
    assert len(found[1].excerpt) < 200
    assert len(project.views.search_events("heron", limit=1)) == 1
    assert project.views.search_events("heron", types=["task.started"]) == []
    assert project.views.search_events("heron", run_id="r2") == []
    with pytest.raises(InvalidInputError, match="limit"):
        project.views.search_events("heron", limit=0)
    with pytest.raises(InvalidInputError, match="1 to 200"):
        project.views.search_events("")


# -- counters and node figures ---------------------------------------------------------------


def test_stats_count_every_status_and_the_last_days_spend(project: Project) -> None:
    now = DAY + dt.timedelta(days=2)
    project.run("old", started=DAY, cost=100, tokens=(10, 5))
    project.run("new", started=now - dt.timedelta(hours=1), cost=7, tokens=(3, 4))
    project.run("bad", status="failed", started=now - dt.timedelta(hours=2))
    project.run("live", status="running", started=now)
    stats = project.views.stats(now)
    assert stats.by_status == {
        "queued": 0, "running": 1, "interrupted": 0, "done": 2, "failed": 1, "cancelled": 0,
    }  # fmt: skip
    assert (stats.total, stats.cost_nano_usd) == (4, 107)
    assert (stats.runs_24h, stats.cost_nano_usd_24h, stats.tokens_24h) == (3, 7, 7)
    with pytest.raises(InvalidInputError):
        project.views.stats(dt.datetime(2026, 1, 1))


def test_node_times_count_runs_tasks_and_failures_with_percentiles(project: Project) -> None:
    project.run("a", graph="w", tasks=(("plan", "done", 10.0), ("work", "done", 30.0)))
    project.run(
        "b", graph="w", status="failed", tasks=(("plan", "done", 20.0), ("work", "failed", None))
    )
    project.run("c", graph="w", started=DAY + dt.timedelta(days=1), tasks=(("plan", "done", 40.0),))
    project.run("x", graph="other", tasks=(("plan", "done", 999.0),))
    found = {n.node: n for n in project.views.node_times("w")}
    assert found["plan"] == NodeTimes("plan", 3, 3, 0, (10.0, 20.0, 40.0))
    assert found["work"] == NodeTimes("work", 2, 2, 1, (30.0,))
    assert (found["plan"].percentile(50), found["plan"].percentile(95)) == (20.0, 40.0)
    assert NodeTimes("n", 0, 0, 0, ()).percentile(50) is None
    later = project.views.node_times("w", since=DAY + dt.timedelta(hours=1))
    assert [(n.node, n.calls) for n in later] == [("plan", 1)]
    assert project.views.node_times("nothing") == []


def test_several_statuses_and_text_pages_agree_with_a_plain_reading(project: Project) -> None:
    statuses = ("done", "failed", "interrupted", "cancelled")
    for i in range(130):  # more runs than one look into the logs takes
        project.run(f"r{i:03d}", status=statuses[i % 4], started=DAY + dt.timedelta(seconds=i // 2))
        project.log(f"r{i:03d}", ("custom", {"data": "heron" if i % 3 == 0 else "wren"}))
    newest = [f"r{i:03d}" for i in sorted(range(130), key=lambda i: (i // 2, i), reverse=True)]
    wanted = [r for r in newest if int(r[1:]) % 4 in (1, 3) and int(r[1:]) % 3 == 0]
    query = RunFilter(statuses=("failed", "cancelled"), text="HERON", limit=7)
    seen: list[str] = []
    while page := ids(project.views.find_runs(query)):
        seen += page
        query = dataclasses.replace(query, before=page[-1])
    assert seen == wanted
    assert (
        ids(project.views.find_runs(RunFilter(statuses=("cancelled", "done"), limit=5)))
        == [r for r in newest if int(r[1:]) % 4 in (0, 3)][:5]
    )


def test_a_damaged_record_is_reported_as_damage(project: Project) -> None:
    project.run("ok")
    project.run("bad")
    project.write_raw("UPDATE runs SET metadata = '[1, 2' WHERE id = 'bad'")
    with pytest.raises(CorruptDatabaseError, match="the record of run 'bad' is damaged"):
        project.views.find_runs(RunFilter())
    assert ids(project.views.find_runs(RunFilter(before="bad"))) == ["ok"]


def test_a_workflow_named_without_a_version_takes_its_saved_versions_too(
    project: Project,
) -> None:
    hour = dt.timedelta(hours=1)
    for i, graph in enumerate(("triage", "triage@1.0.0", "triage@1.1.0", "triageA", "triage2")):
        project.run(graph, graph=graph, started=DAY + i * hour, tasks=(("plan", "done", 5.0),))
    find = project.views.find_runs
    assert ids(find(RunFilter(graph="triage"))) == ["triage@1.1.0", "triage@1.0.0", "triage"]
    assert ids(find(RunFilter(graph="triage@1.0.0"))) == ["triage@1.0.0"]
    assert ids(find(RunFilter(graph="triage@"))) == []
    assert [(n.node, n.runs) for n in project.views.node_times("triage")] == [("plan", 3)]
    assert [(n.node, n.runs) for n in project.views.node_times("triage@1.1.0")] == [("plan", 1)]
