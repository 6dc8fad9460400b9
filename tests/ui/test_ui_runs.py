"""The runs page in a real browser against a real ``orca serve`` (seeded runs, see
``_browser.seed``): the list and its live counters, filters kept in the URL, a bad filter
named with its fix, the search over the event log, each run linked to its monitor, and a
run started from the page. axe-core in both themes and screenshots."""

from __future__ import annotations

import re
from typing import Any

from _browser import Served, check_axe, screenshot


def runs_table(page: Any) -> Any:
    return page.get_by_role("table", name="Runs, newest first")


def open_runs(page: Any, query: str = "") -> None:
    from playwright.sync_api import expect

    page.goto("/runs" + query)
    expect(page.get_by_role("heading", level=1)).to_have_text("Runs")
    expect(runs_table(page).or_(page.get_by_text("No run matches these filters."))).to_be_visible()


def test_the_runs_list_shows_each_run_with_live_counters(page: Any, ui_server: Served) -> None:
    from playwright.sync_api import expect

    open_runs(page)
    table = runs_table(page)
    for run_id in ui_server.runs.values():
        expect(table.get_by_role("link", name=run_id, exact=True)).to_be_visible()
    counters = page.locator("dl[aria-label='Run counters']")
    expect(counters).to_have_attribute("aria-live", "polite")
    stats = ui_server.api("GET", "/v1/runs/stats")
    failed = counters.locator("div", has_text="Failed").locator("dd")
    expect(failed).to_have_text(str(stats["failed"]))
    # money as the server's exact decimal string, formatted
    # (the first research run paid for its calls; its resume answered the reviewer from records)
    paid = ui_server.runs["research_interrupted"]
    row = table.get_by_role("row").filter(has=page.get_by_role("link", name=paid))
    record = ui_server.api("GET", f"/v1/runs/{paid}")
    assert record["cost_nano_usd"] > 0
    expect(row.get_by_role("cell").last).to_have_text(re.compile(r"^\$0\.\d+$"))
    page.wait_for_load_state("networkidle")
    # a laptop screen (1280x720) needs no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    main_fits = "(m => m.scrollWidth <= m.clientWidth)(document.querySelector('main'))"
    assert page.evaluate(main_fits)
    check_axe(page, "runs-list")
    screenshot(page, "runs-list")


def test_filters_by_status_and_workflow_are_kept_in_the_url(page: Any, ui_server: Served) -> None:
    from playwright.sync_api import expect

    open_runs(page)
    form = page.get_by_role("form", name="Filter runs")
    form.get_by_role("checkbox", name="failed").check()
    form.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"/runs\?status=failed$"))
    table = runs_table(page)
    expect(table.get_by_role("link", name=ui_server.runs["flaky_failed"])).to_be_visible()
    expect(table.get_by_role("link", name=ui_server.runs["research_done"])).to_have_count(0)
    statuses = table.locator("tbody .badge").all_text_contents()
    assert statuses
    assert set(statuses) == {"failed"}, statuses

    # a shared URL opens with the same filters: interrupted runs of one workflow
    open_runs(page, "?status=interrupted&workflow=approval")
    form = page.get_by_role("form", name="Filter runs")
    expect(form.get_by_role("checkbox", name="interrupted")).to_be_checked()
    expect(form.get_by_label("Workflow")).to_have_value("approval")
    table = runs_table(page)
    expect(table.get_by_role("link", name=ui_server.runs["approval_waiting"])).to_be_visible()
    workflows = table.locator("tbody tr td:nth-child(3)").all_text_contents()
    assert workflows
    assert set(workflows) == {"approval"}, workflows
    screenshot(page, "runs-filtered", themes=("light",))

    form.get_by_role("button", name="Clear filters").click()
    expect(page).to_have_url(re.compile(r"/runs$"))


def test_the_text_filter_finds_runs_by_their_event_log(page: Any, ui_server: Served) -> None:
    from playwright.sync_api import expect

    open_runs(page)
    form = page.get_by_role("form", name="Filter runs")
    # the flaky node's error message is only in that run's logged events
    form.get_by_label("Text in the event log").fill("cannot answer")
    form.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"q=cannot\+answer"))
    table = runs_table(page)
    expect(table.get_by_role("link", name=ui_server.runs["flaky_failed"])).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(1)


