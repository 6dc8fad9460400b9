"""The Costs page in a real browser against a real ``orca serve`` whose runs cost money
(the tiny model priced by an override, as the demo does): budgets with their standing,
spend over time whose figures are the server's to the nano-dollar, the price table
with each price's source, repricing a run on another model, and, on a server of its
own, an admin creating and raising a budget and overriding a price (errors shown with
their fix). axe-core in both themes and screenshots on the way."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from _browser import Served, check_axe, make_project, screenshot, serving

TALL = {"width": 1280, "height": 2400}  # a screenshot of the whole page (main scrolls)


def usd(nano: int) -> Decimal:
    return Decimal(nano).scaleb(-9)


def shown(amount: Decimal) -> str:
    """An exact amount as the figures table shows it: every digit, at least cents."""
    text = f"{amount:f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"${int(whole):,}.{frac}"


def display(amount: Decimal) -> str:
    """An amount as the page shows it elsewhere (lib/money formatUsd): at most six
    places, trailing zeros trimmed to cents."""
    whole, _, frac = shown(amount).partition(".")
    if len(frac) > 6:
        frac = frac[:6].rstrip("0").ljust(2, "0")
    return f"{whole}.{frac}"


def price_row(page: Any, model: str) -> Any:
    """The price table's row of ``model`` (provider/model)."""
    header = page.get_by_role("rowheader", name=model, exact=True)
    return page.get_by_role("table", name="Prices in force").get_by_role("row").filter(has=header)


