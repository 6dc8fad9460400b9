"""Admission control in-process: slots and bounded queues, the three policies, the order
work starts in, predictions from measured service times, and bounds that hold under any
sequence of admissions, releases and cancellations."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orca.server._admission import Admission, Evicted, Overloaded, Ticket


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_work_starts_at_once_while_slots_are_free_and_queues_after() -> None:
    async def go() -> None:
        a = Admission("runs", max_running=2, max_queued=2)
        first, second = a.admit("a"), a.admit("b")
        assert first.running
        assert second.running
        assert first.queue_position == 0
        assert first.predicted_start_ms == 0
        third = a.admit("c")
        assert not third.running
        assert third.queue_position == 0
        fourth = a.admit("d", "batch")
        assert fourth.queue_position == 1
        assert a.snapshot()["queue_depth"] == {"interactive": 1, "batch": 1}
        a.release(first)
        await a.slot(third)  # granted by the release
        assert third.running
        assert not fourth.running
        assert a.position(fourth) == 0

    run(go())


def test_interactive_work_starts_before_batch_work_that_waited_longer() -> None:
    async def go() -> None:
        a = Admission("tasks", max_running=1, max_queued=10)
        holder = a.admit("holder")
        batch = [a.admit(f"b{i}", "batch") for i in range(3)]
        urgent = a.admit("urgent", "interactive")
        assert urgent.queue_position == 0  # ahead of every batch ticket
        assert [a.position(t) for t in batch] == [1, 2, 3]
        started: list[str] = []
        a.release(holder)
        for ticket in [urgent, *batch]:
            await a.slot(ticket)
            started.append(ticket.key)
            a.release(ticket)
        assert started == ["urgent", "b0", "b1", "b2"]

    run(go())


def test_reject_refuses_new_work_when_full_and_says_when_to_come_back() -> None:
    async def go() -> None:
        a = Admission("runs", max_running=1, max_queued=1, service_ms=400)
        a.admit("running")
        a.admit("queued")
        with pytest.raises(Overloaded) as caught:
            a.admit("refused")
        assert caught.value.policy == "reject"
        assert caught.value.retry_after_ms == 400
        assert caught.value.depth == 1
        assert a.snapshot()["rejected"] == 1
        assert a.depth == 1
        assert a.running == 1

    run(go())


def test_drop_lru_evicts_the_longest_waiting_ticket_of_the_same_priority() -> None:
    async def go() -> None:
        a = Admission("runs", max_running=1, max_queued=2, policy="drop-lru")
        a.admit("running")
        oldest, newer = a.admit("oldest"), a.admit("newer")
        newest = a.admit("newest")
        with pytest.raises(Evicted):
            await a.slot(oldest)
        assert a.position(newer) == 0
        assert a.position(newest) == 1
        with pytest.raises(Overloaded):  # no batch ticket to drop for a batch one
            a.admit("batch", "batch")

    run(go())


def test_shed_low_priority_evicts_the_newest_batch_ticket_for_interactive_work() -> None:
    async def go() -> None:
        a = Admission("tasks", max_running=1, max_queued=2, policy="shed-low-priority")
        a.admit("running")
        old, young = a.admit("old", "batch"), a.admit("young", "batch")
        urgent = a.admit("urgent", "interactive")
        with pytest.raises(Evicted):
            await a.slot(young)
        assert a.position(urgent) == 0
        assert a.position(old) == 1
        with pytest.raises(Overloaded):  # batch work never sheds
            a.admit("more", "batch")

    run(go())


def test_a_ticket_cancelled_while_queued_leaves_the_queue() -> None:
    async def go() -> None:
        a = Admission("runs", max_running=1, max_queued=5)
        holder = a.admit("holder")
        waiting = a.admit("waiting")
        after = a.admit("after")
        task = asyncio.ensure_future(a.slot(waiting))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert a.depth == 1
        assert a.position(after) == 0
        a.release(holder)
        await a.slot(after)
        assert after.running

    run(go())


def test_predictions_come_from_measured_service_times() -> None:
    async def go() -> None:
        a = Admission("runs", max_running=2, max_queued=6, service_ms=1000)
        done = a.admit("done")
        done.started_at = (done.started_at or 0) - 0.2  # it ran 200 ms
        a.release(done)
        assert 199 <= a.service_ms < 260
        assert a.measured == 1
        a.admit("r1")
        a.admit("r2")
        queued = [a.admit(f"q{i}") for i in range(4)]
        predicted = [a.predicted_start_ms(t) for t in queued]
        # two slots: the 1st and 2nd start when the running ones end, the 3rd and 4th
        # one service time later
        assert predicted == sorted(predicted)
        assert 150 <= predicted[0] <= a.service_ms + 1
        assert predicted[2] - predicted[0] == pytest.approx(a.service_ms, abs=2)
        assert queued[0].backoff_ms == 0
        assert queued[3].backoff_ms > 0

    run(go())


def test_bad_settings_and_priorities_are_refused() -> None:
    with pytest.raises(ValueError, match="max_running"):
        Admission("runs", max_running=0, max_queued=1)
    with pytest.raises(ValueError, match="policy"):
        Admission("runs", max_running=1, max_queued=1, policy="lottery")  # type: ignore[arg-type]

    async def go() -> None:
        with pytest.raises(ValueError, match="priority"):
            Admission("runs", max_running=1, max_queued=1).admit("x", "urgent")  # type: ignore[arg-type]

    run(go())


OPS = st.lists(
    st.tuples(
        st.sampled_from(["admit", "release", "cancel"]),
        st.sampled_from(["interactive", "batch"]),
        st.integers(0, 50),
    ),
    max_size=80,
)


@settings(max_examples=150, deadline=None)
@given(
    ops=OPS,
    policy=st.sampled_from(["reject", "drop-lru", "shed-low-priority"]),
    running=st.integers(1, 3),
    queued=st.integers(0, 4),
)
def test_bounds_hold_and_no_ticket_is_lost_or_started_twice(
    ops: list[tuple[str, Any, int]], policy: Any, running: int, queued: int
) -> None:
    async def go() -> None:
        a = Admission("runs", max_running=running, max_queued=queued, policy=policy)
        live: list[Ticket] = []  # admitted and not released by us
        first_start: dict[str, float] = {}
        n = 0
        for op, priority, pick in ops:
            if op == "admit":
                n += 1
                try:
                    live.append(a.admit(f"t{n}", priority))
                except Overloaded:
                    assert a.depth == queued  # refused only when full
            elif live:
                a.release(live.pop(pick % len(live)))  # finished, or left the queue
            await asyncio.sleep(0)
            assert a.running <= running
            assert a.depth <= queued
            assert a.depth == 0 or a.running == running  # no free slot while work waits
            queued_now = {t.key for q in a._queues.values() for t in q.values()}
            running_now = {t.key for t in a._running.values()}
            for t in live:
                evicted = t.granted.done() and t.granted.exception() is not None
                places = (t.key in queued_now) + (t.key in running_now) + evicted
                assert places == 1, t  # one place each: none lost, none in two
                if t.started_at is not None:
                    assert first_start.setdefault(t.key, t.started_at) == t.started_at
            assert len(running_now) == a.running  # nobody released still runs

    run(go())


# -- tenants ---------------------------------------------------------------------------


def test_a_free_slot_goes_to_the_tenant_running_the_fewest() -> None:
    """Tenant A floods the queue first; B's one run, queued after all of A's, takes
    the next free slot (A already runs one), and A's then go in order."""

    async def go() -> None:
        a = Admission("runs", max_running=2, max_queued=50)
        running = [a.admit("a0", tenant="acme"), a.admit("a1", tenant="acme")]
        flood = [a.admit(f"a{i}", tenant="acme") for i in range(2, 22)]
        theirs = a.admit("b0", tenant="globex")
        assert not theirs.running
        a.release(running[0])
        await a.slot(theirs)
        assert theirs.running
        assert not flood[0].running
        a.release(running[1])
        await a.slot(flood[0])  # then A's, first come first served
        assert not flood[1].running

    run(go())


