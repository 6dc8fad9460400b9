"""Holds through the meter, in real runs: a call that outlives its hold's TTL has its hold
renewed (so no sweep elsewhere can take its money), a call shorter than the renewal
interval never writes a renewal, and a provider reporting more than the reservation is
recorded at its true cost, flagged and warned about; one its budget cannot afford
overdraws the budget, warns, and every later call is refused until it is raised."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict

import pytest

from orca import END, START, StateGraph
from orca.cost import Budget, Price, PriceBook
from orca.errors import BudgetExceeded
from orca.llm import ChatRequest, Delta, ProviderModel, Usage
from orca.store import SqliteStore, user_store

# $1 per 1M tokens in and out: a token is 1,000 nano-USD
PRICE = Price("acme", "scripted", Decimal(1), Decimal(1))


class Scripted(ProviderModel):
    """Answers "ok" with the usage it is given, after ``wait()`` (if any) returns."""

    def __init__(self, usage: Usage, wait: Callable[[], Awaitable[None]] | None = None) -> None:
        super().__init__("scripted", provider="acme")
        self.usage = usage
        self.wait = wait

    async def _stream(self, request: ChatRequest, state: Any) -> Any:
        if self.wait is not None:
            await self.wait()
        state.text.append("ok")
        yield Delta(text="ok")
        state.stop_reason = "stop"
        state.usage = self.usage


class State(TypedDict, total=False):
    answers: list[str]


def one_call() -> Any:
    async def ask(state: State, ctx: Any) -> State:
        return {"answers": [(await ctx.worker.acomplete("hi", max_tokens=50)).text]}

    g = StateGraph(State, name="asker")
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    return g.compile()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "orca.db"


@pytest.fixture
def rows(db: Path) -> Iterator[sqlite3.Connection]:
    user_store(db).close()  # created and migrated
    conn = sqlite3.connect(db, isolation_level=None)
    yield conn
    conn.close()


def options(store: SqliteStore, model: ProviderModel, **more: Any) -> dict[str, Any]:
    return {
        "models": {"worker": model},
        "prices": PriceBook([PRICE]),
        "ledger": store.ledger,
        "budget": "team",
        **more,
    }


def test_a_call_longer_than_its_hold_ttl_keeps_its_hold_by_renewing_it(
    db: Path, rows: sqlite3.Connection
) -> None:
    store = user_store(db, hold_ttl_s=0.3)  # renewed every 0.1 s
    store.ledger.budgets.create(Budget("team", 10**9))
    other = user_store(db)  # another process's view: its sweep uses the real clock
    seen: list[str] = []
    swept: list[str] = []

    async def until_renewed_three_times() -> None:
        for _ in range(400):  # at most 20 s: the call runs many times its TTL
            [(expires,)] = rows.execute("SELECT expires_at FROM holds").fetchall()
            if not seen or seen[-1] != expires:
                seen.append(expires)
            swept.extend((await other.ledger.asweep()).expired)
            if len(seen) >= 4:
                return
            await asyncio.sleep(0.05)

    one_call().invoke({}, **options(store, Scripted(Usage(10, 5), until_renewed_three_times)))
    assert len(seen) >= 4  # the first expiry and three renewals, each later than the last
    assert seen == sorted(seen)
    assert swept == []  # no sweep took the money of the running call
    [(state, spent, reserved)] = rows.execute(
        "SELECT h.state, p.spent, p.reserved FROM holds h, budget_periods p"
    ).fetchall()
    assert (state, spent, reserved) == ("settled", 15_000, 0)
    store.close()
    other.close()


def test_a_call_that_blocks_the_event_loop_past_its_ttl_still_keeps_its_hold(
    db: Path, rows: sqlite3.Connection
) -> None:
    store = user_store(db, hold_ttl_s=0.6)  # renewed every 0.2 s, off the event loop
    store.ledger.budgets.create(Budget("team", 10**9))
    other = user_store(db)  # another process's view: its sweep uses the real clock
    swept: list[str] = []

    async def block_the_loop() -> None:
        # a sync node, a slow import: the loop does nothing else for three TTLs
        time.sleep(1.8)  # noqa: ASYNC251 (blocking the loop is the point)
        swept.extend(other.ledger.sweep().expired)

    one_call().invoke({}, **options(store, Scripted(Usage(10, 5), block_the_loop)))
    assert swept == []  # renewed meanwhile: nothing for the sweep to take
    [(created, expires, state)] = rows.execute(
        "SELECT created_at, expires_at, state FROM holds"
    ).fetchall()
    assert state == "settled"
    assert dt.datetime.fromisoformat(expires) - dt.datetime.fromisoformat(created) > dt.timedelta(
        seconds=1.8
    )
    store.close()
    other.close()


def test_a_short_call_never_writes_a_renewal(db: Path, rows: sqlite3.Connection) -> None:
    store = user_store(db)  # a 600 s TTL: renewed every 200 s
    store.ledger.budgets.create(Budget("team", 10**9))
    for _ in range(3):
        one_call().invoke({}, **options(store, Scripted(Usage(10, 5))))
    holds = rows.execute("SELECT created_at, expires_at, holder FROM holds").fetchall()
    assert len(holds) == 3
    for created, expires, holder in holds:
        lived = dt.datetime.fromisoformat(expires) - dt.datetime.fromisoformat(created)
        assert lived == dt.timedelta(seconds=600)  # as reserved: never renewed
        assert holder  # who took it, for people reading the rows
    store.close()


def test_the_renewal_thread_ends_with_the_run(db: Path) -> None:
    store = user_store(db)
    store.ledger.budgets.create(Budget("team", 10**9))

    def renewing() -> list[threading.Thread]:
        return [t for t in threading.enumerate() if t.name == "orca-hold-renewal"]

    during: list[int] = []

    async def look() -> None:
        during.append(len(renewing()))

    one_call().invoke({}, **options(store, Scripted(Usage(10, 5), look)))
    assert during == [1]  # one thread waits for the call's first renewal

    for _ in range(200):  # the closed meter woke it: it ends at once (at most 10 s here)
        if not renewing():
            break
        time.sleep(0.05)
    assert renewing() == []
    store.close()


def test_usage_above_the_reservation_is_recorded_flagged_and_warned(
    db: Path, rows: sqlite3.Connection
) -> None:
    store = user_store(db)
    store.ledger.budgets.create(Budget("team", 10**9))
    huge = Usage(100_000, 60)  # far above what "hi" with max_tokens=50 can be
    events = list(one_call().stream({}, mode="events", **options(store, Scripted(huge))))
    [warning] = [e for e in events if e.type == "warning" and e.code == "usage_over_bound"]
    assert "100000 input and 60 output tokens" in warning.message
    [(cost, over_bound)] = rows.execute("SELECT cost_nano_usd, over_bound FROM usage").fetchall()
    assert (cost, over_bound) == (100_060_000, 1)  # the true cost, never capped
    [(spent, overdraft)] = rows.execute("SELECT spent, overdraft FROM budget_periods").fetchall()
    assert (spent, overdraft) == (100_060_000, 0)  # the budget had room: no overdraft
    assert not [e for e in events if e.type == "warning" and e.code == "budget_overdrawn"]
    store.close()


def test_usage_the_budget_cannot_afford_overdraws_it_and_later_calls_are_refused(
    db: Path, rows: sqlite3.Connection
) -> None:
    store = user_store(db)
    store.ledger.budgets.create(Budget("team", 5_000_000))  # $0.005
    huge = Usage(9_000, 50)  # $0.00905: above the reservation and the budget
    events = list(one_call().stream({}, mode="events", **options(store, Scripted(huge))))
    [overdrawn] = [e for e in events if e.type == "warning" and e.code == "budget_overdrawn"]
    assert "'team' is overdrawn" in overdrawn.message
    assert "orca budget raise team" in overdrawn.message
    status = store.ledger.budgets.status("team")
    assert (status.spent, status.overdrawn) == (9_050_000, True)
    assert status.overdraft == status.spent - status.limit

    with pytest.raises(BudgetExceeded) as info:
        one_call().invoke({}, **options(store, Scripted(Usage(1, 1))))
    assert info.value.overdrawn
    assert "orca budget raise team --to" in str(info.value)

    store.ledger.budgets.raise_("team", to=20_000_000)
    assert one_call().invoke({}, **options(store, Scripted(Usage(1, 1))))["answers"] == ["ok"]
    store.close()
