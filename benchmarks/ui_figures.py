"""Web UI figures, measured in Debian's chromium (Playwright for Python, as the browser
tests drive it) against a real ``orca serve`` over a project seeded like the browser
tests' (``tests/ui/_browser.py``: the tiny llama.cpp model, research.py, an approval
workflow with an interrupt, a failed run). No peer: these are Orca's own figures.

ui_interaction_p95_ms  p95 of UI interactions (navigation between the pages, opening a
                       run from the runs list, switching a checkpoint of a thread), each
                       timed in the page with the Performance API from ``performance.mark``
                       at the click (a capturing listener) to a mark in the first animation
                       frame after the target content is in the document (a
                       MutationObserver); median over repetitions of the p95
ui_live_events_per_s   the run monitor fed a synthetic fast run (``burst``: supersteps of
                       tiny tasks each emitting an event; the page opened as the run
                       starts): the events it applied (``window.__orcaMonitor``) over the
                       wall time from its stream's request to the last one applied; none may
                       be dropped (equal to the SSE messages the server sends for the run)
                       and no animation frame may take 50 ms or more
ui_bundle_gzip_kb      the built bundle's assets gzipped (level 9): all, and the initial
                       load (index.html and what it loads before the first page's chunk)
"""

from __future__ import annotations

import gzip
import re
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "ui"))
sys.path.insert(0, str(ROOT / "tests"))

IDS = ("ui_interaction_p95_ms", "ui_live_events_per_s", "ui_bundle_gzip_kb")
INTERACTION_LIMIT_MS = 200.0
EVENTS_LIMIT = 1000.0
LONG_FRAME_MS = 50.0
CYCLES = 3  # interaction cycles a repetition (each visits every page, opens runs, ...)
BURST = {"steps": 500, "width": 8}  # about 16,000 events in a few seconds

# Installed in the page by the browser itself (CDP), before the app's scripts: the
# interaction timer, the stream's start, and long animation frames.
PROBE = """
(() => {
  const bench = { longFrames: [], streamStart: null };
  window.__orcaBench = bench;
  const keep = list => {
    for (const e of list.getEntries()) {
      const script = (e.scripts || []).slice().sort((a, b) => b.duration - a.duration)[0];
      const where = script ? `${script.invoker || script.invokerType} (${script.sourceFunctionName
        || '?'} in ${(script.sourceURL || '').split('/').pop()})` : null;
      bench.longFrames.push({start: e.startTime, duration: e.duration, where});
    }
  };
  try {
    new PerformanceObserver(keep).observe({type: 'long-animation-frame', buffered: true});
  } catch (e) {
    new PerformanceObserver(keep).observe({type: 'longtask', buffered: true});
  }
  // when the monitor asked for the run's events (its stream, or its log when the run had
  // stopped) and which
  const fetch0 = window.fetch;
  window.fetch = function (input, init) {
    const url = typeof input === 'string' ? input : input.url;
    const kind = /\\/v1\\/runs\\/[^/?]+\\/(stream|events)/.exec(url);
    if (bench.streamStart === null && kind) {
      bench.streamStart = performance.now();
      bench.source = kind[1];
    }
    return fetch0.apply(this, arguments);
  };
  // the frame in which the monitor's count of applied events last changed
  bench.lastCount = 0;
  bench.lastChange = null;
  const sample = () => {
    const m = window.__orcaMonitor;
    if (m && m.eventsApplied !== bench.lastCount) {
      bench.lastCount = m.eventsApplied;
      bench.lastChange = performance.now();
    }
    requestAnimationFrame(sample);
  };
  requestAnimationFrame(sample);
  let n = 0;
  const WATCH = {childList: true, subtree: true, characterData: true, attributes: true};
  // resolves with the interaction's duration: from the next click to the first frame
  // after an element matching `selector` (with exactly `text`, when given) is in the page
  bench.arm = (selector, text) => {
    const id = ++n;
    bench.pending = new Promise((resolve, reject) => {
      const found = () => [...document.querySelectorAll(selector)].some(
        el => text === null || el.textContent.trim() === text);
      const onClick = () => {
        document.removeEventListener('click', onClick, true);
        performance.mark(`orca-click-${id}`);
        let timer = null;
        const done = () => {
          observer.disconnect();
          clearTimeout(timer);
          requestAnimationFrame(() => {
            performance.mark(`orca-shown-${id}`);
            const m = performance.measure(`orca-${id}`, `orca-click-${id}`, `orca-shown-${id}`);
            resolve(m.duration);
          });
        };
        const observer = new MutationObserver(() => { if (found()) done(); });
        observer.observe(document, WATCH);
        const late = () => { observer.disconnect(); reject(new Error(`no ${selector} in 10 s`)); };
        timer = setTimeout(late, 10000);
        if (found()) done();
      };
      document.addEventListener('click', onClick, true);
    });
  };
})();
"""

