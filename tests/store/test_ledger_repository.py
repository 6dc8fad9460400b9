"""The ledger repository's contract, for every backend: budgets CRUD and the one active
budget, reserve -> settle that never overspends (threads racing included), release,
sweeping expired holds, the async methods off the event loop, hostile names."""

from __future__ import annotations

import asyncio
import contextlib
import threading

import pytest

from orca.cost import Budget, BudgetStatus, CallContext, Charge, Hold
from orca.errors import BudgetExceeded, InvalidBudgetError, UnknownBudgetError
from orca.store import LedgerRepository, UserStore

from ._support import TTL, Clock
from .conftest import Opener

HOSTILE = "x'); DROP TABLE budgets; --"


def charge(cost: int, *, inp: int = 10, out: int = 5) -> Charge:
    return Charge("openai", "gpt-test", input_tokens=inp, output_tokens=out, cost_nano_usd=cost)


def standing(ledger: LedgerRepository, name: str) -> tuple[int, int, int]:
    s: BudgetStatus = ledger.budgets.status(name)
    return s.limit, s.spent, s.reserved


@pytest.fixture
def ledger(store: UserStore) -> LedgerRepository:
    return store.ledger


# -- budgets ----------------------------------------------------------------------------------


def test_a_created_budget_reads_back_with_every_field_and_an_id(ledger: LedgerRepository) -> None:
    made = ledger.budgets.create(
        Budget(
            "monthly",
            5_000,
            "tokens",
            kind="recurring",
            period="monthly",
            enforcement="warn",
            thresholds=(50, 90),
            timezone="Europe/Paris",
        )
    )
    assert made.id
    assert ledger.budgets.get("monthly") == made
    assert (made.amount, made.unit, made.kind, made.period) == (
        5_000,
        "tokens",
        "recurring",
        "monthly",
    )
    assert (made.enforcement, made.thresholds, made.timezone) == ("warn", (50, 90), "Europe/Paris")
    assert made.active  # the first global budget


def test_budgets_are_listed_by_name_and_deleted(ledger: LedgerRepository) -> None:
    for name in ("b", "c", "a"):
        ledger.budgets.create(Budget(name, 100))
    assert ledger.budgets.names() == ["a", "b", "c"]
    assert [b.name for b in ledger.budgets.all()] == ["a", "b", "c"]
    ledger.budgets.delete("b")
    assert ledger.budgets.names() == ["a", "c"]
    with pytest.raises(UnknownBudgetError):
        ledger.budgets.get("b")


def test_a_duplicate_name_is_refused_naming_the_field(ledger: LedgerRepository) -> None:
    ledger.budgets.create(Budget("team", 100))
    with pytest.raises(InvalidBudgetError) as info:
        ledger.budgets.create(Budget("team", 999))
    assert info.value.key == "name"
    assert ledger.budgets.get("team").amount == 100


@pytest.mark.parametrize("action", ["get", "use", "delete", "status", "raise"])
def test_an_unknown_budget_is_refused_naming_the_closest(
    ledger: LedgerRepository, action: str
) -> None:
    ledger.budgets.create(Budget("research", 100))
    attempt = (
        (lambda: ledger.budgets.raise_("reserch", by=1))
        if action == "raise"
        else (lambda: getattr(ledger.budgets, action)("reserch"))
    )
    with pytest.raises(UnknownBudgetError, match="research"):
        attempt()


def test_exactly_one_global_budget_is_active(ledger: LedgerRepository) -> None:
    first = ledger.budgets.create(Budget("first", 100))
    second = ledger.budgets.create(Budget("second", 100))
    scoped = ledger.budgets.create(Budget("wf", 100, scope="workflow", scope_ref="w"))
    assert first.active
    assert not second.active
    assert not scoped.active
    assert ledger.budgets.use("second").active
    active = ledger.budgets.active()
    assert active is not None
    assert active.name == "second"
    assert [b.name for b in ledger.budgets.all() if b.active] == ["second"]
    third = ledger.budgets.create(Budget("third", 100), activate=True)
    assert third.active
    assert [b.name for b in ledger.budgets.all() if b.active] == ["third"]


