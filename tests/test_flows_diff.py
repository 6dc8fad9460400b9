"""Diffs between two flow documents: state keys, nodes field by field (nested fields as
dotted paths), edges as a multiset, and canvas moves apart from changes."""

from __future__ import annotations

import copy
from typing import Any

from orca.flows._diff import diff_flows, is_empty, render_diff


def _flow() -> dict[str, Any]:
    return {
        "format": "orca.flow/v1",
        "name": "triage",
        "state": [
            {"key": "question", "type": "string"},
            {"key": "score", "type": "number"},
        ],
        "nodes": [
            {"id": "plan", "kind": "llm", "prompt": "Plan: {{question}}", "output": "plan",
             "position": {"x": 0, "y": 0}},
            {"id": "route", "kind": "router", "default": "__end__",
             "routes": [{"when": {"key": "score", "op": "ge", "value": 0.5}, "to": "plan"}]},
            {"id": "fetch", "kind": "tool", "tool": "http_fetch", "args": {"url": "{{url}}"}},
        ],
        "edges": [{"from": "__start__", "to": "plan"}, {"from": "plan", "to": "route"}],
    }  # fmt: skip


def test_the_same_flow_has_an_empty_diff() -> None:
    diff = diff_flows(_flow(), _flow())
    assert is_empty(diff, moves=True)
    assert render_diff(diff) == "no changes"


def test_nested_node_fields_are_named_by_their_path() -> None:
    new = _flow()
    new["nodes"][1]["routes"][0]["when"]["value"] = 0.7
    new["nodes"][2]["args"]["timeout"] = 5
    new["nodes"][0]["prompt"] = "Plan well: {{question}}"
    diff = diff_flows(_flow(), new)
    assert diff["nodes"]["changed"] == [
        {"name": "plan", "fields": [
            {"field": "prompt", "from": "Plan: {{question}}", "to": "Plan well: {{question}}"}]},
        {"name": "route", "fields": [
            {"field": "routes.0.when.value", "from": 0.5, "to": 0.7}]},
        {"name": "fetch", "fields": [{"field": "args.timeout", "from": None, "to": 5}]},
    ]  # fmt: skip
    assert diff["nodes"]["added"] == diff["nodes"]["removed"] == diff["nodes"]["moved"] == []
    assert "routes.0.when.value: 0.5 -> 0.7" in render_diff(diff)


def test_a_route_added_to_a_list_is_one_change_of_its_index() -> None:
    new = _flow()
    extra = {"when": {"key": "score", "op": "lt", "value": 0.1}, "to": "__end__"}
    new["nodes"][1]["routes"].append(extra)
    [changed] = diff_flows(_flow(), new)["nodes"]["changed"]
    assert changed["fields"] == [{"field": "routes.1", "from": None, "to": extra}]


def test_a_move_on_the_canvas_is_not_a_change() -> None:
    new = _flow()
    new["nodes"][0]["position"] = {"x": 120, "y": 40}
    new["nodes"][2]["position"] = {"x": 5, "y": 5}  # had none before
    diff = diff_flows(_flow(), new)
    assert diff["nodes"]["changed"] == []
    assert diff["nodes"]["moved"] == ["plan", "fetch"]
    assert is_empty(diff)
    assert not is_empty(diff, moves=True)
    assert render_diff(diff) == "no changes"
    assert "~ node plan moved" in render_diff(diff, moves=True)


def test_nodes_state_keys_and_edges_added_and_removed() -> None:
    new = _flow()
    del new["nodes"][2]
    new["nodes"].append({"id": "fmt", "kind": "python", "ref": "mypkg.nodes:fmt"})
    new["state"][1]["type"] = "integer"
    new["state"].append({"key": "notes", "type": "list", "reducer": "append"})
    del new["state"][0]
    new["edges"].append({"from": "route", "to": "fmt"})
    new["edges"].remove({"from": "__start__", "to": "plan"})
    new["description"] = "triage questions"
    diff = diff_flows(_flow(), new)
    assert diff["nodes"]["added"] == ["fmt"]
    assert diff["nodes"]["removed"] == ["fetch"]
    assert diff["state"] == {
        "added": ["notes"],
        "removed": ["question"],
        "changed": [
            {"key": "score", "fields": [{"field": "type", "from": "number", "to": "integer"}]}
        ],
    }
    assert diff["edges"] == {
        "added": [{"from": "route", "to": "fmt"}],
        "removed": [{"from": "__start__", "to": "plan"}],
    }
    assert diff["flow"] == [{"field": "description", "from": None, "to": "triage questions"}]
    text = render_diff(diff)
    for line in ("+ node fmt", "- node fetch", "+ state notes", "- state question",
                 "+ edge route -> fmt", "- edge __start__ -> plan", "~ description"):  # fmt: skip
        assert line in text


def test_a_value_of_another_json_type_is_a_change() -> None:
    new = _flow()
    new["nodes"][1]["routes"][0]["when"]["value"] = 1
    old = copy.deepcopy(new)
    old["nodes"][1]["routes"][0]["when"]["value"] = True  # equal in Python, not in JSON
    [changed] = diff_flows(old, new)["nodes"]["changed"]
    assert changed["fields"] == [{"field": "routes.0.when.value", "from": True, "to": 1}]


def test_a_duplicated_edge_counts_twice() -> None:
    new = _flow()
    new["edges"].append({"from": "plan", "to": "route"})
    assert diff_flows(_flow(), new)["edges"]["added"] == [{"from": "plan", "to": "route"}]
    assert diff_flows(new, _flow())["edges"]["removed"] == [{"from": "plan", "to": "route"}]


def test_malformed_documents_still_diff() -> None:
    old: dict[str, Any] = {"nodes": "not a list", "state": [3, {"type": "x"}]}
    new: dict[str, Any] = {"nodes": [{"kind": "llm"}], "edges": [1]}
    diff = diff_flows(old, new)
    assert diff["nodes"]["added"] == ["#0"]
    assert diff["state"]["removed"] == ["#0", "#1"]
    assert diff["edges"]["added"] == [1]