PAGES = [("Runs", "/runs"), ("Threads", "/threads"), ("Costs", "/costs"),
         ("Builder", "/builder"), ("Settings", "/settings")]  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1), nearest-rank."""
    ordered = sorted(values)
    rank = max(1, round(q * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


class Session:
    """One seeded server and one browser for every UI figure."""

    def __init__(self) -> None:
        self._stack = ExitStack()
        self.served: Any = None
        self.browser: Any = None

    def __enter__(self) -> Session:
        from _browser import build_bundle, launch, make_project, seed, serving
        from playwright.sync_api import sync_playwright

        build_bundle()
        project = Path(self._stack.enter_context(tempfile.TemporaryDirectory())) / "project"
        make_project(project)
        self.served = self._stack.enter_context(serving(project))
        seed(self.served)
        playwright = self._stack.enter_context(sync_playwright())
        self.browser = launch(playwright)
        self._stack.callback(self.browser.close)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def page(self) -> Any:
        from _browser import VIEWPORT

        context = self.browser.new_context(viewport=VIEWPORT, base_url=self.served.url)
        context.set_default_timeout(15_000)
        context.add_init_script(PROBE)
        return context.new_page()


def _timed_click(page: Any, click: Any, selector: str, text: str | None) -> float:
    page.evaluate("([s, t]) => window.__orcaBench.arm(s, t)", [selector, text])
    click()
    duration: float = page.evaluate("() => window.__orcaBench.pending")
    return duration


def _navigation(session: Session, page: Any) -> list[float]:
    """Every page by its nav link, back to the runs."""
    nav = page.get_by_role("navigation", name="Main")
    times = []
    for label, _ in [*PAGES[1:], PAGES[0]]:
        link = nav.get_by_role("link", name=label, exact=True)
        times.append(_timed_click(page, link.click, "h1", label))
        LABELS.append(f"navigation to {label}")
    return times


# the monitor's content that says the run is shown: its graph's nodes with their states
RUN_TARGET = "[role=group][aria-label='Workflow graph'] [data-status]"


def _open_run(session: Session, page: Any) -> list[float]:
    """Each seeded run opened from the runs list (and back)."""
    times = []
    for key in ("research_done", "approval_waiting", "flaky_failed"):
        link = page.locator(f'a[href="/runs/{session.served.runs[key]}"]').first
        link.wait_for()
        times.append(_timed_click(page, link.click, RUN_TARGET, None))
        LABELS.append(f"open run {key}")
        page.go_back()
        page.get_by_role("heading", level=1, name="Runs").wait_for()
    return times


# the threads page: its checkpoints, and the state tree of the one chosen
CHECKPOINTS = "[role=listbox][aria-label='Checkpoints, newest first'] [role=option]"
STATE_AT = "[role=tree][aria-label='State at step {step}']"


def _checkpoints(session: Session, page: Any) -> list[float]:
    """The research thread's checkpoints chosen in turn, oldest to newest (up to 8)."""
    thread = session.served.threads["research"]
    page.goto(f"/threads/{thread}")
    items = page.locator(CHECKPOINTS)
    items.first.wait_for()
    count = items.count()
    times = []
    for i in reversed(range(min(count, 8))):  # the newest is selected at first
        item = items.nth(i)
        step = int(item.locator("strong").inner_text().removeprefix("Step ").strip())
        times.append(_timed_click(page, item.click, STATE_AT.format(step=step), None))
        LABELS.append(f"checkpoint at step {step}")
    page.goto("/runs")
    page.get_by_role("heading", level=1, name="Runs").wait_for()
    return times


