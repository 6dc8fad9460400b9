"""The budget ledger: reserve -> record -> settle / release, expired holds swept, usage
reports, which budgets cover a call, and a property test of the money invariants."""

from __future__ import annotations

import datetime as dt
import sqlite3
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from orca.cost import (
    Budget,
    BudgetStatus,
    CallContext,
    Charge,
    Hold,
)
from orca.errors import BudgetExceeded, InvalidInputError, UnknownBudgetError
from orca.store import LedgerRepository, SqliteStore, user_store

UTC = dt.UTC
START = dt.datetime(2026, 5, 13, 9, 0, tzinfo=UTC)
TTL = 60.0


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime = START) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clock: Clock) -> Iterator[SqliteStore]:
    monkeypatch.setenv("ORCA_HOME", str(tmp_path / "home"))
    with user_store(clock=clock, hold_ttl_s=TTL) as opened:
        yield opened


@pytest.fixture
def conn(store: SqliteStore) -> Iterator[sqlite3.Connection]:
    """A plain connection to the same file, to look at the rows."""
    db = sqlite3.connect(store.path, isolation_level=None)
    yield db
    db.close()


@pytest.fixture
def ledger(store: SqliteStore) -> LedgerRepository:
    return store.ledger


def charge(cost: int, *, model: str = "gpt-test", inp: int = 10, out: int = 5) -> Charge:
    return Charge("openai", model, input_tokens=inp, output_tokens=out, cost_nano_usd=cost)


def count(conn: sqlite3.Connection, sql: str, *args: Any) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM {sql}", args).fetchone()[0])


def state(conn: sqlite3.Connection, hold: Hold) -> str:
    return str(conn.execute("SELECT state FROM holds WHERE id = ?", (hold.id,)).fetchone()[0])


def numbers(status: BudgetStatus) -> tuple[int, int, int]:
    return status.limit, status.spent, status.reserved


def standing(ledger: LedgerRepository, name: str) -> tuple[int, int, int]:
    return numbers(ledger.status([ledger.budgets.get(name)])[0])


# -- reserve and BudgetExceeded ------------------------------------------------------------------


def test_reserve_holds_the_ask_and_settle_turns_it_into_spent(
    ledger: LedgerRepository, conn: sqlite3.Connection
) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    hold = ledger.reserve([team], {"usd": 300, "tokens": 99})
    assert len(hold.parts) == 1
    assert hold.parts[0][1] == 300
    assert standing(ledger, "team") == (1000, 0, 300)
    assert state(conn, hold) == "held"
    settled = ledger.settle(hold, charge(120), CallContext(run_id="r1", node="draft"))
    assert not settled.repeated
    assert standing(ledger, "team") == (1000, 120, 0)
    assert state(conn, hold) == "settled"
    row = conn.execute(
        "SELECT id, hold_id, run_id, node, provider, model, input_tokens, output_tokens, "
        "cost_nano_usd, priced, estimated FROM usage"
    ).fetchone()
    assert row == (settled.usage_id, hold.id, "r1", "draft", "openai", "gpt-test", 10, 5, 120, 1, 0)
    assert conn.execute("SELECT usage_id, amount FROM usage_charges").fetchall() == [
        (settled.usage_id, 120)
    ]


def test_budget_exceeded_names_the_budget_and_its_numbers(ledger: LedgerRepository) -> None:
    team = ledger.budgets.create(Budget.usd("team", "1.00"))
    ledger.settle(ledger.reserve([team], {"usd": 400_000_000}), charge(400_000_000))
    ledger.reserve([team], {"usd": 500_000_000})
    with pytest.raises(BudgetExceeded) as info:
        ledger.reserve([team], {"usd": 200_000_000})
    err = info.value
    assert (err.budget, err.unit, err.limit, err.spent, err.reserved, err.asked) == (
        "team",
        "usd",
        1_000_000_000,
        400_000_000,
        500_000_000,
        200_000_000,
    )
    assert "'team'" in str(err)
    assert "$1.000000" in str(err)
    assert "$0.200000" in str(err)
    assert "orca budget raise team" in str(err)
    assert isinstance(err, RuntimeError)


