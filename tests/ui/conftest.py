"""Fixtures of the web UI's end-to-end tests (helpers in ``_browser.py``):

- ``ui_bundle``: the built bundle (scripts/build-ui.sh, once a session);
- ``browser``: Debian's chromium through Playwright, once a session; a missing chromium
  fails (the fix: ``make system-deps``), never skips;
- ``ui_server``: a real ``orca serve`` on loopback over a project seeded with real runs
  (``_browser.seed``: research.py with the tiny model, an approval workflow with an
  interrupt, a failed run, priced so money moves), once a session;
- ``browsing``: opens pages (1280x720, a fresh profile each) against any served project
  and, at the test's end, checks each page's log: no request to another origin, no
  uncaught error, no console error (unless the test allowed it: ``log.allow_console``);
- ``page`` and ``page_log``: one such page on ``ui_server``, and its log.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import VIEWPORT, PageLog, Served, build_bundle, launch, make_project, seed, serving

UI_TIMEOUT_S = 300  # a test's budget including the session's first set-up (seeding, build)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.timeout(UI_TIMEOUT_S))


@pytest.fixture(scope="session")
def ui_bundle() -> Path:
    return build_bundle()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from _browser import chromium_problem

    problem = chromium_problem()
    if problem:
        pytest.fail(problem, pytrace=False)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def ui_server(ui_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    project = tmp_path_factory.mktemp("ui-project")
    make_project(project)
    with serving(project) as served:
        seed(served)
        yield served


class Browsing:
    """Pages of one test; their logs are checked when the test ends."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser
        self._contexts: list[Any] = []
        self.logs: dict[int, PageLog] = {}

    def open(self, served: Served, *, viewport: dict[str, int] = VIEWPORT) -> Any:
        """A new page (in a fresh context: empty storage) whose base URL is ``served``'s."""
        context = self._browser.new_context(viewport=viewport, base_url=served.url)
        context.set_default_timeout(15_000)
        self._contexts.append(context)
        page = context.new_page()
        log = PageLog(origin=served.url)
        log.attach(page)
        self.logs[id(page)] = log
        return page

    def log(self, page: Any) -> PageLog:
        return self.logs[id(page)]

    def close(self) -> None:
        for context in self._contexts:
            context.close()


@pytest.fixture
def browsing(browser: Any) -> Iterator[Browsing]:
    pages = Browsing(browser)
    try:
        yield pages
    finally:
        pages.close()
    for log in pages.logs.values():
        log.check()


@pytest.fixture
def page(browsing: Browsing, ui_server: Served) -> Any:
    return browsing.open(ui_server)


@pytest.fixture
def page_log(browsing: Browsing, page: Any) -> PageLog:
    return browsing.log(page)