LABELS: list[str] = []  # what each timing of the current cycle was, in order

KINDS = {"navigation": _navigation, "open_run": _open_run, "checkpoint": _checkpoints}


def interaction_p95(reps: int, session: Session) -> dict[str, Any]:
    samples: list[float] = []
    kinds: dict[str, list[float]] = {}
    errors: dict[str, str] = {}
    slowest: list[tuple[float, str]] = []
    for rep in range(reps + 1):  # the first is a warm-up (server caches)
        if rep == 1:
            slowest.clear()
        page = session.page()
        page.goto("/runs")
        page.get_by_role("heading", level=1, name="Runs").wait_for()
        times: dict[str, list[float]] = {}
        for _ in range(CYCLES):
            for kind, measure in KINDS.items():
                if kind in errors:
                    continue
                try:
                    LABELS.clear()
                    took = measure(session, page)
                    times.setdefault(kind, []).extend(took)
                    for label, ms in zip(LABELS, took, strict=True):
                        slowest.append((ms, label))
                except Exception as exc:  # a page not built yet: said, not hidden
                    errors[kind] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
                    page.goto("/runs")
        page.context.close()
        pooled = [v for values in times.values() for v in values]
        samples.append(percentile(pooled, 0.95))
        kinds = {k: v for k, v in times.items() if v}
    samples = samples[1:]
    value = statistics.median(samples)
    return {
        "missing": errors,
        "value": value,
        "unit": "ms",
        "min": min(samples),
        "max": max(samples),
        "reps": reps,
        "per_kind_p95_ms": {k: round(percentile(v, 0.95), 1) for k, v in kinds.items()},
        "interactions_per_rep": sum(len(v) for v in kinds.values()),
        "slowest": [f"{label}: {ms:.0f} ms" for ms, label in sorted(slowest, reverse=True)[:5]],
        "target": f"<= {INTERACTION_LIMIT_MS:g} ms",
        "met": value <= INTERACTION_LIMIT_MS and not errors,
    }


def sse_messages(url: str, run_id: str) -> int:
    """The events the server streams for the whole run (the stream ends with the run; its
    closing ``end`` message is not an event)."""
    count, event = 0, "message"
    with httpx.stream("GET", f"{url}/v1/runs/{run_id}/stream", timeout=120) as answer:
        for line in answer.iter_lines():
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:"):
                count += event != "end"
            elif not line:
                event = "message"
    return count


def logged_events(served: Any, run_id: str) -> int:
    """The events in the run's log (what the monitor reads for a run that has stopped)."""
    count, start = 0, 0
    while True:
        page = served.api("GET", f"/v1/runs/{run_id}/events", params={"start": start, "max": 5000})
        count += len(page)
        if len(page) < 5000:
            return count
        start = page[-1]["seq"] + 1


MONITOR_STATE = "() => window.__orcaMonitor ? {...window.__orcaMonitor} : null"
TIMING = """() => ({start: window.__orcaBench.streamStart, source: window.__orcaBench.source,
    end: window.__orcaBench.lastChange, frames: window.__orcaBench.longFrames})"""