def test_a_rejected_reserve_holds_nothing(
    ledger: LedgerRepository, conn: sqlite3.Connection
) -> None:
    team = ledger.budgets.create(Budget("team", 100))
    with pytest.raises(BudgetExceeded):
        ledger.reserve([team], {"usd": 101})
    # not even the period row was left behind
    assert count(conn, "budget_periods") == 0
    assert count(conn, "holds") == 0
    ledger.reserve([team], {"usd": 60})
    before = standing(ledger, "team")
    for ask in (41, 100, 10**15):
        with pytest.raises(BudgetExceeded):
            ledger.reserve([team], {"usd": ask})
    assert standing(ledger, "team") == before == (100, 0, 60)
    assert count(conn, "holds") == 1
    assert count(conn, "hold_parts") == 1
    ledger.reserve([team], {"usd": 40})  # exactly full is allowed
    assert standing(ledger, "team") == (100, 0, 100)
    with pytest.raises(BudgetExceeded) as info:
        ledger.reserve([team], {"usd": 1})
    assert (info.value.spent, info.value.reserved, info.value.asked) == (0, 100, 1)


def test_reserve_is_all_or_nothing_across_budgets(
    ledger: LedgerRepository, conn: sqlite3.Connection
) -> None:
    big = ledger.budgets.create(Budget("big", 10_000))
    small = ledger.budgets.create(Budget("small", 500, scope="workflow", scope_ref="wf"))
    watch = ledger.budgets.create(
        Budget("watch", 1, scope="run", scope_ref="r", enforcement="warn")
    )
    covering = ledger.applicable(workflow="wf", run="r")
    assert [b.name for b in covering] == ["big", "small", "watch"]
    ledger.reserve(covering, {"usd": 300})
    before = [numbers(s) for s in ledger.status(covering)]
    assert before == [(10_000, 0, 300), (500, 0, 300), (1, 0, 0)]
    with pytest.raises(BudgetExceeded) as info:
        ledger.reserve(covering, {"usd": 250})
    assert info.value.budget == "small"
    assert [numbers(s) for s in ledger.status(covering)] == before
    assert count(conn, "holds") == 1
    assert count(conn, "hold_parts") == 3
    # the one that fits in both is held in both
    hold = ledger.reserve([big, small, watch], {"usd": 200})
    assert sorted(a for _, a in hold.parts) == [0, 200, 200]
    assert [numbers(s) for s in ledger.status(covering)] == [
        (10_000, 0, 500),
        (500, 0, 500),
        (1, 0, 0),
    ]


def test_a_negative_ask_is_refused_and_holds_nothing(
    ledger: LedgerRepository, conn: sqlite3.Connection
) -> None:
    team = ledger.budgets.create(Budget("team", 100))
    with pytest.raises(ValueError, match="negative"):
        ledger.reserve([team], {"usd": -5})
    assert count(conn, "holds") == 0
    assert standing(ledger, "team") == (100, 0, 0)


def test_no_covering_budget_writes_nothing_but_settle_still_logs_usage(
    ledger: LedgerRepository, conn: sqlite3.Connection
) -> None:
    assert ledger.applicable() == []
    hold = ledger.reserve([], {"usd": 10**12})
    assert hold.parts == ()
    assert count(conn, "holds") == 0
    ledger.record(hold, charge(5))
    ledger.release(hold)
    assert count(conn, "holds") == 0
    settled = ledger.settle(hold, charge(5))
    assert conn.execute("SELECT id, cost_nano_usd FROM usage").fetchall() == [(settled.usage_id, 5)]
    assert count(conn, "usage_charges") == 0


# -- settle, release -----------------------------------------------------------------------------


def test_settle_is_idempotent_by_hold_id(
    ledger: LedgerRepository, conn: sqlite3.Connection
) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    hold = ledger.reserve([team], {"usd": 500})
    first = ledger.settle(hold, charge(300))
    second = ledger.settle(hold, charge(300))
    third = ledger.settle(Hold(hold.id), charge(999))  # the id alone is enough
    assert not first.repeated
    assert second.repeated
    assert third.repeated
    assert first.usage_id == second.usage_id == third.usage_id
    assert second.alerts == ()
    assert standing(ledger, "team") == (1000, 300, 0)
    assert count(conn, "usage") == 1
    assert count(conn, "usage_charges") == 1
    # releasing a settled hold gives nothing back twice
    ledger.release(hold)
    assert standing(ledger, "team") == (1000, 300, 0)
    assert state(conn, hold) == "settled"


