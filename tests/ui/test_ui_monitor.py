"""The run monitor in a real browser against a real ``orca serve``: a finished run opened
from its event log (no stream), node states changing live on a running run, an interrupt
answered from the page, a run cancelled, a fast run's every event applied, the events
table's filters, the trace downloaded, the graph operated by the keyboard; axe-core in
both themes and screenshots."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _browser import ARTIFACTS, Served, check_axe, make_project, screenshot

# Workflows of this module's own server: one slow enough to watch and cancel, one that
# sends its events as fast as it can.
LIVE = textwrap.dedent(
    '''
    """A slow workflow (to watch live and cancel), a chatty one (events as fast as the
    engine makes them) and one whose model call streams its tokens."""

    import asyncio
    from typing import Annotated, Any, TypedDict

    from orca import END, START, RunContext, StateGraph, reducers


    class Slow(TypedDict, total=False):
        ticks: Annotated[list[int], reducers.append]


    def prepare(state: Slow) -> dict[str, Any]:
        return {"ticks": [0]}


    async def tick(state: Slow, ctx: RunContext) -> dict[str, Any]:
        for i in range(1200):  # a minute, unless cancelled
            ctx.write({"tick": i})
            await asyncio.sleep(0.05)
        return {"ticks": [1]}


    slow = StateGraph(Slow, name="slow")
    slow.add_node("prepare", prepare)
    slow.add_node("tick", tick)
    slow.add_edge(START, "prepare")
    slow.add_edge("prepare", "tick")
    slow.add_edge("tick", END)


    class Chatty(TypedDict, total=False):
        n: int
        sent: Annotated[list[int], reducers.append]


    async def settle(state: Chatty) -> dict[str, Any]:
        await asyncio.sleep(3)  # time for the page to open while the run runs
        return {"sent": [0]}


    async def burst(state: Chatty, ctx: RunContext) -> dict[str, Any]:
        for i in range(state["n"]):
            ctx.write({"i": i})
            if i % 1000 == 999:
                await asyncio.sleep(0)
        return {"sent": [state["n"]]}


    class Talk(TypedDict, total=False):
        answer: str


    async def pause(state: Talk) -> dict[str, Any]:
        await asyncio.sleep(3)  # time for the page to open while the run runs
        return {}


    async def speak(state: Talk, ctx: RunContext) -> dict[str, Any]:
        answer = await ctx.worker.acomplete("Tell a long story.", max_tokens=300)
        return {"answer": answer.text}


    talk = StateGraph(Talk, name="talk")
    talk.add_node("pause", pause)
    talk.add_node("speak", speak)
    talk.add_edge(START, "pause")
    talk.add_edge("pause", "speak")
    talk.add_edge("speak", END)


    chatty = StateGraph(Chatty, name="chatty")
    chatty.add_node("settle", settle)
    chatty.add_node("burst", burst)
    chatty.add_edge(START, "settle")
    chatty.add_edge("settle", "burst")
    chatty.add_edge("burst", END)
    '''
)
CHATTY_EVENTS = 10_000


@pytest.fixture(scope="module")
def live_server(ui_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from _served import free_port

    project = tmp_path_factory.mktemp("ui-monitor-live")
    make_project(project)
    (project / "live.py").write_text(LIVE)
    port = free_port()
    env = {**os.environ, "ORCA_HOME": str(project / "home")}
    orca = str(Path(sys.executable).parent / "orca")
    command = [orca, "-C", str(project), "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*command, *(f"--workflow=live.py:{w}" for w in ("slow", "chatty", "talk"))],
        env=env,
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "exited"
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "orca serve did not become ready in 60 s"
            time.sleep(0.1)
        yield Served(url=url, project=project)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    said = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in said, said


def graph_node(page: Any, name: str) -> Any:
    """The graph's node (its box carries the state in data-status)."""
    return page.locator(f".react-flow__node[data-id='{name}'] .graph-node")


