"""Run records, task records and thread leases: the ``Checkpointer`` conformance suite's
second half, run against every store (``store`` is memory, then SQLite, then
PostgreSQL)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from dataclasses import replace

import pytest

from orca.checkpoint import Lease, RunRecord, TaskRecord, lease_owner
from orca.errors import InvalidInputError

from ._support import StoreUnderTest, make_save

NOW = 1_000_000.0
OTHER_HOST = "another-host:4242:beef"  # a process Orca cannot see: alive until expiry


def run(run_id: str = "r1", thread: str = "t", **fields: object) -> RunRecord:
    values: dict[str, object] = {
        "graph": "g",
        "status": "running",
        "started_at": "2026-01-01T00:00:00+00:00",
    }
    values.update(fields)
    return RunRecord(run_id, thread, **values)  # type: ignore[arg-type]


def lease(record: RunRecord, owner: str = OTHER_HOST, expires_at: float = NOW + 60) -> Lease:
    return Lease(record.thread_id, record.run_id, owner, expires_at)


def task(run_id: str, task_id: str, step: int = 1, **fields: object) -> TaskRecord:
    values: dict[str, object] = {
        "node": "n",
        "status": "running",
        "started_at": f"2026-01-01T00:00:0{step}+00:00",
    }
    values.update(fields)
    return TaskRecord(run_id, task_id, step, **values)  # type: ignore[arg-type]


def dead_owner() -> str:
    """The owner name of a process of this host that has exited (and was reaped)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return f"{socket.gethostname()}:{child.pid}:0000"


def test_a_run_record_and_its_tasks_round_trip(store: StoreUnderTest, face: str) -> None:
    record = run(
        status="done",
        ended_at="2026-01-01T00:01:00+00:00",
        steps=3,
        llm_calls=4,
        input_tokens=1200,
        output_tokens=340,
        cost_nano_usd=987_654_321,
        checkpoint_id="c3",
        error=None,
        metadata={"session": "s1", "budget": "team", "nested": {"a": [1, 2.5, None, True]}},
    )
    tasks = [
        task("r1", "a", 1, status="done", ended_at="x", duration_ms=12.5),
        task("r1", "b", 1, status="failed", error="ValueError: boom", duration_ms=3),
    ]
    assert store.cp.begin_run(replace(record, status="running"), lease(record), NOW) == lease(
        record
    )
    store.cp.end_run(record, tasks)
    for cp in store.views():
        assert cp.get_run("r1") == record
        assert cp.run_tasks("r1") == [tasks[0], replace(tasks[1], duration_ms=3.0)]
        assert cp.get_run("nobody") is None
        assert cp.run_tasks("nobody") == []


def test_beginning_a_stored_run_again_updates_it_and_keeps_its_tasks(
    store: StoreUnderTest,
    face: str,
) -> None:
    first = run(metadata={"attempt": 1})
    store.cp.begin_run(first, lease(first), NOW)
    store.cp.put_tasks([task("r1", "a", 1, status="done"), task("r1", "b", 2)])
    store.cp.end_run(replace(first, status="failed", error="boom"), [])
    again = replace(first, started_at="2026-01-02T00:00:00+00:00", metadata={"attempt": 2})
    assert store.cp.begin_run(again, lease(again), NOW) == lease(again)
    for cp in store.views():
        assert cp.get_run("r1") == again
        assert [(t.task_id, t.status) for t in cp.run_tasks("r1")] == [
            ("a", "done"),
            ("b", "running"),
        ]
        assert len(cp.list_runs()) == 1


def test_put_tasks_inserts_then_updates(store: StoreUnderTest, face: str) -> None:
    record = run()
    store.cp.begin_run(record, lease(record), NOW)
    store.cp.put_tasks([task("r1", "a")])
    finished = task("r1", "a", status="done", ended_at="later", duration_ms=9.0)
    store.cp.put_tasks([finished])
    for cp in store.views():
        assert cp.run_tasks("r1") == [finished]


