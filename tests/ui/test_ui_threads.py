"""The Threads and time travel page in a real browser against a real ``orca serve``: the
threads with their latest run, a thread's checkpoints travelled with the keyboard, the
diff between two checkpoints, a state edit (refused while it is not JSON), a fork from an
earlier checkpoint run to its interrupt, answered from the page with a breakpoint set,
continued from the breakpoint; axe-core in both
themes and screenshots. The travel tests run on a server of their own (their edits,
forks and runs leave the shared seeded server as it was)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import ARTIFACTS, Served, check_axe, make_project, screenshot, serving

THREAD = "travel-1"


@pytest.fixture(scope="module")
def travel(ui_bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A server whose thread ``travel-1`` ran the approval workflow (a model call, an
    interrupt answered ``true``, publish): done, with several checkpoints."""
    project = tmp_path_factory.mktemp("ui-threads")
    make_project(project)
    with serving(project) as served:
        body = {"workflow": "approval", "input": {"question": "Travel in time?"}}
        first = served.api("POST", f"/v1/threads/{THREAD}/runs", json=body)
        assert served.wait(first["run_id"])["status"] == "interrupted"
        resume = {"workflow": "approval", "resume": True}
        done = served.api("POST", f"/v1/threads/{THREAD}/runs", json=resume)
        assert served.wait(done["run_id"])["status"] == "done"
        yield served


def checkpoints(page: Any) -> Any:
    return page.get_by_role("listbox", name="Checkpoints, newest first").get_by_role("option")


def selected(page: Any) -> Any:
    listbox = page.get_by_role("listbox", name="Checkpoints, newest first")
    return listbox.get_by_role("option", selected=True)


def no_sideways_scroll(page: Any) -> None:
    """The page fits the laptop-sized viewport: nothing scrolls sideways."""
    widths = page.evaluate(
        "[...document.querySelectorAll('html, body, main')].map(e => e.scrollWidth - e.clientWidth)"
    )
    assert max(widths) <= 0, widths


def test_the_threads_are_listed_with_their_latest_run(page: Any, ui_server: Served) -> None:
    from playwright.sync_api import expect

    page.goto("/threads")
    expect(page.get_by_role("heading", level=1)).to_have_text("Threads")
    research = page.get_by_role("row").filter(has=page.get_by_role("link", name="research-1"))
    expect(research).to_contain_text("research")
    expect(research).to_contain_text("done")
    waiting = page.get_by_role("row").filter(has=page.get_by_role("link", name="approval-2"))
    expect(waiting).to_contain_text("interrupted")
    page.get_by_label("Filter threads").fill("flaky")
    expect(page.get_by_role("status").filter(has_text="threads")).to_have_text(
        re.compile(r"^1 of \d+ threads$")
    )
    expect(page.get_by_role("row").filter(has=page.get_by_role("link"))).to_have_count(1)
    page.get_by_label("Filter threads").fill("")
    page.get_by_role("link", name="research-1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thread research-1")
    expect(checkpoints(page).first).to_be_visible()
    check_axe(page, "threads-list-research")
    page.goto("/threads")
    page.wait_for_load_state("networkidle")
    check_axe(page, "threads-list")
    screenshot(page, "threads-list")