def test_a_tenant_holds_at_most_its_share_of_the_slots_and_the_queue() -> None:
    async def go() -> None:
        a = Admission("runs", max_running=3, max_queued=10,
                      tenant_max_running=1, tenant_max_queued=2)  # fmt: skip
        first = a.admit("a0", tenant="acme")
        waiting = [a.admit("a1", tenant="acme"), a.admit("a2", tenant="acme")]
        assert first.running
        assert not any(t.running for t in waiting)
        with pytest.raises(Overloaded, match="tenant's runs queue is full"):
            a.admit("a3", tenant="acme")
        theirs = a.admit("b0", tenant="globex")  # another tenant is not refused
        assert theirs.running
        a.release(first)
        await a.slot(waiting[0])
        assert a.running == 2
        assert a.snapshot()["rejected"] == 1

    run(go())


def test_shares_must_be_positive() -> None:
    with pytest.raises(ValueError, match="tenant"):
        Admission("runs", max_running=2, max_queued=2, tenant_max_running=0)
    with pytest.raises(ValueError, match="tenant"):
        Admission("runs", max_running=2, max_queued=2, tenant_max_queued=-1)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["admit", "release"]), st.sampled_from(["a", "b", "c"])),
        max_size=60,
    )
)
def test_tenant_shares_hold_under_any_sequence(steps: list[tuple[str, str]]) -> None:
    async def go() -> None:
        a = Admission("runs", max_running=3, max_queued=6,
                      tenant_max_running=2, tenant_max_queued=3)  # fmt: skip
        held: list[Ticket] = []
        for action, tenant in steps:
            if action == "admit":
                with contextlib.suppress(Overloaded):
                    held.append(a.admit(tenant, tenant=tenant))
            else:
                mine = [t for t in held if t.tenant == tenant]
                if mine:
                    a.release(mine[0])
                    held.remove(mine[0])
            running = [t for t in held if t.running]
            assert len(running) <= 3
            for name in "abc":
                assert sum(1 for t in running if t.tenant == name) <= 2
                assert sum(1 for t in held if t.tenant == name and not t.running) <= 3
            # no slot idles while a tenant under its share waits
            if len(running) < 3:
                counts = {n: sum(1 for t in running if t.tenant == n) for n in "abc"}
                assert not any(not t.running and counts[t.tenant] < 2 for t in held)

    run(go())


def test_a_resize_to_no_slot_holds_new_work_and_growing_again_starts_it() -> None:
    async def go() -> None:
        a = Admission("pool:x", max_running=1, max_queued=4)
        a.resize(0)  # a pool whose replicas are all restarting
        held = a.admit("a")
        assert not held.running
        assert a.predict_new() > 0  # it says when, not "now"
        a.resize(2)  # ready again: the queued work starts at once
        await asyncio.wait_for(a.slot(held), 1)
        assert held.running
        assert a.admit("b").running

    run(go())


def test_refusing_the_waiting_ends_queued_tickets_and_leaves_running_ones() -> None:
    async def go() -> None:
        a = Admission("pool:x", max_running=1, max_queued=4)
        running, queued, batch = a.admit("a"), a.admit("b"), a.admit("c", "batch")
        gone = RuntimeError("the pool stopped")
        assert a.refuse_waiting(gone) == 2
        for ticket in (queued, batch):
            with pytest.raises(RuntimeError, match="the pool stopped"):
                await a.slot(ticket)
        assert a.depth == 0
        assert running.running
        assert a.running == 1

    run(go())
