"""The ledger repository's contract on holds and overdrafts, for every backend: the holder
of a live call renews its hold and only holds not renewed expire; a charge is never
capped, and one a block budget cannot afford (its hold expired, or it is above what was
held) is recorded with its overdraft, leaves the budget overdrawn and refused to every
later call until it is raised."""

from __future__ import annotations

import pytest

from orca.cost import Budget, BudgetStatus, Charge
from orca.errors import BudgetExceeded
from orca.store import LedgerRepository, UserStore

from ._support import TTL, Clock

LIMIT = 1_000_000


def charge(cost: int, *, inp: int = 10, out: int = 5) -> Charge:
    return Charge("openai", "gpt-test", input_tokens=inp, output_tokens=out, cost_nano_usd=cost)


def status(ledger: LedgerRepository, name: str = "team") -> BudgetStatus:
    return ledger.budgets.status(name)


@pytest.fixture
def ledger(store: UserStore) -> LedgerRepository:
    return store.ledger


@pytest.fixture
def team(ledger: LedgerRepository) -> Budget:
    return ledger.budgets.create(Budget("team", LIMIT))


# -- renewal ------------------------------------------------------------------------------------


def test_the_ledger_says_how_long_a_hold_lives_unrenewed(ledger: LedgerRepository) -> None:
    assert ledger.hold_ttl_s == TTL


def test_a_renewed_hold_outlives_its_ttl_and_an_abandoned_one_expires(
    ledger: LedgerRepository, team: Budget, clock: Clock
) -> None:
    running = ledger.reserve([team], {"usd": 600_000})
    abandoned = ledger.reserve([team], {"usd": 100_000})
    expired: list[str] = []
    for _ in range(5):  # five TTLs pass; the running call's holder renews within each
        clock.advance(seconds=TTL * 0.6)
        assert ledger.renew([running]) == [running.id]
        clock.advance(seconds=TTL * 0.6)
        assert ledger.renew([running]) == [running.id]
        expired += ledger.sweep().expired
    assert expired == [abandoned.id]
    assert (status(ledger).spent, status(ledger).reserved) == (0, 600_000)
    ledger.settle(running, charge(550_000))
    assert (status(ledger).spent, status(ledger).reserved) == (550_000, 0)


def test_renewing_a_settled_or_released_hold_keeps_nothing(
    ledger: LedgerRepository, team: Budget
) -> None:
    settled = ledger.reserve([team], {"usd": 10})
    released = ledger.reserve([team], {"usd": 20})
    ledger.settle(settled, charge(10))
    ledger.release(released)
    assert ledger.renew([settled, released]) == []
    assert (status(ledger).spent, status(ledger).reserved) == (10, 0)


def test_a_swept_hold_is_taken_again_by_its_renewal_when_the_budget_still_affords_it(
    ledger: LedgerRepository, team: Budget, clock: Clock
) -> None:
    slow = ledger.reserve([team], {"usd": 600_000})
    clock.advance(seconds=TTL + 1)
    assert ledger.sweep().expired == [slow.id]  # its holder was away (a suspended laptop)
    assert ledger.renew([slow]) == [slow.id]
    assert status(ledger).reserved == 600_000
    with pytest.raises(BudgetExceeded):
        ledger.reserve([team], {"usd": 600_000})


def test_a_swept_hold_the_budget_no_longer_affords_is_not_taken_again(
    ledger: LedgerRepository, team: Budget, clock: Clock
) -> None:
    slow = ledger.reserve([team], {"usd": 600_000})
    clock.advance(seconds=TTL + 1)
    ledger.sweep()
    ledger.settle(ledger.reserve([team], {"usd": 600_000}), charge(600_000))
    assert ledger.renew([slow]) == []
    assert (status(ledger).spent, status(ledger).reserved) == (600_000, 0)


async def test_renew_runs_off_the_event_loop_too(ledger: LedgerRepository, team: Budget) -> None:
    hold = await ledger.areserve([team], {"usd": 5})
    assert await ledger.arenew([hold]) == [hold.id]
    assert await ledger.arenew([]) == []


# -- the stress test's overspend, and overdrawn budgets -------------------------------------------


