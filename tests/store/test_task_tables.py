"""The server's task tables (``TaskRepository``, ``ArtifactRepository``) over a real
project database, once per backend: a task stored once under its id, sessions that
expire with their clock and start over, the recovery of what a dead server left, the
artifact registry's content addressing and lineage, and hostile text refused before
anything is written."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from orca.errors import CorruptDatabaseError, InvalidFieldError, InvalidInputError
from orca.store._tasks import (
    ArtifactConflict,
    ArtifactRepository,
    TaskOutcome,
    TaskRecord,
    TaskRepository,
    artifact_id,
)

from ._project import Opener, open_project_fixture, write  # noqa: F401 - a fixture


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


def record(
    task_id: str, session: str | None = "s", digest: str = "d", **more: object
) -> TaskRecord:
    fields: dict[str, object] = {
        "task_id": task_id, "session_id": session, "status": "queued",
        "priority": "interactive", "model_ref": "tiny", "engine": "llamacpp",
        "model": "tiny.gguf", "body": {"prompt": "x"}, "digest": digest,
        "created_at": "2026-01-01T00:00:00+00:00",
    }  # fmt: skip
    fields.update(more)
    return TaskRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def open_tasks(open_project: Opener, clock: Clock) -> Callable[[], TaskRepository]:
    """Opens another client of one project's tasks (on each backend of ``BACKENDS``)."""
    return lambda: open_project(clock=clock).tasks


@pytest.fixture
def tasks(open_tasks: Callable[[], TaskRepository]) -> TaskRepository:
    return open_tasks()


@pytest.fixture
def artifacts(open_project: Opener, clock: Clock) -> ArtifactRepository:
    return open_project(clock=clock).artifacts


def test_a_task_id_is_stored_once_and_its_session_counts_turns(
    tasks: TaskRepository, clock: Clock
) -> None:
    assert isinstance(tasks, TaskRepository)
    _, created = tasks.create(record("a"), session_ttl_ms=60_000)
    assert created
    again, created = tasks.create(record("a", digest="other"), session_ttl_ms=60_000)
    assert (created, again.digest) == (False, "d")  # the first body stays
    tasks.create(record("b"), session_ttl_ms=60_000)
    session = tasks.session("s")
    assert session is not None
    assert session.turns == 2
    assert session.created_at == "2026-01-01T00:00:00+00:00"  # the store's clock
    assert session.expires_at == "2026-01-01T00:01:00+00:00"
    clock.now += dt.timedelta(seconds=61)
    assert tasks.session("s") is None  # expired
    tasks.create(record("c"), session_ttl_ms=60_000)
    fresh = tasks.session("s")
    assert fresh is not None
    assert fresh.turns == 1  # a new session under the same id
    assert tasks.delete_session("s")
    assert not tasks.delete_session("s")


def test_a_stored_task_reads_back_whole(tasks: TaskRepository) -> None:
    stored = record(
        "a", body={"prompt": "héllo \u0000 there", "n": [1, 2.5, None]}, input_tokens=7,
        cost_nano_usd=9_223_372_036_854_775_807, decode_ms=1.25, error_code="E", error="é",
    )  # fmt: skip
    tasks.create(stored, session_ttl_ms=1000)
    assert tasks.get("a") == stored  # JSON escapes a NUL in the body: it survives
    assert tasks.get("absent") is None


def test_finishing_writes_events_record_and_session_totals(
    tasks: TaskRepository, clock: Clock
) -> None:
    tasks.create(record("a"), session_ttl_ms=60_000)
    clock.now += dt.timedelta(seconds=1)
    tasks.start("a", [(0, "started", "{}")])
    tasks.append("a", [(1, "token", '{"t": "x", "i": 0}')])
    tasks.append("a", [(1, "token", '{"t": "again"}')])  # a seq is kept once
    clock.now += dt.timedelta(seconds=1)
    tasks.finish("a", TaskOutcome("done", 3, 1, 1500, 2.5), [(2, "end", "{}")])
    assert tasks.events("a") == [
        (0, "started", "{}"),
        (1, "token", '{"t": "x", "i": 0}'),
        (2, "end", "{}"),
    ]
    assert [seq for seq, _, _ in tasks.events("a", after=0)] == [1, 2]
    done = tasks.get("a")
    assert done is not None
    assert (done.status, done.output_tokens, done.cost_nano_usd) == ("done", 1, 1500)
    assert (done.started_at, done.ended_at) == (
        "2026-01-01T00:00:01+00:00",
        "2026-01-01T00:00:02+00:00",
    )
    session = tasks.session("s")
    assert session is not None
    assert (session.input_tokens, session.output_tokens, session.cost_nano_usd) == (3, 1, 1500)
    assert session.decode_ms == 2.5
    with pytest.raises(InvalidInputError, match="status"):
        tasks.find(status="lost")


