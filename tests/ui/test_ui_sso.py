"""Signing in to the web UI with the server's identity provider (OIDC, authorization code
with PKCE S256), in a real browser against a real ``orca serve`` and the loopback issuer
of ``tests/_oidc.py``: the sign-in prompt offers "Sign in with SSO", the issuer sends the
browser back to /auth/callback, the page exchanges the code and lands on the page it
started from, its token taken by the server; a callback this tab did not start is
refused."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import ROOT, Served

sys.path.insert(0, str(ROOT / "tests"))
from _oidc import Issuer, oidc_config, register_tenants
from _served import init_project, served

FLOW = """
from typing import TypedDict
from orca import END, START, StateGraph


class S(TypedDict, total=False):
    n: int


def step(state):
    return {"n": state.get("n", 0) + 1}


counter = StateGraph(S, name="counter")
counter.add_node("step", step)
counter.add_edge(START, "step")
counter.add_edge("step", END)
"""


@pytest.fixture(scope="module")
def issuer() -> Iterator[Issuer]:
    started = Issuer().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def sso_server(
    ui_bundle: Path, issuer: Issuer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Served]:
    """A server taking the issuer's tokens (and no other way in), with one run done."""
    project = tmp_path_factory.mktemp("sso-project")
    init_project(project, FLOW, oidc_config(issuer))
    register_tenants(project)
    with served(project, ["counter"], cwd=project) as url:
        issuer.redirect_uris.append(f"{url}/auth/callback")
        operator = issuer.mint(sub="seeder", orca_role="operator")
        server = Served(url=url, project=project, token=operator)
        done = server.api("POST", "/v1/runs/wait", json={"workflow": "counter", "input": {}})
        assert done["values"] == {"n": 1}
        server.runs["done"] = done["run_id"]
        yield server


def test_a_user_signs_in_with_sso_and_sees_the_runs(
    browsing: Any, sso_server: Served, issuer: Issuer
) -> None:
    from playwright.sync_api import expect

    issuer.user = {"sub": "ada", "org": "acme", "orca_role": "operator"}
    page = browsing.open(sso_server)
    log = browsing.log(page)
    log.allow_origin(issuer.url)  # the token exchange
    log.allow_console("401")  # the first requests, before signing in
    page.goto("/runs")
    prompt = page.get_by_role("dialog", name="This server needs a token")
    expect(prompt).to_be_visible()
    authorized = issuer.hits["/authorize"]
    prompt.get_by_role("button", name="Sign in with SSO").click()
    page.wait_for_url(f"{sso_server.url}/runs")
    assert issuer.hits["/authorize"] == authorized + 1
    assert issuer.hits["/token"] >= 1
    expect(page.get_by_role("heading", level=1)).to_have_text("Runs")
    expect(page.get_by_role("link", name=sso_server.runs["done"])).to_be_visible()
    expect(page.get_by_role("dialog", name="This server needs a token")).to_have_count(0)
    token = page.evaluate("window.localStorage.getItem('orca.token')")
    assert token.count(".") == 2  # the issuer's access token, kept like a pasted one
    page.goto("/settings")
    expect(page.get_by_text("signed in with SSO")).to_be_visible()
    expect(page.get_by_text("ada", exact=True)).to_be_visible()


def test_a_callback_this_tab_did_not_start_is_refused(
    browsing: Any, sso_server: Served, issuer: Issuer
) -> None:
    from playwright.sync_api import expect

    page = browsing.open(sso_server)
    exchanged = issuer.hits["/token"]
    page.goto("/auth/callback?code=stolen&state=forged")
    expect(page.get_by_role("alert")).to_contain_text("No sign-in was started in this tab")
    assert issuer.hits["/token"] == exchanged
    assert page.evaluate("window.localStorage.getItem('orca.token')") is None