def test_settle_may_charge_less_or_more_than_it_held(ledger: LedgerRepository) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    ledger.settle(ledger.reserve([team], {"usd": 500}), charge(100))
    assert standing(ledger, "team") == (1000, 100, 0)
    # an answer that cost more than its worst case is still charged in full
    ledger.settle(ledger.reserve([team], {"usd": 100}), charge(250))
    assert standing(ledger, "team") == (1000, 350, 0)


def test_release_gives_the_reservation_back(
    ledger: LedgerRepository, conn: sqlite3.Connection
) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    keep = ledger.reserve([team], {"usd": 200})
    hold = ledger.reserve([team], {"usd": 700})
    assert standing(ledger, "team") == (1000, 0, 900)
    ledger.release(hold)
    assert standing(ledger, "team") == (1000, 0, 200)
    assert state(conn, hold) == "released"
    ledger.release(hold)  # twice gives back nothing more
    assert standing(ledger, "team") == (1000, 0, 200)
    assert state(conn, keep) == "held"
    assert count(conn, "usage") == 0


def test_settling_after_release_charges_without_releasing_twice(
    ledger: LedgerRepository, conn: sqlite3.Connection
) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    other = ledger.reserve([team], {"usd": 100})
    hold = ledger.reserve([team], {"usd": 400})
    ledger.release(hold)
    assert standing(ledger, "team") == (1000, 0, 100)
    settled = ledger.settle(hold, charge(250))  # the answer came after all
    assert not settled.repeated
    assert standing(ledger, "team") == (1000, 250, 100)
    assert state(conn, hold) == "settled"
    ledger.settle(other, charge(100))
    assert standing(ledger, "team") == (1000, 350, 0)
    assert conn.execute("SELECT MIN(reserved) FROM budget_periods").fetchone()[0] == 0


def test_reserved_can_never_go_negative_in_the_database(
    ledger: LedgerRepository, conn: sqlite3.Connection
) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    ledger.reserve([team], {"usd": 10})
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE budget_periods SET reserved = reserved - 11")
    assert standing(ledger, "team") == (1000, 0, 10)


def test_record_keeps_the_charge_on_the_hold(
    ledger: LedgerRepository, conn: sqlite3.Connection
) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    hold = ledger.reserve([team], {"usd": 500})
    ledger.record(hold, charge(321))
    assert state(conn, hold) == "recorded"
    assert standing(ledger, "team") == (1000, 0, 500)
    assert count(conn, "usage") == 0
    ledger.record(hold, charge(999))  # recorded once; later records change nothing
    recorded = conn.execute("SELECT recorded FROM holds").fetchone()[0]
    assert '"cost_nano_usd": 321' in recorded
    ledger.settle(hold, charge(321))
    assert standing(ledger, "team") == (1000, 321, 0)


def test_tokens_budgets_count_input_and_output_tokens(
    ledger: LedgerRepository, conn: sqlite3.Connection
) -> None:
    tokens = ledger.budgets.create(Budget("tokens", 10_000, unit="tokens"))
    usd = ledger.budgets.create(Budget("usd", 10**9, scope="run", scope_ref="r"))
    hold = ledger.reserve([tokens, usd], {"tokens": 4000, "usd": 5000})
    assert {p for p, _ in hold.parts} == {
        r[0] for r in conn.execute("SELECT id FROM budget_periods")
    }
    assert [numbers(s) for s in ledger.status([tokens, usd])] == [
        (10_000, 0, 4000),
        (10**9, 0, 5000),
    ]
    used = Charge(
        "anthropic",
        "claude-test",
        input_tokens=1200,
        output_tokens=800,
        cache_read_tokens=5000,
        cache_write_tokens=300,
        reasoning_tokens=400,
        cost_nano_usd=4321,
    )
    ledger.settle(hold, used)
    assert [numbers(s) for s in ledger.status([tokens, usd])] == [
        (10_000, 2000, 0),
        (10**9, 4321, 0),
    ]
    with pytest.raises(BudgetExceeded) as info:
        ledger.reserve([tokens], {"tokens": 8001, "usd": 1})
    assert (info.value.unit, info.value.spent, info.value.asked) == ("tokens", 2000, 8001)
    assert "8001 tokens" in str(info.value)
    # a tokens budget asked nothing in tokens holds nothing
    ledger.reserve([tokens], {"usd": 10**12})
    assert standing(ledger, "tokens") == (10_000, 2000, 0)