def test_events_of_a_task_never_stored_are_refused(tasks: TaskRepository) -> None:
    with pytest.raises(InvalidInputError, match="'ghost' is not stored"):
        tasks.append("ghost", [(0, "token", "{}")])
    assert tasks.events("ghost") == []


def test_find_lists_newest_first_by_session_and_status(tasks: TaskRepository) -> None:
    at = "2026-01-01T00:00:0{}+00:00"
    for i, (name, session) in enumerate([("a", "s"), ("b", "t"), ("c", "s"), ("d", None)]):
        tasks.create(record(name, session, created_at=at.format(i)), session_ttl_ms=1000)
    tasks.create(record("e", "s", created_at=at.format(2)), session_ttl_ms=1000)  # a tie
    tasks.start("b", [])
    assert [t.task_id for t in tasks.find()] == ["d", "e", "c", "b", "a"]
    assert [t.task_id for t in tasks.find(session_id="s")] == ["e", "c", "a"]
    assert [t.task_id for t in tasks.find(status="running")] == ["b"]
    assert [t.task_id for t in tasks.find(session_id="s", status="queued", limit=2)] == [
        "e",
        "c",
    ]
    assert tasks.find(session_id="nobody") == []


def test_recovery_fails_running_tasks_and_returns_queued_ones(tasks: TaskRepository) -> None:
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


def test_two_clients_share_tasks_streams_and_sessions(
    open_tasks: Callable[[], TaskRepository],
) -> None:
    one, two = open_tasks(), open_tasks()
    one.create(record("a"), session_ttl_ms=60_000)
    _, made = two.create(record("a"), session_ttl_ms=60_000)
    assert not made
    two.start("a", [(0, "started", "{}")])
    one.append("a", [(1, "token", "{}")])
    assert [seq for seq, _, _ in two.events("a")] == [0, 1]
    session = two.session("s")
    assert session is not None
    assert session.turns == 1
    assert one.delete_session("s")
    assert two.session("s") is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"task_id": "a\x00b"}, "task_id"),
        ({"session_id": "s\x00"}, "session_id"),
        ({"model": "m\x00"}, "model"),
        ({"digest": "\x00"}, "digest"),
        ({"error": "boom\x00"}, "error"),
        ({"status": "lost"}, "status"),
        ({"priority": "urgent"}, "priority"),
    ],
)
def test_a_task_with_hostile_text_is_refused_naming_the_field(
    tasks: TaskRepository, change: dict[str, object], field: str
) -> None:
    more = dict(change)
    hostile = record(str(more.pop("task_id", "t")), **more)
    with pytest.raises(InvalidFieldError) as caught:
        tasks.create(hostile, session_ttl_ms=1000)
    assert caught.value.field == field
    assert tasks.find() == []
    assert tasks.session("s") is None  # no turn was counted


def test_hostile_events_and_outcomes_are_refused_and_nothing_is_lost(
    tasks: TaskRepository,
) -> None:
    tasks.create(record("a"), session_ttl_ms=60_000)
    tasks.start("a", [(0, "started", "{}")])
    with pytest.raises(InvalidFieldError) as caught:
        tasks.append("a", [(1, "token", "{}"), (2, "token", "x\x00y")])
    assert caught.value.field == "data"
    with pytest.raises(InvalidFieldError) as caught:
        tasks.append("a", [(1, "tok\x00en", "{}")])
    assert caught.value.field == "type"
    with pytest.raises(InvalidFieldError) as caught:
        tasks.finish("a", TaskOutcome("failed", error="engine said \x00"), [(1, "end", "{}")])
    assert caught.value.field == "error"
    with pytest.raises(InvalidFieldError) as caught:
        tasks.start("a\x00", [])
    assert caught.value.field == "task_id"
    assert tasks.events("a") == [(0, "started", "{}")]  # none of a refused batch is kept
    running = tasks.get("a")
    assert running is not None
    assert running.status == "running"
    tasks.finish("a", TaskOutcome("failed", error="engine said \\u0000"), [(1, "end", "{}")])
    failed = tasks.get("a")
    assert failed is not None
    assert (failed.status, failed.error) == ("failed", "engine said \\u0000")


