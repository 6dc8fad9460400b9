"""The price repository's contract, for every backend: exact decimals, time-versioned
overrides (``None`` means always), replace by version, delete by model, hostile names."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from orca.cost import Price, PriceBook
from orca.store import PriceRepository, UserStore

from .conftest import Opener


def at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=dt.UTC)


@pytest.fixture
def prices(store: UserStore) -> PriceRepository:
    return store.prices


def test_a_price_round_trips_exactly(prices: PriceRepository) -> None:
    price = Price(
        "openai",
        "tiny",
        input=D("0.000001"),
        output=D("12345.678901234567890123"),
        cached_input=D("0.0000005"),
        cache_write=D("1E-7"),
        reasoning=D("0.10"),
        effective_from=at(2026, 1, 1),
    )
    prices.save(price, note="negotiated")
    [loaded] = prices.load()
    assert loaded == price
    assert str(loaded.output) == "12345.678901234567890123"
    assert str(loaded.reasoning) == "0.10"
    assert loaded.source == "user"


def test_unset_prices_and_dates_stay_unset(prices: PriceRepository) -> None:
    prices.save(Price("anthropic", "m", D("3"), D("15")))
    [loaded] = prices.load()
    assert (loaded.cached_input, loaded.cache_write, loaded.reasoning) == (None, None, None)
    assert loaded.effective_from is None


def test_versions_apply_from_their_effective_dates(prices: PriceRepository) -> None:
    prices.save(Price("openai", "m", D("9"), D("9")))  # always, until a dated version
    prices.save(Price("openai", "m", D("1"), D("4"), effective_from=at(2026, 1, 1)))
    prices.save(Price("openai", "m", D("2"), D("8"), effective_from=at(2026, 6, 1)))
    assert len(prices.load()) == 3
    book = PriceBook(prices.load(), catalog=False)
    assert book.price("openai", "m", at(2025, 6, 1)).input == D("9")
    assert book.price("openai", "m", at(2026, 3, 1)).input == D("1")
    assert book.price("openai", "m", at(2026, 7, 1)).input == D("2")


def test_saving_the_same_version_again_replaces_it(prices: PriceRepository) -> None:
    when = at(2026, 1, 1)
    prices.save(Price("openai", "m", D("1"), D("2"), D("0.5"), effective_from=when))
    prices.save(Price("openai", "m", D("3"), D("4"), effective_from=when))
    prices.save(Price("openai", "m", D("5"), D("6")))
    prices.save(Price("openai", "m", D("7"), D("8")))
    loaded = sorted(prices.load(), key=lambda p: p.effective_from or at(1, 1, 1))
    assert [(p.input, p.cached_input, p.effective_from) for p in loaded] == [
        (D("7"), None, None),
        (D("3"), None, when),
    ]


def test_delete_removes_every_version_of_one_model_and_counts_them(
    prices: PriceRepository,
) -> None:
    for month in (1, 2, 3):
        prices.save(Price("openai", "m", D("1"), D("2"), effective_from=at(2026, month, 1)))
    prices.save(Price("openai", "keep", D("1"), D("2")))
    prices.save(Price("anthropic", "m", D("1"), D("2")))
    assert prices.delete("openai", "m") == 3
    assert prices.delete("openai", "m") == 0
    assert sorted((p.provider, p.model) for p in prices.load()) == [
        ("anthropic", "m"),
        ("openai", "keep"),
    ]


@pytest.mark.parametrize(
    "model", ["x'); DROP TABLE llm_pricing; --", "模型/ünïcode", "a%_b", " spaced  out "]
)
def test_hostile_model_names_are_data(prices: PriceRepository, model: str) -> None:
    prices.save(Price("openai", model, D("1"), D("2")))
    prices.save(Price("openai", "other", D("1"), D("2")))
    assert sorted(p.model for p in prices.load()) == sorted([model, "other"])
    assert prices.delete("openai", "a%") == 0  # no pattern matching
    assert prices.delete("openai", model) == 1
    assert [p.model for p in prices.load()] == ["other"]


def test_another_client_sees_saved_prices(open_store: Opener, store: UserStore) -> None:
    store.prices.save(Price("openai", "m", D("1"), D("2")))
    other = open_store()
    assert [p.model for p in other.prices.load()] == ["m"]
