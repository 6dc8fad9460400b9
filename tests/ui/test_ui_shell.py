"""The UI's shell in a real browser against a real ``orca serve``: every page reached by
clicks and by the keyboard, the theme switch, axe-core on every page in both themes,
no console error and no request to another origin (the page log's check, at each test's
end), and the sign-in prompt of a server with auth on."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from _browser import Served, check_axe, make_project, orca_cli, screenshot, serving

# (nav link, its path, the page's h1)
PAGES = [
    ("Runs", "/runs", "Runs"),
    ("Threads", "/threads", "Threads"),
    ("Costs", "/costs", "Costs"),
    ("Builder", "/builder", "Builder"),
    ("Settings", "/settings", "Settings"),
]


def heading(page: Any) -> Any:
    return page.get_by_role("heading", level=1)


def expect_page(page: Any, path: str, title: str) -> None:
    from playwright.sync_api import expect

    expect(page).to_have_url(re.compile(re.escape(path) + r"$"))
    expect(heading(page)).to_have_text(title)


def no_sideways_scroll(page: Any) -> bool:
    return bool(
        page.evaluate(
            """() => [document.documentElement, document.querySelector('main')].every(
                e => e.scrollWidth <= e.clientWidth)"""
        )
    )


def test_the_root_opens_the_runs_page(page: Any) -> None:
    page.goto("/")
    expect_page(page, "/runs", "Runs")
    assert page.title()


def test_every_page_is_reached_by_clicks(page: Any) -> None:
    page.goto("/runs")
    nav = page.get_by_role("navigation", name="Main")
    for label, path, title in [*PAGES[1:], PAGES[0]]:
        nav.get_by_role("link", name=label, exact=True).click()
        expect_page(page, path, title)
        current = nav.get_by_role("link", name=label, exact=True)
        assert current.get_attribute("aria-current") == "page", label


def test_every_page_is_reached_by_the_keyboard(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/runs")
    expect_page(page, "/runs", "Runs")
    # the first Tab reaches the skip link, which moves focus to the content
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("main#main")).to_be_focused()

    for label, path, title in PAGES:
        page.locator("body").focus()
        # Tab through the page until the nav link is focused, then follow it
        for _ in range(30):
            page.keyboard.press("Tab")
            focused = page.evaluate(
                "() => document.activeElement && document.activeElement.textContent"
            )
            if focused and focused.strip() == label:
                break
        else:
            pytest.fail(f"Tab never reached the {label!r} link")
        page.keyboard.press("Enter")
        expect_page(page, path, title)


def test_the_theme_switch_cycles_dark_light_system_and_is_kept(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/runs")
    expect_page(page, "/runs", "Runs")
    html = page.locator("html")
    button = page.get_by_role("button", name=re.compile(r"^Theme: "))
    expect(button).to_have_text("Theme: system")

    def background() -> str:
        return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))

    button.click()
    expect(html).to_have_attribute("data-theme", "dark")
    expect(button).to_have_text("Theme: dark")
    dark = background()
    screenshot(page, "shell-theme-switch", themes=("dark",))
    button.click()
    expect(html).to_have_attribute("data-theme", "light")
    light = background()
    assert dark != light, "the dark and light themes have the same background"
    screenshot(page, "shell-theme-switch", themes=("light",))

    # the choice survives a reload (local storage)
    page.reload()
    expect(html).to_have_attribute("data-theme", "light")
    page.get_by_role("button", name=re.compile(r"^Theme: ")).click()
    expect(html).not_to_have_attribute("data-theme", re.compile(".*"))
    assert page.evaluate("localStorage.getItem('orca.theme')") is None


def test_the_dark_theme_follows_the_system_setting(browsing: Any, ui_server: Served) -> None:
    page = browsing.open(ui_server)
    page.emulate_media(color_scheme="dark")
    page.goto("/runs")
    expect_page(page, "/runs", "Runs")
    dark = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.emulate_media(color_scheme="light")
    light = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert dark != light


@pytest.mark.parametrize(("label", "path", "title"), PAGES, ids=[p[0] for p in PAGES])
def test_each_page_passes_axe_in_both_themes_and_fits_a_laptop(
    page: Any, label: str, path: str, title: str
) -> None:
    page.goto(path)
    expect_page(page, path, title)
    page.wait_for_load_state("networkidle")
    check_axe(page, f"page-{label.lower()}")
    screenshot(page, f"page-{label.lower()}")
    # a laptop's 1280x720 shows the page without scrolling it sideways (the document, or
    # the main area, which scrolls by itself)
    assert no_sideways_scroll(page), f"{path} scrolls sideways at 1280 px"


def test_an_unknown_page_says_so_and_links_back(page: Any) -> None:
    from playwright.sync_api import expect

    # a path below a page's that no page has: the UI's router says so
    page.goto("/runs/a-run/no-such-view")
    expect(page.get_by_text("No such page.")).to_be_visible()
    page.get_by_role("link", name="Go to the runs").click()
    expect_page(page, "/runs", "Runs")


def test_pages_make_no_request_to_another_origin(page: Any, page_log: Any) -> None:
    for _, path, title in PAGES:
        page.goto(path)
        expect_page(page, path, title)
        page.wait_for_load_state("networkidle")
    assert page_log.requests, "the log saw no request at all"
    assert all(url.startswith(page_log.origin) for url in page_log.requests), page_log.foreign()
    assert not page_log.console_errors, page_log.console_errors
    assert not page_log.page_errors, page_log.page_errors


def test_an_api_miss_is_not_answered_with_the_ui(ui_server: Served) -> None:
    import httpx

    answer = httpx.get(ui_server.url + "/v1/no-such-thing")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/json")
    page = httpx.get(ui_server.url + "/threads/research-1")
    assert page.status_code == 200
    assert '<div id="root">' in page.text or 'id="root"' in page.text


def test_the_seeded_runs_are_what_the_pages_show(ui_server: Served) -> None:
    """The seeding made real runs in each state the pages show, with money moved."""
    runs = {r["run_id"]: r for r in ui_server.api("GET", "/v1/runs", params={"limit": 50})}
    statuses = {key: runs[run_id]["status"] for key, run_id in ui_server.runs.items()}
    assert statuses["research_done"] == "done"
    assert statuses["approval_waiting"] == "interrupted"
    assert statuses["flaky_failed"] == "failed"
    usage = ui_server.api("GET", "/v1/usage")
    assert usage, "no usage recorded by the seeded runs"


def test_a_server_with_auth_asks_for_a_token_then_shows_data(
    browsing: Any, tmp_path_factory: pytest.TempPathFactory, ui_bundle: Any
) -> None:
    """A project holding a token serves with auth on: the pages' first calls are refused,
    the sign-in prompt takes the token, the data shows; Sign out forgets it."""
    from playwright.sync_api import expect

    project = tmp_path_factory.mktemp("ui-auth")
    make_project(project)
    made = orca_cli(project, "token", "create", "ui-runner", "--scope", "run", "--json")
    token = json.loads(made.stdout)["token"]
    with serving(project, token=token) as served:
        body = {"workflow": "flaky", "input": {"question": "?"}}
        failed = served.api("POST", "/v1/threads/auth-1/runs", json=body)
        assert served.wait(failed["run_id"])["status"] == "failed"
        page = browsing.open(served)
        browsing.log(page).allow_console("401")  # the calls made before the token is given
        page.goto("/runs")
        dialog = page.get_by_role("dialog", name="This server needs a token")
        expect(dialog).to_be_visible()
        check_axe(page, "shell-sign-in")
        screenshot(page, "shell-sign-in")
        dialog.get_by_label("Token").fill(token)
        dialog.get_by_role("button", name="Sign in").click()
        expect(dialog).to_be_hidden()
        assert page.evaluate("localStorage.getItem('orca.token')") == token
        # the page's data, asked for again with the token
        expect(page.get_by_role("link", name=failed["run_id"])).to_be_visible()
        # signed out: the token is forgotten and the next call asks again
        page.get_by_role("button", name="Sign out").click()
        assert page.evaluate("localStorage.getItem('orca.token')") is None
        page.reload()
        expect(page.get_by_role("dialog", name="This server needs a token")).to_be_visible()