def test_a_hold_settled_after_it_expired_and_was_spent_again_overdraws_the_budget(
    ledger: LedgerRepository, team: Budget, clock: Clock
) -> None:
    # A reserves 600,000 of 1,000,000; its hold expires; B sweeps it, reserves and settles
    # 600,000; then A's answer comes in: 1,200,000 was spent
    a = ledger.reserve([team], {"usd": 600_000})
    clock.advance(seconds=TTL + 1)
    assert ledger.sweep().expired == [a.id]
    ledger.settle(ledger.reserve([team], {"usd": 600_000}), charge(600_000))
    settled = ledger.settle(a, charge(600_000))

    [over] = settled.overdrafts
    assert (over.budget, over.unit, over.amount) == ("team", "usd", 200_000)
    assert (over.spent, over.limit) == (1_200_000, LIMIT)
    now = status(ledger)
    assert (now.spent, now.overdrawn, now.overdraft) == (1_200_000, True, 200_000)
    assert now.as_dict()["overdrawn"] is True
    # the money was spent: recorded, never capped; settling again changes nothing
    assert ledger.settle(a, charge(600_000)).repeated
    assert status(ledger).spent == 1_200_000

    # every later call is refused, even one asking nothing, and says how to fix it
    for ask in (1, 0):
        with pytest.raises(BudgetExceeded) as info:
            ledger.reserve([team], {"usd": ask})
        assert info.value.overdrawn
        assert "overdrawn" in str(info.value)
        assert f"orca budget raise team --to 0.0012{'' if ask == 0 else '00001'}" in str(info.value)


def test_raising_an_overdrawn_budget_to_cover_its_spending_lets_calls_through_again(
    ledger: LedgerRepository, team: Budget, clock: Clock
) -> None:
    a = ledger.reserve([team], {"usd": 600_000})
    clock.advance(seconds=TTL + 1)
    ledger.sweep()
    ledger.settle(ledger.reserve([team], {"usd": 600_000}), charge(600_000))
    ledger.settle(a, charge(600_000))

    ledger.budgets.raise_("team", to=1_100_000)  # still below what was spent
    assert status(ledger).overdrawn
    with pytest.raises(BudgetExceeded):
        ledger.reserve([team], {"usd": 1})

    ledger.budgets.raise_("team", to=1_300_000)
    now = status(ledger)
    assert (now.overdrawn, now.overdraft) == (False, 200_000)  # the overdraft stays on record
    ledger.settle(ledger.reserve([team], {"usd": 100_000}), charge(100_000))
    with pytest.raises(BudgetExceeded) as info:
        ledger.reserve([team], {"usd": 1})
    assert not info.value.overdrawn  # full again, not overdrawn


def test_a_late_settle_the_budget_still_affords_is_taken_again_without_overdraft(
    ledger: LedgerRepository, team: Budget, clock: Clock
) -> None:
    slow = ledger.reserve([team], {"usd": 600_000})
    clock.advance(seconds=TTL + 1)
    ledger.sweep()
    other = ledger.reserve([team], {"usd": 300_000})
    settled = ledger.settle(slow, charge(500_000))
    assert settled.overdrafts == ()
    now = status(ledger)
    assert (now.spent, now.reserved, now.overdrawn) == (500_000, 300_000, False)
    ledger.settle(other, charge(300_000))
    assert status(ledger).spent <= LIMIT


def test_a_charge_above_its_hold_is_recorded_flagged_and_fits_when_the_budget_has_room(
    ledger: LedgerRepository, team: Budget
) -> None:
    hold = ledger.reserve([team], {"usd": 100_000})
    settled = ledger.settle(hold, charge(150_000))  # the provider reported 1.5x the bound
    assert settled.over_bound
    assert settled.overdrafts == ()
    now = status(ledger)
    assert (now.spent, now.reserved, now.overdrawn) == (150_000, 0, False)


def test_a_charge_above_its_hold_that_the_budget_cannot_afford_overdraws_it(
    ledger: LedgerRepository, team: Budget
) -> None:
    big = ledger.reserve([team], {"usd": 500_000})
    other = ledger.reserve([team], {"usd": 450_000})
    # 1.5x the bound: 250,000 beyond its hold, and 50,000 is all that is free
    settled = ledger.settle(big, charge(750_000))
    assert settled.over_bound
    [over] = settled.overdrafts
    assert over.amount == 200_000
    now = status(ledger)
    assert (now.spent, now.reserved) == (750_000, 450_000)
    assert (now.overdrawn, now.overdraft) == (True, 200_000)
    with pytest.raises(BudgetExceeded, match="overdrawn"):
        ledger.reserve([team], {"usd": 1})
    # the other call already held its money: it settles within its hold, no new overdraft
    assert ledger.settle(other, charge(400_000)).overdrafts == ()
    assert status(ledger).spent == 1_150_000


