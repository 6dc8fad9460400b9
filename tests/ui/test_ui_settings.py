"""The Settings page in a real browser against a real ``orca serve``: profiles made,
edited, used and deleted; a token made (its secret shown once, copied), then revoked;
this browser's token set and forgotten on a server with auth on; the server's version
and capabilities; the theme. axe-core in both themes and screenshots on the way."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import Served, check_axe, make_project, orca_cli, screenshot, serving

TALL = {"width": 1280, "height": 2000}  # a screenshot of the whole page (main scrolls)


def open_settings(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/settings")
    expect(page.get_by_role("heading", level=1)).to_have_text("Settings")
    page.wait_for_load_state("networkidle")


@pytest.fixture(scope="module")
def fresh_server(ui_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server of this module's own (its profiles and tokens are changed by the tests)."""
    project = tmp_path_factory.mktemp("settings-project")
    make_project(project)
    with serving(project) as served:
        yield served


@pytest.fixture(scope="module")
def guarded_server(ui_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server with auth on: its project held a live admin token when it started."""
    project = tmp_path_factory.mktemp("settings-auth-project")
    make_project(project)
    made = orca_cli(project, "token", "create", "e2e-admin", "--scope", "admin", "--json")
    token = json.loads(made.stdout)["token"]
    with serving(project, token=token) as served:
        yield served


def test_settings_shows_profiles_server_and_who_this_browser_is(
    page: Any, ui_server: Served
) -> None:
    from playwright.sync_api import expect

    open_settings(page)
    row = page.get_by_role("row", name=re.compile(r"local-tiny"))
    expect(row).to_contain_text("active")
    expect(row.get_by_role("cell").first).to_contain_text("llamacpp:")
    version = ui_server.api("GET", "/healthz")["version"]
    expect(page.get_by_text(f"Orca {version} (API v1) · health: ok")).to_be_visible()
    expect(page.get_by_text("Sends no token.")).to_be_visible()
    expect(page.get_by_text(re.compile(r"a loopback client \(auth off\)"))).to_be_visible()

    # the theme chosen here is the shell's too
    page.get_by_role("radio", name="Dark").check()
    expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    expect(page.get_by_role("button", name=re.compile(r"^Theme: "))).to_have_text("Theme: dark")
    page.get_by_role("radio", name="Follow the system").check()
    expect(page.locator("html")).not_to_have_attribute("data-theme", re.compile(".*"))

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, f"the page scrolls sideways at 1280 px: {width} px wide"
    check_axe(page, "settings")
    page.set_viewport_size(TALL)
    screenshot(page, "settings")


def test_an_admin_makes_a_token_sees_it_once_and_revokes_it(
    browsing: Any, fresh_server: Served
) -> None:
    from playwright.sync_api import expect

    page = browsing.open(fresh_server)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    open_settings(page)
    form = page.get_by_role("form", name="Make a token")
    form.get_by_label("Token name").fill("bad name")
    form.get_by_role("button", name="Make token").click()
    expect(page.get_by_role("alert")).to_contain_text("Fix: name it after who uses it")
    form.get_by_label("Token name").fill("ci-bot")
    form.get_by_role("radio", name="run").check()
    form.get_by_role("button", name="Make token").click()

    made = page.get_by_role("region", name="Token ci-bot made")
    secret = made.get_by_label("Token ci-bot")
    expect(secret).to_have_value(re.compile(r"^orca_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$"))
    token = secret.input_value()
    made.get_by_role("button", name="Copy token").click()
    expect(made.get_by_role("status")).to_have_text("Copied to the clipboard.")
    assert page.evaluate("navigator.clipboard.readText()") == token
    listed = {t["name"]: t for t in fresh_server.api("GET", "/v1/auth/tokens")}
    assert listed["ci-bot"]["scope"] == "run"
    table = page.get_by_role("table", name="Server tokens")
    expect(table.get_by_role("rowheader", name="ci-bot", exact=True)).to_be_visible()
    check_axe(page, "settings-token-made")
    page.set_viewport_size(TALL)
    screenshot(page, "settings-token-made")

    made.get_by_role("button", name="Done").click()
    expect(made).to_have_count(0)
    assert token not in page.content(), "the secret is still in the page"

    table.get_by_role("button", name="Revoke token ci-bot").click()
    table.get_by_role("button", name="Confirm revoke token ci-bot").click()
    expect(table.get_by_role("rowheader", name="ci-bot", exact=True)).to_have_count(0)
    assert "ci-bot" not in {t["name"] for t in fresh_server.api("GET", "/v1/auth/tokens")}


def test_profiles_are_made_edited_used_and_deleted(browsing: Any, fresh_server: Served) -> None:
    from playwright.sync_api import expect

    page = browsing.open(fresh_server)
    browsing.log(page).allow_console("/v1/profiles)")  # the refused profile below (4xx)
    open_settings(page)
    page.get_by_role("button", name="New profile").click()
    form = page.get_by_role("form", name="New profile")
    form.get_by_label("Name").fill("cloud")
    form.get_by_label("Planner (PROVIDER:MODEL)").fill("gpt-4o")
    form.get_by_label("Worker (PROVIDER:MODEL)").fill("nope:some-model")
    form.get_by_role("button", name="Create profile").click()
    alert = form.get_by_role("alert")
    expect(alert).to_contain_text('planner "gpt-4o" is not PROVIDER:MODEL')
    # the server names the unknown provider and the fix
    form.get_by_label("Planner (PROVIDER:MODEL)").fill("openai:gpt-4o")
    form.get_by_role("button", name="Create profile").click()
    expect(alert).to_contain_text("nope")
    expect(alert).to_contain_text("Fix:")
    form.get_by_label("Worker (PROVIDER:MODEL)").fill("openai:gpt-4o-mini")
    form.get_by_label("Description").fill("cloud models")
    form.get_by_role("button", name="Create profile").click()
    row = page.get_by_role("row", name=re.compile(r"^cloud"))
    expect(row).to_contain_text("openai:gpt-4o-mini")

    row.get_by_role("button", name="Edit profile cloud").click()
    editor = page.get_by_role("form", name="Edit profile cloud")
    editor.get_by_label("Worker (PROVIDER:MODEL)").fill("anthropic:claude-sonnet-4-5")
    editor.get_by_role("button", name="Save profile").click()
    expect(row).to_contain_text("anthropic:claude-sonnet-4-5")

    row.get_by_role("button", name="Use profile cloud").click()
    expect(row).to_contain_text("active")
    active = [p["name"] for p in fresh_server.api("GET", "/v1/profiles") if p["active"]]
    assert active == ["cloud"]
    page.get_by_role("button", name="Use profile local-tiny").click()
    expect(row).not_to_contain_text("active")
    row.get_by_role("button", name="Delete profile cloud").click()
    row.get_by_role("button", name="Confirm delete profile cloud").click()
    expect(row).to_have_count(0)
    assert [p["name"] for p in fresh_server.api("GET", "/v1/profiles")] == ["local-tiny"]


def test_this_browser_uses_a_token_on_a_server_with_auth(
    browsing: Any, guarded_server: Served
) -> None:
    from playwright.sync_api import expect

    page = browsing.open(guarded_server)
    browsing.log(page).allow_console("401")  # asked without a token first
    open_settings(page)
    expect(page.get_by_role("dialog", name="This server needs a token")).to_be_visible()
    expect(page.get_by_text("Sends no token.")).to_be_visible()
    form = page.get_by_role("form", name="Set this browser's token")
    assert guarded_server.token
    form.get_by_label("Token to use").fill(guarded_server.token)
    form.get_by_role("button", name="Use this token").click()
    expect(page.get_by_text(re.compile(r"takes it for e2e-admin with scope admin"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"local-tiny"))).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    # the token is kept in this browser only, and never shown whole
    assert page.evaluate("localStorage.getItem('orca.token')") == guarded_server.token
    assert guarded_server.token not in page.content()
    check_axe(page, "settings-auth")

    form.get_by_role("button", name="Forget this browser's token").click()
    expect(page.get_by_text("Sends no token.")).to_be_visible()
    assert page.evaluate("localStorage.getItem('orca.token')") is None