# -- sweep ---------------------------------------------------------------------------------------


def test_sweep_expires_old_holds_and_settles_recorded_ones(
    ledger: LedgerRepository, conn: sqlite3.Connection, clock: Clock
) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    lost = ledger.reserve([team], {"usd": 100}, CallContext(run_id="r1"))
    answered = ledger.reserve([team], {"usd": 200}, CallContext(run_id="r1", node="n", role="w"))
    ledger.record(answered, charge(150, inp=7, out=3))
    clock.advance(seconds=TTL / 2)
    fresh = ledger.reserve([team], {"usd": 300})
    fresh_answered = ledger.reserve([team], {"usd": 50})
    ledger.record(fresh_answered, charge(40))
    assert standing(ledger, "team") == (1000, 0, 650)

    assert ledger.sweep().expired == []  # nothing has expired yet
    clock.advance(seconds=TTL / 2)  # the first two are exactly at their expiry
    swept = ledger.sweep()
    assert swept.expired == [lost.id]
    assert swept.settled == [answered.id]
    assert (state(conn, lost), state(conn, answered)) == ("expired", "settled")
    assert (state(conn, fresh), state(conn, fresh_answered)) == ("held", "recorded")
    assert standing(ledger, "team") == (1000, 150, 350)
    row = conn.execute(
        "SELECT hold_id, run_id, node, role, input_tokens, output_tokens, cost_nano_usd, "
        "created_at FROM usage"
    ).fetchone()
    assert row == (answered.id, "r1", "n", "w", 7, 3, 150, clock.now.isoformat())

    again = ledger.sweep()
    assert (again.expired, again.settled) == ([], [])
    assert standing(ledger, "team") == (1000, 150, 350)
    assert count(conn, "usage") == 1

    clock.advance(seconds=TTL)
    swept = ledger.sweep()
    assert (swept.expired, swept.settled) == ([fresh.id], [fresh_answered.id])
    assert standing(ledger, "team") == (1000, 190, 0)
    assert count(conn, "usage") == 2
    # the process that was thought dead settles late: charged once, and only once
    late = ledger.settle(answered, charge(150))
    assert late.repeated
    assert standing(ledger, "team") == (1000, 190, 0)
    assert count(conn, "usage") == 2


def test_a_hold_expired_by_sweep_can_still_be_settled_once(
    ledger: LedgerRepository, conn: sqlite3.Connection, clock: Clock
) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    slow = ledger.reserve([team], {"usd": 400})
    clock.advance(seconds=TTL + 1)
    assert ledger.sweep().expired == [slow.id]
    assert standing(ledger, "team") == (1000, 0, 0)
    ledger.settle(slow, charge(300))
    ledger.settle(slow, charge(300))
    assert standing(ledger, "team") == (1000, 300, 0)
    assert count(conn, "usage") == 1


# -- usage reports -------------------------------------------------------------------------------


def _spend(
    ledger: LedgerRepository, cost: int, context: CallContext, model: str = "gpt-test"
) -> None:
    ledger.settle(ledger.reserve([], {}), charge(cost, model=model), context)