def test_a_scoped_budget_is_never_the_active_one(ledger: LedgerRepository) -> None:
    ledger.budgets.create(Budget("run-budget", 100, scope="run", scope_ref="r1"))
    assert ledger.budgets.active() is None
    with pytest.raises(InvalidBudgetError, match="cannot be the active"):
        ledger.budgets.use("run-budget")
    with pytest.raises(InvalidBudgetError, match="cannot be the active"):
        ledger.budgets.create(Budget("s", 100, scope="session", scope_ref="s1"), activate=True)
    assert ledger.budgets.names() == ["run-budget"]


def test_applicable_is_the_chosen_or_active_budget_plus_every_scoped_one(
    ledger: LedgerRepository,
) -> None:
    ledger.budgets.create(Budget("main", 1000))
    ledger.budgets.create(Budget("other", 1000))
    ledger.budgets.create(Budget("wf", 10, scope="workflow", scope_ref="w"))
    ledger.budgets.create(Budget("run", 10, scope="run", scope_ref="r"))
    ledger.budgets.create(Budget("not-mine", 10, scope="run", scope_ref="r2"))
    names = lambda found: sorted(b.name for b in found)  # noqa: E731
    assert names(ledger.applicable()) == ["main"]
    assert names(ledger.applicable(budget="other", workflow="w", run="r")) == ["other", "run", "wf"]
    with pytest.raises(UnknownBudgetError):
        ledger.applicable(budget="nope")


def test_raise_changes_the_current_limit_and_checks_its_input(ledger: LedgerRepository) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    ledger.settle(ledger.reserve([team], {"usd": 600}), charge(600))
    assert ledger.budgets.raise_("team", by=500).amount == 1500
    assert standing(ledger, "team") == (1500, 600, 0)
    assert ledger.budgets.raise_("team", to=700).amount == 700
    assert standing(ledger, "team") == (700, 600, 0)
    for bad in ({}, {"by": 1, "to": 2}, {"to": 0}, {"by": -700}, {"to": True}):
        with pytest.raises(InvalidBudgetError) as info:
            ledger.budgets.raise_("team", **bad)  # type: ignore[arg-type]
        assert info.value.key == "amount"
    assert standing(ledger, "team") == (700, 600, 0)


def test_a_budget_never_charged_stands_at_zero(ledger: LedgerRepository) -> None:
    ledger.budgets.create(Budget("fresh", 1234))
    assert standing(ledger, "fresh") == (1234, 0, 0)
    assert ledger.budgets.status("fresh").remaining == 1234


def test_hostile_names_and_refs_are_data(ledger: LedgerRepository) -> None:
    with pytest.raises(UnknownBudgetError):
        ledger.budgets.get(HOSTILE)
    with pytest.raises(InvalidBudgetError):
        Budget(HOSTILE, 100)  # not a valid name: refused before any repository sees it
    scoped = ledger.budgets.create(Budget("wf", 100, scope="workflow", scope_ref=HOSTILE))
    assert ledger.budgets.scoped("workflow", HOSTILE) == [scoped]
    assert ledger.budgets.scoped("workflow", "x") == []
    assert ledger.budgets.names() == ["wf"]


# -- reserve -> settle --------------------------------------------------------------------------


def test_reserve_holds_and_settle_charges_the_actual_cost(ledger: LedgerRepository) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    hold = ledger.reserve([team], {"usd": 300}, CallContext(run_id="r1"))
    assert standing(ledger, "team") == (1000, 0, 300)
    settled = ledger.settle(hold, charge(120), CallContext(run_id="r1", node="n"))
    assert not settled.repeated
    assert standing(ledger, "team") == (1000, 120, 0)


def test_a_block_budget_refuses_what_it_cannot_afford_and_holds_nothing(
    ledger: LedgerRepository,
) -> None:
    team = ledger.budgets.create(Budget("team", 100))
    ledger.reserve([team], {"usd": 60})
    with pytest.raises(BudgetExceeded) as info:
        ledger.reserve([team], {"usd": 41})
    err = info.value
    assert (err.budget, err.limit, err.reserved, err.asked) == ("team", 100, 60, 41)
    assert standing(ledger, "team") == (100, 0, 60)
    ledger.reserve([team], {"usd": 40})  # exactly full is allowed
    assert standing(ledger, "team") == (100, 0, 100)


