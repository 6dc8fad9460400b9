"""Run records and thread leases in SQLite files: real processes racing for a thread and
dying with it, project databases written by the previous Orca, by a newer one, and
damaged ones."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from orca.checkpoint import Lease, RunRecord, TaskRecord, lease_owner
from orca.errors import ConfigError, CorruptDatabaseError, SchemaVersionError
from orca.store import SqliteAudit, SqliteCheckpointer, ToolExecution, project_store
from orca.store.sqlite._schema import CHECKPOINT_MIGRATIONS, PROJECT_MIGRATIONS

WORKER = Path(__file__).with_name("lease_worker.py")


def worker(mode: str, path: Path, thread: str, run_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, str(path), thread, run_id],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def record(run_id: str, thread: str = "t", status: str = "running") -> RunRecord:
    return RunRecord(run_id, thread, "g", status, "2026-01-01T00:00:00+00:00")  # type: ignore[arg-type]


# -- real processes -------------------------------------------------------------------------------


def test_processes_racing_for_one_thread_let_exactly_one_run_in(tmp_path: Path) -> None:
    path = tmp_path / "project.db"
    SqliteCheckpointer(path).close()
    racers = [worker("race", path, "t", f"run-{i}") for i in range(4)]
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
    with SqliteCheckpointer(path) as store:
        assert [r.run_id for r in store.list_runs()] == winners


def test_a_killed_holder_loses_its_thread_at_once(tmp_path: Path) -> None:
    path = tmp_path / "project.db"
    holder = worker("hold", path, "t", "run-holder")
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with SqliteCheckpointer(path) as store:
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


# -- files of other Orca versions -----------------------------------------------------------------


def previous_project_db(path: Path) -> None:
    """A project database as the previous Orca wrote it (project schema 1): a CLI run
    that paused, its tasks, its workflow and session, a tool execution."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("CREATE TABLE orca_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    for statement in [s for m in CHECKPOINT_MIGRATIONS for s in m] + PROJECT_MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute(f"INSERT INTO orca_schema VALUES ('checkpoints', {len(CHECKPOINT_MIGRATIONS)})")
    conn.execute("INSERT INTO orca_schema VALUES ('project', 1)")
    conn.execute(
        "INSERT INTO workflows VALUES ('w1', 'research', 'examples/research.py', '', 'a', 'a')"
    )
    conn.execute("INSERT INTO sessions (id, started_at, origin, pid) VALUES ('s1', 'a', 'cli', 7)")
    runs = [
        ("run-a", "t1", "w1", "s1", "interrupted", "2026-01-01T00:00:01", 120, "team", "tiny"),
        ("run-b", "t1", "w1", "s1", "done", "2026-01-01T00:00:02", 0, None, None),
        ("run-c", "t2", None, None, "failed", "2026-01-01T00:00:03", 5, None, "p"),
        ("run-d", "t3", None, None, "running", "2026-01-01T00:00:04", 0, None, None),
    ]
    for run_id, thread, wf, session, status, started, cost, budget, profile in runs:
        conn.execute(
            "INSERT INTO runs (id, thread_id, workflow_id, session_id, status, started_at, "
            "steps, input_tokens, output_tokens, cost_nano, budget, profile, "
            "on_budget_exceeded, error, parent_run_id) "
            "VALUES (?, ?, ?, ?, ?, ?, 3, 10, 20, ?, ?, ?, 'pause', ?, ?)",
            (
                run_id,
                thread,
                wf,
                session,
                status,
                started,
                cost,
                budget,
                profile,
                "boom" if status == "failed" else None,
                "run-a" if run_id == "run-b" else None,
            ),
        )
    for run_id, task_id, step, node, status in [
        ("run-a", "t1:1:0:plan", 1, "plan", "done"),
        ("run-a", "t1:2:0:review", 2, "review", "interrupted"),
        ("run-b", "t1:2:0:review", 2, "review", "done"),
        ("run-c", "t2:1:0:work", 1, "work", "failed"),
    ]:
        conn.execute(
            "INSERT INTO tasks (id, run_id, step, node, status, started_at, duration_ms) "
            "VALUES (?, ?, ?, ?, ?, ?, 1.5)",
            (f"{run_id}/{task_id}", run_id, step, node, status, f"2026-01-01T00:00:0{step}"),
        )
        if run_id != "run-c":
            conn.execute("INSERT INTO workflow_tasks VALUES ('w1', ?)", (f"{run_id}/{task_id}",))
    conn.execute(
        "INSERT INTO tool_executions VALUES ('x1', 'run-a', 't1', 'plan', 'shell', '{\"cmd\": 1}', "
        "'ok', 'ok', 2.5, '2026-01-01T00:00:01')"
    )
    conn.commit()
    conn.close()


