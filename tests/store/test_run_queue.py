"""The run queue's conformance suite (``RunQueue``): every backend passes it unchanged,
SQLite (several processes of one host) and PostgreSQL (many hosts). The clock is the
test's own, moved by hand, so lease expiry needs no sleeping; the races are real
processes claiming at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orca.errors import InvalidInputError
from orca.store import SqliteStore
from orca.store._queue import NO_LIMITS, Limits, QueueItem, RunQueue

from ._support import Clock

CLAIMER = Path(__file__).parents[1] / "queue_claimer.py"
SRC = Path(__file__).resolve().parents[2] / "src"
LEASE = 30.0


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where the queue's data lives: a project database, or a PostgreSQL database."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return str(tmp_path / "project.db")


@pytest.fixture
def clock() -> Clock:
    return Clock()


Opener = Callable[[], RunQueue]


@pytest.fixture
def open_queue(url: str, clock: Clock) -> Iterator[Opener]:
    """Opens another client of the same queue (a worker of its own); all closed after."""
    stores: list[Any] = []

    def open_one() -> RunQueue:
        if url.startswith("postgresql://"):
            from orca.store.postgres import PostgresStore

            store: Any = PostgresStore(url, clock=clock, pool_size=4)
        else:
            store = SqliteStore(url, clock=clock)
        stores.append(store)
        queue: RunQueue = store.queue
        return queue

    yield open_one
    for store in stores:
        store.close()


@pytest.fixture
def queue(open_queue: Opener) -> RunQueue:
    return open_queue()


def put(repo: RunQueue, run_id: str, **kw: Any) -> None:
    kw.setdefault("workflow", "w")
    assert repo.enqueue(run_id, **kw)


def drain(queue: RunQueue, worker: str = "w1", limits: Limits = NO_LIMITS) -> list[str]:
    """Claim until nothing is left; the run ids in claim order (none completed)."""
    out = []
    while (item := queue.claim(worker, LEASE, limits)) is not None:
        out.append(item.run_id)
    return out


# -- order ----------------------------------------------------------------------------------


def test_claims_take_the_highest_priority_then_the_oldest(queue: RunQueue) -> None:
    put(queue, "a", priority=0)
    put(queue, "b", priority=5)
    put(queue, "c", priority=0)
    put(queue, "d", priority=5)
    put(queue, "e", priority=-1)
    assert drain(queue) == ["b", "d", "a", "c", "e"]


def test_a_claimed_item_is_running_held_by_its_worker_with_the_payload(
    queue: RunQueue, clock: Clock
) -> None:
    put(queue, "r1", workflow="flow", tenant="acme", queue="default", priority=3,
        payload={"request": {"input": {"x": 1}}, "n": [1, 2]})  # fmt: skip
    item = queue.claim("w1", LEASE)
    assert item is not None
    assert (item.run_id, item.workflow, item.tenant, item.priority) == ("r1", "flow", "acme", 3)
    assert item.payload == {"request": {"input": {"x": 1}}, "n": [1, 2]}
    assert (item.status, item.worker_id, item.attempts) == ("running", "w1", 1)
    assert item.lease_expires_at == pytest.approx(clock().timestamp() + LEASE)
    stored = queue.get("r1")
    assert stored is not None
    assert stored.status == "running"
    assert stored.worker_id == "w1"
    assert queue.claim("w2", LEASE) is None


def test_a_worker_claims_only_from_its_queues(queue: RunQueue) -> None:
    put(queue, "slow", queue="batch")
    put(queue, "fast", queue="interactive")
    assert queue.claim("w1", LEASE) is None  # the default queue is empty
    item = queue.claim("w1", LEASE, queues=("interactive",))
    assert item is not None
    assert item.run_id == "fast"
    item = queue.claim("w1", LEASE, queues=("interactive", "batch"))
    assert item is not None
    assert item.run_id == "slow"


def test_a_delayed_item_waits_for_its_time(queue: RunQueue, clock: Clock) -> None:
    put(queue, "later", delay_s=10)
    assert queue.claim("w1", LEASE) is None
    clock.advance(seconds=10)
    item = queue.claim("w1", LEASE)
    assert item is not None
    assert item.run_id == "later"


def test_enqueue_is_idempotent_per_run(queue: RunQueue) -> None:
    assert queue.enqueue("r", workflow="w", payload={"v": 1})
    assert not queue.enqueue("r", workflow="other", payload={"v": 2})
    item = queue.get("r")
    assert item is not None
    assert (item.workflow, item.payload) == ("w", {"v": 1})
    assert drain(queue) == ["r"]


# -- fairness -------------------------------------------------------------------------------


def test_a_tenant_s_flood_does_not_starve_another_tenant(queue: RunQueue) -> None:
    for i in range(6):
        put(queue, f"a{i}", tenant="flood")
    put(queue, "b0", tenant="quiet")
    put(queue, "b1", tenant="quiet")
    # the tenant with fewer running items goes first; equals in age order
    assert drain(queue) == ["a0", "b0", "a1", "b1", "a2", "a3", "a4", "a5"]


def test_fairness_comes_before_priority(queue: RunQueue) -> None:
    put(queue, "a0", tenant="A", priority=9)
    put(queue, "a1", tenant="A", priority=9)
    put(queue, "b0", tenant="B", priority=0)
    assert drain(queue) == ["a0", "b0", "a1"]


# -- limits ---------------------------------------------------------------------------------


def test_limits_per_queue_workflow_and_tenant_hold(queue: RunQueue) -> None:
    for i in range(3):
        put(queue, f"x{i}", workflow="x", tenant="t1")
        put(queue, f"y{i}", workflow="y", tenant="t2")
    limits = Limits(workflows={"x": 1}, tenants={"t2": 2})
    got = drain(queue, limits=limits)
    assert sorted(got) == ["x0", "y0", "y1"]
    items = {i.run_id: i for i in (queue.get(r) for r in got) if i is not None}
    assert queue.complete("w1", items["x0"])
    assert drain(queue, limits=limits) == ["x1"]
    assert drain(queue, limits=Limits(queues={"default": 3})) == []  # 3 running already
    assert drain(queue, limits=Limits(queues={"*": 4})) == ["x2"]


def test_a_default_limit_applies_to_each_tenant_on_its_own(queue: RunQueue) -> None:
    for t in ("a", "b"):
        for i in range(3):
            put(queue, f"{t}{i}", tenant=t)
    got = drain(queue, limits=Limits(tenants={"*": 2, "b": 1}))
    assert sorted(got) == ["a0", "a1", "b0"]


def test_limits_never_skip_over_eligible_items(queue: RunQueue) -> None:
    """A full workflow does not hide the items behind it from a claim."""
    for i in range(20):
        put(queue, f"full{i}", workflow="full", priority=10)
    put(queue, "other", workflow="other", priority=0)
    limits = Limits(workflows={"full": 1})
    assert drain(queue, limits=limits) == ["full0", "other"]


# -- leases ---------------------------------------------------------------------------------


def test_an_expired_lease_is_reclaimed_by_another_worker(open_queue: Opener, clock: Clock) -> None:
    one, two = open_queue(), open_queue()
    put(one, "r")
    held = one.claim("w1", 10)
    assert held is not None
    clock.advance(seconds=9)
    assert two.claim("w2", 10) is None  # still held
    clock.advance(seconds=2)
    taken = two.claim("w2", 10)
    assert taken is not None
    assert taken.run_id == "r"
    assert (taken.worker_id, taken.attempts) == ("w2", 2)
    # the first worker has lost it: it can neither renew nor end it
    assert not one.heartbeat("w1", held).held
    assert not one.complete("w1", held)
    assert not one.fail("w1", held, "late")
    assert not one.release("w1", held)
    assert two.heartbeat("w2", taken).held
    assert two.complete("w2", taken)
    done = one.get("r")
    assert done is not None
    assert done.status == "done"


def test_a_heartbeat_extends_the_lease(open_queue: Opener, clock: Clock) -> None:
    one, two = open_queue(), open_queue()
    put(one, "r")
    item = one.claim("w1", 10)
    assert item is not None
    clock.advance(seconds=8)
    beat = one.heartbeat("w1", item)
    assert beat.held
    assert not beat.cancel_requested
    clock.advance(seconds=7)  # past the first expiry, within the renewed one
    assert two.claim("w2", 10) is None
    assert one.get("r").worker_id == "w1"  # type: ignore[union-attr]
    clock.advance(seconds=4)  # 19 s: the renewed lease ran out at 18
    taken = two.claim("w2", 10)
    assert taken is not None
    assert taken.worker_id == "w2"


def test_a_heartbeat_after_expiry_does_not_revive_the_lease(queue: RunQueue, clock: Clock) -> None:
    put(queue, "r")
    item = queue.claim("w1", 10)
    assert item is not None
    clock.advance(seconds=11)
    assert not queue.heartbeat("w1", item).held
    assert queue.reclaim() == ["r"]
    again = queue.get("r")
    assert again is not None
    assert again.status == "queued"
    assert again.worker_id is None


def test_another_worker_s_item_cannot_be_renewed_or_ended(queue: RunQueue) -> None:
    put(queue, "r")
    item = queue.claim("w1", LEASE)
    assert item is not None
    assert not queue.heartbeat("w2", item).held
    assert not queue.complete("w2", item)
    assert queue.get("r").status == "running"  # type: ignore[union-attr]


def test_a_completed_item_is_never_claimed_again(queue: RunQueue, clock: Clock) -> None:
    put(queue, "r")
    item = queue.claim("w1", 5)
    assert item is not None
    assert queue.complete("w1", item)
    assert not queue.complete("w1", item)  # once
    clock.advance(seconds=60)
    assert queue.reclaim() == []
    assert queue.claim("w2", 5) is None
    assert not queue.enqueue("r", workflow="w")  # nor queued again
    assert queue.claim("w2", 5) is None
    assert queue.get("r").status == "done"  # type: ignore[union-attr]


def test_a_failed_item_keeps_its_error_and_is_not_claimed(queue: RunQueue) -> None:
    put(queue, "r")
    item = queue.claim("w1", LEASE)
    assert item is not None
    assert queue.fail("w1", item, "no such workflow")
    ended = queue.get("r")
    assert ended is not None
    assert (ended.status, ended.error) == ("failed", "no such workflow")
    assert ended.ended_at
    assert queue.claim("w1", LEASE) is None


def test_a_released_item_is_claimed_again_after_its_delay(queue: RunQueue, clock: Clock) -> None:
    put(queue, "r")
    item = queue.claim("w1", LEASE)
    assert item is not None
    assert queue.release("w1", item, delay_s=3)
    assert queue.claim("w2", LEASE) is None
    clock.advance(seconds=3)
    again = queue.claim("w2", LEASE)
    assert again is not None
    assert (again.worker_id, again.attempts) == ("w2", 2)


# -- cancel ---------------------------------------------------------------------------------


def test_a_queued_item_cancelled_is_never_claimed(queue: RunQueue) -> None:
    put(queue, "r")
    assert queue.cancel("r") == "cancelled"
    assert queue.claim("w1", LEASE) is None
    assert queue.cancel("nothing") is None


def test_a_running_item_s_cancel_reaches_its_worker_at_the_heartbeat(queue: RunQueue) -> None:
    put(queue, "r")
    item = queue.claim("w1", LEASE)
    assert item is not None
    assert queue.cancel("r") == "running"
    beat = queue.heartbeat("w1", item)
    assert beat.held
    assert beat.cancel_requested
    assert queue.complete("w1", item)
    assert queue.cancel("r") == "done"


# -- workers and counts ---------------------------------------------------------------------


def test_workers_seen_and_stopped(queue: RunQueue, clock: Clock) -> None:
    queue.worker_seen("host-a:1:x", "host-a", 1, ("default",))
    clock.advance(seconds=5)
    queue.worker_seen("host-b:2:y", "host-b", 2, ("default", "batch"))
    queue.worker_stopped("host-a:1:x")
    seen = queue.workers()
    assert [w.worker_id for w in seen] == ["host-b:2:y", "host-a:1:x"]
    assert (seen[0].host, seen[0].pid, seen[0].queues) == ("host-b", 2, ("default", "batch"))
    assert seen[0].stopped_at is None
    assert seen[1].stopped_at is not None
    queue.worker_seen("host-a:1:x", "host-a", 1, ("default",))  # back
    assert all(w.stopped_at is None for w in queue.workers())


def test_counts_per_queue_workflow_tenant_and_status(queue: RunQueue) -> None:
    put(queue, "a", tenant="t1")
    put(queue, "b", tenant="t1")
    put(queue, "c", tenant="t2", workflow="v")
    item = queue.claim("w1", LEASE)
    assert item is not None
    assert item.run_id == "a"
    got = {(c.queue, c.workflow, c.tenant, c.status): c.count for c in queue.counts()}
    assert got == {
        ("default", "w", "t1", "queued"): 1,
        ("default", "w", "t1", "running"): 1,
        ("default", "v", "t2", "queued"): 1,
    }


# -- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"run_id": "", "workflow": "w"},
        {"run_id": "r", "workflow": ""},
        {"run_id": "r", "workflow": "w", "tenant": "a\x00b"},
        {"run_id": "r", "workflow": "w", "queue": "x" * 201},
        {"run_id": "r", "workflow": "w", "priority": 1.5},
        {"run_id": "r", "workflow": "w", "priority": True},
        {"run_id": "r", "workflow": "w", "priority": 10**7},
        {"run_id": "r", "workflow": "w", "payload": {"x": object()}},
        {"run_id": "r", "workflow": "w", "payload": ["not", "a", "dict"]},
        {"run_id": "r", "workflow": "w", "delay_s": -1},
        {"run_id": "r", "workflow": "w", "delay_s": float("nan")},
        {"run_id": "r\ud800", "workflow": "w"},
        {"run_id": 7, "workflow": "w"},
    ],
)
def test_bad_items_are_refused_and_nothing_is_stored(
    queue: RunQueue, kwargs: dict[str, Any]
) -> None:
    rest = dict(kwargs)
    run_id = rest.pop("run_id")
    with pytest.raises(InvalidInputError):
        queue.enqueue(run_id, **rest)
    assert queue.counts() == []


@pytest.mark.parametrize(
    "limits",
    [
        {"workflows": {"w": 0}},
        {"tenants": {"t": -1}},
        {"queues": {"q": True}},
        {"queues": {"q": 1.0}},
        {"tenants": {"": 1}},
    ],
)
def test_bad_limits_are_refused(limits: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        Limits(**limits)


def test_bad_claims_are_refused(queue: RunQueue) -> None:
    put(queue, "r")
    for worker, lease in (("", 5.0), ("w", 0.0), ("w", -1.0), ("w", float("inf"))):
        with pytest.raises(InvalidInputError):
            queue.claim(worker, lease)
    with pytest.raises(InvalidInputError):
        queue.claim("w", 5.0, queues=())
    with pytest.raises(InvalidInputError):
        queue.heartbeat("w", "r")  # type: ignore[arg-type]
    assert queue.get("r").status == "queued"  # type: ignore[union-attr]


# -- processes racing -----------------------------------------------------------------------


def _start_claimer(
    url: str, name: str, limits: dict[str, Any], hold: str, lease_s: float = 60.0
) -> Any:
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen(
        [sys.executable, str(CLAIMER), url, name, json.dumps(limits), hold, str(lease_s)],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "ready", proc.stderr.read() if proc.stderr else ""
    return proc


def test_limits_are_never_exceeded_by_processes_racing_claims(url: str) -> None:
    """Four processes claim 48 items at once under limits per queue, workflow and
    tenant; each reads the committed running counts after every claim. No count ever
    passes its limit, and every item is claimed exactly once."""
    limits = {"queues": {"default": 4}, "workflows": {"x": 2}, "tenants": {"*": 3}}
    store = SqliteStore(url) if not url.startswith("postgresql://") else None
    if store is None:
        from orca.store.postgres import PostgresStore

        pg: Any = PostgresStore(url, pool_size=2)
        queue = pg.queue
    else:
        queue = store.queue
    runs = []
    for i in range(48):
        run_id = f"r{i:02d}"
        runs.append(run_id)
        queue.enqueue(run_id, workflow="xy"[i % 2], tenant=f"t{i % 3}")
    claimers = [_start_claimer(url, f"c{n}", limits, "0.02") for n in range(4)]
    for proc in claimers:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in claimers:
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    claimed = [r for res in results for r in res["claimed"]]
    assert sorted(claimed) == runs  # every item exactly once
    assert sorted(r for res in results for r in res["completed"]) == runs
    peak: dict[str, int] = {}
    for res in results:
        for key, n in res["peak"].items():
            peak[key] = max(peak.get(key, 0), n)
    assert peak["queue:default"] <= 4
    assert peak["workflow:x"] <= 2
    assert all(peak[f"tenant:t{t}"] <= 3 for t in range(3))
    assert peak["queue:default"] >= 1  # the counts were read while items ran
    assert {c.status for c in queue.counts()} == {"done"}
    if store is not None:
        store.close()
    else:
        pg.close()


def _open(url: str) -> Any:
    if url.startswith("postgresql://"):
        from orca.store.postgres import PostgresStore

        return PostgresStore(url, pool_size=2)
    return SqliteStore(url)


def test_leases_running_out_under_racing_processes_end_each_item_exactly_once(
    url: str,
) -> None:
    """Four processes claim 16 items; each first claim is held past its lease and put
    back while its holder still holds it, and another process takes it. Each item is
    completed exactly once: every stale holder's complete is refused, none is lost."""
    store = _open(url)
    runs = [f"r{i:02d}" for i in range(16)]
    for run_id in runs:
        store.queue.enqueue(run_id, workflow="w")
    claimers = [_start_claimer(url, f"c{n}", {}, "stale", lease_s=0.5) for n in range(4)]
    for proc in claimers:
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in claimers:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    completed = sorted(r for res in results for r in res["completed"])
    claims = sum(len(res["claimed"]) for res in results)
    assert completed == runs  # each once: no more, none lost
    assert claims >= 2 * len(runs)  # every first claim went stale and was claimed again
    items = [store.queue.get(r) for r in runs]
    assert {i.status for i in items if i is not None} == {"done"}
    assert sum(i.attempts for i in items if i is not None) == claims
    store.close()