def test_a_charge_flagged_by_its_caller_is_over_bound_even_within_the_hold(
    ledger: LedgerRepository, team: Budget
) -> None:
    hold = ledger.reserve([team], {"usd": 100_000})
    flagged = Charge("openai", "gpt-test", 10_000, 5, cost_nano_usd=90_000, over_bound=True)
    assert ledger.settle(hold, flagged).over_bound
    assert not status(ledger).overdrawn


def test_a_recorded_hold_swept_after_its_holder_died_overdraws_rather_than_vanishing(
    ledger: LedgerRepository, team: Budget, clock: Clock
) -> None:
    died = ledger.reserve([team], {"usd": 400_000})
    ledger.record(died, charge(700_000))  # the answer came in above its hold, then a crash
    ledger.settle(ledger.reserve([team], {"usd": 500_000}), charge(500_000))
    clock.advance(seconds=TTL + 1)
    assert ledger.sweep().settled == [died.id]
    now = status(ledger)
    assert (now.spent, now.overdrawn, now.overdraft) == (1_200_000, True, 200_000)


def test_warn_budgets_are_never_overdrawn(ledger: LedgerRepository, clock: Clock) -> None:
    watch = ledger.budgets.create(Budget("watch", 100, enforcement="warn"))
    hold = ledger.reserve([watch], {"usd": 10**6})
    clock.advance(seconds=TTL + 1)
    ledger.sweep()
    assert ledger.settle(hold, charge(500)).overdrafts == ()
    now = status(ledger, "watch")
    assert (now.spent, now.overdrawn) == (500, False)
    ledger.reserve([watch], {"usd": 10})  # warn budgets only report


def test_a_recurring_budget_overdrawn_in_one_period_starts_the_next_afresh(
    ledger: LedgerRepository, clock: Clock
) -> None:
    daily = ledger.budgets.create(Budget("daily", 100, kind="recurring", period="daily"))
    ledger.settle(ledger.reserve([daily], {"usd": 50}), charge(130))
    assert status(ledger, "daily").overdrawn
    clock.advance(days=1)
    assert not status(ledger, "daily").overdrawn
    ledger.reserve([daily], {"usd": 100})


def test_an_overdrawn_budget_stays_refused_when_other_holds_give_room_back(
    ledger: LedgerRepository, team: Budget
) -> None:
    big = ledger.reserve([team], {"usd": 400_000})
    other = ledger.reserve([team], {"usd": 500_000})
    assert ledger.settle(big, charge(700_000)).overdrafts  # 300,000 past its hold, 100,000 free
    ledger.release(other)  # the numbers are back under the limit...
    now = status(ledger)
    assert now.spent + now.reserved <= now.limit
    assert now.overdrawn  # ...but the overdraft stands until the budget is raised
    with pytest.raises(BudgetExceeded, match="overdrawn"):
        ledger.reserve([team], {"usd": 100_000})
    ledger.budgets.raise_("team", by=1)
    ledger.reserve([team], {"usd": 100_000})


def test_an_answer_recorded_after_its_hold_expired_is_settled_by_sweep_if_its_holder_dies(
    ledger: LedgerRepository, team: Budget, clock: Clock
) -> None:
    late = ledger.reserve([team], {"usd": 600_000})
    clock.advance(seconds=TTL + 1)
    assert ledger.sweep().expired == [late.id]
    ledger.settle(ledger.reserve([team], {"usd": 500_000}), charge(500_000))
    ledger.record(late, charge(600_000))  # the answer came in; then the holder died
    assert ledger.renew([late]) == []  # answered: nothing to hold any more
    swept = ledger.sweep()
    assert (swept.expired, swept.settled) == ([], [late.id])
    now = status(ledger)
    # charged once, at its true cost; what the budget no longer had is the overdraft
    assert (now.spent, now.reserved, now.overdrawn, now.overdraft) == (1_100_000, 0, True, 100_000)
    assert ledger.sweep().settled == []
    assert ledger.settle(late, charge(600_000)).repeated