def test_usage_report_groups_by_each_key(
    ledger: LedgerRepository, conn: sqlite3.Connection, clock: Clock, store: SqliteStore
) -> None:
    _spend(ledger, 100, CallContext(run_id="r1", node="plan", role="planner"), "big")
    _spend(ledger, 10, CallContext(run_id="r1", node="work", role="worker"), "small")
    clock.advance(days=1)
    _spend(ledger, 20, CallContext(run_id="r2", node="work", role="worker"), "small")
    _spend(ledger, 1, CallContext(workflow="wf", session="s1"), "small")
    conn.execute(
        "INSERT INTO usage (id, created_at, provider, model, input_tokens, cache_read_tokens, "
        "cache_write_tokens, output_tokens, reasoning_tokens, cost_nano_usd, priced, estimated) "
        "VALUES ('x', ?, 'local', 'llama', 3, 0, 0, 4, 2, 0, 0, 1)",
        (clock.now.isoformat(),),
    )

    by_model = {r.key: (r.calls, r.cost_nano_usd) for r in store.usage.report("model")}
    assert by_model == {"openai/big": (1, 100), "openai/small": (3, 31), "local/llama": (1, 0)}
    assert [r.key for r in store.usage.report("model")] == [
        "openai/big",
        "openai/small",
        "local/llama",
    ]
    assert [(r.key, r.calls, r.cost_nano_usd) for r in store.usage.report("node")] == [
        ("plan", 1, 100),
        ("work", 2, 30),
        ("-", 2, 1),
    ]
    assert [(r.key, r.cost_nano_usd) for r in store.usage.report("role")] == [
        ("planner", 100),
        ("worker", 30),
        ("-", 1),
    ]
    assert [(r.key, r.calls, r.cost_nano_usd) for r in store.usage.report("day")] == [
        ("2026-05-13", 2, 110),
        ("2026-05-14", 3, 21),
    ]
    assert [(r.key, r.cost_nano_usd) for r in store.usage.report("run")] == [
        ("r1", 110),
        ("r2", 20),
        ("-", 1),
    ]
    assert [(r.key, r.cost_nano_usd) for r in store.usage.report("workflow")] == [
        ("-", 130),
        ("wf", 1),
    ]
    assert [(r.key, r.calls) for r in store.usage.report("session")] == [("-", 4), ("s1", 1)]
    llama = next(r for r in store.usage.report("model") if r.key == "local/llama")
    assert llama.as_dict() == {
        "key": "local/llama",
        "calls": 1,
        "input_tokens": 3,
        "output_tokens": 4,
        "reasoning_tokens": 2,
        "cost_nano_usd": 0,
        "unpriced_calls": 1,
        "estimated_calls": 1,
    }


def test_usage_report_filters_by_time_and_run(
    ledger: LedgerRepository, clock: Clock, store: SqliteStore
) -> None:
    _spend(ledger, 1, CallContext(run_id="r1"))
    clock.advance(hours=1)
    middle = clock.now
    _spend(ledger, 10, CallContext(run_id="r1"))
    clock.advance(hours=1)
    _spend(ledger, 100, CallContext(run_id="r2"))

    def total(**kwargs: Any) -> int:
        return sum(r.cost_nano_usd for r in store.usage.report("run", **kwargs))

    assert total() == 111
    assert total(since=middle) == 110  # since is inclusive
    assert total(until=middle) == 1  # until is exclusive
    assert total(since=middle, until=middle + dt.timedelta(minutes=1)) == 10
    assert total(since=START + dt.timedelta(days=1)) == 0
    assert total(run_id="r1") == 11
    assert total(run_id="r1", since=middle) == 10
    assert total(run_id="nope") == 0
    assert store.usage.report("run", run_id="nope") == []
    # an aware time in another zone is the same instant
    paris = middle.astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert total(since=paris) == 110


def test_usage_report_refuses_a_bad_grouping_and_naive_times(store: SqliteStore) -> None:
    with pytest.raises(InvalidInputError, match="cannot group usage by 'colour'"):
        store.usage.report("colour")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="time zone"):
        store.usage.report("day", since=dt.datetime(2026, 1, 1))
    with pytest.raises(InvalidInputError, match="time zone"):
        store.usage.report("day", until=dt.datetime(2026, 1, 1))
    assert store.usage.report("day") == []


# -- which budgets cover a call ------------------------------------------------------------------


