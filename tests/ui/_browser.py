"""The web UI's end-to-end harness: Debian's chromium driven by Playwright for Python, a
real ``orca serve`` over a project seeded with real runs (the tiny llama.cpp model), and
the checks every page test uses: ``check_axe`` (WCAG 2.1 A/AA with axe-core, in both
themes) and ``screenshot`` (both themes, saved under ``test-artifacts/ui/``).

Page tests import what they need from here (``from _browser import check_axe,
screenshot``); the fixtures are in ``conftest.py`` beside it. The benchmarks
(``benchmarks/ui_figures.py``) reuse the same seeding and launch."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("ORCA_UI_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "test-artifacts" / "ui"
AXE = ROOT / "ui" / "node_modules" / "axe-core" / "axe.min.js"
BUNDLE = ROOT / "src" / "orca" / "server" / "ui" / "index.html"
RESEARCH = ROOT / "examples" / "research.py"
VIEWPORT = {"width": 1280, "height": 720}
THEMES = ("light", "dark")
MODEL = "orca-tiny.gguf"

# No GPU, no network of its own, no first-run or sync chatter: the browser talks to the
# served page's origin only (the tests check every request it makes).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_FAILS = ("serious", "critical")


def chromium_problem(chromium: Path = CHROMIUM) -> str | None:
    """Why the browser tests cannot run here, with the fix; None when they can."""
    if not chromium.is_file() or not os.access(chromium, os.X_OK):
        return (
            f"the UI's browser tests need Debian's chromium at {chromium}, and it is missing; "
            "fix: make system-deps (as root; or apt-get install chromium)"
        )
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "the UI's browser tests need Playwright for Python; fix: make test (installs .[dev])"
    return None


def build_bundle() -> Path:
    """The UI's bundle, built when missing or stale (scripts/build-ui.sh)."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-ui.sh")],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, f"make ui failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    assert BUNDLE.is_file(), f"no bundle at {BUNDLE} after make ui"
    assert AXE.is_file(), f"no axe-core at {AXE}: cd ui && npm ci"
    return BUNDLE


# -- the served project ---------------------------------------------------------------------

FLOWS = textwrap.dedent(
    '''
    """Small, fast workflows for the UI's tests: a model call, then a human approves."""

    from typing import Annotated, Any, TypedDict

    from orca import END, START, RunContext, Send, StateGraph, reducers


    class Approval(TypedDict, total=False):
        question: str
        draft: str
        notes: Annotated[list[str], reducers.append]
        approved: bool
        published: str


    async def draft(state: Approval, ctx: RunContext) -> dict[str, Any]:
        answer = await ctx.worker.acomplete(f"Draft: {state['question']}", max_tokens=12)
        return {"draft": answer.text.strip(), "notes": ["drafted"]}


    def ask(state: Approval, ctx: RunContext) -> dict[str, Any]:
        approved = ctx.interrupt({"question": "publish this draft?", "draft": state["draft"]})
        return {"approved": bool(approved), "notes": ["asked"]}


    def publish(state: Approval) -> dict[str, Any]:
        verdict = "published" if state["approved"] else "held back"
        return {"published": verdict, "notes": [verdict]}


    approval = StateGraph(Approval, name="approval")
    approval.add_node("draft", draft)
    approval.add_node("ask", ask)
    approval.add_node("publish", publish)
    approval.add_edge(START, "draft")
    approval.add_edge("draft", "ask")
    approval.add_edge("ask", "publish")
    approval.add_edge("publish", END)


    class Flaky(TypedDict, total=False):
        question: str


    def explode(state: Flaky) -> dict[str, Any]:
        raise ValueError(f"cannot answer {state['question']!r}")


    flaky = StateGraph(Flaky, name="flaky")
    flaky.add_node("explode", explode)
    flaky.add_edge(START, "explode")
    flaky.add_edge("explode", END)


    class Burst(TypedDict, total=False):
        steps: int
        width: int
        done: Annotated[int, reducers.sum]
        step: int


    def fan(state: Burst) -> dict[str, Any]:
        return {"step": state.get("step", 0) + 1}


    def spread(state: Burst) -> list[Send] | str:
        if state["step"] > state["steps"]:
            return END
        return [Send("tick", {"i": i}) for i in range(state.get("width", 4))]


    def tick(arg: dict[str, int], ctx: RunContext) -> dict[str, Any]:
        ctx.write({"tick": arg["i"]})
        return {"done": 1}


    # a synthetic fast run for the monitor: STEPS supersteps of WIDTH tiny tasks, each
    # emitting a custom event (about 3 + 4 x WIDTH events a superstep)
    burst = StateGraph(Burst, name="burst")
    burst.add_node("fan", fan)
    burst.add_node("tick", tick)
    burst.add_edge(START, "fan")
    burst.add_conditional_edges("fan", spread)
    burst.add_edge("tick", "fan")
    '''
)

