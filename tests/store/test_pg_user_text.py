"""Text PostgreSQL cannot store, at the user repositories' boundary: its ``TEXT`` holds no
NUL character (SQLite's does). A name or filter holding one finds nothing, as a name no
one stored; a setting holding one is refused with the repository's own error naming the
field; a charge whose labels hold one is still recorded and charged, NUL shown as
U+FFFD. Never a raw driver error. PostgreSQL only: SQLite stores NUL like any character."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from orca.cost import Budget, CallContext, Charge, Hold, Price
from orca.errors import (
    ConfigError,
    InvalidBudgetError,
    InvalidPriceError,
    UnknownBudgetError,
    UnknownProfileError,
)
from orca.store import ModelRecord, ProfileRecord
from orca.store.postgres import PostgresStore

NUL = "a\x00b"
MODEL = ModelRecord("openai", "gpt-4o")


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(pg_url)
    opened.open_user()
    yield opened
    opened.close()


def test_a_lookup_by_a_name_holding_nul_finds_nothing(store: PostgresStore) -> None:
    ledger = store.ledger
    ledger.budgets.create(Budget("team", 1000))
    store.profiles.create(ProfileRecord("p", MODEL, MODEL))
    for action in ("get", "use", "delete", "status"):
        with pytest.raises(UnknownBudgetError, match="team"):
            getattr(ledger.budgets, action)(NUL)
    with pytest.raises(UnknownBudgetError):
        ledger.budgets.raise_(NUL, by=1)
    with pytest.raises(UnknownBudgetError):
        ledger.applicable(budget=NUL)
    assert ledger.budgets.scoped("run", NUL) == []
    assert [b.name for b in ledger.applicable(workflow=NUL, run=NUL, session=NUL)] == ["team"]
    for action in ("get", "use", "delete"):
        with pytest.raises(UnknownProfileError):
            getattr(store.profiles, action)(NUL)
    with pytest.raises(UnknownProfileError):
        store.profiles.update(NUL, description="x")
    assert store.prices.delete(NUL, NUL) == 0
    assert store.usage.report("run", run_id=NUL) == []
    assert store.usage.report("run", workflow=NUL) == []
    assert store.usage.of_run(NUL) == []
    assert store.usage.charges(NUL) == []
    ledger.release(Hold(NUL, ((1, 10),)))
    ledger.record(Hold(NUL, ((1, 10),)), Charge("openai", "m", 1, 1))
    assert ledger.renew([Hold(NUL, ((1, 10),))]) == []
    assert ledger.budgets.names() == ["team"]
    assert store.profiles.names() == ["p"]


def test_a_setting_holding_nul_is_refused_naming_the_field(store: PostgresStore) -> None:
    with pytest.raises(InvalidBudgetError) as budget:
        store.ledger.budgets.create(Budget("wf", 100, scope="workflow", scope_ref=NUL))
    assert budget.value.key == "scope_ref"
    with pytest.raises(InvalidPriceError) as price:
        store.prices.save(Price("openai", NUL, 1, 2))
    assert price.value.key == "model"
    with pytest.raises(InvalidPriceError) as note:
        store.prices.save(Price("openai", "m", 1, 2), note=NUL)
    assert note.value.key == "note"
    with pytest.raises(ConfigError) as described:
        store.profiles.create(ProfileRecord("p", MODEL, MODEL, NUL))
    assert described.value.key == "description"
    store.profiles.create(ProfileRecord("p", MODEL, MODEL))
    with pytest.raises(ConfigError) as model:
        store.profiles.update("p", worker=ModelRecord("openai", NUL))
    assert model.value.key == "worker.model"
    assert store.ledger.budgets.names() == []
    assert store.prices.load() == []
    assert store.profiles.get("p").worker == MODEL


def test_a_charge_whose_labels_hold_nul_is_recorded_and_charged(store: PostgresStore) -> None:
    ledger = store.ledger
    team = ledger.budgets.create(Budget("team", 1000))
    hold = ledger.reserve([team], {"usd": 500}, CallContext(run_id=NUL, node=NUL))
    context = CallContext(run_id="r", node=NUL, workflow=NUL, role=NUL)
    settled = ledger.settle(hold, Charge("openai", NUL, 3, 2, cost_nano_usd=400), context)
    assert not settled.repeated
    assert ledger.settle(hold, Charge("openai", "m", 3, 2, cost_nano_usd=400)).repeated
    status = ledger.budgets.status("team")
    assert (status.spent, status.reserved) == (400, 0)
    [row] = store.usage.of_run("r")
    assert (row.node, row.role, row.model, row.cost_nano_usd) == (
        "a\ufffdb",
        "a\ufffdb",
        "openai/a\ufffdb",
        400,
    )
    # an answer recorded, then swept after its holder died: the same
    lost = ledger.reserve([team], {"usd": 100}, CallContext(run_id="r2", node=NUL))
    ledger.record(lost, Charge("openai", NUL, 1, 1, cost_nano_usd=50))
    an_hour_on = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # past the hold's TTL
    later = PostgresStore(store.url, clock=lambda: an_hour_on)
    try:
        assert later.ledger.sweep().settled == [lost.id]
    finally:
        later.close()
    assert [(r.node, r.cost_nano_usd) for r in store.usage.of_run("r2")] == [("a\ufffdb", 50)]
    assert ledger.budgets.status("team").spent == 450
