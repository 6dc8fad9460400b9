"""The ledger's money, as properties over any order of events, for every backend: reserve,
renew, record, settle (twice, and with adversarial usage far above the hold), release,
the clock passing holds' TTL, sweeps (also by a client whose clock runs ahead) and
raise, in whatever order hypothesis finds. After every step: a block budget never has
spent + reserved above its amount unless it is overdrawn with its overdraft recorded; no
reservation succeeds on an overdrawn budget; what is reserved is exactly what the live
holds hold; what is spent is exactly each settled charge, once."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from _pg import Cluster
from orca.cost import Budget, Charge, Hold, SweepResult
from orca.errors import BudgetExceeded
from orca.store import UserStore

from ._support import BACKENDS, TTL, Clock, open_backend

# two block budgets in two units, and a warn budget that only reports
BUDGETS = {
    "money": Budget("money", 1_000, "usd"),
    "tokens": Budget("tokens", 600, "tokens", scope="run", scope_ref="r"),
    "watch": Budget("watch", 300, "usd", enforcement="warn", scope="run", scope_ref="r"),
}
LIVE = ("held", "recorded")


@dataclass
class Tracked:
    """What the test knows of one hold: the budgets and asks it took, its state, and the
    charge recorded on it (what a sweep settles it with)."""

    names: tuple[str, ...]
    asks: dict[str, int]
    state: str = "held"
    recorded: Charge | None = None
    settled: Charge | None = None


@dataclass
class Books:
    holds: dict[str, Tracked] = field(default_factory=dict)

    def reserved(self, name: str) -> int:
        budget = BUDGETS[name]
        if budget.enforcement != "block":
            return 0
        return sum(
            t.asks.get(budget.unit, 0)
            for t in self.holds.values()
            if t.state in LIVE and name in t.names
        )

    def spent(self, name: str) -> int:
        unit = BUDGETS[name].unit
        return sum(
            t.settled.amount(unit)
            for t in self.holds.values()
            if t.settled is not None and name in t.names
        )


def charge_of(cost: int, inp: int, out: int) -> Charge:
    return Charge("openai", "gpt-test", input_tokens=inp, output_tokens=out, cost_nano_usd=cost)


# amounts on a coarse grid, so that holds, charges and limits meet and cross often; up to
# several times any hold: providers that report above the bound
amounts = st.sampled_from([0, 100, 200, 300, 400, 500, 700, 1_200]) | st.integers(0, 2_500)
charges = st.builds(
    charge_of, amounts, amounts.map(lambda n: n // 3), amounts.map(lambda n: n // 3)
)


@pytest.fixture(autouse=True)
def _cluster_for_postgres(request: pytest.FixtureRequest) -> None:
    """The PostgreSQL machine's examples each take a new database of the session's
    cluster (asked for only by that machine, so SQLite runs need no cluster)."""
    if "postgres" in request.node.nodeid:
        LedgerMachine.cluster = request.getfixturevalue("pg_cluster")


class LedgerMachine(RuleBasedStateMachine):
    backend = "sqlite"
    cluster: Cluster | None = None

    def __init__(self) -> None:
        super().__init__()
        self._dir = tempfile.TemporaryDirectory()
        where: Path | str = Path(self._dir.name)
        self._url: str | None = None
        if self.backend == "postgres":
            assert self.cluster is not None
            where = self._url = self.cluster.create_database()
        self.clock = Clock()
        self.store: UserStore = open_backend(self.backend, where, self.clock, TTL)
        self.ledger = self.store.ledger
        # a second client (another process) whose clock runs ahead of this one's
        self.skewed = Clock()
        self.elsewhere: UserStore = open_backend(self.backend, where, self.skewed, TTL)
        self.budgets = {n: self.ledger.budgets.create(b) for n, b in BUDGETS.items()}
        self.books = Books()
        self.overdrawn = False  # whether a block budget was ever overdrawn (raise is due)

    def teardown(self) -> None:
        self.elsewhere.close()
        self.store.close()
        self._dir.cleanup()
        if self._url is not None and self.cluster is not None:
            self.cluster.drop_database(self._url)

    holds = Bundle("holds")

    @initialize(target=holds)
    def first_call(self) -> Hold:
        asks = {"usd": 400, "tokens": 200}
        hold = self.ledger.reserve([self.budgets["money"], self.budgets["tokens"]], asks)
        self.books.holds[hold.id] = Tracked(("money", "tokens"), asks)
        return hold

    def _status(self, name: str) -> tuple[int, int, int, bool, int]:
        s = self.ledger.budgets.status(name)
        return s.limit, s.spent, s.reserved, s.overdrawn, s.overdraft

    # -- the events ------------------------------------------------------------------------

    @rule(
        target=holds,
        names=st.lists(st.sampled_from(sorted(BUDGETS)), min_size=1, max_size=3, unique=True),
        usd=st.sampled_from([0, 100, 200, 300, 400, 500]) | st.integers(0, 700),
        tokens=st.sampled_from([0, 100, 200, 300]) | st.integers(0, 400),
    )
    def reserve(self, names: list[str], usd: int, tokens: int) -> Hold | object:
        before = {n: self._status(n) for n in names}
        asks = {"usd": usd, "tokens": tokens}
        try:
            hold = self.ledger.reserve([self.budgets[n] for n in names], asks)
        except BudgetExceeded as exc:
            refused: BudgetExceeded | None = exc
        else:
            refused = None
        if refused is not None:
            limit, spent, reserved, overdrawn, _ = before[refused.budget]
            ask = asks[BUDGETS[refused.budget].unit]
            assert overdrawn or spent + reserved + ask > limit
            assert refused.overdrawn == overdrawn
            return multiple()
        for name in names:
            limit, spent, reserved, overdrawn, _ = before[name]
            if BUDGETS[name].enforcement == "block":
                assert not overdrawn, f"a reservation succeeded on overdrawn {name}"
        self.books.holds[hold.id] = Tracked(tuple(names), asks)
        return hold

    @rule(hold=holds)
    def renew(self, hold: Hold) -> None:
        live = self.ledger.renew([hold])
        tracked = self.books.holds[hold.id]
        if tracked.state in LIVE:
            assert live == [hold.id]
        elif tracked.state == "expired":
            if live:
                assert tracked.recorded is None  # an answered call is not taken again
                tracked.state = "held"  # taken again: its budgets still afforded it
        else:
            assert live == []

    @rule(hold=holds, charge=charges)
    def record(self, hold: Hold, charge: Charge) -> None:
        self.ledger.record(hold, charge)
        tracked = self.books.holds[hold.id]
        if tracked.state == "held":
            tracked.state, tracked.recorded = "recorded", charge
        elif tracked.state == "expired":  # the answer came after the hold expired
            tracked.recorded = charge

    @rule(hold=holds, charge=charges)
    def settle(self, hold: Hold, charge: Charge) -> None:
        tracked = self.books.holds[hold.id]
        settled = self.ledger.settle(hold, charge)
        if tracked.settled is not None:
            assert settled.repeated
            assert settled.overdrafts == ()
            return
        assert not settled.repeated
        tracked.state, tracked.settled = "settled", charge
        for over in settled.overdrafts:
            self.overdrawn = True
            assert BUDGETS[over.budget].enforcement == "block"
            assert 0 < over.amount <= charge.amount(over.unit)

    @rule(hold=holds)
    def release(self, hold: Hold) -> None:
        self.ledger.release(hold)
        tracked = self.books.holds[hold.id]
        if tracked.state in LIVE:
            tracked.state = "released"

    @rule(seconds=st.sampled_from([0.0, TTL * 0.4, TTL * 0.9, TTL + 1, 3 * TTL]))
    def time_passes(self, seconds: float) -> None:
        self.clock.advance(seconds=seconds)

    @rule()
    def sweep(self) -> None:
        self._swept(self.ledger.sweep())

    @rule(ahead=st.sampled_from([0.0, TTL * 0.5, TTL + 1, 5 * TTL]))
    def sweep_elsewhere_with_a_clock_ahead(self, ahead: float) -> None:
        self.skewed.now = self.clock.now + dt.timedelta(seconds=ahead)
        self._swept(self.elsewhere.ledger.sweep())

    def _swept(self, swept: SweepResult) -> None:
        for hold_id in swept.expired:
            tracked = self.books.holds[hold_id]
            assert tracked.state == "held"
            tracked.state = "expired"
        for hold_id in swept.settled:
            tracked = self.books.holds[hold_id]
            assert tracked.state in ("recorded", "expired")
            assert tracked.recorded is not None
            tracked.state, tracked.settled = "settled", tracked.recorded
        self.overdrawn = self.overdrawn or bool(swept.settled)

    @precondition(lambda self: self.overdrawn)
    @rule(name=st.sampled_from(["money", "tokens"]), by=st.integers(1, 3_000))
    def raise_budget(self, name: str, by: int) -> None:
        self.ledger.budgets.raise_(name, by=by)
        limit, spent, reserved, overdrawn, _ = self._status(name)
        if spent + reserved <= limit:
            assert not overdrawn  # raised enough: calls go through again

    # -- after every step ------------------------------------------------------------------

    @invariant()
    def never_overspent_unless_overdrawn_and_recorded(self) -> None:
        for name, budget in BUDGETS.items():
            limit, spent, reserved, overdrawn, overdraft = self._status(name)
            assert reserved == self.books.reserved(name)
            assert spent == self.books.spent(name)
            if budget.enforcement == "block":
                if overdrawn:
                    assert overdraft > 0
                else:
                    assert spent + reserved <= limit
                    assert spent <= limit
            else:
                assert not overdrawn


for _backend in BACKENDS:
    _case = type(f"{_backend.title()}Ledger", (LedgerMachine,), {"backend": _backend})
    _case.TestCase.settings = settings(
        max_examples=80,
        stateful_step_count=30,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    globals()[f"test_ledger_money_holds_in_any_order_{_backend}"] = _case.TestCase
