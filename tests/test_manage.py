"""``orca.manage``, the one implementation behind the CLI's budget, profile, pricing,
usage and runs commands and the server's admin API: a bad value names the field as the
caller spells it, amounts are exact, and the data is plain JSON with no float."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from orca.cost import Charge
from orca.errors import InvalidFieldError, UnknownBudgetError, UnknownProfileError
from orca.manage import budgets, plain, prices, profiles, usage
from orca.store import SqliteStore, user_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    with user_store(tmp_path / "orca.db") as s:
        yield s


def option(field: str) -> str:
    return "--" + field.replace("_", "-")


@pytest.mark.parametrize(
    ("text", "unit", "says"),
    [
        ("abc", "usd", "'abc' is not a number"),
        ("0", "usd", "must be above zero"),
        ("-1", "usd", "must be above zero"),
        ("NaN", "usd", "must be above zero"),
        ("0.0000000001", "usd", "less than a nano-dollar"),
        ("2000000000", "usd", "more than Orca counts"),
        ("1.5", "tokens", "not a whole number of tokens"),
    ],
)
def test_a_bad_amount_names_the_field_as_the_caller_spells_it(
    text: str, unit: str, says: str
) -> None:
    for field in ("--amount", "amount"):
        with pytest.raises(InvalidFieldError, match=says) as caught:
            budgets.parse_amount(text, unit, field)
        assert caught.value.field == field
        assert field in caught.value.fix


def test_amounts_are_exact_integers_of_their_unit() -> None:
    assert budgets.parse_amount("$0.10", "usd", "amount") == 100_000_000
    assert budgets.parse_amount("0.000000001", "usd", "amount") == 1
    assert budgets.parse_amount("20000", "tokens", "amount") == 20_000


def test_a_budget_is_raised_by_or_to_but_never_below_what_it_used(store: SqliteStore) -> None:
    budgets.create(store, budgets.new_budget("team", "5"))
    assert budgets.raise_(store, "team", by="1.5").limit == 6_500_000_000
    hold = store.ledger.reserve([store.ledger.budgets.get("team")], {"usd": 4 * 10**9})
    store.ledger.settle(hold, Charge("openai", "m", 1, 1, cost_nano_usd=4 * 10**9))
    with pytest.raises(InvalidFieldError, match=r"--to \$3.00 is below .* \$4.00 spent") as low:
        budgets.raise_(store, "team", to="3", spell=option)
    assert low.value.field == "--to"
    with pytest.raises(InvalidFieldError, match="exactly one of by and to"):
        budgets.raise_(store, "team")
    assert budgets.raise_(store, "team", to="4").limit == 4 * 10**9
    with pytest.raises(UnknownBudgetError):
        budgets.raise_(store, "nobody", by="1")


def test_a_budget_takes_at_most_one_scope_and_a_known_unit() -> None:
    with pytest.raises(InvalidFieldError, match="at most one of --workflow, --session") as two:
        budgets.new_budget("b", "1", workflow="w", run="r", spell=option)
    assert two.value.field == "--run"
    with pytest.raises(InvalidFieldError, match="'euro' is not usd or tokens") as unit:
        budgets.new_budget("b", "1", unit="euro")
    assert unit.value.field == "unit"
    scoped = budgets.new_budget("b", "1", session="s-1")
    assert (scoped.scope, scoped.scope_ref) == ("session", "s-1")


def test_budget_data_is_json_with_no_float(store: SqliteStore) -> None:
    made = budgets.create(store, budgets.new_budget("team", "5", thresholds=[50]))
    detail = plain.jsonable(budgets.detail(made))
    assert (detail["limit"], detail["used_pct"], detail["thresholds"]) == (5 * 10**9, "0.00", [50])
    assert not any(isinstance(v, float) for v in detail.values())
    budgets.delete(store, "team")
    with pytest.raises(UnknownBudgetError):
        budgets.status(store, "team")
    assert budgets.current(store) is None  # no active budget left


def test_profiles_check_their_models_and_parameters(store: SqliteStore) -> None:
    spec = profiles.model_spec("openai:gpt-4o", {"temperature": 0.2}, "planner", "params")
    assert (spec.provider, spec.model) == ("openai", "gpt-4o")
    assert dict(spec.params) == {"temperature": 0.2}
    with pytest.raises(InvalidFieldError, match="'gpt-4o' is not PROVIDER:MODEL") as bad:
        profiles.model_spec("gpt-4o", {}, "--planner", "--planner-param")
    assert bad.value.field == "--planner"
    with pytest.raises(InvalidFieldError, match="'temprature' is not a parameter of openai"):
        profiles.model_spec("openai:gpt-4o", {"temprature": 1}, "planner", "planner_params")
    with pytest.raises(InvalidFieldError, match="is not KEY=VALUE"):
        profiles.parse_params(["temperature"], "--worker-param")
    assert profiles.parse_params(["t=0.5", 'stop=["x"]', "name=plain"], "p") == {
        "t": 0.5,
        "stop": ["x"],
        "name": "plain",
    }
    with pytest.raises(InvalidFieldError) as name:
        profiles.check_name("no spaces!")
    assert name.value.field == "name"
    with pytest.raises(UnknownProfileError):
        profiles.update(store, "ghost", description="x")


def test_prices_are_decimal_strings_and_a_reprice_is_exact(store: SqliteStore) -> None:
    price = prices.save(store, prices.new_price("openai", "house", input="2.50", output="10"))
    shown = plain.jsonable(prices.as_dict(prices.in_force(store, "openai", "house")))
    assert (shown["input"], shown["output"], shown["source"]) == ("2.50", "10", "user")
    assert price.input == Decimal("2.50")
    with pytest.raises(InvalidFieldError, match="--cached-input must be zero or more") as neg:
        prices.new_price("openai", "m", input="1", output="1", cached_input="-1", spell=option)
    assert neg.value.field == "--cached-input"
    assert prices.charged_name("llamacpp", "/models/tiny.gguf") == "tiny.gguf"
    assert prices.reprice(store, "run-none", "openai", "house") is None
    assert prices.remove(store, "openai", "house") == 1
    assert prices.remove(store, "openai", "house") == 0


def test_usage_rows_name_their_calls_as_every_json_does(store: SqliteStore) -> None:
    from orca.cost import CallContext

    context = CallContext(run_id="run-1", node="n", role="worker")
    hold = store.ledger.reserve([], {"usd": 7}, context)
    store.ledger.settle(hold, Charge("openai", "m", 3, 2, cost_nano_usd=7), context)
    [row] = usage.rows(usage.report(store, "role", run_id="run-1"))
    assert (row["key"], row["llm_calls"], row["cost_nano_usd"]) == ("worker", 1, 7)
    assert "calls" not in row


def test_times_and_json_as_every_face_writes_them() -> None:
    with pytest.raises(InvalidFieldError, match="'soon' is not a time") as bad:
        plain.parse_time("soon", "since")
    assert bad.value.field == "since"
    when = plain.parse_time("2026-11-01", "since")
    assert when is not None
    assert when.isoformat() == "2026-11-01T00:00:00+00:00"
    assert plain.parse_time(None) is None
    assert json.loads(plain.dumps({"a": Decimal("0.10"), "b": when})) == {
        "a": "0.10",
        "b": "2026-11-01T00:00:00+00:00",
    }