def test_checkpoints_are_travelled_with_the_keyboard_and_diffed(
    browsing: Any, travel: Served
) -> None:
    from playwright.sync_api import expect

    page = browsing.open(travel)
    page.goto(f"/threads/{THREAD}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Thread {THREAD}")
    history = travel.api("GET", f"/v1/threads/{THREAD}/history")
    expect(checkpoints(page)).to_have_count(len(history))
    assert len(history) >= 4
    head = history[0]
    expect(selected(page)).to_contain_text(f"Step {head['step']}")
    state = page.get_by_role("tree", name=f"State at step {head['step']}")
    expect(state.get_by_role("treeitem", name='published: "published"')).to_be_visible()

    # the head against its parent: publish added its verdict and a note
    summary = page.get_by_test_id("diff-summary")
    expect(summary).to_have_text("2 added, 0 removed, 0 changed")
    changes = page.get_by_role("table").filter(has_text="Change")
    expect(changes.get_by_role("row", name=re.compile(r"^published added"))).to_be_visible()
    after = page.get_by_role("tree", name="State after")
    verdict = re.compile(r'^published: "published", added$')
    expect(after.get_by_role("treeitem", name=verdict)).to_be_visible()

    # arrow keys walk the history; each state shows (its switch timed by the page)
    checkpoints(page).first.focus()
    last = len(history) - 1
    moves = {"ArrowDown": 1, "ArrowUp": -1}
    at, switches = 0, 0
    keys = ["ArrowDown"] * last + ["ArrowDown", "ArrowUp"] + ["ArrowUp"] * last + ["End", "Home"]
    for key in keys:
        was = at
        at = {"End": last, "Home": 0}.get(key, min(last, max(0, at + moves.get(key, 0))))
        switches += at != was  # past either end the selection stays
        page.keyboard.press(key)
        step = history[at]["step"]
        expect(selected(page)).to_contain_text(f"Step {step}")
        expect(selected(page)).to_be_focused()
        expect(page.get_by_role("tree", name=f"State at step {step}")).to_be_visible()
    took = page.evaluate(
        "performance.getEntriesByName('orca:checkpoint-switch').map(e => e.duration)"
    )
    assert len(took) == switches, took  # every switch was shown, and timed
    took.sort()
    p95 = took[min(len(took) - 1, round(0.95 * (len(took) - 1)))]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    figures = {"switches": len(took), "p95_ms": round(p95, 1), "sorted_ms": took}
    (ARTIFACTS / "threads-switch.json").write_text(json.dumps(figures))

    # any two: the oldest against the head
    page.get_by_label("From (before)").select_option(history[-1]["checkpoint_id"])
    expect(summary).to_contain_text("added")
    expect(changes.get_by_role("row", name=re.compile(r"^draft added"))).to_be_visible()
    before = page.get_by_role("tree", name="State before")
    expect(before.get_by_role("treeitem", name=re.compile(r"^question: "))).to_be_visible()

    # the state tree by the keyboard: open a branch and walk into it
    notes = state.get_by_role("treeitem", name=re.compile(r"^notes: \[\d items\]$"))
    notes.click()
    expect(notes).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("ArrowRight")
    expect(notes).to_have_attribute("aria-expanded", "true")
    page.keyboard.press("ArrowRight")
    expect(state.get_by_role("treeitem", name='0: "drafted"')).to_be_focused()
    no_sideways_scroll(page)
    check_axe(page, "threads-travel")
    screenshot(page, "threads-travel")