def test_a_project_database_of_the_previous_orca_migrates_keeping_every_row(
    tmp_path: Path,
) -> None:
    path = tmp_path / "project.db"
    previous_project_db(path)
    with SqliteCheckpointer(path) as store:
        a = store.get_run("run-a")
        assert a is not None
        assert (a.thread_id, a.graph, a.status, a.cost_nano_usd) == (
            "t1",
            "research",
            "interrupted",
            120,
        )
        assert (a.steps, a.input_tokens, a.output_tokens) == (3, 10, 20)
        assert a.metadata == {
            "session": "s1",
            "budget": "team",
            "profile": "tiny",
            "on_budget_exceeded": "pause",
            "source": "examples/research.py",
        }
        b = store.get_run("run-b")
        assert b is not None
        assert b.metadata["parent_run"] == "run-a"
        c = store.get_run("run-c")
        assert c is not None
        assert (c.graph, c.status, c.error, c.metadata) == (
            "",
            "failed",
            "boom",
            {"profile": "p", "on_budget_exceeded": "pause"},
        )
        assert [r.run_id for r in store.list_runs()] == ["run-d", "run-c", "run-b", "run-a"]
        assert [(t.task_id, t.node, t.status, t.duration_ms) for t in store.run_tasks("run-a")] == [
            ("t1:1:0:plan", "plan", "done", 1.5),
            ("t1:2:0:review", "review", "interrupted", 1.5),
        ]
        assert [t.task_id for t in store.run_tasks("run-b")] == ["t1:2:0:review"]
        # the statuses the previous schema refused are stored now
        store.end_run(
            RunRecord("run-d", "t3", "g", "cancelled", "2026-01-01T00:00:04"),
            [TaskRecord("run-d", "x", 1, "n", "cancelled", "2026-01-01T00:00:04")],
        )
        queued = record("run-e", "t4", "queued")
        store.begin_run(queued, Lease("t4", "run-e", lease_owner(), time.time() + 9), time.time())
        assert store.get_run("run-d").status == "cancelled"  # type: ignore[union-attr]
        assert store.get_run("run-e") == queued
    with SqliteAudit(path) as audit:
        [shell] = audit.executions()
        assert shell == ToolExecution(
            "shell", '{"cmd": 1}', "ok", "ok", 2.5, "2026-01-01T00:00:01", "run-a", "t1", "plan"
        )
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA foreign_keys=ON")
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("SELECT COUNT(*) FROM workflow_tasks").fetchone() == (3,)
        assert conn.execute("SELECT COUNT(*) FROM sessions").fetchone() == (1,)
        assert dict(conn.execute("SELECT component, version FROM orca_schema")) == {
            "checkpoints": len(CHECKPOINT_MIGRATIONS),
            "project": len(PROJECT_MIGRATIONS),
        }
        # deleting a run still takes its tasks and their workflow links with it
        conn.execute("DELETE FROM runs WHERE id = 'run-a'")
        assert conn.execute("SELECT COUNT(*) FROM tasks WHERE run_id = 'run-a'").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM workflow_tasks").fetchone() == (1,)
    finally:
        conn.close()


def test_a_project_database_of_a_newer_orca_is_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "project.db"
    previous_project_db(path)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE orca_schema SET version = 99 WHERE component = 'project'")
    conn.commit()
    conn.close()
    before = fingerprint(path)
    for opening in (SqliteCheckpointer, SqliteAudit):
        with pytest.raises(SchemaVersionError) as info:
            opening(path)
        assert (info.value.component, info.value.found) == ("project", 99)
        assert fingerprint(path) == before


def test_a_damaged_project_database_raises_corrupt_database_error(tmp_path: Path) -> None:
    path = tmp_path / "project.db"
    with SqliteCheckpointer(path) as store:
        for i in range(300):
            r = RunRecord(f"run-{i:04d}", f"t{i}", "g", "done", "2026", metadata={"pad": "p" * 500})
            store.begin_run(r, Lease(r.thread_id, r.run_id, "h:1:x", 0), 1.0)
    data = bytearray(path.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data) - page, page):  # every page but the first
        data[offset : offset + 64] = b"\xa5" * 64
    path.write_bytes(bytes(data))

    def read_runs() -> None:  # the damage shows when the file opens, or when read
        with SqliteCheckpointer(path) as store:
            store.list_runs()

    def read_audit() -> None:
        with SqliteAudit(path) as audit:
            audit.executions()

    with pytest.raises(CorruptDatabaseError) as info:
        read_runs()
    assert "Fix:" in str(info.value)
    with pytest.raises(CorruptDatabaseError):
        read_audit()


def test_project_store_names_the_project_when_its_folder_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / ".orca").write_text("a file where the folder should be")
    with pytest.raises(ConfigError) as info:
        project_store(tmp_path)
    assert info.value.key == "project"
    assert "project.db" in str(info.value)


def test_the_tool_audit_of_a_project_folder_writes_to_its_project_database(
    tmp_path: Path,
) -> None:
    from orca.tools import Audit

    audit = Audit.open(tmp_path)
    row = {"tool": "shell", "arguments": "{}", "result": "ok", "status": "ok", "duration_ms": 1.0}
    audit.record({**row, "run_id": "run-a", "node": "n"})
    audit.close()
    with SqliteAudit(tmp_path / ".orca" / "project.db") as log:
        [found] = log.executions(run_id="run-a")
    assert (found.tool, found.node, found.thread_id) == ("shell", "n", None)
    assert found.created_at.startswith("20")


def test_a_run_record_damaged_in_the_file_raises_corrupt_database_error(tmp_path: Path) -> None:
    path = tmp_path / "project.db"
    with SqliteCheckpointer(path) as store:
        for run_id in ("run-a", "run-b"):
            r = record(run_id, thread=run_id)
            store.begin_run(r, Lease(r.thread_id, run_id, "h:1:x", 0), 1.0)
    conn = sqlite3.connect(path)
    conn.execute("UPDATE runs SET metadata = '{not json' WHERE id = 'run-a'")
    conn.execute("UPDATE runs SET metadata = '[1, 2]' WHERE id = 'run-b'")
    conn.commit()
    conn.close()
    with SqliteCheckpointer(path) as store:
        for run_id in ("run-a", "run-b"):
            with pytest.raises(CorruptDatabaseError, match=f"record of run '{run_id}'"):
                store.get_run(run_id)
        with pytest.raises(CorruptDatabaseError):
            store.list_runs()