WORKFLOWS = [str(RESEARCH), "approval", "flaky", "burst"]  # the last three: flows.py's


def orca_cli(project: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``orca -C project ARGS`` in a process, with the project's own ORCA_HOME."""
    env = {**os.environ, "ORCA_HOME": str(project / "home")}
    command = [str(Path(sys.executable).parent / "orca"), "-C", str(project), *args]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if check:
        assert done.returncode == 0, f"orca {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


_template: Path | None = None


def make_project(project: Path) -> None:
    """An Orca project like the demo's: the tiny model as planner and worker, priced (so
    money moves), a budget, and ``flows.py`` beside ``examples/research.py``; with its own
    ORCA_HOME in ``project/home``. Made once a process by the CLI (four commands, seconds
    each) and copied for each project after that."""
    global _template
    if _template is None or not (_template / ".orca").is_dir():
        root = Path(tempfile.mkdtemp(prefix="orca-ui-template-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        _make_project(root / "project")
        _template = root / "project"
    shutil.copytree(_template, project, dirs_exist_ok=True)


def _make_project(project: Path) -> None:
    from orca.llm.tiny import ensure_tiny_model

    project.mkdir(parents=True, exist_ok=True)
    (project / "flows.py").write_text(FLOWS)
    model = str(ensure_tiny_model(seed=0, path=project / "home" / "models" / MODEL))
    orca_cli(project, "init")
    orca_cli(
        project, "profile", "create", "local-tiny",
        "--planner", f"llamacpp:{model}", "--worker", f"llamacpp:{model}",
        "--planner-param", "n_ctx=1024", "--worker-param", "n_ctx=1024",
        "--description", "the tiny local model as planner and worker",
    )  # fmt: skip
    # $50 in / $200 out per 1M tokens, as in the demo
    orca_cli(project, "pricing", "set", "llamacpp", MODEL, "--input", "50", "--output", "200")
    orca_cli(project, "budget", "create", "ui-tests", "--amount", "5", "--enforcement", "block")


@dataclass
class Served:
    """A running ``orca serve`` and what was seeded into it."""

    url: str
    project: Path
    token: str | None = None
    runs: dict[str, str] = field(default_factory=dict)
    threads: dict[str, str] = field(default_factory=dict)

    def api(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON the server answers (a 2xx is required)."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        answer = httpx.request(method, self.url + path, headers=headers, timeout=120, **kwargs)
        assert answer.is_success, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json() if answer.content else None

    def wait(self, run_id: str) -> dict[str, Any]:
        """The run's record once it stopped (done, interrupted, failed, ...)."""
        record: dict[str, Any] = self.api("GET", f"/v1/runs/{run_id}/wait")
        return record


@contextmanager
def serving(project: Path, token: str | None = None) -> Iterator[Served]:
    """A server over ``project`` while the block runs; its stderr must hold no traceback."""
    sys.path.insert(0, str(ROOT / "tests"))
    from _served import served

    with served(project, WORKFLOWS, cwd=project) as url:
        yield Served(url=url, project=project, token=token)


def seed(served: Served) -> None:
    """Real runs through the server's API, each kind a page shows:

    - ``research_done``: examples/research.py (planner, 4 parallel workers with a tool, a
      reviewer) on thread ``research-1``, stopped at the reviewer's interrupt
      (``research_interrupted``), then approved: done, several checkpoints to travel;
    - ``approval_done``: the small approval workflow answered ``true`` (thread
      ``approval-1``; ``approval_asked`` is its interrupted first run);
    - ``approval_waiting``: one left waiting at its interrupt (thread ``approval-2``);
    - ``flaky_failed``: a failed run (thread ``flaky-1``)."""
    first = served.api(
        "POST",
        "/v1/threads/research-1/runs",
        json={"workflow": "research", "input": {"topic": "Pregel engines"}},
    )
    served.runs["research_interrupted"] = first["run_id"]
    assert served.wait(first["run_id"])["status"] == "interrupted"
    done = served.api(
        "POST", "/v1/threads/research-1/runs", json={"workflow": "research", "resume": True}
    )
    served.runs["research_done"] = done["run_id"]
    served.threads["research"] = "research-1"

    asked = served.api(
        "POST",
        "/v1/threads/approval-1/runs",
        json={"workflow": "approval", "input": {"question": "Is SQLite enough?"}},
    )
    served.runs["approval_asked"] = asked["run_id"]
    waiting = served.api(
        "POST",
        "/v1/threads/approval-2/runs",
        json={"workflow": "approval", "input": {"question": "Ship on Friday?"}},
    )
    served.runs["approval_waiting"] = waiting["run_id"]
    served.threads["approval"] = "approval-1"
    served.threads["approval_waiting"] = "approval-2"
    failed = served.api(
        "POST", "/v1/threads/flaky-1/runs", json={"workflow": "flaky", "input": {"question": "?"}}
    )
    served.runs["flaky_failed"] = failed["run_id"]
    served.threads["flaky"] = "flaky-1"

    assert served.wait(done["run_id"])["status"] == "done"
    assert served.wait(asked["run_id"])["status"] == "interrupted"
    answered = served.api(
        "POST", "/v1/threads/approval-1/runs", json={"workflow": "approval", "resume": True}
    )
    served.runs["approval_done"] = answered["run_id"]
    assert served.wait(answered["run_id"])["status"] == "done"
    assert served.wait(waiting["run_id"])["status"] == "interrupted"
    assert served.wait(failed["run_id"])["status"] == "failed"


# -- the browser ----------------------------------------------------------------------------


def launch(playwright: Any) -> Any:
    """Debian's chromium, headless, through Playwright (never ``playwright install``).
    Each context made from it has its own fresh profile (storage, cookies)."""
    problem = chromium_problem()
    if problem:
        raise AssertionError(problem)
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


@dataclass
class PageLog:
    """What a page did: console errors, uncaught exceptions, and every request's URL."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    allowed_console: list[str] = field(default_factory=list)
    allowed_origins: list[str] = field(default_factory=list)

    def allow_console(self, fragment: str) -> None:
        """Console errors holding ``fragment`` are expected by the test (e.g. a 401)."""
        self.allowed_console.append(fragment)

    def allow_origin(self, origin: str) -> None:
        """Requests to ``origin`` are expected by the test (e.g. an identity provider's)."""
        self.allowed_origins.append(origin)

    def foreign(self) -> list[str]:
        """Requests to any origin but the server's (data: and blob: URLs are local) and
        those the test allowed."""
        return [
            url
            for url in self.requests
            if urlsplit(url).scheme not in ("data", "blob")
            and f"{urlsplit(url).scheme}://{urlsplit(url).netloc}"
            not in (self.origin, *self.allowed_origins)
        ]

    def unexpected_console(self) -> list[str]:
        return [
            text
            for text in self.console_errors
            if not any(fragment in text for fragment in self.allowed_console)
        ]

    def attach(self, page: Any) -> None:
        def on_console(message: Any) -> None:
            if message.type == "error":
                where = message.location.get("url", "") if message.location else ""
                self.console_errors.append(f"{message.text} ({where})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("request", lambda request: self.requests.append(request.url))

    def check(self) -> None:
        """The page stayed on its own origin and logged no error and threw nothing."""
        assert not self.foreign(), f"requests to other origins: {self.foreign()}"
        assert not self.page_errors, f"uncaught errors in the page: {self.page_errors}"
        assert not self.unexpected_console(), f"console errors: {self.unexpected_console()}"


def set_theme(page: Any, theme: str) -> None:
    """Show the page in ``theme`` ("light" or "dark"), as the Theme button would, without
    reloading (the CSS follows ``data-theme`` on <html>)."""
    page.evaluate(
        """theme => new Promise(done => {
            document.documentElement.setAttribute('data-theme', theme);
            requestAnimationFrame(() => requestAnimationFrame(done));
        })""",
        theme,
    )


def current_theme(page: Any) -> str | None:
    theme: str | None = page.evaluate("document.documentElement.getAttribute('data-theme')")
    return theme


def _restore_theme(page: Any, theme: str | None) -> None:
    if theme is None:
        page.evaluate("document.documentElement.removeAttribute('data-theme')")
    else:
        set_theme(page, theme)


def screenshot(page: Any, name: str, themes: tuple[str, ...] = THEMES) -> list[Path]:
    """Save the whole page as ``test-artifacts/ui/NAME-THEME.png`` in each theme (for
    review by eye); the page's theme and window size are restored after."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    before = current_theme(page)
    saved = []
    try:
        # the main area scrolls by itself: the window is made as tall as its content
        viewport = page.viewport_size
        tall = page.evaluate(
            """() => {
                const main = document.querySelector('main');
                return main ? main.scrollHeight - main.clientHeight + innerHeight : innerHeight;
            }"""
        )
        if viewport and tall > viewport["height"]:
            page.set_viewport_size({"width": viewport["width"], "height": min(tall, 6000)})
        try:
            for theme in themes:
                set_theme(page, theme)
                path = ARTIFACTS / f"{name}-{theme}.png"
                page.screenshot(path=str(path), full_page=True, animations="disabled")
                saved.append(path)
        finally:
            if viewport:
                page.set_viewport_size(viewport)
    finally:
        _restore_theme(page, before)
    return saved


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # evaluated over the DevTools protocol: the page's CSP (script-src 'self') stays on
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    result = page.evaluate(
        """tags => window.axe.run(document, {
            runOnly: {type: 'tag', values: tags},
            resultTypes: ['violations'],
        })""",
        AXE_TAGS,
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe(violations: list[dict[str, Any]]) -> str:
    lines = []
    for v in violations:
        lines.append(f"- {v['impact']}: {v['id']}: {v['help']} ({v['helpUrl']})")
        for node in v["nodes"][:5]:
            summary = " ".join((node.get("failureSummary") or "").split())
            lines.append(f"    at {' '.join(map(str, node['target']))}: {summary[:300]}")
        if len(v["nodes"]) > 5:
            lines.append(f"    ... and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


def check_axe(page: Any, name: str, themes: tuple[str, ...] = THEMES) -> None:
    """No serious or critical WCAG 2.1 A/AA violation on the page, in each theme; the
    failure lists each one with where it is. All violations found are also written to
    ``test-artifacts/ui/NAME-axe.json``."""
    before = current_theme(page)
    found: dict[str, list[dict[str, Any]]] = {}
    try:
        for theme in themes:
            set_theme(page, theme)
            found[theme] = axe_violations(page)
    finally:
        _restore_theme(page, before)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    keys = ("id", "impact", "help")
    brief = {t: [{k: v[k] for k in keys} for v in vs] for t, vs in found.items()}
    (ARTIFACTS / f"{name}-axe.json").write_text(json.dumps(brief, indent=2))
    bad = {
        theme: [v for v in violations if v["impact"] in AXE_FAILS]
        for theme, violations in found.items()
    }
    report = "\n".join(f"{theme} theme:\n{describe(vs)}" for theme, vs in bad.items() if vs)
    assert not report, f"axe-core: serious or critical WCAG 2.1 violations on {name}:\n{report}"
