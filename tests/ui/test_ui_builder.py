"""The builder in a real browser against a real ``orca serve``: a three-node flow built by
drag and drop (palette -> canvas, handle -> handle), configured in the side panel with the
``{{`` completion, validated live (an error seen, clicked, fixed), saved as 0.1.0, changed,
saved as 0.2.0, the two versions compared side by side, run with test input (landing on
the run monitor); the keyboard-only way; export and import; axe-core and screenshots."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from _browser import Served, check_axe, screenshot


def canvas(page: Any) -> Any:
    return page.get_by_test_id("builder-canvas")


def node(page: Any, node_id: str) -> Any:
    return canvas(page).locator(f'.react-flow__node[data-id="{node_id}"]')


def drop(page: Any, kind_button: str, x: int, y: int) -> None:
    """Drag a palette item onto the canvas pane (HTML5 drag and drop in Chromium)."""
    pane = canvas(page).locator(".react-flow__pane")
    page.get_by_role("button", name=kind_button).drag_to(pane, target_position={"x": x, "y": y})


def link(page: Any, source: str, target: str) -> None:
    """Draw an edge: drag from ``source``'s out-handle to ``target``'s in-handle."""
    out = node(page, source).locator(".react-flow__handle.source")
    out.drag_to(node(page, target).locator(".react-flow__handle.target"))


def status(page: Any) -> Any:
    return page.get_by_test_id("validation-status")


def fill_prompt(page: Any, text: str, complete: str | None = None) -> None:
    """Type ``text`` into the selected node's prompt; with ``complete``, the text ends in
    an open ``{{`` and that variable is chosen from the completion listbox by keyboard."""
    from playwright.sync_api import expect

    prompt = page.get_by_role("combobox", name=re.compile("^(Prompt|Question for the person)$"))
    prompt.fill("")
    prompt.press_sequentially(text)
    if complete:
        option = page.get_by_role("option", name="{{" + complete + "}}")
        expect(option).to_be_visible()
        # the listbox is announced on the textarea
        assert prompt.get_attribute("aria-expanded") == "true"
        while option.get_attribute("aria-selected") != "true":
            prompt.press("ArrowDown")
        prompt.press("Enter")
        expect(page.get_by_role("listbox")).to_be_hidden()


def add_state_keys(page: Any, keys: list[str]) -> None:
    for key in keys:
        page.get_by_role("button", name="Add state key").click()
        page.get_by_role("textbox", name=re.compile(r"^State key \d+ name$")).last.fill(key)


def test_build_validate_save_compare_and_run_a_three_node_flow(
    page: Any, ui_server: Served
) -> None:
    from playwright.sync_api import expect

    page.goto("/builder")
    expect(page.get_by_role("heading", level=1)).to_have_text("Builder")
    page.get_by_label("Flow name").fill("triage-e2e")
    add_state_keys(page, ["question", "draft", "approved"])

    # three nodes by real drag and drop, START/END always on the canvas
    drop(page, "llm LLM call", 200, 110)
    drop(page, "human Human", 330, 240)
    drop(page, "llm LLM call", 460, 110)
    for node_id in ("__start__", "llm1", "human1", "llm2", "__end__"):
        expect(node(page, node_id)).to_be_visible()
    link(page, "__start__", "llm1")
    link(page, "llm1", "human1")
    link(page, "human1", "llm2")
    link(page, "llm2", "__end__")
    expect(canvas(page).locator(".react-flow__edge")).to_have_count(4)

    # configure: the prompt completes {{question}} from the state keys
    node(page, "llm1").click()
    fill_prompt(page, "Draft an answer to: {{qu", complete="question")
    prompt = page.get_by_role("combobox", name="Prompt")
    expect(prompt).to_have_value("Draft an answer to: {{question}}")

    # live validation: the blank outputs are errors, listed and marked on their nodes
    expect(status(page)).to_contain_text("problem")
    errors = page.locator(".error-list")
    expect(errors).to_contain_text("llm1.output")
    expect(node(page, "llm1")).to_contain_text("1 error")
    screenshot(page, "builder-errors")
    # clicking an error selects its node and focuses the field; typing there fixes it
    errors.get_by_role("button", name=re.compile(r"^human1\.output")).click()
    output = page.get_by_role("combobox", name="Output key")
    expect(output).to_be_focused()
    output.fill("approved")
    fill_prompt(page, "Publish {{dr", complete="draft")
    node(page, "llm1").click()
    page.get_by_role("combobox", name="Output key").fill("draft")
    node(page, "llm2").click()
    fill_prompt(page, "Summarize: {{draft}}")
    page.get_by_role("combobox", name="Output key").fill("summary")
    # an undeclared output key is an error the server names; the panel offers the fix
    expect(errors).to_contain_text("summary")
    page.get_by_role("button", name="Declare state key “summary”").click()
    expect(status(page)).to_contain_text("Valid")
    expect(canvas(page).locator(".flow-node.has-errors")).to_have_count(0)
    check_axe(page, "builder")
    screenshot(page, "builder")
    # a laptop screen holds it without a horizontal scroll
    assert page.evaluate("(m => m.scrollWidth <= m.clientWidth)(document.querySelector('main'))")

    # save 0.1.0: its version info is shown and the address names the flow
    page.get_by_label("Version", exact=True).fill("0.1.0")
    page.get_by_label("Message", exact=True).fill("first cut")
    page.get_by_role("button", name="Save version").click()
    info = page.get_by_test_id("version-info")
    expect(info).to_contain_text("triage-e2e@0.1.0")
    expect(info).to_contain_text("sha256:")
    expect(page).to_have_url(re.compile(r"/builder/triage-e2e$"))

    # change it (a prompt, and a new edge), save 0.2.0
    node(page, "llm2").click()
    fill_prompt(page, "Summarize in one line: {{draft}}")
    link(page, "llm1", "__end__")
    expect(status(page)).to_contain_text("Valid")
    page.get_by_label("Version", exact=True).fill("0.2.0")
    page.get_by_label("Message", exact=True).fill("shorter summary")
    page.get_by_role("button", name="Save version").click()
    expect(info).to_contain_text("triage-e2e@0.2.0")
    saved = ui_server.api("GET", "/v1/flows/triage-e2e/versions")
    assert [v["version"] for v in saved] == ["0.2.0", "0.1.0"]

    # compare: both graphs side by side, changes marked in words, a field-level list
    page.get_by_label("Compare from").select_option("0.1.0")
    page.get_by_label("Compare to").select_option("0.2.0")
    page.get_by_role("button", name="Compare versions").click()
    diff = page.locator(".diff-view")
    expect(diff.get_by_role("region", name="Version 0.1.0")).to_be_visible()
    expect(diff.get_by_role("region", name="Version 0.2.0")).to_be_visible()
    newer = diff.get_by_role("region", name="Version 0.2.0")
    expect(newer.locator('.react-flow__node[data-id="llm2"]')).to_contain_text("changed")
    changes = page.get_by_role("table", name="Changes")
    expect(changes).to_contain_text("prompt")
    expect(changes).to_contain_text("Summarize in one line: {{draft}}")
    expect(changes).to_contain_text("llm1 → __end__")
    check_axe(page, "builder-diff")
    diff.scroll_into_view_if_needed()
    screenshot(page, "builder-diff")

    # run with test input: saved (the same content keeps 0.2.0), then the monitor opens
    page.get_by_label("Test input (JSON)").fill('{"question": "Is SQLite enough?"}')
    page.get_by_role("button", name="Save and run").click()
    expect(page).to_have_url(re.compile(r"/runs/[^/]+$"), timeout=30_000)
    run_id = page.url.rsplit("/", 1)[1]
    record = ui_server.api("GET", f"/v1/runs/{run_id}")
    assert record["graph"] == "triage-e2e@0.2.0", record
    assert len(ui_server.api("GET", "/v1/flows/triage-e2e/versions")) == 2


def test_the_keyboard_alone_builds_and_connects_nodes(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/builder")
    page.get_by_label("Flow name").fill("keyboard-flow")
    tool = page.get_by_role("button", name="tool Tool")
    tool.focus()
    page.keyboard.press("Enter")
    expect(node(page, "tool1")).to_be_visible()
    # the new node is selected: its panel is open; the tool picker knows the server's tools
    tool_field = page.get_by_role("combobox", name="Tool", exact=True)
    expect(tool_field).to_be_visible()
    expect(page.locator(".side-panel")).to_contain_text("http_fetch")
    tool_field.fill("files_list")
    page.get_by_role("button", name="python Python").focus()
    page.keyboard.press("Enter")
    ref = page.get_by_role("textbox", name="Function reference (module:function)")
    ref.fill("not a ref")
    expect(page.locator(".side-panel")).to_contain_text("write it as package.module:function")
    ref.fill("mypkg.nodes:format_report")
    expect(page.locator(".side-panel")).to_contain_text("looks like module:function")
    # rename updates the edges that name it
    page.get_by_label("Connect python1 to").select_option("__end__")
    page.get_by_role("button", name="Connect", exact=True).click()
    rename = page.get_by_role("textbox", name="Node id")
    rename.fill("report")
    rename.press("Enter")
    expect(node(page, "report")).to_be_visible()
    expect(canvas(page).locator('[aria-label="edge from report to __end__"]')).to_have_count(1)
    # connect START -> tool1 -> report from the panels, by keyboard
    node(page, "__start__").focus()
    page.keyboard.press("Enter")
    page.get_by_label("Connect START to").select_option("tool1")
    page.get_by_role("button", name="Connect", exact=True).click()
    node(page, "tool1").focus()
    page.keyboard.press("Enter")
    page.get_by_label("Connect tool1 to").select_option("report")
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(canvas(page).locator(".react-flow__edge")).to_have_count(3)
    # undo and redo the last connection
    page.get_by_role("button", name="Undo").click()
    expect(canvas(page).locator(".react-flow__edge")).to_have_count(2)
    page.get_by_role("button", name="Redo").click()
    expect(canvas(page).locator(".react-flow__edge")).to_have_count(3)
    check_axe(page, "builder-keyboard")


def test_export_and_import_round_trip_the_flow_document(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    page.goto("/builder")
    page.get_by_label("Flow name").fill("exported")
    page.get_by_role("button", name="human Human").click()
    with page.expect_download() as got:
        page.get_by_role("button", name="Export JSON").click()
    path = tmp_path / "exported.flow.json"
    got.value.save_as(path)
    doc = json.loads(path.read_text())
    assert doc["format"] == "orca.flow/v1"
    assert doc["name"] == "exported"
    assert [n["id"] for n in doc["nodes"]] == ["human1"]
    assert "position" in doc["nodes"][0]

    doc["name"] = "imported"
    doc["nodes"].append({"id": "fmt", "kind": "python", "ref": "mypkg.nodes:fmt"})
    doc["edges"] = [{"from": "__start__", "to": "human1"}, {"from": "human1", "to": "fmt"}]
    path.write_text(json.dumps(doc))
    page.get_by_role("button", name="New flow").click()
    page.get_by_label("Import JSON").set_input_files(str(path))
    expect(page.get_by_label("Flow name")).to_have_value("imported")
    expect(node(page, "fmt")).to_be_visible()
    # a file that is not a flow is refused, saying which field and the fix
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "other", "name": "x", "nodes": []}')
    page.get_by_label("Import JSON").set_input_files(str(bad))
    expect(page.get_by_role("alert")).to_contain_text('format: expected "orca.flow/v1"')
    expect(page.get_by_label("Flow name")).to_have_value("imported")


def test_a_served_python_workflow_opens_as_a_flow(page: Any) -> None:
    from playwright.sync_api import expect

    page.goto("/builder")
    page.get_by_label("Served workflow").select_option("approval")
    page.get_by_role("button", name="View as flow").click()
    expect(page.get_by_role("status").filter(has_text="Viewing served workflow")).to_be_visible()
    for node_id in ("draft", "ask", "publish"):
        expect(node(page, node_id)).to_contain_text("python")
    node(page, "draft").click()
    ref = page.get_by_role("textbox", name="Function reference (module:function)")
    expect(ref).to_have_value(re.compile(r"^[\w.]+:draft$"))
    check_axe(page, "builder-served")