def test_lookups_by_hostile_keys_find_nothing(tasks: TaskRepository) -> None:
    tasks.create(record("a"), session_ttl_ms=60_000)
    assert tasks.get("a\x00") is None
    assert tasks.events("a\x00") == []
    assert tasks.find(session_id="s\x00") == []
    assert tasks.session("s\x00") is None
    assert not tasks.delete_session("s\x00")
    assert tasks.session("s") is not None


def test_artifacts_are_named_by_their_content_and_keep_their_lineage(
    artifacts: ArtifactRepository,
) -> None:
    assert isinstance(artifacts, ArtifactRepository)
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


def test_an_artifact_reads_back_whole(artifacts: ArtifactRepository, clock: Clock) -> None:
    content = bytes(range(256)) * 3  # binary, NULs included: content is bytes
    parent, _ = artifacts.put(b"p", kind="plan")
    made, new = artifacts.put(
        content, kind="trace", media_type="application/octet-stream", tags=["z", "B", "a"],
        parents=[parent.artifact_id], session_id="s", task_id="t",
        metadata={"by": "tést", "n": 1, "nul": "\x00"},
    )  # fmt: skip
    assert new
    found = artifacts.get(made.artifact_id)
    assert found == made
    assert found.content == content
    assert (found.size, found.created_at) == (768, "2026-01-01T00:00:00+00:00")
    assert (found.session_id, found.task_id) == ("s", "t")
    assert found.metadata == {"by": "tést", "n": 1, "nul": "\x00"}
    assert found.tags == ("B", "a", "z")  # byte order
    assert found.parents == (parent.artifact_id,)
    assert artifacts.get("sha256:absent") is None


def test_artifacts_list_newest_first_by_kind_tag_and_session(
    artifacts: ArtifactRepository, clock: Clock
) -> None:
    for i, (kind, session) in enumerate([("plan", "s"), ("diff", "t"), ("plan", None)]):
        artifacts.put(f"c{i}".encode(), kind=kind, session_id=session, tags=[f"n{i % 2}"])
        clock.now += dt.timedelta(seconds=i % 2)  # c0 and c1 share a time: a tie
    ids = [artifact_id(f"c{i}".encode()) for i in range(3)]
    assert [a.artifact_id for a in artifacts.find()] == [ids[2], ids[1], ids[0]]
    assert [a.artifact_id for a in artifacts.find(kind="plan")] == [ids[2], ids[0]]
    assert [a.artifact_id for a in artifacts.find(tag="n0")] == [ids[2], ids[0]]
    assert [a.artifact_id for a in artifacts.find(session_id="t")] == [ids[1]]
    assert [a.artifact_id for a in artifacts.find(limit=1)] == [ids[2]]
    assert artifacts.find(kind="poem") == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"media_type": "text/\x00"}, "media_type"),
        ({"tags": ["ok", "b\x00d"]}, "tags"),
        ({"session_id": "\x00"}, "session_id"),
        ({"task_id": "t\x00"}, "task_id"),
    ],
)
def test_an_artifact_with_hostile_text_is_refused_naming_the_field(
    artifacts: ArtifactRepository, change: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidFieldError) as caught:
        artifacts.put(b"content", kind="plan", **change)  # type: ignore[arg-type]
    assert caught.value.field == field
    assert artifacts.find() == []


def test_lookups_of_artifacts_by_hostile_keys_find_nothing(
    artifacts: ArtifactRepository,
) -> None:
    plan, _ = artifacts.put(b"plan", kind="plan", tags=["a"], session_id="s")
    assert artifacts.get(plan.artifact_id + "\x00") is None
    assert artifacts.find(tag="a\x00") == []
    assert artifacts.find(session_id="s\x00") == []
    with pytest.raises(InvalidInputError, match="parent"):
        artifacts.put(b"x", kind="diff", parents=[plan.artifact_id + "\x00"])
    assert [a.artifact_id for a in artifacts.find()] == [plan.artifact_id]


def test_damaged_json_is_reported_as_damage_naming_the_row(open_project: Opener) -> None:
    store = open_project()
    store.tasks.create(record("a"), session_ttl_ms=1000)
    made, _ = store.artifacts.put(b"x", kind="plan", metadata={"k": 1})
    write(store, "UPDATE llm_tasks SET body = '{not json'")
    write(store, "UPDATE artifacts SET metadata = '[1,'")
    with pytest.raises(CorruptDatabaseError, match="task a's request is damaged"):
        store.tasks.get("a")
    with pytest.raises(CorruptDatabaseError, match=f"artifact {made.artifact_id}'s metadata"):
        store.artifacts.get(made.artifact_id)