def test_tasks_come_back_by_step_then_start(store: StoreUnderTest, face: str) -> None:
    record = run()
    store.cp.begin_run(record, lease(record), NOW)
    store.cp.put_tasks(
        [
            task("r1", "late", 2, started_at="2026-01-01T00:00:05+00:00"),
            task("r1", "second", 1, started_at="2026-01-01T00:00:02+00:00"),
            task("r1", "first", 1, started_at="2026-01-01T00:00:01+00:00"),
            task("r1", "tie-1", 3, started_at="2026-01-01T00:00:09+00:00"),
            task("r1", "tie-2", 3, started_at="2026-01-01T00:00:09+00:00"),
        ]
    )
    for cp in store.views():
        assert [t.task_id for t in cp.run_tasks("r1")] == [
            "first",
            "second",
            "late",
            "tie-1",  # stored first
            "tie-2",
        ]


def test_tasks_of_a_run_without_a_record_are_refused(store: StoreUnderTest, face: str) -> None:
    with pytest.raises(InvalidInputError, match=r"no record.*begin_run"):
        store.cp.put_tasks([task("ghost", "a")])
    with pytest.raises(InvalidInputError, match="no record"):
        store.cp.put(make_save("t", "c0", None, 0, {"v": 1}, tasks=[task("ghost", "a")]))
    assert store.cp.get("t") is None  # nothing of the save was written
    assert store.cp.run_tasks("ghost") == []


def test_a_checkpoint_save_stores_its_step_tasks(store: StoreUnderTest, face: str) -> None:
    record = run()
    store.cp.begin_run(record, lease(record), NOW)
    step_tasks = [task("r1", "a", 0, status="done"), task("r1", "b", 0, status="done")]
    store.cp.put(make_save("t", "c0", None, 0, {"v": 1}, tasks=step_tasks))
    for cp in store.views():
        assert cp.run_tasks("r1") == step_tasks
        assert cp.get("t").values == {"v": 1}  # type: ignore[union-attr]


def test_list_runs_is_newest_first_by_thread_status_and_limit(
    store: StoreUnderTest, face: str
) -> None:
    stamps = {"r1": "01", "r2": "03", "r3": "02", "r4": "03"}
    for run_id, second in stamps.items():
        thread = "t-odd" if run_id in ("r1", "r3") else "t-even"
        record = run(run_id, thread, started_at=f"2026-01-01T00:00:{second}+00:00")
        store.cp.begin_run(record, lease(record), NOW)
        store.cp.end_run(replace(record, status="done" if run_id != "r2" else "failed"), [])
    for cp in store.views():
        # r2 and r4 started together: the one stored later counts as newer
        assert [r.run_id for r in cp.list_runs()] == ["r4", "r2", "r3", "r1"]
        assert [r.run_id for r in cp.list_runs(limit=2)] == ["r4", "r2"]
        assert [r.run_id for r in cp.list_runs(thread_id="t-odd")] == ["r3", "r1"]
        assert [r.run_id for r in cp.list_runs(status="failed")] == ["r2"]
        assert cp.list_runs(thread_id="t-odd", status="failed") == []
        assert cp.list_runs(thread_id="nobody") == []
    with pytest.raises(InvalidInputError, match="limit"):
        store.cp.list_runs(limit=0)
    with pytest.raises(InvalidInputError, match="status 'finished'"):
        store.cp.list_runs(status="finished")  # type: ignore[arg-type]


# -- leases -------------------------------------------------------------------------------------


def test_a_live_lease_keeps_another_run_off_the_thread_and_nothing_is_written(
    store: StoreUnderTest,
    face: str,
) -> None:
    holder = run("holder")
    taken = lease(holder, owner=lease_owner())  # this process: alive
    assert store.cp.begin_run(holder, taken, NOW) == taken
    for owner in (lease_owner(), OTHER_HOST):
        second = run("second", status="queued")
        assert store.cp.begin_run(second, lease(second, owner), NOW + 59) == taken
    for cp in store.views():
        assert cp.get_run("second") is None
        assert [r.run_id for r in cp.list_runs()] == ["holder"]
    assert store.cp.renew_lease(replace(taken, expires_at=NOW + 120))