def live_events(reps: int, session: Session) -> dict[str, Any]:
    served = session.served
    rates: list[float] = []
    long_frames: list[int] = []
    monitor_long: list[int] = []
    dropped: list[int] = []
    counts: list[int] = []
    sources: list[str] = []
    longest: list[float] = []
    culprits: dict[str, int] = {}  # the script that took most of each long frame
    for rep in range(reps + 1):  # the first is a warm-up
        page = session.page()
        page.goto("/runs")
        page.get_by_role("heading", level=1, name="Runs").wait_for()
        body = {"workflow": "burst", "input": BURST, "max_steps": 2 * BURST["steps"] + 10}
        run_id = served.api("POST", f"/v1/threads/burst-{rep}-{time.time_ns()}/runs", json=body)[
            "run_id"
        ]
        page.goto(f"/runs/{run_id}")
        assert served.wait(run_id)["status"] == "done"
        deadline = time.monotonic() + 120
        state = page.evaluate(MONITOR_STATE)
        while time.monotonic() < deadline and not (state and state.get("done")):
            time.sleep(0.05)
            state = page.evaluate(MONITOR_STATE)
        if state is None:
            raise RuntimeError("the run monitor does not expose window.__orcaMonitor")
        if not state.get("done"):
            raise RuntimeError(f"the monitor did not finish in 120 s: {state}")
        time.sleep(0.3)  # anything applied twice would show now
        state = page.evaluate(MONITOR_STATE)
        timing = page.evaluate(TIMING)
        page.context.close()
        if rep == 0:
            continue
        streamed = timing["source"] == "stream"
        total = sse_messages(served.url, run_id) if streamed else logged_events(served, run_id)
        applied = state["eventsApplied"]
        seconds = (timing["end"] - timing["start"]) / 1000
        rates.append(applied / seconds)
        counts.append(total)
        dropped.append(total - applied)
        sources.append(timing["source"])
        window = [f for f in timing["frames"] if timing["start"] <= f["start"] <= timing["end"]]
        long_frames.append(sum(1 for f in window if f["duration"] >= LONG_FRAME_MS))
        longest.append(max((f["duration"] for f in window), default=0.0))
        for f in window:
            if f["duration"] >= LONG_FRAME_MS and f.get("where"):
                culprits[f["where"]] = culprits.get(f["where"], 0) + 1
        monitor_long.append(state.get("framesOver50ms", 0))
    value = statistics.median(rates)
    met = value >= EVENTS_LIMIT and not any(dropped) and not any(long_frames)
    return {
        "value": value,
        "unit": "events/s",
        "min": min(rates),
        "max": max(rates),
        "reps": reps,
        "events_per_run": statistics.median(counts),
        "dropped": max(dropped, key=abs),
        "sources": sorted(set(sources)),
        "long_frames": max(long_frames),
        "long_frames_median": statistics.median(long_frames),
        "longest_frame_ms": round(max(longest), 1),
        "long_frames_spent_in": sorted(culprits.items(), key=lambda kv: -kv[1])[:3],
        "monitor_frames_over_50ms": max(monitor_long),
        "target": f">= {EVENTS_LIMIT:g} events/s, none dropped, no frame >= {LONG_FRAME_MS:g} ms",
        "met": met,
    }


def _initial_assets(index: Path) -> list[Path]:
    """index.html and the assets it names (its entry script, style sheet, preloads)."""
    html = index.read_text(encoding="utf-8")
    names = re.findall(r'(?:src|href)="/?(assets/[^"]+)"', html)
    return [index, *(index.parent / name for name in dict.fromkeys(names))]


def bundle_size(reps: int) -> dict[str, Any]:
    from _browser import BUNDLE, build_bundle

    build_bundle()
    root = BUNDLE.parent
    files = [p for p in root.rglob("*") if p.is_file()]

    def gz(path: Path) -> int:
        return len(gzip.compress(path.read_bytes(), compresslevel=9, mtime=0))

    total = sum(gz(p) for p in files)
    initial = sum(gz(p) for p in _initial_assets(BUNDLE))
    largest = max(files, key=gz)
    return {
        "value": round(total / 1024, 1),
        "unit": "KiB gzip",
        "initial_kb": round(initial / 1024, 1),
        "raw_kb": round(sum(p.stat().st_size for p in files) / 1024, 1),
        "files": len(files),
        "largest": f"{largest.relative_to(root)} ({gz(largest) / 1024:.1f} KiB gzip)",
        "target": "reported",
        "met": None,
    }


