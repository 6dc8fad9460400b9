"""A paid call's record and its answer on its ledger hold (``Checkpointer.put_paid_call``):
one transaction where one PostgreSQL database keeps both the ledger and the call records,
so that a process killed at any point has both or neither; nothing written (False) where
they live apart (SQLite's two files, two PostgreSQL databases), and the meter records the
hold first. Run on both backends, through the protocols."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orca.checkpoint import CallRecord, Checkpointer
from orca.cost import Budget, CallContext, Charge, Hold
from orca.llm._meter import _Answer
from orca.store import LedgerRepository, SqliteCheckpointer, user_store
from orca.store.postgres import PostgresStore

from ._support import START, TTL, Clock

CHARGE = Charge("openai", "gpt-x", 100, 20, cost_nano_usd=7_000)
CONTEXT = CallContext(run_id="r", thread_id="t", node="n", task_id="task-1")
LATER = dt.timedelta(seconds=TTL * 10)


def call(task_id: str = "task-1", thread: str = "t") -> CallRecord:
    return CallRecord(
        thread, task_id, "llm", "d1", 0, "c1", "r", {"text": "hi"}, "2026-12-06T00:00:00+00:00"
    )


class Pair:
    """A ledger and a checkpointer as one run's meter and engine get them."""

    def __init__(self, ledger: LedgerRepository, cp: Checkpointer, clock: Clock) -> None:
        self.ledger = ledger
        self.cp = cp
        self.clock = clock

    def hold(self) -> Hold:
        self.ledger.budgets.create(Budget("b", 10**9))
        return self.ledger.reserve(self.ledger.applicable(), {"usd": 50_000}, CONTEXT)

    def sweep_later(self) -> tuple[list[str], list[str]]:
        """Sweep once the dead holder's holds have expired: (settled, released)."""
        self.clock.now = START + LATER
        swept = self.ledger.sweep()
        return list(swept.settled), list(swept.expired)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def one_database(pg_url: str, clock: Clock) -> Iterator[Pair]:
    """PostgreSQL: the ledger and the checkpointer of one store (one pool)."""
    with PostgresStore(pg_url, clock=clock, hold_ttl_s=TTL) as store:
        store.open_user()
        yield Pair(store.ledger, store.checkpoints, clock)


@pytest.fixture
def two_stores(pg_url: str, clock: Clock) -> Iterator[Pair]:
    """PostgreSQL: two stores opened on one URL (a worker's checkpointer and the
    ledger its run's meter opened): two pools, one database."""
    with (
        PostgresStore(pg_url, clock=clock, hold_ttl_s=TTL) as user,
        PostgresStore(pg_url) as project,
    ):
        user.open_user()
        yield Pair(user.ledger, project.checkpoints, clock)


@pytest.fixture
def two_databases(pg_url: str, pg_cluster: Any, clock: Clock) -> Iterator[Pair]:
    """PostgreSQL: the ledger in one database, the checkpointer in another."""
    other = pg_cluster.create_database()
    try:
        with (
            PostgresStore(pg_url, clock=clock, hold_ttl_s=TTL) as user,
            PostgresStore(other) as project,
        ):
            user.open_user()
            yield Pair(user.ledger, project.checkpoints, clock)
    finally:
        pg_cluster.drop_database(other)


@pytest.fixture
def two_files(tmp_path: Path, clock: Clock) -> Iterator[Pair]:
    """SQLite: the user database and the project's, two files."""
    with user_store(tmp_path / "orca.db", clock=clock, hold_ttl_s=TTL) as user:
        cp = SqliteCheckpointer(tmp_path / "project.db")
        try:
            yield Pair(user.ledger, cp, clock)
        finally:
            cp.close()


@pytest.mark.parametrize("where", ["one_database", "two_stores"])
@pytest.mark.parametrize("face", ["sync", "async"])
def test_one_database_keeps_the_record_and_the_hold_s_answer_together(
    where: str, face: str, request: pytest.FixtureRequest
) -> None:
    pair: Pair = request.getfixturevalue(where)
    hold = pair.hold()
    paid = _Answer(pair.ledger, hold, CHARGE)
    if face == "sync":
        kept = pair.cp.put_paid_call(call(), paid)
    else:
        kept = asyncio.run(_async_put(pair.cp, paid))
    assert kept is True
    assert [r.value for r in pair.cp.calls("t", "task-1")] == [{"text": "hi"}]
    # the holder died before settling: the sweep charges the call from its hold's answer
    settled, released = pair.sweep_later()
    assert (settled, released) == ([hold.id], [])
    status = pair.ledger.budgets.status("b")
    assert (status.spent, status.reserved) == (7_000, 0)


async def _async_put(cp: Checkpointer, paid: Any) -> bool:
    return await cp.aput_paid_call(call(), paid)


@pytest.mark.parametrize("where", ["two_databases", "two_files"])
def test_apart_nothing_is_written_and_the_caller_records_the_hold_first(
    where: str, request: pytest.FixtureRequest
) -> None:
    pair: Pair = request.getfixturevalue(where)
    hold = pair.hold()
    paid = _Answer(pair.ledger, hold, CHARGE)
    assert pair.cp.put_paid_call(call(), paid) is False
    assert asyncio.run(_async_put(pair.cp, paid)) is False
    assert pair.cp.calls("t", "task-1") == []
    # nor was the hold recorded: the sweep gives its money back, charging nothing
    assert pair.sweep_later() == ([], [hold.id])
    assert pair.ledger.budgets.status("b").spent == 0


def test_a_hold_this_database_does_not_have_writes_nothing(one_database: Pair) -> None:
    # (a ledger taken for this database's that is not: another schema on the same URL)
    stranger = Hold("not-here", ((1, 50_000),))
    paid = _Answer(one_database.ledger, stranger, CHARGE)
    assert one_database.cp.put_paid_call(call(), paid) is False
    assert asyncio.run(_async_put(one_database.cp, paid)) is False
    assert one_database.cp.calls("t", "task-1") == []


def test_a_hold_that_holds_nothing_keeps_the_record_alone(one_database: Pair) -> None:
    paid = _Answer(one_database.ledger, Hold("no-budget"), CHARGE)  # no budget applied
    assert one_database.cp.put_paid_call(call(), paid) is True
    assert len(one_database.cp.calls("t", "task-1")) == 1


def test_an_answer_recorded_after_its_hold_expired_is_settled_late(one_database: Pair) -> None:
    pair = one_database
    hold = pair.hold()
    pair.clock.now = START + LATER
    assert pair.ledger.sweep().expired == [hold.id]  # swept while its call ran
    assert pair.cp.put_paid_call(call(), _Answer(pair.ledger, hold, CHARGE)) is True
    assert pair.ledger.sweep().settled == [hold.id]
    assert pair.ledger.budgets.status("b").spent == 7_000


def test_a_record_with_nul_in_its_ids_round_trips(one_database: Pair) -> None:
    hold = one_database.hold()
    record = call(task_id="task\x00\uffff", thread="t\x00")
    assert one_database.cp.put_paid_call(record, _Answer(one_database.ledger, hold, CHARGE))
    assert one_database.cp.calls("t\x00", "task\x00\uffff") == [record]
