"""Money is exact: Decimal in, integer nano-USD out; prices are per 1M tokens, versioned
in time, and come from user overrides, local providers, the genai-prices catalog, or
nowhere (cost 0, ``priced = False``)."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orca.cost import (
    LOCAL_PROVIDERS,
    NANO_PER_USD,
    Price,
    PriceBook,
    format_usd,
    to_nano,
    to_usd,
)
from orca.errors import ConfigError, InvalidPriceError
from orca.llm import Usage
from orca.store import PriceRepository, SqliteStore, user_store

D = Decimal
UTC = dt.UTC
FAST = settings(max_examples=200, deadline=None)


def at(year: int, month: int, day: int) -> dt.datetime:
    return dt.datetime(year, month, day, tzinfo=UTC)


def exact_nano(pairs: list[tuple[int, Decimal]]) -> int:
    """sum(tokens x USD-per-1M) in nano-USD, rounded half to even once, computed with
    far more precision than any test needs."""
    with localcontext() as ctx:
        ctx.prec = 200
        usd = sum((D(tokens) * price / D(1_000_000) for tokens, price in pairs), D(0))
        return int((usd * NANO_PER_USD).quantize(D(1), rounding=ROUND_HALF_EVEN))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with user_store(tmp_path / "orca.db") as opened:
        yield opened


@pytest.fixture
def overrides(store: SqliteStore) -> PriceRepository:
    return store.prices


@pytest.fixture
def db(store: SqliteStore) -> Iterator[sqlite3.Connection]:
    """A plain connection to the same file, to look at the rows."""
    conn = sqlite3.connect(store.path, isolation_level=None)
    yield conn
    conn.close()


# -- money ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usd", "nano"),
    [
        (D("1"), 1_000_000_000),
        (D("0.000000001"), 1),
        (D("2.5"), 2_500_000_000),
        (D("1234.567890123"), 1_234_567_890_123),
        (3, 3_000_000_000),
        (0, 0),
        ("0.000001", 1_000),
        ("19.99", 19_990_000_000),
        ("-0.25", -250_000_000),
        ("1E-9", 1),
    ],
)
def test_to_nano_is_exact_for_decimals_ints_and_strings(
    usd: Decimal | int | str, nano: int
) -> None:
    got = to_nano(usd)
    assert got == nano
    assert type(got) is int


@pytest.mark.parametrize("usd", [0.1, 1.0, 0.0, float("nan")])
def test_to_nano_rejects_floats_with_type_error(usd: float) -> None:
    with pytest.raises(TypeError, match="never a float"):
        to_nano(usd)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "usd", ["NaN", "nan", "Infinity", "-inf", "sNaN", D("NaN"), D("-Infinity")]
)
def test_to_nano_rejects_non_finite_amounts(usd: Decimal | str) -> None:
    with pytest.raises(ValueError, match=r"finite|not a number"):
        to_nano(usd)


@pytest.mark.parametrize("usd", ["", "abc", "1,5", "$1", "1.2.3", "one dollar"])
def test_to_nano_rejects_garbage_strings(usd: str) -> None:
    with pytest.raises(ValueError, match="not a number of dollars"):
        to_nano(usd)


@pytest.mark.parametrize(
    ("usd", "nano"),
    [
        ("0.0000000005", 0),  # half a nano: to the even neighbour 0
        ("0.0000000015", 2),  # 1.5 -> 2
        ("0.0000000025", 2),  # 2.5 -> 2
        ("0.0000000035", 4),
        ("0.00000000250000001", 3),  # just above half rounds up
        ("0.00000000249999999", 2),  # just below half rounds down
        ("-0.0000000015", -2),
        ("-0.0000000025", -2),
        ("1.0000000005", 1_000_000_000),
        ("1.0000000015", 1_000_000_002),
    ],
)
def test_to_nano_rounds_half_to_even_at_the_nano_boundary(usd: str, nano: int) -> None:
    assert to_nano(usd) == nano


def test_to_usd_is_the_exact_inverse_of_to_nano() -> None:
    for nano in (0, 1, 999, 1_000_000_000, 1_234_567_890_123, -42):
        usd = to_usd(nano)
        assert isinstance(usd, Decimal)
        assert to_nano(usd) == nano
    assert to_usd(1) == D("0.000000001")
    assert to_usd(1_234_567_890_123) == D("1234.567890123")


@pytest.mark.parametrize(
    ("nano", "places", "text"),
    [
        (0, 6, "$0.000000"),
        (1_000, 6, "$0.000001"),
        (1_234, 6, "$0.000001"),
        (2_500_000_000, 6, "$2.500000"),
        (1_234_567_890_123, 6, "$1,234.567890"),
        (1_234_567_890_123, 2, "$1,234.57"),
        (1_000_000_000_000_000, 2, "$1,000,000.00"),
        (123_456_789, 9, "$0.123456789"),
    ],
)
def test_format_usd_shows_dollars_with_thousands_separators(
    nano: int, places: int, text: str
) -> None:
    assert format_usd(nano, places=places) == text


def test_format_usd_defaults_to_six_places() -> None:
    assert format_usd(1_500_000) == "$0.001500"


# -- Price.cost_nano_usd ------------------------------------------------------------------------


def test_cost_of_a_call_with_every_kind_of_token_is_exact() -> None:
    price = Price(
        "openai",
        "m",
        input=D("2.50"),
        output=D("10.00"),
        cached_input=D("1.25"),
        cache_write=D("3.75"),
        reasoning=D("12.00"),
    )
    usage = Usage(
        input_tokens=1_234_567,
        output_tokens=50_000,
        cache_read_tokens=200_000,
        cache_write_tokens=1_000,
        reasoning_tokens=10_000,
    )
    # fresh input = 1,234,567 - 200,000 - 1,000 = 1,033,567; plain output = 40,000
    expected = exact_nano(
        [
            (1_033_567, D("2.50")),
            (200_000, D("1.25")),
            (1_000, D("3.75")),
            (40_000, D("10.00")),
            (10_000, D("12.00")),
        ]
    )
    # 2.5839175 + 0.25 + 0.00375 + 0.4 + 0.12 = $3.3576675
    assert expected == 3_357_667_500
    assert price.cost_nano(usage) == 3_357_667_500


def test_cost_rounds_once_at_the_end_half_to_even() -> None:
    # $0.0000015/M is 0.0015 nano per token: 1000 tokens -> 1.5 nano -> 2; 3000 -> 4.5 -> 4
    price = Price("x", "m", input=D("0.0000015"), output=D("0.0000015"))
    assert price.cost_nano(Usage(input_tokens=1000)) == 2
    assert price.cost_nano(Usage(input_tokens=3000)) == 4
    assert price.cost_nano(Usage(input_tokens=1)) == 0
    # 333 input (0.4995 nano) + 333 output (0.4995 nano) = 0.999 -> 1: rounded once at the
    # end, not per kind of token (which would give 0 + 0)
    assert price.cost_nano(Usage(input_tokens=333, output_tokens=333)) == 1


def test_cached_input_and_cache_write_default_to_the_input_price() -> None:
    explicit = Price(
        "x", "m", input=D("3"), output=D("15"), cached_input=D("3"), cache_write=D("3")
    )
    defaulted = Price("x", "m", input=D("3"), output=D("15"))
    usage = Usage(input_tokens=500_000, cache_read_tokens=120_000, cache_write_tokens=80_000)
    assert defaulted.cost_nano(usage) == explicit.cost_nano(usage) == 1_500_000_000
    # with caching or without, the same tokens cost the same
    assert defaulted.cost_nano(Usage(input_tokens=500_000)) == 1_500_000_000


def test_reasoning_defaults_to_the_output_price() -> None:
    defaulted = Price("x", "m", input=D("1"), output=D("8"))
    explicit = Price("x", "m", input=D("1"), output=D("8"), reasoning=D("8"))
    usage = Usage(output_tokens=100_000, reasoning_tokens=60_000)
    assert defaulted.cost_nano(usage) == explicit.cost_nano(usage) == 800_000_000


def test_reasoning_tokens_are_part_of_output_tokens_not_extra() -> None:
    price = Price("x", "m", input=D("0"), output=D("10"), reasoning=D("40"))
    # 100k output of which 25k reasoning: 75k at $10 + 25k at $40 = 0.75 + 1.0
    assert price.cost_nano(Usage(output_tokens=100_000, reasoning_tokens=25_000)) == 1_750_000_000


def test_cached_and_written_tokens_are_part_of_input_tokens_not_extra() -> None:
    price = Price("x", "m", input=D("2"), output=D("0"), cached_input=D("0.5"), cache_write=D("4"))
    usage = Usage(input_tokens=1_000_000, cache_read_tokens=500_000, cache_write_tokens=250_000)
    # 250k fresh at $2 + 500k at $0.5 + 250k at $4 = 0.5 + 0.25 + 1.0
    assert price.cost_nano(usage) == 1_750_000_000


def test_zero_usage_costs_nothing() -> None:
    price = Price("x", "m", input=D("5"), output=D("25"))
    assert price.cost_nano(Usage()) == 0


def test_a_tier_prices_every_token_of_a_call_above_its_threshold() -> None:
    long = Price("x", "m", input=D("6"), output=D("22.5"), cached_input=D("0.6"))
    price = Price(
        "x", "m", input=D("3"), output=D("15"), cached_input=D("0.3"), tiers=((200_000, long),)
    )
    at_threshold = Usage(input_tokens=200_000, output_tokens=1_000)
    above = Usage(input_tokens=200_001, output_tokens=1_000)
    assert price.for_input(200_000) is price
    assert price.for_input(200_001) is long
    # 200,000 x $3/M + 1,000 x $15/M = 0.6 + 0.015
    assert price.cost_nano(at_threshold) == 615_000_000
    # cliff: all 200,001 input tokens and the output at the long-context prices
    assert price.cost_nano(above) == exact_nano([(200_001, D("6")), (1_000, D("22.5"))])
    assert price.cost_nano(above) == 1_222_506_000
    # cached tokens count towards the threshold and use the tier's cached price
    cached = Usage(input_tokens=300_000, cache_read_tokens=250_000)
    assert price.cost_nano(cached) == exact_nano([(50_000, D("6")), (250_000, D("0.6"))])


def test_the_highest_tier_exceeded_applies() -> None:
    t1 = Price("x", "m", input=D("2"), output=D("0"))
    t2 = Price("x", "m", input=D("4"), output=D("0"))
    price = Price("x", "m", input=D("1"), output=D("0"), tiers=((1_000, t1), (5_000, t2)))
    assert price.for_input(1_000) is price
    assert price.for_input(1_001) is t1
    assert price.for_input(5_000) is t1
    assert price.for_input(5_001) is t2
    assert price.cost_nano(Usage(input_tokens=10_000)) == 40_000_000  # 10k x $4/M


def test_tiers_given_out_of_order_still_apply_the_highest_threshold_exceeded() -> None:
    t1 = Price("x", "m", input=D("2"), output=D("0"))
    t2 = Price("x", "m", input=D("4"), output=D("0"))
    price = Price("x", "m", input=D("1"), output=D("0"), tiers=((5_000, t2), (1_000, t1)))
    assert price.for_input(10_000) is t2


@pytest.mark.parametrize("field", ["input", "output", "cached_input", "cache_write", "reasoning"])
def test_a_negative_price_raises_invalid_price_error_naming_the_field(field: str) -> None:
    values = {"input": D("1"), "output": D("1"), field: D("-0.01")}
    with pytest.raises(InvalidPriceError) as info:
        Price("openai", "gpt-x", **values)
    assert info.value.key == field
    assert field in str(info.value)
    assert "openai/gpt-x" in str(info.value)
    assert "Fix:" in str(info.value)
    assert isinstance(info.value, ConfigError)


@pytest.mark.parametrize("field", ["input", "output", "cached_input", "cache_write", "reasoning"])
@pytest.mark.parametrize("bad", [2.5, 0.0, D("NaN"), D("Infinity"), D("-Infinity")])
def test_a_price_that_is_not_a_finite_decimal_raises_invalid_price_error(
    field: str, bad: object
) -> None:
    values: dict[str, object] = {"input": D("1"), "output": D("1"), field: bad}
    with pytest.raises(InvalidPriceError) as info:
        Price("x", "m", **values)  # type: ignore[arg-type]
    assert info.value.key == field


def test_price_of_zero_is_allowed() -> None:
    price = Price("x", "m", input=D("0"), output=D("0"), cached_input=D("0"))
    assert price.cost_nano(Usage(input_tokens=10**9, output_tokens=10**9)) == 0


counts = st.integers(min_value=0, max_value=2_000_000_000)
prices = st.decimals(min_value=0, max_value=1000, places=6, allow_nan=False, allow_infinity=False)


@st.composite
def usages(draw: st.DrawFn) -> Usage:
    input_tokens = draw(counts)
    cached = draw(st.integers(min_value=0, max_value=input_tokens))
    written = draw(st.integers(min_value=0, max_value=input_tokens - cached))
    output = draw(counts)
    reasoning = draw(st.integers(min_value=0, max_value=output))
    return Usage(input_tokens, output, cached, written, reasoning)


@FAST
@given(
    usage=usages(),
    p_in=prices,
    p_out=prices,
    p_cached=st.none() | prices,
    p_write=st.none() | prices,
    p_reason=st.none() | prices,
)
def test_cost_equals_the_exact_decimal_formula(
    usage: Usage,
    p_in: Decimal,
    p_out: Decimal,
    p_cached: Decimal | None,
    p_write: Decimal | None,
    p_reason: Decimal | None,
) -> None:
    price = Price("x", "m", p_in, p_out, p_cached, p_write, p_reason)
    fresh = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    expected = exact_nano(
        [
            (fresh, p_in),
            (usage.cache_read_tokens, p_in if p_cached is None else p_cached),
            (usage.cache_write_tokens, p_in if p_write is None else p_write),
            (usage.output_tokens - usage.reasoning_tokens, p_out),
            (usage.reasoning_tokens, p_out if p_reason is None else p_reason),
        ]
    )
    got = price.cost_nano(usage)
    assert type(got) is int
    assert got >= 0
    assert got == expected


@FAST
@given(a=usages(), b=usages(), p_in=prices, p_out=prices, p_cached=prices)
def test_cost_of_a_sum_of_usages_is_the_sum_of_costs_within_one_rounding(
    a: Usage, b: Usage, p_in: Decimal, p_out: Decimal, p_cached: Decimal
) -> None:
    price = Price("x", "m", p_in, p_out, cached_input=p_cached)
    together = price.cost_nano(a + b)
    apart = price.cost_nano(a) + price.cost_nano(b)
    # each cost rounds once, so splitting a usage moves the total by at most 1 nano
    assert abs(together - apart) <= 1


@FAST
@given(usage=usages(), p_in=prices, p_out=prices, more=prices)
def test_cost_never_falls_when_a_price_rises(
    usage: Usage, p_in: Decimal, p_out: Decimal, more: Decimal
) -> None:
    cheap = Price("x", "m", p_in, p_out)
    dear = Price("x", "m", p_in + more, p_out + more)
    assert dear.cost_nano(usage) >= cheap.cost_nano(usage)


# -- PriceBook: the catalog, local providers, unknown models -------------------------------


def test_catalog_price_of_openai_gpt_4o() -> None:
    price = PriceBook().price("openai", "gpt-4o")
    assert (price.input, price.output, price.cached_input) == (D("2.5"), D("10"), D("1.25"))
    assert price.cache_write is None
    assert price.reasoning is None
    assert price.source == "catalog"
    assert price.priced is True
    assert (price.provider, price.model) == ("openai", "gpt-4o")


def test_catalog_cost_of_gpt_4o_is_exact() -> None:
    usage = Usage(input_tokens=1_000_000, output_tokens=100_000, cache_read_tokens=400_000)
    cost, price = PriceBook().cost_nano(usage, "openai", "gpt-4o")
    # 600k x 2.5 + 400k x 1.25 + 100k x 10 = 1.5 + 0.5 + 1.0
    assert cost == 3_000_000_000
    assert price.source == "catalog"


def test_catalog_anthropic_claude_model_has_a_long_context_tier() -> None:
    price = PriceBook().price("anthropic", "claude-sonnet-4-5")
    assert (price.input, price.output) == (D("3"), D("15"))
    assert (price.cached_input, price.cache_write) == (D("0.3"), D("3.75"))
    assert price.source == "catalog"
    assert [threshold for threshold, _ in price.tiers] == [200_000]
    tier = price.tiers[0][1]
    assert (tier.input, tier.output, tier.cached_input, tier.cache_write) == (
        D("6"),
        D("22.5"),
        D("0.6"),
        D("7.5"),
    )
    book = PriceBook()
    assert book.cost_nano(Usage(input_tokens=200_000), "anthropic", "claude-sonnet-4-5")[0] == (
        600_000_000
    )
    assert book.cost_nano(Usage(input_tokens=200_001), "anthropic", "claude-sonnet-4-5")[0] == (
        1_200_006_000
    )


@pytest.mark.parametrize(
    ("provider", "model", "input_tokens"),
    [
        ("openai", "gpt-4o", 1_000),
        ("openai", "gpt-4o", 250_000),
        ("anthropic", "claude-sonnet-4-5", 1_000),
        ("anthropic", "claude-sonnet-4-5", 250_000),
    ],
)
def test_price_book_agrees_with_genai_prices_own_calculation(
    provider: str, model: str, input_tokens: int
) -> None:
    import genai_prices

    theirs = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=input_tokens,
            cache_read_tokens=300,
            cache_write_tokens=200,
            output_tokens=5_000,
        ),
        model,
        provider_id=provider,
    )
    usage = Usage(
        input_tokens=input_tokens,
        output_tokens=5_000,
        cache_read_tokens=300,
        cache_write_tokens=200,
    )
    ours, _ = PriceBook().cost_nano(usage, provider, model)
    assert ours == to_nano(theirs.total_price)


def test_the_local_providers_are_the_design_list() -> None:
    # and "pool": Orca's own local engine pools (pool:NAME), free unless priced
    expected = {"llamacpp", "llamacpp-server", "llama-server", "ollama", "lmstudio", "vllm", "pool"}
    assert expected == LOCAL_PROVIDERS


@pytest.mark.parametrize("provider", sorted(LOCAL_PROVIDERS))
def test_local_providers_cost_zero_and_count_as_priced(provider: str) -> None:
    book = PriceBook()
    cost, price = book.cost_nano(Usage(input_tokens=10**8, output_tokens=10**7), provider, "gpt-4o")
    assert cost == 0
    assert price.source == "local"
    assert price.priced is True
    assert (price.input, price.output) == (D(0), D(0))


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "no-such-model-zx81"),
        ("anthropic", "no-such-model-zx81"),
        ("somewhere-else", "gpt-4o"),
    ],
)
def test_an_unknown_model_costs_zero_and_is_marked_unpriced(provider: str, model: str) -> None:
    cost, price = PriceBook().cost_nano(
        Usage(input_tokens=10**6, output_tokens=10**6), provider, model
    )
    assert cost == 0
    assert price.priced is False
    assert price.source == "unknown"
    assert (price.provider, price.model) == (provider, model)


def test_without_the_catalog_a_catalog_model_is_unknown() -> None:
    price = PriceBook(catalog=False).price("openai", "gpt-4o")
    assert price.source == "unknown"
    assert price.priced is False


# -- PriceBook: user overrides ----------------------------------------------------------------


def test_a_user_override_beats_the_catalog() -> None:
    mine = Price("openai", "gpt-4o", input=D("1"), output=D("2"))
    book = PriceBook([mine])
    price = book.price("openai", "gpt-4o")
    assert price is mine
    assert price.source == "user"
    assert price.priced is True
    assert book.cost_nano(Usage(input_tokens=10**6, output_tokens=10**6), "openai", "gpt-4o")[
        0
    ] == (3_000_000_000)
    # other models still come from the catalog
    assert book.price("openai", "o3").source == "catalog"


def test_a_user_override_beats_a_local_provider() -> None:
    power = Price("ollama", "llama3", input=D("0.01"), output=D("0.02"))
    price = PriceBook([power]).price("ollama", "llama3")
    assert price.source == "user"
    assert PriceBook([power]).price("ollama", "other").source == "local"


def test_time_versioned_overrides_apply_from_their_effective_date() -> None:
    first = Price("openai", "gpt-4o", D("1"), D("4"), effective_from=at(2026, 1, 1))
    second = Price("openai", "gpt-4o", D("2"), D("8"), effective_from=at(2026, 6, 1))
    book = PriceBook([second, first])  # order of the versions does not matter
    assert book.price("openai", "gpt-4o", at(2026, 3, 1)) is first
    assert book.price("openai", "gpt-4o", at(2026, 7, 1)) is second
    assert book.price("openai", "gpt-4o", at(2026, 1, 1)) is first  # effective at the instant
    assert book.price("openai", "gpt-4o", at(2026, 6, 1) - dt.timedelta(microseconds=1)) is first
    before = book.price("openai", "gpt-4o", at(2025, 12, 31))
    assert before.source == "catalog"
    assert before.input == D("2.5")


def test_before_the_first_version_an_uncatalogued_model_is_unknown() -> None:
    only = Price("openai", "in-house-1", D("1"), D("1"), effective_from=at(2026, 1, 1))
    book = PriceBook([only])
    assert book.price("openai", "in-house-1", at(2025, 6, 1)).priced is False
    assert book.price("openai", "in-house-1", at(2026, 2, 1)) is only


def test_an_override_without_effective_date_applies_always() -> None:
    always = Price("openai", "gpt-4o", D("9"), D("9"))
    assert PriceBook([always]).price("openai", "gpt-4o", at(1990, 1, 1)) is always


def test_a_naive_effective_date_is_rejected_or_read_as_utc() -> None:
    try:
        price = Price("openai", "m", D("1"), D("2"), effective_from=dt.datetime(2026, 1, 1))
    except InvalidPriceError:
        return
    assert PriceBook([price]).price("openai", "m", at(2026, 3, 1)).input == D("1")


# -- overrides in the user database -------------------------------------------------------------


def test_overrides_round_trip_through_the_user_db_as_exact_decimals(
    db: sqlite3.Connection, overrides: PriceRepository
) -> None:
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
    overrides.save(price, note="negotiated")
    [loaded] = overrides.load()
    assert loaded == price
    assert loaded.input == D("0.000001")
    assert str(loaded.output) == "12345.678901234567890123"
    assert loaded.cache_write == D("1E-7")
    assert str(loaded.reasoning) == "0.10"  # the exponent survives too
    assert loaded.source == "user"
    assert loaded.effective_from == at(2026, 1, 1)
    # stored as decimal text, never a REAL
    row = db.execute(
        "SELECT typeof(input_per_mtok), input_per_mtok, note FROM llm_pricing"
    ).fetchone()
    assert row == ("text", "0.000001", "negotiated")


def test_unset_optional_prices_stay_unset_after_a_round_trip(
    db: sqlite3.Connection, overrides: PriceRepository
) -> None:
    overrides.save(Price("anthropic", "m", D("3"), D("15")))
    [loaded] = overrides.load()
    assert (loaded.cached_input, loaded.cache_write, loaded.reasoning) == (None, None, None)
    assert loaded.cost_nano(Usage(input_tokens=10**6, cache_read_tokens=10**6)) == 3_000_000_000


def test_price_book_from_stored_overrides_uses_the_stored_versions(tmp_path: Path) -> None:
    path = tmp_path / "orca.db"
    with user_store(path) as store:
        store.prices.save(Price("openai", "gpt-4o", D("1"), D("4"), effective_from=at(2026, 1, 1)))
        store.prices.save(Price("openai", "gpt-4o", D("2"), D("8"), effective_from=at(2026, 6, 1)))

    with user_store(path) as other:  # another process reading the same file
        book = PriceBook(other.prices.load())
    usage = Usage(input_tokens=1_000_000, output_tokens=1_000_000)
    assert book.cost_nano(usage, "openai", "gpt-4o", at(2026, 3, 1))[0] == 5_000_000_000
    assert book.cost_nano(usage, "openai", "gpt-4o", at(2026, 7, 1))[0] == 10_000_000_000
    assert book.price("openai", "gpt-4o", at(2025, 7, 1)).source == "catalog"
    with user_store(path) as third:
        bare = PriceBook(third.prices.load(), catalog=False)
    assert bare.price("openai", "gpt-4o", at(2025, 7, 1)).source == "unknown"
    assert bare.price("openai", "gpt-4o", at(2026, 7, 1)).input == D("2")


def test_saving_the_same_effective_date_twice_replaces_the_price(
    db: sqlite3.Connection, overrides: PriceRepository
) -> None:
    when = at(2026, 1, 1)
    overrides.save(Price("openai", "m", D("1"), D("2"), D("0.5"), effective_from=when))
    overrides.save(Price("openai", "m", D("3"), D("4"), effective_from=when), note="v2")
    assert db.execute("SELECT COUNT(*) FROM llm_pricing").fetchone()[0] == 1
    [loaded] = overrides.load()
    assert (loaded.input, loaded.output, loaded.cached_input) == (D("3"), D("4"), None)
    assert db.execute("SELECT note FROM llm_pricing").fetchone()[0] == "v2"


def test_saving_another_effective_date_adds_a_version(
    db: sqlite3.Connection, overrides: PriceRepository
) -> None:
    overrides.save(Price("openai", "m", D("1"), D("2"), effective_from=at(2026, 1, 1)))
    overrides.save(Price("openai", "m", D("3"), D("4"), effective_from=at(2026, 2, 1)))
    overrides.save(Price("openai", "n", D("3"), D("4"), effective_from=at(2026, 1, 1)))
    assert len(overrides.load()) == 3


def test_delete_overrides_removes_every_version_of_one_model_and_counts_them(
    db: sqlite3.Connection, overrides: PriceRepository
) -> None:
    for month in (1, 2, 3):
        overrides.save(Price("openai", "m", D("1"), D("2"), effective_from=at(2026, month, 1)))
    overrides.save(Price("openai", "keep", D("1"), D("2")))
    overrides.save(Price("anthropic", "m", D("1"), D("2")))
    assert overrides.delete("openai", "m") == 3
    assert overrides.delete("openai", "m") == 0
    assert overrides.delete("nobody", "nothing") == 0
    left = sorted((p.provider, p.model) for p in overrides.load())
    assert left == [("anthropic", "m"), ("openai", "keep")]


# -- re-pricing -----------------------------------------------------------------------------


def test_reprice_usage_recorded_on_one_model_on_another() -> None:
    book = PriceBook(
        [
            Price("openai", "a", D("2.5"), D("10")),
            Price("anthropic", "b", D("3"), D("15"), cached_input=D("0.3")),
        ],
        catalog=False,
    )
    calls = [
        Usage(input_tokens=1_000_000, output_tokens=100_000),
        Usage(input_tokens=500_000, cache_read_tokens=400_000),
    ]
    recorded = [(u, book.cost_nano(u, "openai", "a")[0]) for u in calls]
    # on a: 2.5 + 1.0, then 1.25 (cached at the input price)
    assert [cost for _, cost in recorded] == [3_500_000_000, 1_250_000_000]
    result = book.reprice(recorded, "anthropic", "b")
    assert result.calls == 2
    assert result.original_nano == 4_750_000_000
    # on b: 3 + 1.5, then 100k x 3 + 400k x 0.3 = 0.3 + 0.12
    assert result.repriced_nano == 4_920_000_000
    assert result.ratio == D(4_920_000_000) / D(4_750_000_000)
    assert result.priced is True
    assert (result.provider, result.model) == ("anthropic", "b")


def test_reprice_on_a_catalog_model() -> None:
    usage = Usage(input_tokens=2_000_000, output_tokens=500_000)
    result = PriceBook().reprice([(usage, 1_000_000_000)], "openai", "gpt-4o")
    assert result.repriced_nano == 10_000_000_000  # 2M x 2.5 + 0.5M x 10
    assert result.ratio == D(10)


def test_reprice_on_an_unknown_model_is_zero_and_unpriced() -> None:
    result = PriceBook().reprice(
        [(Usage(input_tokens=1000), 2_500)], "openai", "no-such-model-zx81"
    )
    assert result.repriced_nano == 0
    assert result.priced is False
    assert result.ratio == D(0)


def test_reprice_on_a_local_model_is_zero_but_priced() -> None:
    result = PriceBook().reprice([(Usage(input_tokens=1000), 2_500)], "ollama", "llama3")
    assert (result.repriced_nano, result.priced) == (0, True)


def test_reprice_of_free_usage_has_no_ratio() -> None:
    result = PriceBook().reprice([(Usage(input_tokens=1000), 0)], "openai", "gpt-4o")
    assert result.original_nano == 0
    assert result.ratio is None
    assert PriceBook().reprice([], "openai", "gpt-4o").ratio is None


def test_reprice_applies_tiers_call_by_call() -> None:
    long = Price("x", "m", D("2"), D("0"))
    book = PriceBook([Price("x", "m", D("1"), D("0"), tiers=((1_000, long),))], catalog=False)
    usages = [(Usage(input_tokens=1_000), 0), (Usage(input_tokens=1_001), 0)]
    assert book.reprice(usages, "x", "m").repriced_nano == 1_000_000 + 2_002_000
