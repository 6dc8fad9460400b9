"""Run records, thread leases and the tool audit in PostgreSQL: real processes racing for
a thread and dying with it, a record damaged in the database, a database of a newer
Orca. (The SQLite twins of these are ``test_run_records_sqlite.py``; the conformance
suite ``test_run_records.py`` runs on both.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from orca.checkpoint import Lease, RunRecord, TaskRecord, lease_owner
from orca.errors import CorruptDatabaseError, InvalidInputError, SchemaVersionError
from orca.store import ToolExecution
from orca.store.postgres import PgCheckpointer, PostgresStore

WORKER = Path(__file__).with_name("lease_worker.py")
SRC = Path(__file__).resolve().parents[2] / "src"


def worker(mode: str, url: str, thread: str, run_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, url, thread, run_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")},
    )


def record(run_id: str, thread: str = "t", status: str = "running") -> RunRecord:
    return RunRecord(run_id, thread, "g", status, "2026-01-01T00:00:00+00:00")  # type: ignore[arg-type]


def test_processes_racing_for_one_thread_let_exactly_one_run_in(pg_url: str) -> None:
    PgCheckpointer(pg_url).close()  # the tables exist before the race
    racers = [worker("race", pg_url, "t", f"run-{i}") for i in range(4)]
    try:
        for p in racers:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        for p in racers:  # as close to together as pipes allow
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [json.loads(p.stdout.readline()) for p in racers]  # type: ignore[union-attr]
    finally:
        for p in racers:
            if p.stdin is not None:
                p.stdin.close()
            p.wait(timeout=30)
    winners = [f"run-{i}" for i, r in enumerate(results) if r["won"]]
    assert len(winners) == 1
    assert {r["holder"] for r in results} == set(winners)
    with PgCheckpointer(pg_url) as store:
        assert [r.run_id for r in store.list_runs()] == winners


def test_processes_racing_on_a_new_database_create_it_once_and_one_wins(pg_url: str) -> None:
    # no tables yet: every racer migrates under the advisory lock, then takes the lease
    racers = [worker("race", pg_url, "t", f"run-{i}") for i in range(3)]
    try:
        for p in racers:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "ready"
        for p in racers:
            assert p.stdin is not None
            p.stdin.write("go\n")
            p.stdin.flush()
        results = [json.loads(p.stdout.readline()) for p in racers]  # type: ignore[union-attr]
    finally:
        for p in racers:
            if p.stdin is not None:
                p.stdin.close()
            p.wait(timeout=30)
    assert sum(r["won"] for r in results) == 1


def test_a_killed_holder_loses_its_thread_at_once(pg_url: str) -> None:
    holder = worker("hold", pg_url, "t", "run-holder")
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with PgCheckpointer(pg_url) as store:
            mine = Lease("t", "run-next", lease_owner(), time.time() + 60)
            assert store.begin_run(record("run-next"), mine, time.time()).run_id == "run-holder"
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=30)
            # its lease had an hour to go: the dead owner gives it up now
            assert store.begin_run(record("run-next"), mine, time.time()) == mine
            assert [r.run_id for r in store.list_runs()] == ["run-next", "run-holder"]
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_a_run_record_damaged_in_the_database_raises_corrupt_database_error(
    pg_url: str,
) -> None:
    with PgCheckpointer(pg_url) as store:
        for run_id in ("run-a", "run-b"):
            r = record(run_id, thread=run_id)
            store.begin_run(r, Lease(r.thread_id, run_id, "h:1:x", 0), 1.0)
    with psycopg.connect(pg_url, autocommit=True) as raw:
        raw.execute("UPDATE runs SET metadata = '{not json' WHERE id = 'run-a'")
        raw.execute("UPDATE runs SET metadata = '[1, 2]' WHERE id = 'run-b'")
    with PgCheckpointer(pg_url) as store:
        for run_id in ("run-a", "run-b"):
            with pytest.raises(CorruptDatabaseError, match=f"record of run '{run_id}'"):
                store.get_run(run_id)
        with pytest.raises(CorruptDatabaseError):
            store.list_runs()


def test_a_database_of_a_newer_orca_is_left_untouched(pg_url: str) -> None:
    PgCheckpointer(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as raw:
        raw.execute("UPDATE orca_schema SET version = 99 WHERE component = 'project'")
        tables = raw.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        before = tables.fetchone()
    with pytest.raises(SchemaVersionError, match="99"):
        PgCheckpointer(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as raw:
        after = raw.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
        assert after.fetchone() == before
        version = raw.execute("SELECT version FROM orca_schema WHERE component = 'project'")
        assert version.fetchone() == (99,)


def test_the_tool_audit_keeps_executions_newest_first_with_every_filter(pg_url: str) -> None:
    odd = "a\x00b \uffff0 \U0001f40b"
    with PostgresStore(pg_url) as store:
        audit = store.audit
        for i, (tool, status) in enumerate([("shell", "ok"), ("http", "error"), ("shell", "ok")]):
            audit.record(
                ToolExecution(
                    tool,
                    json.dumps({"i": i}),
                    odd if i == 1 else "fine",
                    status,
                    1.5 * i,
                    "2026-01-01T00:00:00+00:00",  # ties: the order they were stored breaks them
                    run_id="run-a" if i < 2 else "run-b",
                    thread_id=odd,
                    node="n",
                )
            )
        assert [json.loads(e.arguments)["i"] for e in audit.executions()] == [2, 1, 0]
        assert [json.loads(e.arguments)["i"] for e in audit.executions(run_id="run-a")] == [1, 0]
        assert [e.status for e in audit.executions(tool="shell")] == ["ok", "ok"]
        [error] = audit.executions(status="error")
        assert (error.result, error.thread_id, error.duration_ms) == (odd, odd, 1.5)
        assert len(audit.executions(limit=1)) == 1
        with pytest.raises(InvalidInputError, match="limit"):
            audit.executions(limit=0)


def test_workflows_and_sessions_are_kept_and_runs_linked_to_their_workflow(pg_url: str) -> None:
    with PgCheckpointer(pg_url) as store:
        first = store.save_workflow("research", "a.py:graph", "2026-01-01T00:00:00+00:00")
        assert store.save_workflow("research", "b.py:graph", "2026-01-02T00:00:00+00:00") == first
        store.begin_session("s1", origin="cli", pid=42, now="2026-01-01T00:00:00+00:00")
        store.begin_session("s1", origin="server", pid=None, now="later")  # kept as it was
        store.end_session("s1", "2026-01-01T00:05:00+00:00")
        linked = RunRecord("r1", "t1", "research", "running", "2026-01-01T00:00:01+00:00")
        loose = RunRecord("r2", "t2", "other", "running", "2026-01-01T00:00:02+00:00")
        for r in (linked, loose):
            store.begin_run(r, Lease(r.thread_id, r.run_id, "h:1:x", 10.0), 1.0)
            store.put_tasks([TaskRecord(r.run_id, "k", 0, "n", "done", "2026-01-01")])
        # an update without a workflow of its name never unlinks the run
        store.save_workflow("renamed", "c.py:graph", "2026-01-03T00:00:00+00:00")
        store.end_run(linked, [])
    with psycopg.connect(pg_url) as raw:
        assert raw.execute("SELECT name, source FROM workflows ORDER BY name").fetchall() == [
            ("renamed", "c.py:graph"),
            ("research", "b.py:graph"),
        ]
        assert raw.execute("SELECT origin, pid, ended_at FROM sessions").fetchall() == [
            ("cli", 42, "2026-01-01T00:05:00+00:00")
        ]
        assert raw.execute("SELECT id, workflow_id FROM runs ORDER BY id").fetchall() == [
            ("r1", first),
            ("r2", None),
        ]
        links = raw.execute("SELECT workflow_id, run_id, task_id FROM workflow_tasks")
        assert links.fetchall() == [(first, "r1", "k")]
