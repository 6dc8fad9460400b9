"""The web UI's bundle served by a real ``orca serve`` at ``/``: its pages, its assets,
its security headers, and the API's own 404s and auth kept apart from it."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import _served
from orca.server import _ui

ROOT = Path(__file__).resolve().parents[1]
FLOWS = """
from typing import TypedDict
from orca import END, START, StateGraph

class S(TypedDict, total=False):
    n: int

g = StateGraph(S)
g.add_node("one", lambda s: {"n": 1})
g.add_edge(START, "one")
g.add_edge("one", END)
"""


@pytest.fixture(scope="module")
def bundle() -> Path:
    """The built bundle (built now when missing or stale: Node.js is a test dependency)."""
    subprocess.run(["bash", str(ROOT / "scripts" / "build-ui.sh")], check=True, timeout=600)
    assert (_ui.UI_DIR / "index.html").is_file()
    return _ui.UI_DIR


@pytest.fixture(scope="module")
def url(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    project = tmp_path_factory.mktemp("ui")
    _served.init_project(project, FLOWS)
    with _served.served(project, ["g"], cwd=project) as url:
        yield url


def test_pages_are_the_ui_with_its_security_headers(url: str) -> None:
    for path in ("/", "/runs", "/runs/some-run-id", "/threads/t-1", "/builder/triage", "/costs"):
        page = httpx.get(url + path)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert '<div id="root"></div>' in page.text
        csp = page.headers["content-security-policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert page.headers["x-content-type-options"] == "nosniff"
        assert page.headers["cache-control"] == "no-cache"
    assert httpx.head(url + "/").status_code == 200


def test_assets_are_served_immutable_and_only_from_the_bundle(url: str, bundle: Path) -> None:
    scripts = sorted((bundle / "assets").glob("*.js"))
    assert scripts
    asset = httpx.get(f"{url}/assets/{scripts[0].name}")
    assert asset.status_code == 200
    assert asset.content == scripts[0].read_bytes()
    assert "javascript" in asset.headers["content-type"]
    assert "immutable" in asset.headers["cache-control"]
    for hostile in ("/assets/nothing.js", "/assets/..%2f..%2f_app.py", "/assets/%2e%2e/index.html"):
        missing = httpx.get(url + hostile)
        _served.assert_envelope(missing, 404, "NOT_FOUND")


def test_the_api_keeps_its_own_404s_and_405s(url: str) -> None:
    _served.assert_envelope(httpx.get(f"{url}/v1/nothing-here"), 404, "NOT_FOUND")
    _served.assert_envelope(httpx.post(f"{url}/v1/nothing-here", json={}), 404, "NOT_FOUND")
    _served.assert_envelope(httpx.post(f"{url}/runs", json={}), 404, "NOT_FOUND")
    # a path that is neither the API's nor a page's is a 404, not the UI's page
    _served.assert_envelope(httpx.get(f"{url}/debug"), 404, "NOT_FOUND")
    assert httpx.put(f"{url}/v1/runs", json={}).status_code == 405
    # a run that does not exist is the API's 404, not the UI's page
    _served.assert_envelope(httpx.get(f"{url}/v1/runs/no-such-run"), 404, "NOT_FOUND")


def test_with_auth_on_the_bundle_is_open_and_the_data_is_not(bundle: Path, tmp_path: Path) -> None:
    _served.init_project(tmp_path, FLOWS, 'auth = "tokens"')
    made = _served.orca(tmp_path, "token", "create", "ui", stdout=subprocess.PIPE)
    assert made.wait(timeout=60) == 0
    with _served.served(tmp_path, ["g"], cwd=tmp_path) as url:
        assert httpx.get(url + "/runs").status_code == 200
        _served.assert_envelope(httpx.get(url + "/v1/runs"), 401, "UNAUTHENTICATED")
        # the UI's paths never open a write
        _served.assert_envelope(httpx.post(url + "/runs", json={}), 401, "UNAUTHENTICATED")


def test_a_missing_bundle_says_how_to_build_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(_ui, "UI_DIR", tmp_path)
    answer = _ui.ui_response("/runs")
    assert answer.status_code == 503
    assert b"UI_NOT_BUILT" in answer.body
    assert b"make ui" in answer.body


@pytest.mark.parametrize(
    ("path", "ui"),
    [
        ("/", True),
        ("/runs", True),
        ("/runs/x", True),
        ("/builder/triage", True),
        ("/assets/index-abc.js", True),
        ("/v1/runs", False),
        ("/metrics", False),
        ("/healthz", False),
        ("/openapi.json", False),
        ("/debug", False),
        ("/runsx", False),
        ("/ui/index.html", False),
    ],
)
def test_which_paths_are_the_uis(path: str, ui: bool) -> None:
    assert _ui.ui_path(path) is ui


def test_the_served_pages_are_the_ui_routers_pages() -> None:
    """Every top-level route of ``ui/src/App.tsx`` is served (and only those)."""
    app = (ROOT / "ui" / "src" / "App.tsx").read_text()
    routes = set(re.findall(r'\{ path: "([a-z]+)(?:/[^"]*)?"', app))
    assert routes == _ui.PAGES