def open_costs(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/costs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Costs")
    page.wait_for_load_state("networkidle")


def no_horizontal_scroll(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"the page scrolls sideways at 1280 px: {width} px wide"


@pytest.fixture(scope="module")
def fresh_server(ui_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server of this module's own (its budgets and prices are changed by the tests)."""
    project = tmp_path_factory.mktemp("costs-project")
    make_project(project)
    with serving(project) as served:
        yield served


def test_budgets_spend_and_prices_are_the_servers_figures(page: Any, ui_server: Served) -> None:
    from playwright.sync_api import expect

    open_costs(page)
    budget = ui_server.api("GET", "/v1/budgets/ui-tests/status")
    assert budget["spent"] > 0, "the seeded runs spent nothing"
    card = page.get_by_role("article", name="ui-tests")
    pct = budget["used_pct"]
    expect(card.get_by_role("meter", name=f"ui-tests: {pct}% used")).to_be_visible()
    expect(card).to_contain_text(f"spent of $5.00 ({pct}%)")
    expect(card).to_contain_text("Within budget")
    expect(card).to_contain_text("Warns at 80%, 100%")

    # the chart: its summary names the total; its table sums to the ledger's, exactly
    usage = ui_server.api("GET", "/v1/usage", params={"by": "model", "since": "7d"})
    total = sum(usd(r["cost_nano_usd"]) for r in usage)
    chart = page.get_by_role("img", name=re.compile(r"^Spend per day by model"))
    expect(chart).to_be_visible()
    expect(chart.locator("svg .recharts-bar-rectangle").first).to_be_visible()
    page.get_by_role("button", name="Show the figures as a table").click()
    table = page.get_by_role("table", name=re.compile(r"Spend per day by model"))
    expect(table).to_be_visible()
    expect(table.locator("tfoot td").last).to_have_text(shown(total))
    expect(table.get_by_role("columnheader", name="llamacpp/orca-tiny.gguf")).to_be_visible()

    # split by node: the totals table follows, the ledger's nodes in it
    page.get_by_label("Split by").select_option("node")
    totals = page.get_by_role("table", name="Totals by node")
    for row in ui_server.api("GET", "/v1/usage", params={"by": "node", "since": "7d"}):
        expect(totals.get_by_role("rowheader", name=row["key"], exact=True)).to_be_visible()
    expect(page.get_by_role("img", name=re.compile(r"^Spend per day by node"))).to_be_visible()

    # the price table: the override's source in words
    row = price_row(page, "llamacpp/orca-tiny.gguf")
    expect(row).to_contain_text("your override")
    expect(row).to_contain_text("$50.00")
    expect(row).to_contain_text("$200.00")

    no_horizontal_scroll(page)
    check_axe(page, "costs")
    page.set_viewport_size(TALL)
    screenshot(page, "costs")


def test_a_run_is_repriced_on_another_model(page: Any, ui_server: Served) -> None:
    from playwright.sync_api import expect

    run_id = ui_server.runs["research_interrupted"]  # the run that made the calls
    expected = ui_server.api(
        "POST", f"/v1/runs/{run_id}/reprice", json={"provider": "openai", "model": "gpt-4o-mini"}
    )
    assert expected["priced"]
    assert expected["original_nano_usd"] > 0
    open_costs(page)
    form = page.get_by_role("form", name="Reprice a run")
    form.get_by_label("Run").select_option(run_id)
    form.get_by_label("On model (provider/model)").fill("openai/gpt-4o-mini")
    form.get_by_role("button", name="Reprice").click()
    result = page.get_by_role("table", name=f"Run {run_id} repriced on openai/gpt-4o-mini")
    expect(result).to_be_visible()
    actual, repriced = usd(expected["original_nano_usd"]), usd(expected["repriced_nano_usd"])
    cells = result.get_by_role("cell")
    expect(cells.nth(0)).to_have_text(str(expected["llm_calls"]))
    expect(cells.nth(1)).to_have_text(display(actual))
    expect(cells.nth(2)).to_have_text(display(repriced))
    difference = repriced - actual
    assert difference < 0, "gpt-4o-mini is cheaper than the demo's price"
    expect(cells.nth(3)).to_have_text("-" + display(-difference))
    expect(page.get_by_text(re.compile(r"would have cost .* instead of"))).to_be_visible()
    expect(cells.nth(4)).to_have_text(f"×{expected['ratio']}")
    # a model no price is known for says so, and how to fix it
    form.get_by_label("On model (provider/model)").fill("openai/no-such-model")
    form.get_by_role("button", name="Reprice").click()
    unknown = page.get_by_text(re.compile(r"No price is known for openai/no-such-model"))
    expect(unknown).to_be_visible()
    check_axe(page, "costs-reprice")
    page.set_viewport_size(TALL)
    screenshot(page, "costs-reprice")


def test_an_admin_creates_and_raises_a_budget_with_errors_named(
    browsing: Any, fresh_server: Served
) -> None:
    from playwright.sync_api import expect

    page = browsing.open(fresh_server)
    browsing.log(page).allow_console("/v1/budgets)")  # the refused budget below (422)
    open_costs(page)
    page.get_by_role("button", name="New budget").click()
    form = page.get_by_role("form", name="New budget")
    # the form's own checks: nothing is sent
    form.get_by_label("Name").fill("bad name")
    form.get_by_label("Amount").fill("1e3")
    form.get_by_role("button", name="Create budget").click()
    alert = form.get_by_role("alert")
    expect(alert).to_contain_text('budget name "bad name" is not valid')
    expect(alert).to_contain_text("Fix: write amount as digits")
    expect(form.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    # the server's refusal, with its fix
    form.get_by_label("Name").fill("ui-tests")
    form.get_by_label("Amount").fill("2")
    form.get_by_role("button", name="Create budget").click()
    expect(alert).to_contain_text("budget 'ui-tests' already exists")
    expect(alert).to_contain_text("Fix: pick another name")
    # a recurring one, made
    form.get_by_label("Name").fill("team-daily")
    form.get_by_label("Amount").fill("0.50")
    form.get_by_label("Type").select_option("recurring")
    form.get_by_label("Period").select_option("daily")
    form.get_by_label("Warn at (%)").fill("50, 90")
    form.get_by_role("button", name="Create budget").click()
    card = page.get_by_role("article", name="team-daily")
    expect(card).to_contain_text("$0.00 spent of $0.50")
    expect(card).to_contain_text("Warns at 50%, 90%")
    expect(card).to_contain_text("Daily; this period:")
    made = fresh_server.api("GET", "/v1/budgets/team-daily")
    assert (made["limit"], made["period"], made["thresholds"]) == (500_000_000, "daily", [50, 90])

    raise_form = page.get_by_role("form", name="Raise budget team-daily")
    raise_form.get_by_label("Amount (USD)").fill("1.25")
    raise_form.get_by_role("button", name="Raise team-daily").click()
    expect(raise_form.get_by_role("status")).to_have_text("Raised: the limit is now $1.75.")
    assert fresh_server.api("GET", "/v1/budgets/team-daily/status")["limit"] == 1_750_000_000
    check_axe(page, "costs-budget-forms")
    page.set_viewport_size(TALL)
    screenshot(page, "costs-budget-forms")


def test_an_admin_overrides_a_price_and_removes_it(browsing: Any, fresh_server: Served) -> None:
    from playwright.sync_api import expect

    page = browsing.open(fresh_server)
    open_costs(page)
    lookup = page.get_by_role("form", name="Look up a model's price")
    lookup.get_by_label("Provider").fill("openai")
    lookup.get_by_label("Model").fill("gpt-4o-mini")
    lookup.get_by_role("button", name="Look up price").click()
    expect(page.get_by_role("status").filter(has_text="source: catalog")).to_be_visible()
    page.get_by_role("button", name="Set an override for openai/gpt-4o-mini").click()
    editor = page.get_by_role("form", name="Price override for openai/gpt-4o-mini")
    editor.get_by_label("Input (USD / 1M tokens)", exact=True).fill("-1")
    editor.get_by_role("button", name="Save override").click()
    expect(editor.get_by_role("alert")).to_contain_text("input")
    editor.get_by_label("Input (USD / 1M tokens)", exact=True).fill("0.20")
    editor.get_by_label("Output (USD / 1M tokens)", exact=True).fill("0.80")
    editor.get_by_role("button", name="Save override").click()
    row = price_row(page, "openai/gpt-4o-mini")
    expect(row).to_contain_text("your override")
    expect(row).to_contain_text("$0.20")
    in_force = fresh_server.api("GET", "/v1/prices/openai/gpt-4o-mini")
    assert (in_force["source"], in_force["input"], in_force["output"]) == ("user", "0.20", "0.80")

    row.get_by_role("button", name="Remove override openai/gpt-4o-mini").click()
    row.get_by_role("button", name="Confirm remove openai/gpt-4o-mini").click()
    expect(row).to_have_count(0)
    assert fresh_server.api("GET", "/v1/prices/openai/gpt-4o-mini")["source"] == "catalog"