def test_items_are_values(queue: RunQueue) -> None:
    put(queue, "r")
    item = queue.claim("w1", LEASE)
    assert isinstance(item, QueueItem)
    with pytest.raises(AttributeError):
        item.status = "done"  # type: ignore[misc]


def test_a_completed_item_keeps_the_result_its_worker_left(queue: RunQueue) -> None:
    put(queue, "r")
    item = queue.claim("w1", LEASE)
    assert item is not None
    with pytest.raises(InvalidInputError):
        queue.complete("w1", item, result={"x": object()})
    assert queue.get("r").status == "running"  # type: ignore[union-attr]
    assert queue.complete("w1", item, result={"values": {"answer": [1, "two"]}})
    done = queue.get("r")
    assert done is not None
    assert done.result == {"values": {"answer": [1, "two"]}}


def test_a_cancel_asked_survives_the_lease_running_out(queue: RunQueue, clock: Clock) -> None:
    """The worker that takes the run up next sees the cancel at once (its claim)."""
    put(queue, "r")
    item = queue.claim("w1", 5)
    assert item is not None
    assert queue.cancel("r") == "running"
    clock.advance(seconds=6)
    again = queue.claim("w2", 5)
    assert again is not None
    assert again.cancel_requested


def test_an_enqueue_wakes_a_waiting_worker_on_postgresql(url: str, open_queue: Opener) -> None:
    """PostgreSQL only: ``NOTIFY orca_queue`` ends an idle worker's wait at once (SQLite
    has no notifications: its wait is a short sleep, and says it was not woken)."""
    import threading

    idle, other = open_queue(), open_queue()
    assert idle.wait(0) is False  # nothing enqueued: the wait runs out
    woken: list[bool] = []
    waiter = threading.Thread(target=lambda: woken.append(idle.wait(60)))
    waiter.start()
    put(other, "r")
    waiter.join(timeout=90)
    assert not waiter.is_alive()
    assert woken == [url.startswith("postgresql://")]


