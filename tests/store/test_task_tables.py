"""The server's task tables in a project database: a task stored once under its id,
sessions that expire with their clock and start over, the recovery of what a dead
server left, and the artifact registry's content addressing and lineage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from orca.errors import InvalidInputError
from orca.store._tasks import TaskOutcome, TaskRecord
from orca.store.sqlite import SqliteArtifacts, SqliteTasks
from orca.store.sqlite._artifacts import ArtifactConflict, artifact_id


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def record(task_id: str, session: str | None = "s", digest: str = "d") -> TaskRecord:
    return TaskRecord(
        task_id, session, "queued", "interactive", "tiny", "llamacpp", "tiny.gguf",
        {"prompt": "x"}, digest, "2026-01-01T00:00:00+00:00",
    )  # fmt: skip


def test_a_task_id_is_stored_once_and_its_session_counts_turns(tmp_path: Path) -> None:
    clock = Clock()
    tasks = SqliteTasks(tmp_path / "project.db", clock=clock)
    _, created = tasks.create(record("a"), session_ttl_ms=60_000)
    assert created
    again, created = tasks.create(record("a", digest="other"), session_ttl_ms=60_000)
    assert (created, again.digest) == (False, "d")  # the first body stays
    tasks.create(record("b"), session_ttl_ms=60_000)
    session = tasks.session("s")
    assert session is not None
    assert session.turns == 2
    clock.now += dt.timedelta(seconds=61)
    assert tasks.session("s") is None  # expired
    tasks.create(record("c"), session_ttl_ms=60_000)
    fresh = tasks.session("s")
    assert fresh is not None
    assert fresh.turns == 1  # a new session under the same id
    assert tasks.delete_session("s")
    assert not tasks.delete_session("s")
    tasks.close()


def test_finishing_writes_events_record_and_session_totals(tmp_path: Path) -> None:
    tasks = SqliteTasks(tmp_path / "project.db")
    tasks.create(record("a"), session_ttl_ms=60_000)
    tasks.start("a", [(0, "started", "{}")])
    tasks.append("a", [(1, "token", '{"t": "x", "i": 0}')])
    tasks.finish("a", TaskOutcome("done", 3, 1, 1500, 2.5), [(2, "end", "{}")])
    assert [kind for _, kind, _ in tasks.events("a")] == ["started", "token", "end"]
    assert [seq for seq, _, _ in tasks.events("a", after=0)] == [1, 2]
    done = tasks.get("a")
    assert done is not None
    assert (done.status, done.output_tokens, done.cost_nano_usd) == ("done", 1, 1500)
    session = tasks.session("s")
    assert session is not None
    assert (session.input_tokens, session.output_tokens, session.cost_nano_usd) == (3, 1, 1500)
    with pytest.raises(InvalidInputError, match="status"):
        tasks.find(status="lost")
    tasks.close()


def test_recovery_fails_running_tasks_and_returns_queued_ones(tmp_path: Path) -> None:
    tasks = SqliteTasks(tmp_path / "project.db")
    for name in ("run", "wait-1", "wait-2", "over"):
        tasks.create(record(name), session_ttl_ms=60_000)
    tasks.start("run", [(0, "started", "{}"), (1, "token", "{}")])
    tasks.finish("over", TaskOutcome("done"), [(0, "end", "{}")])
    queued, failed = tasks.recover('{"code": "WORKER_RESET"}')
    assert [t.task_id for t in queued] == ["wait-1", "wait-2"]
    assert failed == ["run"]
    run = tasks.get("run")
    assert run is not None
    assert (run.status, run.error_code) == ("failed", "WORKER_RESET")
    assert tasks.events("run")[-1] == (2, "error", '{"code": "WORKER_RESET"}')
    assert tasks.recover("{}") == (queued, [])  # nothing is failed twice
    tasks.close()


def test_artifacts_are_named_by_their_content_and_keep_their_lineage(tmp_path: Path) -> None:
    artifacts = SqliteArtifacts(tmp_path / "project.db")
    plan, new = artifacts.put(b"plan", kind="plan", tags=["a"])
    assert (plan.artifact_id, new) == (artifact_id(b"plan"), True)
    summary, _ = artifacts.put(b"sum", kind="summary", parents=[plan.artifact_id])
    again, new = artifacts.put(b"plan", kind="plan", tags=["b"])
    assert (new, again.tags, again.children) == (False, ("a", "b"), (summary.artifact_id,))
    with pytest.raises(ArtifactConflict):
        artifacts.put(b"plan", kind="trace")
    with pytest.raises(InvalidInputError, match="parent"):
        artifacts.put(b"x", kind="diff", parents=["sha256:0"])
    with pytest.raises(InvalidInputError, match="kind"):
        artifacts.put(b"x", kind="poem")
    assert [a.artifact_id for a in artifacts.find(tag="b")] == [plan.artifact_id]
    assert [a.kind for a in artifacts.find(kind="summary")] == ["summary"]
    artifacts.close()
