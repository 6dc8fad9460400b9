"""A user's whole journey through the web UI, in a real browser against a real ``orca
serve`` with the tiny local model: a three-node workflow (an LLM call, a human approval,
a Python function) built in the builder by drag and drop, saved as a version, run; its
node states followed live in the run monitor; its interrupt answered there; its cost
seen; a fork from an earlier checkpoint on the threads page, run to its interrupt; and
two saved versions compared side by side. Axe and screenshots along the way.

The Python node waits for a file the test writes, so the monitor is seen showing it
running and then, without a reload, done: the page follows the run live."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import Served, check_axe, make_project, screenshot, serving

FLOW = "journey"

# the python node's module, next to the served flows.py (so on the server's path)
NODES = textwrap.dedent(
    '''
    """The journey's python node: it finishes once the test releases it."""

    import time
    from pathlib import Path
    from typing import Any

    RELEASE = Path(__file__).with_name("release")


    def finish(state: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + 120
        while not RELEASE.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        verdict = "approved" if state.get("approved") else "rejected"
        return {"summary": f"{verdict}: {state.get('draft', '')[:40]}"}
    '''
)


@pytest.fixture(scope="module")
def journey(ui_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server of its own (the journey saves flows and makes threads), whose saved flows
    may reference ``journey_nodes``."""
    project = tmp_path_factory.mktemp("ui-journey")
    make_project(project)
    (project / "journey_nodes.py").write_text(NODES)
    with (project / ".orca" / "orca.toml").open("a") as config:
        config.write('\n[flows]\npython_modules = ["journey_nodes"]\n')
    with serving(project) as served:
        yield served


# -- the builder (selectors: docs/ui.md, Builder, "For tests") ------------------------------


def canvas(page: Any) -> Any:
    return page.get_by_test_id("builder-canvas")


def flow_node(page: Any, node_id: str) -> Any:
    return canvas(page).locator(f'.react-flow__node[data-id="{node_id}"]')


def drop(page: Any, palette_item: str, x: int, y: int) -> None:
    """Drag a node library item onto the canvas (HTML5 drag and drop)."""
    pane = canvas(page).locator(".react-flow__pane")
    library = page.get_by_role("navigation", name="Node library")
    library.get_by_role("button", name=palette_item).drag_to(pane, target_position={"x": x, "y": y})


def connect(page: Any, source: str, target: str) -> None:
    """Drag from ``source``'s out-handle to ``target``'s in-handle."""
    out = flow_node(page, source).locator(".react-flow__handle.source")
    out.drag_to(flow_node(page, target).locator(".react-flow__handle.target"))


def prompt(page: Any, text: str) -> None:
    field = page.get_by_role("combobox", name=re.compile("^(Prompt|Question for the person)$"))
    field.fill(text)
    page.keyboard.press("Escape")  # closes a completion list the braces may have opened


def save_version(page: Any, version: str, message: str) -> None:
    from playwright.sync_api import expect

    page.get_by_label("Version", exact=True).fill(version)
    page.get_by_label("Message").fill(message)
    page.get_by_role("button", name="Save version").click()
    expect(page.get_by_test_id("version-info")).to_contain_text(f"{FLOW}@{version}")


# -- the monitor ----------------------------------------------------------------------------


def graph_node(page: Any, node_id: str) -> Any:
    graph = page.get_by_role("group", name="Workflow graph")
    return graph.locator(f'.react-flow__node[data-id="{node_id}"] [data-status]')


def run_id_of(page: Any) -> str:
    page.wait_for_url(re.compile(r"/runs/[^/?]+$"), timeout=30_000)
    return str(page.url.rsplit("/", 1)[1])


def test_build_run_watch_answer_fork_and_compare(
    browsing: Any, journey: Served, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page = browsing.open(journey)

    # 1. build: three nodes dragged from the library, connected handle to handle
    page.goto("/builder")
    expect(page.get_by_role("heading", level=1)).to_have_text("Builder")
    page.get_by_label("Flow name").fill(FLOW)
    for key in ("question", "draft", "approved", "summary"):
        page.get_by_role("button", name="Add state key").click()
        page.get_by_role("textbox", name=re.compile(r"^State key \d+ name$")).last.fill(key)
    drop(page, "llm LLM call", 200, 120)
    drop(page, "human Human", 340, 240)
    drop(page, "python Python", 480, 120)
    for node_id in ("llm1", "human1", "python1"):
        expect(flow_node(page, node_id)).to_be_visible()
    connect(page, "__start__", "llm1")
    connect(page, "llm1", "human1")
    connect(page, "human1", "python1")
    connect(page, "python1", "__end__")
    expect(canvas(page).locator(".react-flow__edge")).to_have_count(4)

    # configured in the side panel: the LLM drafts, the human approves, python finishes
    flow_node(page, "llm1").click()
    prompt(page, "Draft an answer to: {{question}}")
    page.get_by_role("combobox", name="Output key").fill("draft")
    page.get_by_label("Max tokens").fill("12")
    flow_node(page, "human1").click()
    prompt(page, "Approve this draft? {{draft}}")
    page.get_by_role("combobox", name="Output key").fill("approved")
    flow_node(page, "python1").click()
    page.get_by_role("textbox", name="Function reference (module:function)").fill(
        "journey_nodes:finish"
    )
    status = page.get_by_test_id("validation-status")
    expect(status).to_contain_text("Valid")
    check_axe(page, "journey-builder")
    screenshot(page, "journey-builder")
    save_version(page, "0.1.0", "first cut")

    # a second version: a shorter draft
    flow_node(page, "llm1").click()
    prompt(page, "Draft a one-line answer to: {{question}}")
    expect(status).to_contain_text("Valid")
    save_version(page, "0.2.0", "one-line drafts")

    # 2. run it with test input: the monitor opens on the run
    page.get_by_label("Test input (JSON)").fill('{"question": "Is SQLite enough?"}')
    page.get_by_role("button", name="Save and run").click()
    first = run_id_of(page)
    record = journey.wait(first)
    assert record["status"] == "interrupted", record
    assert record["graph"] == f"{FLOW}@0.2.0"

    # 3. the node states: the LLM call done, the human node waiting for its answer
    expect(graph_node(page, "llm1")).to_have_attribute("data-status", "done")
    expect(graph_node(page, "human1")).to_have_attribute("data-status", "interrupted")
    expect(graph_node(page, "python1")).to_have_attribute("data-status", "waiting")

    # 4. the cost of the model call, as the server counts it (exact, not zero)
    assert record["cost_nano_usd"] > 0
    cost = page.get_by_test_id("run-cost")
    expect(cost).to_have_text(re.compile(r"^\$0\.0*[1-9]\d*$"))
    check_axe(page, "journey-monitor-interrupted")
    screenshot(page, "journey-monitor-interrupted")

    # 5. the interrupt answered from the monitor: the resumed run opens, python1 runs
    #    (held until released) and then finishes, followed live without a reload
    waiting = page.get_by_role("region", name="Waiting for an answer")
    expect(waiting).to_contain_text("human1")
    waiting.get_by_role("button", name="Approve (true)").click()
    page.wait_for_url(re.compile(r"/runs/(?!" + re.escape(first) + r")[^/?]+$"))
    second = run_id_of(page)
    expect(graph_node(page, "python1")).to_have_attribute("data-status", "running")
    screenshot(page, "journey-monitor-running", themes=("light",))
    (journey.project / "release").write_text("go")
    expect(graph_node(page, "python1")).to_have_attribute("data-status", "done", timeout=30_000)
    answered = journey.wait(second)
    assert answered["status"] == "done", answered
    thread = answered["thread_id"]
    state = journey.api("GET", f"/v1/threads/{thread}/state")
    assert state["values"]["approved"] is True
    assert state["values"]["summary"].startswith("approved: ")
    screenshot(page, "journey-monitor-done")

    # 6. fork from an earlier checkpoint: the one after the draft, on a new thread,
    #    run until it asks for its approval again
    history = journey.api("GET", f"/v1/threads/{thread}/history")
    drafted = next(c for c in history if c["metadata"].get("nodes") == ["llm1"])
    page.goto(f"/threads/{thread}?checkpoint={drafted['checkpoint_id']}")
    expect(page.get_by_role("tree", name=f"State at step {drafted['step']}")).to_be_visible()
    page.get_by_label("New thread (empty: branch on this thread)").fill("journey-fork")
    page.get_by_role("button", name="Fork", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Forked to thread")).to_contain_text(
        "journey-fork"
    )
    check_axe(page, "journey-threads-fork")
    screenshot(page, "journey-threads-fork")
    page.get_by_role("button", name="Run the fork").click()
    forked = journey.wait(run_id_of(page))
    assert (forked["thread_id"], forked["status"]) == ("journey-fork", "interrupted")
    fork_state = journey.api("GET", "/v1/threads/journey-fork/state")
    assert fork_state["values"]["draft"] == state["values"]["draft"]  # the draft kept
    assert "approved" not in fork_state["values"] or fork_state["values"]["approved"] is None

    # 7. the two versions compared side by side
    page.goto(f"/builder/{FLOW}")
    page.get_by_label("Compare from").select_option("0.1.0")
    page.get_by_label("Compare to").select_option("0.2.0")
    page.get_by_role("button", name="Compare versions").click()
    diff = page.locator(".diff-view")
    expect(diff.get_by_role("region", name="Version 0.1.0")).to_be_visible()
    newer = diff.get_by_role("region", name="Version 0.2.0")
    expect(newer.locator('.react-flow__node[data-id="llm1"]')).to_contain_text("changed")
    changes = page.get_by_role("table", name="Changes")
    expect(changes).to_contain_text("Draft a one-line answer to: {{question}}")
    check_axe(page, "journey-compare")
    screenshot(page, "journey-compare")