def open_monitor(page: Any, run_id: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"/runs/{run_id}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Run {run_id}")


def wait_until_done(page: Any, timeout_s: float = 60) -> None:
    """Until the monitor's stream has ended (page.evaluate: the page's CSP forbids the
    string evaluation wait_for_function uses)."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate("Boolean(window.__orcaMonitor && window.__orcaMonitor.done)"):
        assert time.monotonic() < deadline, f"the monitor's stream did not end in {timeout_s} s"
        page.wait_for_timeout(100)


def counters(page: Any) -> dict[str, Any]:
    found: dict[str, Any] = page.evaluate("window.__orcaMonitor")
    return found


def test_a_finished_run_opens_from_its_event_log(
    page: Any, page_log: Any, ui_server: Served
) -> None:
    from playwright.sync_api import expect

    run_id = ui_server.runs["research_interrupted"]
    open_monitor(page, run_id)
    expect(page.get_by_text("from the event log")).to_be_visible()
    expect(graph_node(page, "plan")).to_have_attribute("data-status", "done")
    expect(graph_node(page, "worker")).to_have_attribute("data-status", "done")
    expect(graph_node(page, "review")).to_have_attribute("data-status", "interrupted")
    # the totals are the run record's, exactly
    record = ui_server.api("GET", f"/v1/runs/{run_id}")
    nano = record["cost_nano_usd"]
    assert nano > 0
    cost = page.get_by_test_id("run-cost")
    expect(cost).to_have_text(re.compile(r"^\$0\.\d+$"))
    shown = cost.text_content() or ""
    whole, _, frac = shown.removeprefix("$").partition(".")
    assert int(whole) * 10**9 + int(frac.ljust(9, "0")) == nano, (shown, nano)
    logged = ui_server.api("GET", f"/v1/runs/{run_id}/events")
    expect(page.get_by_test_id("events-applied")).to_have_text(str(len(logged)))
    # the per-node table and the workflow's node metrics
    nodes = page.get_by_role("table", name="Nodes: state, calls, tokens and cost")
    expect(nodes.get_by_role("row")).to_have_count(4)
    metrics = page.get_by_role("table", name="Node metrics over the workflow's runs")
    expect(metrics.get_by_role("rowheader", name="worker")).to_be_visible()
    # the superstep timeline has the run's three steps
    expect(page.get_by_role("list", name="Supersteps").get_by_role("listitem")).to_have_count(3)
    assert not [u for u in page_log.requests if u.endswith("/stream")], "a finished run streamed"
    page.wait_for_load_state("networkidle")
    # a laptop screen (1280x720) needs no sideways scrolling
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    main_fits = "(m => m.scrollWidth <= m.clientWidth)(document.querySelector('main'))"
    assert page.evaluate(main_fits)
    check_axe(page, "monitor-finished")
    screenshot(page, "monitor-finished")


def test_the_events_table_filters_by_type_and_node(page: Any, ui_server: Served) -> None:
    from playwright.sync_api import expect

    run_id = ui_server.runs["research_interrupted"]
    open_monitor(page, run_id)
    events = page.get_by_role("region", name="Events")
    table = events.get_by_role("table", name="Run events, newest first")
    expect(table.locator("tbody tr").first).to_be_visible()
    events.get_by_label("Event type").select_option("tool.call")
    types = table.locator("tbody tr td:nth-child(3)")
    expect(types).to_have_count(4)  # one files_write per worker
    assert set(types.all_text_contents()) == {"tool.call"}
    events.get_by_label("Event type").select_option("")
    events.get_by_label("Event node").select_option("plan")
    nodes = table.locator("tbody tr td:nth-child(4)")
    expect(nodes.first).to_have_text("plan")
    assert set(nodes.all_text_contents()) == {"plan"}
    # an event opens whole
    table.get_by_role("button", name="usage").first.click()
    expect(table.locator("pre").first).to_contain_text('"cost_nano_usd"')


def test_the_trace_downloads_as_a_file(page: Any, ui_server: Served) -> None:
    run_id = ui_server.runs["research_done"]
    open_monitor(page, run_id)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download trace (Perfetto)").click()
    download = info.value
    assert download.suggested_filename == f"{run_id}.trace.json"
    trace = json.loads(Path(download.path()).read_text())
    assert trace["traceEvents"], "an empty trace"


def test_the_graph_is_operated_by_the_keyboard(page: Any, ui_server: Served) -> None:
    from playwright.sync_api import expect

    open_monitor(page, ui_server.runs["research_interrupted"])
    node = page.locator(".react-flow__node[data-id='worker']")
    expect(node).to_have_attribute("tabindex", "0")
    node.focus()
    page.keyboard.press("Enter")
    side = page.get_by_role("complementary", name="Node worker")
    expect(side).to_be_visible()
    expect(side.get_by_text("4 started, 4 finished, 0 failed")).to_be_visible()
    side.get_by_role("button", name="Show all nodes").click()
    expect(page.get_by_role("complementary", name="Nodes")).to_be_visible()


def test_an_interrupt_is_answered_from_the_page(page: Any, ui_server: Served) -> None:
    from playwright.sync_api import expect

    started = ui_server.api(
        "POST",
        "/v1/threads/ui-monitor-approve/runs",
        json={"workflow": "approval", "input": {"question": "Answer from the monitor?"}},
    )
    assert ui_server.wait(started["run_id"])["status"] == "interrupted"
    open_monitor(page, started["run_id"])
    expect(graph_node(page, "draft")).to_have_attribute("data-status", "done")
    expect(graph_node(page, "ask")).to_have_attribute("data-status", "interrupted")
    expect(graph_node(page, "publish")).to_have_attribute("data-status", "waiting")
    panel = page.get_by_role("region", name="Waiting for an answer")
    expect(panel).to_contain_text("publish this draft?")
    check_axe(page, "monitor-interrupt")
    screenshot(page, "monitor-interrupt")
    panel.get_by_role("button", name="Approve (true)").click()
    # the answer is a new run on the thread: the monitor follows it
    expect(page).not_to_have_url(re.compile(f"/runs/{started['run_id']}$"))
    resumed = page.url.rsplit("/", 1)[1]
    expect(graph_node(page, "publish")).to_have_attribute("data-status", "done", timeout=30_000)
    record = ui_server.wait(resumed)
    assert record["status"] == "done"
    assert record["thread_id"] == "ui-monitor-approve"
    state = ui_server.api("GET", "/v1/threads/ui-monitor-approve/state")
    assert state["values"]["published"] == "published"


def test_node_states_change_live_and_the_run_is_cancelled(
    browsing: Any, live_server: Served
) -> None:
    from playwright.sync_api import expect

    page = browsing.open(live_server)
    body = {"workflow": "slow", "input": {"ticks": []}}
    started = live_server.api("POST", "/v1/threads/slow-1/runs", json=body)
    open_monitor(page, started["run_id"])
    expect(page.get_by_text("live", exact=True)).to_be_visible()
    expect(graph_node(page, "prepare")).to_have_attribute("data-status", "done")
    expect(graph_node(page, "tick")).to_have_attribute("data-status", "running")
    # the events keep coming while it runs (ctx.write every 50 ms)
    applied = page.get_by_test_id("events-applied")
    first = int((applied.text_content() or "0").replace(",", ""))
    expect(applied).not_to_have_text(str(first), timeout=10_000)
    screenshot(page, "monitor-live", themes=("light",))
    check_axe(page, "monitor-live", themes=("light",))
    cancel = page.get_by_role("form", name="Cancel the run")
    cancel.get_by_label("Cancel action").select_option("interrupt")
    cancel.get_by_role("button", name="Cancel run").click()
    expect(graph_node(page, "tick")).to_have_attribute("data-status", "interrupted")
    expect(page.locator(".totals .badge")).to_have_text("cancelled")
    assert live_server.wait(started["run_id"])["status"] == "cancelled"
    assert counters(page)["done"] is True


def test_a_fast_run_has_every_event_applied(browsing: Any, live_server: Served) -> None:
    from playwright.sync_api import expect

    page = browsing.open(live_server)
    started = live_server.api(
        "POST", "/v1/threads/chatty-1/runs", json={"workflow": "chatty", "input": {"n": 10_000}}
    )
    open_monitor(page, started["run_id"])
    expect(page.get_by_text("live", exact=True)).to_be_visible()
    wait_until_done(page)
    assert live_server.wait(started["run_id"])["status"] == "done"
    figures = counters(page)
    # every logged event is in the monitor, type by type (the stream also carries the
    # values and checkpoint.saved events the log leaves out)
    logged = live_server.api("GET", f"/v1/runs/{started['run_id']}/events")
    by_type: dict[str, int] = {}
    for event in logged:
        by_type[event["type"]] = by_type.get(event["type"], 0) + 1
    assert by_type["custom"] == CHATTY_EVENTS
    options = page.get_by_label("Event type").locator("option").all_text_contents()
    for kind, count in by_type.items():
        assert f"{kind} ({count})" in options, (kind, count, options)
    shown = int((page.get_by_test_id("events-applied").text_content() or "").replace(",", ""))
    assert shown == figures["eventsApplied"]
    assert shown >= len(logged)
    expect(graph_node(page, "burst")).to_have_attribute("data-status", "done")
    # the rate offered: the burst's custom events over the time the engine took to make
    # them (their logged ts); the monitor applied every one of them
    stamps = [e["ts"] for e in logged if e["type"] == "custom"]
    burst_s = max(stamps) - min(stamps)
    span_s = (figures["lastAppliedAt"] - figures["firstAppliedAt"]) / 1000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "monitor-fast-run.json").write_text(
        json.dumps(
            {
                "events_applied": figures["eventsApplied"],
                "frames": figures["frames"],
                "frames_over_50ms": figures["framesOver50ms"],
                "max_frame_ms": figures["maxFrameMs"],
                "first_frame_ms": figures["firstFrameMs"],
                "monitor_span_s (with the run's 3 s settle)": span_s,
                "burst_events": CHATTY_EVENTS,
                "burst_s": burst_s,
                "burst_events_per_s": CHATTY_EVENTS / burst_s if burst_s > 0 else None,
            },
            indent=2,
        )
    )


def test_a_running_node_streams_its_tokens_and_its_cost_ticks(
    browsing: Any, live_server: Served
) -> None:
    from playwright.sync_api import expect

    page = browsing.open(live_server)
    started = live_server.api(
        "POST", "/v1/threads/talk-1/runs", json={"workflow": "talk", "input": {}}
    )
    open_monitor(page, started["run_id"])
    expect(page.get_by_text("live", exact=True)).to_be_visible()
    streams = page.get_by_role("region", name="Token streams")
    text = streams.get_by_label(re.compile(r"^Tokens of speak task "))
    expect(text).not_to_be_empty(timeout=30_000)
    record = live_server.wait(started["run_id"])
    assert record["status"] == "done"
    expect(graph_node(page, "speak")).to_have_attribute("data-status", "done")
    # what streamed is what the model answered, and the cost is the run's, exactly
    answer = live_server.api("GET", "/v1/threads/talk-1/state")["values"]["answer"]
    streamed = text.text_content() or ""
    assert streamed
    assert answer.startswith(streamed[:40]) or streamed.strip() in answer, (streamed, answer)
    nano = record["cost_nano_usd"]
    assert nano > 0
    shown = (page.get_by_test_id("run-cost").text_content() or "").removeprefix("$")
    whole, _, frac = shown.partition(".")
    assert int(whole) * 10**9 + int(frac.ljust(9, "0")) == nano, (shown, nano)
    screenshot(page, "monitor-tokens", themes=("light",))