def run(reps: int, wanted: set[str] | None) -> dict[str, dict[str, Any]]:
    """The UI figures in ``wanted`` (all when None)."""
    from _report import run_figures

    chosen = [f for f in IDS if wanted is None or f in wanted or "ui" in wanted]
    if not chosen:
        return {}
    with ExitStack() as stack:
        session: Session | None = None

        def shared() -> Session:
            nonlocal session
            if session is None:
                session = stack.enter_context(Session())
            return session

        figures = (
            ("ui_interaction_p95_ms", lambda r: interaction_p95(r, shared())),
            ("ui_live_events_per_s", lambda r: live_events(r, shared())),
            ("ui_bundle_gzip_kb", bundle_size),
        )
        return run_figures(figures, reps, wanted, "ui")


def markdown(results: dict[str, Any]) -> list[str]:
    """The web UI section of RESULTS.md."""
    if not any(f in results for f in IDS):
        return []
    lines = ["", "## Web UI", ""]
    lines.append(
        "Measured in Debian's chromium (headless, Playwright) against a real `orca serve` "
        "on loopback; no peer. See NOTES.md, Web UI figures."
    )
    lines.append("")

    def verdict(entry: dict[str, Any]) -> str:
        return "met" if entry["met"] else "NOT met"

    inter = results.get("ui_interaction_p95_ms")
    if inter:
        lines.append(
            "- `ui_interaction_p95_ms`: p95 of navigation between the pages, opening a run "
            "and switching a checkpoint, click to the first frame after the content is in "
            "the page (Performance API), median over repetitions."
        )
        lines.append(
            f"  error: `{inter['error']}`"
            if "error" in inter
            else f"  {inter['value']:.1f} ms (min {inter['min']:.1f}, max {inter['max']:.1f}; "
            f"p95 by kind {inter['per_kind_p95_ms']}, {inter['interactions_per_rep']} "
            f"interactions a repetition, {inter['reps']} repetitions); target "
            f"{inter['target']}: {verdict(inter)}."
        )
        if inter.get("slowest"):
            lines.append(f"  The slowest: {'; '.join(inter['slowest'])}.")
        for kind, why in inter.get("missing", {}).items():
            lines.append(f"  not measured, {kind}: `{why}`")
    live = results.get("ui_live_events_per_s")
    if live:
        lines.append(
            "- `ui_live_events_per_s`: the run monitor following a synthetic fast run "
            f"({BURST['steps']} supersteps of {BURST['width']} tiny tasks, each emitting an "
            "event), events applied over the wall time from its stream's request to the "
            "last one applied."
        )
        lines.append(
            f"  error: `{live['error']}`"
            if "error" in live
            else f"  {live['value']:,.0f} events/s (min {live['min']:,.0f}, max "
            f"{live['max']:,.0f}; {live['events_per_run']:,.0f} events a run, "
            f"{live['dropped']} dropped; frames >= 50 ms: {live['long_frames']} at most in a "
            f"run, median {live['long_frames_median']:g}, the longest "
            f"{live['longest_frame_ms']:.0f} ms; {live['reps']} repetitions); "
            f"target {live['target']}: {verdict(live)}."
        )
    if live and live.get("long_frames_spent_in"):
        spent = "; ".join(f"{where}: {n}" for where, n in live["long_frames_spent_in"])
        lines.append(f"  The long frames were spent mostly in: {spent}.")
    size = results.get("ui_bundle_gzip_kb")
    if size:
        lines.append(
            "- `ui_bundle_gzip_kb`: the built bundle gzipped (level 9), all files and the "
            "initial load (index.html, its entry script and style sheet)."
        )
        lines.append(
            f"  error: `{size['error']}`"
            if "error" in size
            else f"  {size['value']:.1f} KiB in all ({size['files']} files, "
            f"{size['raw_kb']:.0f} KiB raw), initial load {size['initial_kb']:.1f} KiB; the "
            f"largest: {size['largest']}."
        )
    return lines


if __name__ == "__main__":  # python benchmarks/ui_figures.py: just these figures
    import json
    import os

    sys.path.insert(0, str(Path(__file__).parent))
    print(json.dumps(run(int(os.environ.get("REPS", "3")), None), indent=2))
