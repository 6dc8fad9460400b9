"""Budgets: validation of every setting, CRUD over the user database with exactly one
active budget, calendar periods (month ends, leap years, DST) and threshold alerts."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orca.cost import Budget, Charge, period_bounds
from orca.errors import BudgetExceeded, InvalidBudgetError, UnknownBudgetError
from orca.store import BudgetRepository, LedgerRepository, user_store
from orca.store.sqlite import SqliteLedger
from orca.store.sqlite._budgets import CREDIT_PERIOD, period_key

UTC = dt.UTC
NANO = 1_000_000_000


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "orca-home"
    monkeypatch.setenv("ORCA_HOME", str(where))
    return where


@pytest.fixture
def conn(home: Path) -> Iterator[sqlite3.Connection]:
    """A plain connection to the user database, to look at the rows."""
    user_store().close()
    db = sqlite3.connect(home / "orca.db", isolation_level=None)
    yield db
    db.close()


def ledger_at(
    conn: sqlite3.Connection, clock: Callable[[], dt.datetime] | None = None
) -> LedgerRepository:
    """A ledger on the file ``conn`` looks at (with ``clock``, else the real one)."""
    path = conn.execute("PRAGMA database_list").fetchone()[2]
    store = user_store(path, clock=clock) if clock is not None else user_store(path)
    return store.ledger


@pytest.fixture
def budgets(conn: sqlite3.Connection) -> BudgetRepository:
    ledger = ledger_at(conn)
    assert isinstance(ledger, SqliteLedger)
    return ledger.budgets


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


def count(conn: sqlite3.Connection, table: str) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def charge(cost: int) -> Charge:
    return Charge("openai", "gpt-test", input_tokens=10, output_tokens=5, cost_nano_usd=cost)


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "key"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": -5}, "amount"),
        ({"amount": 1.5}, "amount"),
        ({"amount": 10.0}, "amount"),
        ({"amount": True}, "amount"),
        ({"amount": "100"}, "amount"),
        ({"kind": "recurring"}, "period"),
        ({"period": "monthly"}, "period"),
        ({"kind": "recurring", "period": "hourly"}, "period"),
        ({"kind": "forever"}, "kind"),
        ({"enforcement": "scream"}, "enforcement"),
        ({"unit": "eur"}, "unit"),
        ({"scope": "team"}, "scope"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": ""}, "timezone"),
        ({"timezone": "../etc/passwd"}, "timezone"),
        ({"thresholds": (0,)}, "thresholds"),
        ({"thresholds": (50, 101)}, "thresholds"),
        ({"thresholds": (-10,)}, "thresholds"),
        ({"thresholds": (50.0,)}, "thresholds"),
        ({"thresholds": ("80",)}, "thresholds"),
        ({"thresholds": (True,)}, "thresholds"),
        ({"scope": "global", "scope_ref": "flow"}, "scope_ref"),
        ({"scope": "workflow"}, "scope_ref"),
        ({"scope": "run", "scope_ref": None}, "scope_ref"),
    ],
)
def test_a_bad_setting_is_refused_naming_its_field(fields: dict[str, Any], key: str) -> None:
    settings: dict[str, Any] = {"name": "team", "amount": 1000} | fields
    with pytest.raises(InvalidBudgetError) as info:
        Budget(**settings)
    assert info.value.key == key
    assert "Fix:" in str(info.value)


@pytest.mark.parametrize(
    "name", ["", "-starts-with-dash", ".hidden", "has space", "slash/name", "x" * 129, 42, None]
)
def test_a_bad_name_is_refused(name: Any) -> None:
    with pytest.raises(InvalidBudgetError) as info:
        Budget(name, 1000)
    assert info.value.key == "name"


@pytest.mark.parametrize("name", ["a", "team", "Team_2.prod:eu-west", "9lives", "x" * 128])
def test_a_good_name_is_accepted(name: str) -> None:
    assert Budget(name, 1).name == name


@pytest.mark.parametrize("dollars", [1.5, 0.1, "abc", "NaN", "Infinity", "", "0", "-1", "1e-12"])
def test_usd_refuses_floats_and_non_numbers_and_nothing(dollars: Any) -> None:
    with pytest.raises(InvalidBudgetError) as info:
        Budget.usd("team", dollars)
    assert info.value.key == "amount"


def test_usd_refuses_a_bool() -> None:
    with pytest.raises(InvalidBudgetError) as info:
        Budget.usd("team", True)
    assert info.value.key == "amount"


def test_usd_builds_exact_nano_usd_from_decimals_ints_and_strings() -> None:
    assert Budget.usd("a", "5.00").amount == 5 * NANO
    assert Budget.usd("b", 3).amount == 3 * NANO
    assert Budget.usd("c", Decimal("0.000000001")).amount == 1
    assert Budget.usd("d", "0.1").amount + Budget.usd("e", "0.2").amount == (
        Budget.usd("f", "0.3").amount
    )
    monthly = Budget.usd("g", "20", kind="recurring", period="monthly", enforcement="warn")
    assert (monthly.unit, monthly.kind, monthly.period, monthly.enforcement) == (
        "usd",
        "recurring",
        "monthly",
        "warn",
    )


def test_thresholds_are_sorted_and_deduplicated() -> None:
    assert Budget("team", 10, thresholds=(100, 50, 80, 50)).thresholds == (50, 80, 100)
    assert Budget("team", 10, thresholds=()).thresholds == ()


def test_a_tokens_budget_and_scoped_budgets_are_valid() -> None:
    tokens = Budget("tok", 50_000, unit="tokens")
    assert tokens.show(50_000) == "50,000 tokens"
    assert Budget.usd("usd", "1.5").show(1_500_000_000) == "$1.500000"
    for scope in ("workflow", "run", "session"):
        assert Budget("s", 5, scope=scope, scope_ref="ref").scope_ref == "ref"


# -- CRUD ----------------------------------------------------------------------------------------


def test_create_stores_every_field_and_reads_it_back(budgets: BudgetRepository) -> None:
    wanted = Budget.usd(
        "monthly-eu",
        "12.5",
        kind="recurring",
        period="weekly",
        enforcement="warn",
        thresholds=(90, 50),
        timezone="Europe/Paris",
    )
    stored = budgets.create(wanted)
    assert stored.id
    assert stored == Budget(
        "monthly-eu",
        12_500_000_000,
        "usd",
        "recurring",
        "weekly",
        "warn",
        (50, 90),
        "Europe/Paris",
        "global",
        None,
        True,
        stored.id,
    )
    assert budgets.get("monthly-eu") == stored
    assert budgets.names() == ["monthly-eu"]
    assert budgets.all() == [stored]


def test_create_refuses_a_duplicate_name(
    budgets: BudgetRepository, conn: sqlite3.Connection
) -> None:
    budgets.create(Budget("team", 100))
    with pytest.raises(InvalidBudgetError) as info:
        budgets.create(Budget("team", 999, unit="tokens"))
    assert info.value.key == "name"
    assert "team" in str(info.value)
    assert budgets.get("team").amount == 100
    assert count(conn, "budgets") == 1


@pytest.mark.parametrize("action", ["get", "use", "raise_", "delete", "status"])
def test_an_unknown_name_is_refused_suggesting_the_closest(
    budgets: BudgetRepository, action: str
) -> None:
    budgets.create(Budget("research", 100))
    budgets.create(Budget("production", 100))
    call: dict[str, Any] = {
        "get": lambda: budgets.get("reserch"),
        "use": lambda: budgets.use("reserch"),
        "raise_": lambda: budgets.raise_("reserch", by=10),
        "delete": lambda: budgets.delete("reserch"),
        "status": lambda: budgets.status("reserch"),
    }
    with pytest.raises(UnknownBudgetError) as info:
        call[action]()
    assert info.value.key == "budget"
    assert info.value.name == "reserch"
    assert "did you mean 'research'?" in str(info.value)
    assert isinstance(info.value, LookupError)
    assert budgets.names() == ["production", "research"]


def test_an_unknown_name_with_no_budgets_says_there_are_none(budgets: BudgetRepository) -> None:
    with pytest.raises(UnknownBudgetError) as info:
        budgets.get("anything")
    assert "none yet" in str(info.value)
    assert "did you mean" not in str(info.value)


def test_a_scoped_budget_cannot_be_made_active(budgets: BudgetRepository) -> None:
    budgets.create(Budget("main", 100))
    budgets.create(Budget("flow", 100, scope="workflow", scope_ref="nightly"))
    with pytest.raises(InvalidBudgetError) as info:
        budgets.use("flow")
    assert info.value.key == "name"
    with pytest.raises(InvalidBudgetError) as info:
        budgets.create(Budget("flow2", 100, scope="session", scope_ref="s1"), activate=True)
    assert info.value.key == "active"
    assert budgets.names() == ["flow", "main"]
    active = budgets.active()
    assert active is not None
    assert active.name == "main"
    assert not budgets.get("flow").active


def test_raise_needs_exactly_one_of_by_and_to(budgets: BudgetRepository) -> None:
    budgets.create(Budget("team", 100))
    for kwargs in ({}, {"by": 5, "to": 200}):
        with pytest.raises(InvalidBudgetError) as info:
            budgets.raise_("team", **kwargs)
        assert info.value.key == "amount"
    assert budgets.get("team").amount == 100


@pytest.mark.parametrize("kwargs", [{"to": 0}, {"to": -1}, {"by": -100}, {"by": -250}])
def test_raise_refuses_a_total_at_or_below_zero(
    budgets: BudgetRepository, kwargs: dict[str, int]
) -> None:
    budgets.create(Budget("team", 100))
    with pytest.raises(InvalidBudgetError) as info:
        budgets.raise_("team", **kwargs)
    assert info.value.key == "amount"
    assert budgets.get("team").amount == 100


def test_raise_refuses_a_bool_total(budgets: BudgetRepository) -> None:
    budgets.create(Budget("team", 100))
    with pytest.raises(InvalidBudgetError) as info:
        budgets.raise_("team", to=True)
    assert info.value.key == "amount"
    with pytest.raises(InvalidBudgetError):
        budgets.raise_("team", by=1.5)  # type: ignore[arg-type]
    assert budgets.get("team").amount == 100


def test_raise_refuses_a_bool_step(budgets: BudgetRepository) -> None:
    budgets.create(Budget("team", 100))
    with pytest.raises(InvalidBudgetError):
        budgets.raise_("team", by=True)
    assert budgets.get("team").amount == 100


def test_raise_by_and_to_change_the_amount(budgets: BudgetRepository) -> None:
    budgets.create(Budget("team", 100))
    assert budgets.raise_("team", by=50).amount == 150
    assert budgets.raise_("team", by=-40).amount == 110
    assert budgets.raise_("team", to=7).amount == 7
    assert budgets.get("team").amount == 7


# -- exactly one active budget -------------------------------------------------------------------


def test_the_first_global_budget_becomes_active(budgets: BudgetRepository) -> None:
    assert budgets.active() is None
    budgets.create(Budget("scoped", 100, scope="workflow", scope_ref="wf"))
    assert budgets.active() is None
    first = budgets.create(Budget("first", 100))
    second = budgets.create(Budget("second", 100))
    assert first.active
    assert not second.active
    active = budgets.active()
    assert active is not None
    assert active.name == "first"


def test_use_switches_the_one_active_budget(
    budgets: BudgetRepository, conn: sqlite3.Connection
) -> None:
    budgets.create(Budget("a", 100))
    budgets.create(Budget("b", 100))
    assert budgets.use("b").active
    assert [x.name for x in budgets.all() if x.active] == ["b"]
    assert budgets.create(Budget("c", 100), activate=True).active
    assert [x.name for x in budgets.all() if x.active] == ["c"]
    budgets.use("a")
    assert [x.name for x in budgets.all() if x.active] == ["a"]
    assert count(conn, "budgets WHERE active = 1") == 1


def test_the_database_refuses_a_second_active_budget(
    budgets: BudgetRepository, conn: sqlite3.Connection
) -> None:
    budgets.create(Budget("a", 100))
    budgets.create(Budget("b", 100))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("UPDATE budgets SET active = 1 WHERE name = 'b'")
    assert [x.name for x in budgets.all() if x.active] == ["a"]


def test_the_database_refuses_rows_the_model_would_refuse(
    budgets: BudgetRepository, conn: sqlite3.Connection
) -> None:
    budgets.create(Budget("a", 100))
    for sql in (
        "UPDATE budgets SET amount = 0",
        "UPDATE budgets SET kind = 'recurring'",  # a recurring budget without a period
        "UPDATE budgets SET scope = 'workflow'",  # scoped without scope_ref
        "UPDATE budgets SET enforcement = 'maybe'",
    ):
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(sql)
    stored = budgets.get("a")
    assert (stored.amount, stored.kind, stored.scope, stored.enforcement) == (
        100,
        "credit",
        "global",
        "block",
    )


# -- raise and delete against the ledger ---------------------------------------------------------


def test_raise_changes_the_limit_of_the_period_in_force(conn: sqlite3.Connection) -> None:
    ledger = ledger_at(conn)
    team = ledger.budgets.create(Budget("team", 1000))
    ledger.settle(ledger.reserve([team], {"usd": 600}), charge(600))
    assert ledger.budgets.status("team").limit == 1000
    with pytest.raises(BudgetExceeded):
        ledger.reserve([team], {"usd": 500})
    ledger.budgets.raise_("team", by=500)
    status = ledger.budgets.status("team")
    assert (status.limit, status.spent, status.reserved, status.remaining) == (1500, 600, 0, 900)
    team = ledger.budgets.get("team")
    hold = ledger.reserve([team], {"usd": 500})
    assert ledger.budgets.status("team").reserved == 500
    ledger.release(hold)
    ledger.budgets.raise_("team", to=700)
    status = ledger.budgets.status("team")
    assert (status.limit, status.spent, status.remaining) == (700, 600, 100)


def test_raise_of_a_recurring_budget_changes_this_period_not_past_ones(
    conn: sqlite3.Connection,
) -> None:
    past = Clock(utc("2020-03-15T12:00:00"))
    old = ledger_at(conn, clock=past)
    monthly = old.budgets.create(Budget("monthly", 1000, kind="recurring", period="monthly"))
    old.settle(old.reserve([monthly], {"usd": 400}), charge(400))
    now = ledger_at(conn)  # the real clock: this month
    now.settle(now.reserve([monthly], {"usd": 300}), charge(300))
    now.budgets.raise_("monthly", to=5000)
    assert now.status([now.budgets.get("monthly")])[0].limit == 5000
    assert now.budgets.status("monthly").spent == 300
    past_row = old.budgets.status("monthly", at=past.now)
    assert (past_row.limit, past_row.spent) == (1000, 400)


def test_delete_takes_the_periods_and_keeps_the_usage(conn: sqlite3.Connection) -> None:
    ledger = ledger_at(conn)
    team = ledger.budgets.create(Budget("team", 1000))
    other = ledger.budgets.create(Budget("other", 1000, scope="run", scope_ref="r1"))
    first = ledger.settle(ledger.reserve([team, other], {"usd": 100}), charge(100))
    ledger.reserve([team], {"usd": 50})  # still held when the budget goes
    assert count(conn, "budget_periods") == 2
    ledger.budgets.delete("team")
    assert ledger.budgets.names() == ["other"]
    assert ledger.budgets.active() is None
    assert count(conn, "budget_periods") == 1
    assert count(conn, "hold_parts") == 1  # only the part in 'other'
    assert conn.execute("SELECT amount FROM usage_charges").fetchall() == [(100,)]
    assert conn.execute("SELECT id, cost_nano_usd FROM usage").fetchall() == [(first.usage_id, 100)]
    with pytest.raises(UnknownBudgetError):
        ledger.budgets.get("team")
    # the name is free again, starting from nothing
    again = ledger.budgets.create(Budget("team", 1000))
    assert again.active
    assert ledger.budgets.status("team").spent == 0


# -- calendar periods ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("period", "at", "start", "end"),
    [
        ("daily", "2026-05-13T15:30:00", "2026-05-13", "2026-05-14"),
        ("weekly", "2026-05-13T15:30:00", "2026-05-11", "2026-05-18"),  # a Wednesday
        ("weekly", "2026-05-11T00:00:00", "2026-05-11", "2026-05-18"),  # Monday midnight
        ("weekly", "2026-05-17T23:59:59", "2026-05-11", "2026-05-18"),  # Sunday night
        ("weekly", "2026-12-30T08:00:00", "2026-12-28", "2027-01-04"),  # across a new year
        ("monthly", "2026-05-13T15:30:00", "2026-05-01", "2026-06-01"),
        ("daily", "2026-01-31T23:59:59.999999", "2026-01-31", "2026-02-01"),
        ("daily", "2026-02-01T00:00:00", "2026-02-01", "2026-02-02"),
        ("monthly", "2026-01-31T23:59:59", "2026-01-01", "2026-02-01"),
        ("monthly", "2026-02-01T00:00:00", "2026-02-01", "2026-03-01"),
        ("daily", "2026-12-31T23:00:00", "2026-12-31", "2027-01-01"),
        ("daily", "2027-01-01T00:00:00", "2027-01-01", "2027-01-02"),
        ("monthly", "2026-12-31T23:59:59", "2026-12-01", "2027-01-01"),
        ("monthly", "2027-01-01T00:00:00", "2027-01-01", "2027-02-01"),
        ("monthly", "2028-02-29T12:00:00", "2028-02-01", "2028-03-01"),  # leap year
        ("daily", "2028-02-29T12:00:00", "2028-02-29", "2028-03-01"),
        ("daily", "2028-02-28T12:00:00", "2028-02-28", "2028-02-29"),
        ("monthly", "2027-02-28T12:00:00", "2027-02-01", "2027-03-01"),
        ("daily", "2027-02-28T12:00:00", "2027-02-28", "2027-03-01"),
        ("monthly", "2026-07-31T12:00:00", "2026-07-01", "2026-08-01"),
        ("monthly", "2026-04-30T12:00:00", "2026-04-01", "2026-05-01"),
    ],
)
def test_utc_periods_are_calendar_days_weeks_from_monday_and_months(
    period: Any, at: str, start: str, end: str
) -> None:
    got = period_bounds(period, "UTC", utc(at))
    assert got == (utc(start + "T00:00:00"), utc(end + "T00:00:00"))
    assert got[0].tzinfo is not None
    assert got[0] <= utc(at) < got[1]


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Paris", "2026-03-29", 23),
        ("Europe/Paris", "2026-10-25", 25),
        ("Europe/Paris", "2026-06-15", 24),
        ("America/New_York", "2026-03-08", 23),
        ("America/New_York", "2026-11-01", 25),
        ("America/New_York", "2026-01-15", 24),
    ],
)
def test_a_day_across_a_dst_change_lasts_23_or_25_hours(zone: str, day: str, hours: int) -> None:
    local_noon = dt.datetime.fromisoformat(day + "T12:00:00").replace(tzinfo=ZoneInfo(zone))
    start, end = period_bounds("daily", zone, local_noon)
    assert end - start == dt.timedelta(hours=hours)
    # both bounds are local midnights
    for bound, date in ((start, day), (end, _next_day(day))):
        local = bound.astimezone(ZoneInfo(zone))
        assert (local.isoformat()[:10], local.hour, local.minute) == (date, 0, 0)
        assert bound.utcoffset() == dt.timedelta(0)


def test_paris_periods_in_utc_terms() -> None:
    assert period_bounds("daily", "Europe/Paris", utc("2026-03-29T10:00:00")) == (
        utc("2026-03-28T23:00:00"),
        utc("2026-03-29T22:00:00"),
    )
    assert period_bounds("monthly", "Europe/Paris", utc("2026-03-15T10:00:00")) == (
        utc("2026-02-28T23:00:00"),
        utc("2026-03-31T22:00:00"),  # March lost an hour
    )
    assert period_bounds("weekly", "America/New_York", utc("2026-11-04T12:00:00")) == (
        utc("2026-11-02T05:00:00"),
        utc("2026-11-09T05:00:00"),
    )
    start, end = period_bounds("weekly", "America/New_York", utc("2026-03-10T12:00:00"))
    assert end - start == dt.timedelta(days=7)
    start, end = period_bounds("weekly", "America/New_York", utc("2026-03-05T12:00:00"))
    assert end - start == dt.timedelta(days=7, hours=-1)  # the week holding 8 March


@pytest.mark.parametrize("zone", ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"])
def test_just_before_and_just_after_local_midnight_are_different_periods(zone: str) -> None:
    # 2026-06-01 is a Monday and the first of a month: every period turns over
    midnight = dt.datetime(2026, 6, 1, tzinfo=ZoneInfo(zone)).astimezone(UTC)
    tick = dt.timedelta(microseconds=1)
    for period in ("daily", "weekly", "monthly"):
        before = period_bounds(period, zone, midnight - tick)
        after = period_bounds(period, zone, midnight)
        assert before[1] == midnight == after[0]
        assert before != after
    # mid-week, the week does not turn over at midnight, the day does
    wednesday = midnight + dt.timedelta(days=2)
    assert period_bounds("weekly", zone, wednesday - tick) == period_bounds(
        "weekly", zone, wednesday
    )
    assert period_bounds("daily", zone, wednesday - tick)[1] == wednesday


def test_the_same_instant_falls_in_different_days_in_different_zones() -> None:
    at = utc("2026-06-01T02:00:00")
    utc_day = period_bounds("daily", "UTC", at)
    ny_day = period_bounds("daily", "America/New_York", at)  # still 31 May there
    assert utc_day[0] == utc("2026-06-01T00:00:00")
    assert ny_day == (utc("2026-05-31T04:00:00"), utc("2026-06-01T04:00:00"))
    # an instant given in another zone is the same instant
    paris = at.astimezone(ZoneInfo("Europe/Paris"))
    assert period_bounds("daily", "UTC", paris) == utc_day


ZONES = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "America/Santiago",  # DST changes at midnight: some midnights do not exist
    "America/Havana",
    "Australia/Lord_Howe",  # half-hour DST
    "Asia/Kathmandu",  # +05:45
    "Pacific/Apia",  # skipped 2011-12-30 entirely
    "Pacific/Kiritimati",  # +14
]


@settings(max_examples=300, deadline=None)
@given(
    at=st.datetimes(
        min_value=dt.datetime(2010, 1, 1),
        max_value=dt.datetime(2040, 12, 31),
        timezones=st.just(UTC),
    ),
    zone=st.sampled_from(ZONES),
    period=st.sampled_from(["daily", "weekly", "monthly"]),
)
def test_periods_hold_their_instant_and_tile_time(at: dt.datetime, zone: str, period: Any) -> None:
    start, end = period_bounds(period, zone, at)
    assert start <= at < end
    assert start.utcoffset() == end.utcoffset() == dt.timedelta(0)
    # every instant of the period maps to the same period, and the next one starts at its end
    tick = dt.timedelta(microseconds=1)
    assert period_bounds(period, zone, start) == (start, end)
    assert period_bounds(period, zone, end - tick) == (start, end)
    assert period_bounds(period, zone, end)[0] == end
    assert period_bounds(period, zone, start - tick)[1] == start
    local = start.astimezone(ZoneInfo(zone))
    if period == "weekly":
        assert local.weekday() == 0
    if period == "monthly":
        assert local.day == 1


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        period_bounds("daily", "UTC", dt.datetime(2026, 1, 1, 12))


def test_a_credit_budget_has_one_open_ended_period() -> None:
    credit = Budget("credit", 100)
    assert period_key(credit, utc("2020-01-01T00:00:00")) == (CREDIT_PERIOD, None)
    assert period_key(credit, utc("2099-12-31T23:00:00")) == (CREDIT_PERIOD, None)
    daily = Budget("daily", 100, kind="recurring", period="daily", timezone="Europe/Paris")
    assert period_key(daily, utc("2026-03-29T10:00:00")) == (
        "2026-03-28T23:00:00+00:00",
        "2026-03-29T22:00:00+00:00",
    )


def test_a_daily_budget_starts_each_day_from_nothing(conn: sqlite3.Connection) -> None:
    clock = Clock(utc("2026-03-28T12:00:00"))
    ledger = ledger_at(conn, clock=clock)
    daily = ledger.budgets.create(
        Budget("daily", 1000, kind="recurring", period="daily", timezone="Europe/Paris")
    )
    ledger.settle(ledger.reserve([daily], {"usd": 1000}), charge(1000))
    with pytest.raises(BudgetExceeded) as info:
        ledger.reserve([daily], {"usd": 1})
    assert (info.value.spent, info.value.limit) == (1000, 1000)
    # 23:30 in Paris is still the 28th
    clock.now = utc("2026-03-28T22:30:00")
    with pytest.raises(BudgetExceeded):
        ledger.reserve([daily], {"usd": 1})
    # 00:30 on the 29th in Paris (23:30 UTC): a new day
    clock.now = utc("2026-03-28T23:30:00")
    day2 = ledger.status([daily])[0]
    assert (day2.spent, day2.reserved, day2.limit) == (0, 0, 1000)
    assert day2.period_start == utc("2026-03-28T23:00:00")
    assert day2.period_end == utc("2026-03-29T22:00:00")
    ledger.settle(ledger.reserve([daily], {"usd": 700}), charge(250))
    rows = conn.execute(
        "SELECT period_start, period_end, amount, spent, reserved FROM budget_periods "
        "ORDER BY period_start"
    ).fetchall()
    assert rows == [
        ("2026-03-27T23:00:00+00:00", "2026-03-28T23:00:00+00:00", 1000, 1000, 0),
        ("2026-03-28T23:00:00+00:00", "2026-03-29T22:00:00+00:00", 1000, 250, 0),
    ]
    # the first day is as it was
    first = ledger.budgets.status("daily", at=utc("2026-03-28T12:00:00"))
    assert (first.spent, first.reserved) == (1000, 0)


# -- thresholds ----------------------------------------------------------------------------------


def _alerts(settlement: Any) -> list[tuple[str, int, int, int]]:
    return [(a.budget, a.threshold_pct, a.spent, a.limit) for a in settlement.alerts]


def test_thresholds_fire_once_each_per_period(conn: sqlite3.Connection) -> None:
    clock = Clock(utc("2026-05-13T09:00:00"))
    ledger = ledger_at(conn, clock=clock)
    watch = ledger.budgets.create(
        Budget(
            "watch",
            1000,
            kind="recurring",
            period="daily",
            enforcement="warn",
            thresholds=(50, 80, 100),
        )
    )

    def spend(cost: int) -> list[tuple[str, int, int, int]]:
        return _alerts(ledger.settle(ledger.reserve([watch], {"usd": 10**9}), charge(cost)))

    assert spend(400) == []
    assert spend(100) == [("watch", 50, 500, 1000)]  # exactly 50%
    assert spend(100) == []
    assert spend(250) == [("watch", 80, 850, 1000)]
    assert spend(150) == [("watch", 100, 1000, 1000)]
    assert spend(500) == []  # a warn budget goes past 100% without a second alert
    assert spend(1) == []
    status = ledger.status([watch])[0]
    assert (status.spent, status.reserved) == (1501, 0)
    assert status.used_pct == Decimal("150.10")
    assert status.remaining == 0
    stored = conn.execute("SELECT fired FROM budget_periods").fetchone()[0]
    assert stored == "[50, 80, 100]"

    # a new day fires again, and one settle can cross several thresholds at once
    clock.advance(days=1)
    assert spend(100) == []
    assert spend(800) == [("watch", 50, 900, 1000), ("watch", 80, 900, 1000)]
    assert spend(2000) == [("watch", 100, 2900, 1000)]
    assert spend(1) == []
    clock.advance(days=1)
    assert spend(5000) == [
        ("watch", 50, 5000, 1000),
        ("watch", 80, 5000, 1000),
        ("watch", 100, 5000, 1000),
    ]
    assert count(conn, "budget_periods") == 3


def test_a_warn_budget_never_blocks(conn: sqlite3.Connection) -> None:
    ledger = ledger_at(conn)
    watch = ledger.budgets.create(Budget("watch", 100, enforcement="warn"))
    holds = [ledger.reserve([watch], {"usd": 10_000}) for _ in range(3)]
    assert ledger.status([watch])[0].reserved == 0  # warn budgets hold nothing
    for hold in holds:
        ledger.settle(hold, charge(90))
    status = ledger.status([watch])[0]
    assert (status.spent, status.reserved, status.limit) == (270, 0, 100)
    assert status.used_pct == Decimal("270.00")
    ledger.reserve([watch], {"usd": 10**12})  # still no BudgetExceeded


def test_block_budget_thresholds_fire_alongside_a_warn_budget(conn: sqlite3.Connection) -> None:
    ledger = ledger_at(conn)
    block = ledger.budgets.create(Budget("block", 1000))  # default thresholds 80, 100
    warn = ledger.budgets.create(
        Budget("warn", 400, enforcement="warn", thresholds=(25,), scope="run", scope_ref="r")
    )
    settled = ledger.settle(ledger.reserve([block, warn], {"usd": 900}), charge(850))
    assert sorted(_alerts(settled)) == [("block", 80, 850, 1000), ("warn", 25, 850, 400)]
    settled = ledger.settle(ledger.reserve([block, warn], {"usd": 150}), charge(150))
    assert _alerts(settled) == [("block", 100, 1000, 1000)]
    again = ledger.settle(ledger.reserve([block, warn], {"usd": 0}), charge(0))
    assert again.alerts == ()


def _next_day(day: str) -> str:
    return (dt.date.fromisoformat(day) + dt.timedelta(days=1)).isoformat()