def test_a_bad_cost_filter_is_named_with_its_fix_and_not_sent(page: Any, page_log: Any) -> None:
    from playwright.sync_api import expect

    open_runs(page)
    form = page.get_by_role("form", name="Filter runs")
    form.get_by_label("Min cost ($)").fill("1e3")
    form.get_by_label("Max cost ($)").fill("0.5")
    form.get_by_role("button", name="Apply filters").click()
    expect(form.get_by_text("is not an amount of dollars: write it like 0.25")).to_be_visible()
    expect(form.get_by_label("Min cost ($)")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_url(re.compile(r"/runs$"))
    assert not [u for u in page_log.requests if "min_cost_usd" in u]

    # a cost range that holds money: only runs that cost something
    form.get_by_label("Min cost ($)").fill("0.000000001")
    form.get_by_label("Max cost ($)").fill("")
    form.get_by_role("button", name="Apply filters").click()
    expect(page).to_have_url(re.compile(r"min_cost=0\.000000001"))
    table = runs_table(page)
    expect(table.locator("tbody tr").first).to_be_visible()
    costs = table.locator("tbody tr td:last-child").all_text_contents()
    assert costs
    assert "$0.00" not in costs, costs


def test_the_event_search_links_each_hit_to_its_run(page: Any, ui_server: Served) -> None:
    from playwright.sync_api import expect

    open_runs(page)
    search = page.get_by_role("search", name="Search events")
    search.get_by_label("Text to find in events").fill("publish this draft")
    search.get_by_role("button", name="Search events").click()
    hits = page.get_by_role("table", name="Matching events")
    expect(hits).to_be_visible()
    waiting = ui_server.runs["approval_waiting"]
    expect(hits.get_by_role("link", name=waiting)).to_be_visible()
    screenshot(page, "runs-event-search", themes=("light",))
    hits.get_by_role("link", name=waiting).click()
    expect(page).to_have_url(re.compile(f"/runs/{waiting}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Run {waiting}")


def test_each_run_opens_its_monitor(page: Any, ui_server: Served) -> None:
    from playwright.sync_api import expect

    open_runs(page)
    run_id = ui_server.runs["research_done"]
    runs_table(page).get_by_role("link", name=run_id).click()
    expect(page).to_have_url(re.compile(f"/runs/{run_id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Run {run_id}")


def test_a_run_started_from_the_page_opens_in_its_monitor(page: Any, ui_server: Served) -> None:
    from playwright.sync_api import expect

    open_runs(page)
    page.get_by_role("button", name="Start a run").click()
    start = page.get_by_role("region", name="Start a run")
    start.get_by_label("Workflow").select_option("approval")
    start.get_by_label("Thread (empty: a new stateless run)").fill("ui-runs-started")
    box = start.get_by_label("Input (JSON object)")
    box.fill("[1, 2]")
    start.get_by_role("button", name="Start run").click()
    expect(start.get_by_text("the input is a JSON object of state keys")).to_be_visible()
    box.fill('{"question": "Started from the runs page?"}')
    start.get_by_label("Budget").select_option("ui-tests")
    # a breakpoint for this run only: pause before the publish node
    start.get_by_role("group", name="Pause before").get_by_role("checkbox", name="publish").check()
    check_axe(page, "runs-start", themes=("light",))
    screenshot(page, "runs-start", themes=("light",))
    start.get_by_role("button", name="Start run").click()
    expect(page).to_have_url(re.compile(r"/runs/run-[0-9a-f]+$"))
    run_id = page.url.rsplit("/", 1)[1]
    record = ui_server.wait(run_id)
    assert record["thread_id"] == "ui-runs-started"
    assert record["metadata"]["request"]["interrupt_before"] == ["publish"]
    assert record["metadata"]["request"]["budget"] == "ui-tests"
    # it stops at the human node's own interrupt first
    expect(page.get_by_role("heading", name="Waiting for an answer")).to_be_visible()
