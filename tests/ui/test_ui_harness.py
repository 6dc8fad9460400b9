"""The browser-test harness checks what it claims: axe-core failures name the rule and
the element, the page log tells the server's requests from any other origin's, and a
machine without chromium fails with the fix (make system-deps), in the harness and in
scripts/system-deps.sh under CI=true."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from _browser import ROOT, PageLog, check_axe, chromium_problem


def test_the_axe_check_fails_on_a_serious_violation_and_names_it(page: Any) -> None:
    """A button without a name is a critical violation; the failure names the rule and
    where it is."""
    from playwright.sync_api import expect

    page.goto("/runs")
    expect(page.get_by_role("heading", level=1)).to_have_text("Runs")
    page.evaluate(
        """() => {
            const b = document.createElement('button');
            b.id = 'nameless';
            document.querySelector('main').append(b);
        }"""
    )
    with pytest.raises(AssertionError) as failed:
        check_axe(page, "harness-self-check", themes=("light",))
    assert "button-name" in str(failed.value)
    assert "#nameless" in str(failed.value)
    assert "critical" in str(failed.value)


def test_the_page_log_tells_foreign_requests_from_the_servers_own() -> None:
    log = PageLog(origin="http://127.0.0.1:8700")
    log.requests += [
        "http://127.0.0.1:8700/v1/runs",
        "data:image/png;base64,AAAA",
        "http://127.0.0.1:8701/v1/runs",
        "https://cdn.example.com/react.js",
        "http://localhost:8700/v1/runs",
    ]
    assert log.foreign() == [
        "http://127.0.0.1:8701/v1/runs",
        "https://cdn.example.com/react.js",
        "http://localhost:8700/v1/runs",
    ]
    log.console_errors.append("Failed to load resource: 401 (http://127.0.0.1:8700/v1/runs)")
    assert log.unexpected_console() == log.console_errors
    log.allow_console("401")
    assert log.unexpected_console() == []
    with pytest.raises(AssertionError, match="requests to other origins"):
        log.check()
    log.requests[:] = ["http://127.0.0.1:8700/v1/runs"]
    log.check()  # the 401 was allowed
    log.page_errors.append("TypeError: x is undefined")
    with pytest.raises(AssertionError, match="uncaught errors in the page"):
        log.check()


def test_a_missing_chromium_is_named_with_its_fix(tmp_path: Path) -> None:
    problem = chromium_problem(tmp_path / "no-chromium")
    assert problem is not None
    assert "make system-deps" in problem
    assert str(tmp_path / "no-chromium") in problem
    assert chromium_problem() is None  # this machine has it (make test installs it)


def _system_deps(tmp_path: Path, ci: str) -> subprocess.CompletedProcess[str]:
    """scripts/system-deps.sh as a user who is not root (a fake ``id``), on a machine
    whose chromium is missing."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake_id = bin_dir / "id"
    fake_id.write_text("#!/bin/sh\necho 1000\n")
    fake_id.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "ORCA_UI_CHROMIUM": str(tmp_path / "no-chromium"),
        "CI": ci,
    }
    return subprocess.run(
        ["bash", str(ROOT / "scripts" / "system-deps.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_system_deps_fails_under_ci_when_chromium_is_missing(tmp_path: Path) -> None:
    done = _system_deps(tmp_path, "true")
    assert done.returncode == 1
    assert "missing" in done.stderr
    assert "chromium" in done.stderr
    assert "apt-get install" in done.stderr


def test_system_deps_names_a_missing_chromium_elsewhere(tmp_path: Path) -> None:
    done = _system_deps(tmp_path, "")
    assert done.returncode == 0
    assert "apt-get install" in done.stderr
    assert "chromium" in done.stderr