def test_a_reservation_is_all_or_nothing_across_budgets(ledger: LedgerRepository) -> None:
    big = ledger.budgets.create(Budget("big", 10_000))
    small = ledger.budgets.create(Budget("small", 100, scope="run", scope_ref="r"))
    with pytest.raises(BudgetExceeded, match="small"):
        ledger.reserve([big, small], {"usd": 500})
    assert standing(ledger, "big") == (10_000, 0, 0)
    assert standing(ledger, "small") == (100, 0, 0)


def test_each_budget_is_held_in_its_own_unit(ledger: LedgerRepository) -> None:
    money = ledger.budgets.create(Budget("money", 1000))
    tokens = ledger.budgets.create(Budget("tokens", 50, "tokens", scope="run", scope_ref="r"))
    hold = ledger.reserve([money, tokens], {"usd": 400, "tokens": 30})
    assert standing(ledger, "money") == (1000, 0, 400)
    assert standing(ledger, "tokens") == (50, 0, 30)
    ledger.settle(hold, charge(250, inp=12, out=8))
    assert standing(ledger, "money") == (1000, 250, 0)
    assert standing(ledger, "tokens") == (50, 20, 0)


def test_settle_is_idempotent_by_hold_id(ledger: LedgerRepository) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    hold = ledger.reserve([team], {"usd": 500})
    first = ledger.settle(hold, charge(300))
    again = ledger.settle(Hold(hold.id), charge(999))  # the id alone is enough
    assert again.repeated
    assert again.usage_id == first.usage_id
    assert standing(ledger, "team") == (1000, 300, 0)


def test_release_gives_the_hold_back_once(ledger: LedgerRepository) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    keep = ledger.reserve([team], {"usd": 200})
    hold = ledger.reserve([team], {"usd": 700})
    ledger.release(hold)
    ledger.release(hold)
    assert standing(ledger, "team") == (1000, 0, 200)
    ledger.settle(keep, charge(150))
    assert standing(ledger, "team") == (1000, 150, 0)


def test_a_call_covered_by_no_budget_is_still_settled_into_the_usage(store: UserStore) -> None:
    ledger = store.ledger
    assert ledger.applicable() == []
    hold = ledger.reserve([], {"usd": 10**12})
    ledger.record(hold, charge(5))
    settled = ledger.settle(hold, charge(5), CallContext(run_id="free"))
    assert settled.usage_id
    assert [(r.key, r.cost_nano_usd) for r in store.usage.report("run")] == [("free", 5)]


def test_thresholds_alert_once_each(ledger: LedgerRepository) -> None:
    watch = ledger.budgets.create(Budget("watch", 1000, enforcement="warn", thresholds=(50, 100)))
    assert ledger.settle(ledger.reserve([watch], {"usd": 10**9}), charge(400)).alerts == ()
    [half] = ledger.settle(ledger.reserve([watch], {"usd": 0}), charge(200)).alerts
    assert (half.budget, half.threshold_pct, half.spent, half.limit) == ("watch", 50, 600, 1000)
    [full] = ledger.settle(ledger.reserve([watch], {}), charge(500)).alerts
    assert full.threshold_pct == 100
    assert ledger.settle(ledger.reserve([watch], {}), charge(500)).alerts == ()
    assert standing(ledger, "watch") == (1000, 1600, 0)  # warn budgets never block


def test_a_recurring_budget_starts_each_period_afresh(
    ledger: LedgerRepository, clock: Clock
) -> None:
    daily = ledger.budgets.create(Budget("daily", 100, kind="recurring", period="daily"))
    ledger.settle(ledger.reserve([daily], {"usd": 100}), charge(100))
    with pytest.raises(BudgetExceeded):
        ledger.reserve([daily], {"usd": 1})
    clock.advance(days=1)
    assert standing(ledger, "daily") == (100, 0, 0)
    ledger.reserve([daily], {"usd": 100})


# -- expired holds -------------------------------------------------------------------------------


def test_sweep_releases_expired_holds_and_settles_recorded_ones(
    ledger: LedgerRepository, clock: Clock
) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    lost = ledger.reserve([team], {"usd": 300})
    answered = ledger.reserve([team], {"usd": 400})
    ledger.record(answered, charge(250))
    swept = ledger.sweep()
    assert (swept.expired, swept.settled) == ([], [])  # not yet expired
    assert standing(ledger, "team") == (1000, 0, 700)

    clock.advance(seconds=TTL + 1)
    swept = ledger.sweep()
    assert (swept.expired, swept.settled) == ([lost.id], [answered.id])
    assert standing(ledger, "team") == (1000, 250, 0)
    again = ledger.sweep()
    assert (again.expired, again.settled) == ([], [])
    # the settle that comes after all is idempotent with the sweep's
    assert ledger.settle(answered, charge(250)).repeated
    assert standing(ledger, "team") == (1000, 250, 0)