def test_an_expired_lease_is_taken_over(store: StoreUnderTest, face: str) -> None:
    holder = run("holder")
    store.cp.begin_run(holder, lease(holder, expires_at=NOW + 10), NOW)
    second = run("second")
    mine = lease(second, expires_at=NOW + 70)
    assert store.cp.begin_run(second, mine, NOW + 10) == mine  # expired at that instant
    assert store.cp.get_run("second") == second
    third = run("third")
    assert store.cp.begin_run(third, lease(third), NOW + 20) == mine


def test_a_lease_whose_owner_process_died_is_taken_over_at_once(store: StoreUnderTest) -> None:
    holder = run("holder")
    store.cp.begin_run(holder, lease(holder, owner=dead_owner(), expires_at=NOW + 3600), NOW)
    second = run("second")
    mine = lease(second, owner=lease_owner())
    assert store.cp.begin_run(second, mine, NOW + 1) == mine
    assert store.cp.get_run("second") == second


def test_the_same_run_and_owner_take_their_lease_again(store: StoreUnderTest) -> None:
    record = run()
    first = lease(record, owner=lease_owner())
    store.cp.begin_run(record, first, NOW)
    again = replace(first, expires_at=NOW + 600)
    assert store.cp.begin_run(replace(record, steps=2), again, NOW) == again
    assert store.cp.get_run("r1").steps == 2  # type: ignore[union-attr]
    # the same run id from another live owner (a second process resuming it) waits
    other = lease(record, owner=OTHER_HOST)
    assert store.cp.begin_run(record, other, NOW) == again


def test_renewing_moves_the_expiry_and_fails_once_the_lease_was_taken_over(
    store: StoreUnderTest,
    face: str,
) -> None:
    holder = run("holder")
    held = lease(holder, expires_at=NOW + 10)
    store.cp.begin_run(holder, held, NOW)
    renewed = replace(held, expires_at=NOW + 100)
    assert store.cp.renew_lease(renewed)
    second = run("second")
    # the renewal counts: at NOW + 50 the holder's lease is still live
    assert store.cp.begin_run(second, lease(second), NOW + 50) == renewed
    mine = lease(second, expires_at=NOW + 200)
    assert store.cp.begin_run(second, mine, NOW + 100) == mine
    assert not store.cp.renew_lease(replace(held, expires_at=NOW + 300))
    assert store.cp.renew_lease(replace(mine, expires_at=NOW + 300))
    assert not store.cp.renew_lease(replace(mine, owner="someone-else"))
    assert not store.cp.renew_lease(Lease("no-thread", "second", mine.owner, NOW))


def test_end_run_releases_the_thread(store: StoreUnderTest, face: str) -> None:
    holder = run("holder")
    held = lease(holder, owner=lease_owner(), expires_at=NOW + 3600)
    store.cp.begin_run(holder, held, NOW)
    store.cp.end_run(replace(holder, status="done"), [task("holder", "a", status="done")])
    assert not store.cp.renew_lease(held)
    second = run("second")
    assert store.cp.begin_run(second, lease(second), NOW) == lease(second)
    # ending a run that no longer holds the thread leaves the holder's lease alone
    store.cp.end_run(replace(holder, status="done"), [])
    third = run("third")
    assert store.cp.begin_run(third, lease(third), NOW) == lease(second)