def test_state_is_edited_at_a_checkpoint_then_forked_run_and_answered(
    browsing: Any, travel: Served
) -> None:
    from playwright.sync_api import expect

    page = browsing.open(travel)
    history = travel.api("GET", f"/v1/threads/{THREAD}/history")
    drafted = next(c for c in history if c["metadata"].get("nodes") == ["draft"])
    page.goto(f"/threads/{THREAD}?checkpoint={drafted['checkpoint_id']}")
    expect(page.get_by_role("tree", name=f"State at step {drafted['step']}")).to_be_visible()

    # edit the draft: not JSON first (refused, saying how to fix it), then JSON
    page.get_by_label("State key").select_option("draft")
    value = page.get_by_label("New value (JSON)")
    value.fill("an edited draft")
    expect(page.get_by_role("alert")).to_contain_text("double quotes")
    expect(value).to_have_attribute("aria-invalid", "true")
    save = page.get_by_role("button", name="Save as a new checkpoint")
    expect(save).to_be_disabled()
    value.fill('"an edited draft"')
    expect(save).to_be_enabled()
    save.click()
    expect(checkpoints(page)).to_have_count(len(history) + 1)
    edited = travel.api("GET", f"/v1/threads/{THREAD}/history")[0]
    assert edited["metadata"]["source"] == "fork"  # an edit of an earlier checkpoint branches
    assert edited["parent_id"] == drafted["checkpoint_id"]
    expect(selected(page)).to_contain_text(f"Step {edited['step']}")
    tree = page.get_by_role("tree", name=f"State at step {edited['step']}")
    expect(tree.get_by_role("treeitem", name='draft: "an edited draft"')).to_be_visible()
    expect(page.get_by_test_id("diff-summary")).to_have_text("0 added, 0 removed, 1 changed")
    no_sideways_scroll(page)
    screenshot(page, "threads-edited")

    # fork the edited checkpoint onto a new thread and run it: it stops at the interrupt
    page.get_by_label("New thread (empty: branch on this thread)").fill("travel-fork")
    page.get_by_role("button", name="Fork", exact=True).click()
    expect(page.get_by_role("status").filter(has_text="Forked to thread")).to_contain_text(
        "travel-fork"
    )
    page.get_by_role("button", name="Run the fork").click()
    page.wait_for_url(re.compile(r"/runs/run-[0-9a-f]+$"))
    run_id = page.url.rsplit("/", 1)[1]
    record = travel.wait(run_id)
    assert (record["thread_id"], record["status"]) == ("travel-fork", "interrupted")

    # the fork's thread waits for an answer: answered from the page, it publishes
    page.goto("/threads/travel-fork")
    waiting = page.get_by_role("region", name=re.compile(r"^Waiting for an answer"))
    expect(waiting).to_contain_text("publish this draft?")
    expect(waiting.get_by_role("tree")).to_contain_text("an edited draft")
    check_axe(page, "threads-interrupt")
    screenshot(page, "threads-interrupt")
    answer = waiting.get_by_label("Answer (JSON)")
    answer.fill("nope")
    waiting.get_by_role("button", name="Answer and resume").click()
    expect(waiting.get_by_role("alert")).to_contain_text("not JSON")
    answer.fill("false")
    # a breakpoint for the run the answer starts: it pauses before publish
    page.get_by_text("Breakpoints for runs started here").click()
    before = page.get_by_role("group", name="Pause before")
    before.get_by_role("checkbox", name="publish").check()
    expect(page.get_by_text("Breakpoints for runs started here (1 set)")).to_be_visible()
    waiting.get_by_role("button", name="Answer and resume").click()
    page.wait_for_url(re.compile(r"/runs/run-[0-9a-f]+$"))
    answered = travel.wait(page.url.rsplit("/", 1)[1])
    assert answered["status"] == "interrupted"
    paused = travel.api("GET", "/v1/threads/travel-fork/state")
    assert (paused["next"], paused["values"]["approved"]) == (["publish"], False)

    # paused at the breakpoint: continued from the page, the run ends
    page.goto("/threads/travel-fork")
    paused_panel = page.get_by_role("region", name="Paused")
    expect(paused_panel).to_contain_text("Next: publish")
    paused_panel.get_by_role("button", name="Continue the thread").click()
    page.wait_for_url(re.compile(r"/runs/run-[0-9a-f]+$"))
    assert travel.wait(page.url.rsplit("/", 1)[1])["status"] == "done"
    final = travel.api("GET", "/v1/threads/travel-fork/state")
    assert final["values"]["published"] == "held back"
    assert final["values"]["draft"] == "an edited draft"
    # the original thread kept its own ending
    assert travel.api("GET", f"/v1/threads/{THREAD}/state")["values"]["draft"] == "an edited draft"
    original = travel.api(
        "GET", f"/v1/threads/{THREAD}/state", params={"checkpoint_id": history[0]["checkpoint_id"]}
    )
    assert original["values"]["published"] == "published"