def test_applicable_is_the_active_budget_plus_every_scoped_one(ledger: LedgerRepository) -> None:
    b = ledger.budgets
    assert ledger.applicable(workflow="wf", run="r", session="s") == []
    b.create(Budget("main", 100))
    b.create(Budget("other", 100))
    b.create(Budget("wf-cap", 100, scope="workflow", scope_ref="wf"))
    b.create(Budget("wf-tokens", 100, unit="tokens", scope="workflow", scope_ref="wf"))
    b.create(Budget("other-wf", 100, scope="workflow", scope_ref="elsewhere"))
    b.create(Budget("run-cap", 100, scope="run", scope_ref="r"))
    b.create(Budget("session-cap", 100, scope="session", scope_ref="s"))

    def names(**kwargs: Any) -> list[str]:
        return [x.name for x in ledger.applicable(**kwargs)]

    assert names() == ["main"]
    assert names(workflow="wf") == ["main", "wf-cap", "wf-tokens"]
    assert names(workflow="wf", run="r", session="s") == [
        "main",
        "wf-cap",
        "wf-tokens",
        "run-cap",
        "session-cap",
    ]
    assert names(run="other") == ["main"]
    # a named budget replaces the active one
    assert names(budget="other", run="r") == ["other", "run-cap"]
    # naming a scoped budget does not take it twice
    assert names(budget="run-cap", run="r") == ["run-cap"]
    b.use("other")
    assert names(session="s") == ["other", "session-cap"]
    with pytest.raises(UnknownBudgetError) as info:
        ledger.applicable(budget="mian")
    assert "did you mean 'main'?" in str(info.value)


# -- a property: the money always adds up --------------------------------------------------------

BLOCK_LIMIT = 600
KINDS = [
    *["reserve"] * 5,
    *["settle"] * 2,
    "release",
    "record_and_crash",
    "expire_all",
    "late_settle",
    "next_day",
]

# (what, which open hold / how much to reserve, what fraction of its ask an answer costs)
operations = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, 400), st.floats(0, 1)),
    min_size=5,
    max_size=40,
)


@dataclass
class Model:
    """What the test knows: open holds and their asks, and every settlement made."""

    open: dict[str, tuple[Hold, int]] = field(default_factory=dict)
    done: list[Hold] = field(default_factory=list)
    settlements: int = 0
    refused: int = 0


def _check_block_invariant(conn: sqlite3.Connection) -> None:
    for amount, spent, reserved in conn.execute(
        "SELECT p.amount, p.spent, p.reserved FROM budget_periods p "
        "JOIN budgets b ON b.id = p.budget_id WHERE b.enforcement = 'block'"
    ):
        assert reserved >= 0
        assert spent + reserved <= amount