def test_delete_thread_removes_its_runs_tasks_and_lease(store: StoreUnderTest) -> None:
    for run_id, thread in (("gone", "t-gone"), ("kept", "t-kept")):
        record = run(run_id, thread)
        store.cp.begin_run(record, lease(record), NOW)
        store.cp.put(make_save(thread, "c0", None, 0, {"v": 1}, tasks=[task(run_id, "a")]))
    store.cp.delete_thread("t-gone")
    for cp in store.views():
        assert cp.get_run("gone") is None
        assert cp.run_tasks("gone") == []
        assert [r.run_id for r in cp.list_runs()] == ["kept"]
        assert len(cp.run_tasks("kept")) == 1
    fresh = run("fresh", "t-gone")
    assert store.cp.begin_run(fresh, lease(fresh), NOW) == lease(fresh)  # the lease went too


def test_threads_racing_for_one_thread_let_exactly_one_run_in(store: StoreUnderTest) -> None:
    racers = 8
    # a SQLite or PostgreSQL store: an instance (a connection) of its own per racer
    stores = [store.another() for _ in range(racers)]
    start = threading.Barrier(racers)
    won: list[str] = []

    def race(i: int) -> None:
        record = run(f"r{i}")
        mine = lease(record, owner=lease_owner())
        start.wait()
        if stores[i].begin_run(record, mine, NOW) == mine:
            won.append(record.run_id)

    workers = [threading.Thread(target=race, args=(i,)) for i in range(racers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if store.kind != "memory":
        for s in stores:
            s.close()
    assert len(won) == 1
    assert [r.run_id for r in store.reopen().list_runs()] == won


# -- bad and hostile input ------------------------------------------------------------------------


ODD = "quote ' \" ; DROP TABLE runs; -- \x00 nul, \n newline, \u202e rtl, emoji \U0001f40b, 中文"


def test_odd_strings_and_huge_metadata_round_trip(store: StoreUnderTest) -> None:
    metadata = {
        ODD: ODD,
        "huge": "x" * 3_000_000,
        "deep": {"a": [{"b": [ODD] * 100}] * 50},
        "numbers": [0, -1, 2**62, 1.5e300, None, False],
    }
    record = run(ODD, ODD, graph=ODD, error=ODD, checkpoint_id=ODD, metadata=metadata)
    tasks = [task(ODD, ODD, node=ODD, error=ODD, ended_at=ODD)]
    store.cp.begin_run(record, lease(record, owner=ODD), NOW)
    store.cp.end_run(replace(record, status="cancelled"), tasks)
    for cp in store.views():
        assert cp.get_run(ODD) == replace(record, status="cancelled")
        assert cp.run_tasks(ODD) == tasks
        assert [r.run_id for r in cp.list_runs(thread_id=ODD)] == [ODD]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"status": "finished"}, "status"),
        ({"cost_nano_usd": 1.5}, "cost_nano_usd"),
        ({"steps": -1}, "steps"),
        ({"input_tokens": True}, "input_tokens"),
        ({"llm_calls": 2**63}, "llm_calls"),
        ({"metadata": {"when": object()}}, "metadata"),
        ({"metadata": {1: "int key"}}, "metadata"),
        ({"metadata": ["not", "a", "dict"]}, "metadata"),
        ({"graph": "lone \ud800 surrogate"}, "graph"),
        ({"run_id": ""}, "run_id"),
    ],
)
def test_a_bad_run_record_is_refused_naming_the_field(
    store: StoreUnderTest, face: str, change: dict[str, object], field: str
) -> None:
    bad = replace(run(), **change)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match=field):
        store.cp.begin_run(bad, lease(bad), NOW)
    assert store.cp.list_runs() == []
    good = run()
    store.cp.begin_run(good, lease(good), NOW)
    with pytest.raises(InvalidInputError, match=field):
        store.cp.end_run(replace(good, **change), [])  # type: ignore[arg-type]
    assert store.cp.get_run("r1") == good