def test_a_failure_reason_with_nul_or_a_lone_surrogate_is_kept_readable(queue: RunQueue) -> None:
    put(queue, "r")
    item = queue.claim("w1", LEASE)
    assert item is not None
    assert queue.fail("w1", item, "bad\x00byte \ud800 here")
    failed = queue.get("r")
    assert failed is not None
    assert failed.error == "bad\ufffdbyte ? here"


def test_counts_and_workers_sort_in_byte_order(queue: RunQueue) -> None:
    for tenant in ("b", "B", "a", "_"):
        put(queue, f"r-{tenant}", tenant=tenant)
    assert [c.tenant for c in queue.counts()] == ["B", "_", "a", "b"]
    for worker in ("w-b", "w-B", "w-a"):
        queue.worker_seen(worker, "h", 1, ("default",))
    assert [w.worker_id for w in queue.workers()] == ["w-B", "w-a", "w-b"]


def test_an_announcement_reaches_a_follower_in_another_client(url: str, open_queue: Opener) -> None:
    """PostgreSQL: ``announce`` (a run committed events) reaches every follower at once
    (``NOTIFY orca_events``). SQLite has no notifications: ``follow`` says so (None) and
    ``announce`` does nothing; readers poll."""
    import threading

    reader, writer = open_queue(), open_queue()
    heard: list[str] = []
    got = threading.Event()
    stop = reader.follow(lambda run_id: (heard.append(run_id), got.set()))
    if not url.startswith("postgresql://"):
        assert stop is None
        writer.announce("run-1")
        return
    assert stop is not None
    try:
        writer.announce("run-1")
        assert got.wait(60)
        assert heard == ["run-1"]
    finally:
        stop()