def _held(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COALESCE(SUM(reserved), 0) FROM budget_periods").fetchone()[0])


def _try_reserve(
    ledger: LedgerRepository, budgets: list[Budget], ask: int
) -> Hold | BudgetExceeded:
    try:
        return ledger.reserve(budgets, {"usd": ask})
    except BudgetExceeded as exc:
        return exc


def _pick(model: Model, index: int) -> tuple[Hold, int] | None:
    if not model.open:
        return None
    return list(model.open.values())[index % len(model.open)]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(ops=operations)
def test_money_always_adds_up(ops: list[tuple[Any, ...]]) -> None:
    clock = Clock()
    with (
        tempfile.TemporaryDirectory() as tmp,
        user_store(Path(tmp) / "orca.db", clock=clock, hold_ttl_s=TTL) as store,
    ):
        conn = sqlite3.connect(store.path, isolation_level=None)
        try:
            _run_operations(store.ledger, clock, conn, ops)
        finally:
            conn.close()


def _run_operations(
    ledger: LedgerRepository, clock: Clock, conn: sqlite3.Connection, ops: list[tuple[Any, ...]]
) -> None:
    block = ledger.budgets.create(Budget("block", BLOCK_LIMIT))
    warn = ledger.budgets.create(
        Budget(
            "warn",
            500,
            kind="recurring",
            period="daily",
            enforcement="warn",
            thresholds=(50, 80, 100),
            scope="workflow",
            scope_ref="wf",
        )
    )
    covering = [block, warn]
    model = Model()
    fired: dict[int, list[int]] = {}

    def settle(hold: Hold, cost: int) -> None:
        result = ledger.settle(hold, charge(cost))
        assert not result.repeated
        for alert in result.alerts:
            if alert.budget == "warn":
                period = hold.parts[1][0]  # parts follow the order of the budgets
                assert alert.threshold_pct not in fired.setdefault(period, [])
                fired[period].append(alert.threshold_pct)
                event("warn alert")
        model.settlements += 1
        model.done.append(hold)
        del model.open[hold.id]

    for op in ops:
        kind = op[0]
        if kind == "reserve":
            before = _held(conn)
            got = _try_reserve(ledger, covering, op[1])
            if isinstance(got, BudgetExceeded):
                assert got.budget == "block"
                assert got.spent + got.reserved + op[1] > BLOCK_LIMIT
                assert _held(conn) == before
                model.refused += 1
                event("refused")
            else:
                model.open[got.id] = (got, op[1])
                assert _held(conn) == before + op[1]
        elif kind == "settle" and (picked := _pick(model, op[1])):
            hold, asked = picked
            settle(hold, int(asked * op[2]))
        elif kind == "release" and (picked := _pick(model, op[1])):
            hold, asked = picked
            before = _held(conn)
            ledger.release(hold)
            assert _held(conn) == before - asked
            del model.open[hold.id]
        elif kind == "record_and_crash" and (picked := _pick(model, op[1])):
            # the answer is in and recorded, then the process dies before settling:
            # recovery (the clock past the TTL, then sweep) settles it from the record
            hold, asked = picked
            cost = int(asked * op[2])
            ledger.record(hold, charge(cost))
            clock.advance(seconds=TTL)
            swept = ledger.sweep()
            assert hold.id in swept.settled
            event("crashed after record, settled by sweep")
            assert set(swept.expired) | set(swept.settled) == set(model.open)
            model.settlements += len(swept.settled)
            model.done += [h for h, _ in model.open.values() if h.id in swept.settled]
            model.open.clear()
            assert _held(conn) == 0
        elif kind == "expire_all":
            clock.advance(seconds=TTL)
            swept = ledger.sweep()
            assert swept.settled == []
            assert sorted(swept.expired) == sorted(model.open)
            event(f"expired {'some' if swept.expired else 'none'}")
            model.open.clear()
            assert _held(conn) == 0
        elif kind == "late_settle" and model.done:
            hold = model.done[op[1] % len(model.done)]
            before_rows = conn.execute("SELECT spent, reserved FROM budget_periods").fetchall()
            assert ledger.settle(hold, charge(1)).repeated
            event("late settle")
            after_rows = conn.execute("SELECT spent, reserved FROM budget_periods").fetchall()
            assert before_rows == after_rows
        elif kind == "next_day":
            clock.advance(days=1)
        _check_block_invariant(conn)

    # settle what is still open, and check that everything adds up
    for hold, asked in list(model.open.values()):
        settle(hold, asked)
    _check_block_invariant(conn)
    assert _held(conn) == 0
    assert count(conn, "holds WHERE state IN ('held', 'recorded')") == 0
    mismatched = conn.execute(
        "SELECT p.id, p.spent, COALESCE(SUM(c.amount), 0) FROM budget_periods p "
        "LEFT JOIN usage_charges c ON c.period_id = p.id GROUP BY p.id "
        "HAVING p.spent != COALESCE(SUM(c.amount), 0)"
    ).fetchall()
    assert mismatched == []
    assert count(conn, "usage") == model.settlements
    assert count(conn, "holds WHERE state = 'settled'") == model.settlements
    # each usage row charged both budgets
    assert count(conn, "usage_charges") == 2 * model.settlements
    total = conn.execute("SELECT COALESCE(SUM(cost_nano_usd), 0) FROM usage").fetchone()[0]
    spent_block = conn.execute(
        "SELECT COALESCE(SUM(spent), 0) FROM budget_periods WHERE budget_id = ?", (block.id,)
    ).fetchone()[0]
    spent_warn = conn.execute(
        "SELECT COALESCE(SUM(spent), 0) FROM budget_periods WHERE budget_id = ?", (warn.id,)
    ).fetchone()[0]
    assert total == spent_block == spent_warn
    assert spent_block <= BLOCK_LIMIT