def test_bad_task_records_and_mismatched_leases_are_refused(
    store: StoreUnderTest, face: str
) -> None:
    record = run()
    with pytest.raises(InvalidInputError, match="lease"):
        store.cp.begin_run(record, Lease("other-thread", "r1", OTHER_HOST, NOW + 9), NOW)
    with pytest.raises(InvalidInputError, match="lease"):
        store.cp.begin_run(record, Lease("t", "other-run", OTHER_HOST, NOW + 9), NOW)
    store.cp.begin_run(record, lease(record), NOW)
    with pytest.raises(InvalidInputError, match="status 'paused'"):
        store.cp.put_tasks([task("r1", "a", status="paused")])
    with pytest.raises(InvalidInputError, match="duration_ms"):
        store.cp.put_tasks([task("r1", "a", duration_ms="fast")])
    with pytest.raises(InvalidInputError, match="tasks of run 'r2'"):
        store.cp.end_run(record, [task("r2", "a")])
    with pytest.raises(InvalidInputError, match="expires_at"):
        store.cp.renew_lease(Lease("t", "r1", OTHER_HOST, "soon"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="expires_at"):
        store.cp.begin_run(record, Lease("t", "r1", OTHER_HOST, float("nan")), NOW)
    assert store.cp.run_tasks("r1") == []


def test_live_lease_says_who_holds_a_thread_until_it_ends_or_expires(
    store: StoreUnderTest,
) -> None:
    assert store.cp.live_lease("t", NOW) is None  # type: ignore[attr-defined]
    holder = run("holder")
    held = lease(holder, expires_at=NOW + 10)
    store.cp.begin_run(holder, held, NOW)
    assert store.cp.live_lease("t", NOW + 9) == held  # type: ignore[attr-defined]
    assert store.cp.live_lease("t", NOW + 10) is None  # type: ignore[attr-defined]
    store.cp.end_run(replace(holder, status="done"), [])
    assert store.cp.live_lease("t", NOW) is None  # type: ignore[attr-defined]
    dead = run("dead")
    store.cp.begin_run(dead, lease(dead, owner=dead_owner(), expires_at=NOW + 99), NOW)
    assert store.cp.live_lease("t", NOW) is None  # type: ignore[attr-defined]


def test_a_queued_run_is_stored_without_a_lease_and_continued_by_begin_run(
    store: StoreUnderTest,
) -> None:
    queued = run("q1", status="queued")
    store.cp.put_run(queued)
    for cp in store.views():
        assert cp.get_run("q1") == queued
        assert cp.live_lease("t", NOW) is None  # the thread stays free while it waits
        assert [r.run_id for r in cp.list_runs(status="queued")] == ["q1"]
    started = replace(queued, status="running")
    assert store.cp.begin_run(started, lease(started), NOW) == lease(started)
    for cp in store.views():
        assert cp.get_run("q1") == started


def test_put_run_refuses_records_of_runs_that_run(store: StoreUnderTest) -> None:
    for status in ("running", "done", "interrupted"):
        with pytest.raises(InvalidInputError, match="put_run"):
            store.cp.put_run(run("x", status=status))
    assert store.cp.get_run("x") is None


@pytest.mark.parametrize("status", ["done", "cancelled"])
def test_a_run_that_ended_is_never_begun_again_and_nothing_is_written(
    store: StoreUnderTest, face: str, status: str
) -> None:
    """A second taker of a queued run that the first ran to its end meanwhile: refused
    in the lease's transaction, the thread left free and the record as it ended."""
    from orca.errors import RunEndedError

    first = run()
    store.cp.begin_run(first, lease(first), NOW)
    ended = replace(first, status=status, ended_at="2026-01-01T00:05:00+00:00")
    store.cp.end_run(ended, [])
    again = replace(first, started_at="2026-01-02T00:00:00+00:00")
    with pytest.raises(RunEndedError, match=f"run 'r1' has ended \\({status}\\)"):
        store.cp.begin_run(again, lease(again, owner="other:1:x"), NOW)
    for cp in store.views():
        assert cp.get_run("r1") == ended
        assert cp.live_lease("t", NOW) is None
    other = run("r2")
    assert store.cp.begin_run(other, lease(other), NOW) == lease(other)  # the thread is free