def test_a_settle_after_expiry_charges_without_releasing_twice(
    ledger: LedgerRepository, clock: Clock
) -> None:
    team = ledger.budgets.create(Budget("team", 1000))
    other = ledger.reserve([team], {"usd": 100})
    slow = ledger.reserve([team], {"usd": 400})
    clock.advance(seconds=TTL + 1)
    assert sorted(ledger.sweep().expired) == sorted([other.id, slow.id])
    assert standing(ledger, "team") == (1000, 0, 0)
    ledger.settle(slow, charge(250))  # the answer came after all
    assert standing(ledger, "team") == (1000, 250, 0)


# -- concurrency ---------------------------------------------------------------------------------


def test_threads_racing_on_their_own_clients_never_overspend(open_store: Opener) -> None:
    cost, limit, threads, tries = 7, 7 * 25 + 3, 6, 10
    setup = open_store().ledger
    setup.budgets.create(Budget("shared", limit))
    clients = [open_store().ledger for _ in range(threads)]
    barrier = threading.Barrier(threads)
    wins: list[int] = []
    errors: list[BaseException] = []

    def spend(ledger: LedgerRepository) -> None:
        try:
            budget = ledger.budgets.get("shared")
            barrier.wait()
            for _ in range(tries):
                try:
                    hold = ledger.reserve([budget], {"usd": cost})
                except BudgetExceeded:
                    continue
                ledger.settle(hold, charge(cost))
                wins.append(1)
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=spend, args=(c,)) for c in clients]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    limit_now, spent, reserved = standing(setup, "shared")
    assert (spent, reserved) == (len(wins) * cost, 0)
    assert spent <= limit_now
    assert len(wins) == 25  # every affordable call got through, and no more


def test_threads_sharing_one_client_never_overspend(ledger: LedgerRepository) -> None:
    budget = ledger.budgets.create(Budget("shared", 100))
    wins: list[Hold] = []

    def spend() -> None:
        for _ in range(10):
            with contextlib.suppress(BudgetExceeded):
                wins.append(ledger.reserve([budget], {"usd": 3}))

    workers = [threading.Thread(target=spend) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(wins) == 33
    assert standing(ledger, "shared") == (100, 0, 99)


# -- async ---------------------------------------------------------------------------------------


async def test_the_async_methods_do_the_same_work_off_the_event_loop(
    ledger: LedgerRepository, clock: Clock
) -> None:
    ledger.budgets.create(Budget("team", 1000))
    clock.threads.clear()
    budgets = await ledger.aapplicable()
    assert [b.name for b in budgets] == ["team"]
    hold = await ledger.areserve(budgets, {"usd": 400}, CallContext(run_id="r"))
    [status] = await ledger.astatus(budgets)
    assert (status.spent, status.reserved) == (0, 400)
    settled = await ledger.asettle(hold, charge(300), CallContext(run_id="r"))
    assert not settled.repeated
    assert (await ledger.asettle(hold, charge(300))).repeated
    other = await ledger.areserve(budgets, {"usd": 100})
    await ledger.arelease(other)
    [status] = await ledger.astatus(budgets)
    assert (status.spent, status.reserved) == (300, 0)
    swept = await ledger.asweep()
    assert (swept.expired, swept.settled) == ([], [])
    assert clock.threads  # the work read the clock...
    assert threading.get_ident() not in clock.threads  # ...and never on the loop's thread


async def test_the_event_loop_runs_while_async_ledger_calls_are_in_flight(
    ledger: LedgerRepository,
) -> None:
    budget = ledger.budgets.create(Budget("team", 10**9))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    beat = asyncio.create_task(ticker())
    holds = await asyncio.gather(*(ledger.areserve([budget], {"usd": 10}) for _ in range(20)))
    await asyncio.gather(*(ledger.asettle(h, charge(10)) for h in holds))
    beat.cancel()
    assert ticks > 0
    assert standing(ledger, "team") == (10**9, 200, 0)
