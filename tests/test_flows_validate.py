"""Validating flow documents: every problem is reported at once, each naming its path,
node, field and fix; hostile documents are refused with an issue, never followed."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from orca.errors import FlowError
from orca.flows import FlowIssue, content_hash, parse_flow, validate_flow


def triage() -> dict[str, Any]:
    return {
        "format": "orca.flow/v1",
        "name": "triage",
        "description": "classify a ticket, ask a human, answer",
        "state": [
            {"key": "ticket", "type": "string"},
            {"key": "category", "type": "string"},
            {"key": "approved", "type": "any"},
            {"key": "reply", "type": "string"},
        ],
        "nodes": [
            {
                "id": "classify",
                "kind": "llm",
                "role": "worker",
                "prompt": "Classify: {{ticket}}",
                "output": "category",
                "max_tokens": 8,
                "position": {"x": 0, "y": 0},
            },
            {
                "id": "approve",
                "kind": "human",
                "prompt": "Send {{category}}?",
                "output": "approved",
            },
            {
                "id": "route",
                "kind": "router",
                "routes": [{"when": {"key": "approved", "op": "truthy"}, "to": "answer"}],
                "default": "__end__",
            },
            {
                "id": "answer",
                "kind": "llm",
                "role": "planner",
                "prompt": "Answer {{ticket}} ({{category}})",
                "output": "reply",
            },
        ],
        "edges": [
            {"from": "__start__", "to": "classify"},
            {"from": "classify", "to": "approve"},
            {"from": "approve", "to": "route"},
            {"from": "answer", "to": "__end__"},
        ],
    }


def by_path(issues: list[FlowIssue]) -> dict[str, FlowIssue]:
    return {i.path: i for i in issues}


def test_a_good_flow_has_no_issues_and_parses() -> None:
    assert validate_flow(triage()) == []
    flow = parse_flow(json.dumps(triage()))
    assert [n.id for n in flow.nodes] == ["classify", "approve", "route", "answer"]


def test_yaml_text_and_files_parse_like_json(tmp_path: Path) -> None:
    import yaml

    path = tmp_path / "triage.yaml"
    path.write_text(yaml.safe_dump(triage()))
    assert parse_flow(path) == parse_flow(triage())
    assert parse_flow(path.read_text()) == parse_flow(triage())


def test_every_problem_is_reported_with_path_node_field_and_fix() -> None:
    doc = triage()
    doc["nodes"][0]["prompt"] = "Classify {{tickt}}"  # not a state key
    doc["nodes"][1]["kind"] = "humane"  # unknown kind
    doc["nodes"][2]["routes"][0]["to"] = "anser"  # unknown target
    doc["nodes"][3]["id"] = "classify"  # duplicate id
    doc["edges"].append({"from": "ghost", "to": "__end__"})
    issues = by_path(validate_flow(doc))
    prompt = issues["nodes.0.prompt"]
    assert (prompt.node, prompt.field) == ("classify", "prompt")
    assert "tickt" in prompt.message
    assert "did you mean 'ticket'" in prompt.message
    assert "declare 'tickt'" in prompt.fix
    kind = issues["nodes.1.kind"]
    assert "did you mean 'human'" in kind.message
    assert "llm, agent" in kind.fix
    assert issues["nodes.2.routes.0.to"].node == "route"
    assert "used twice" in issues["nodes.3.id"].message
    assert "'ghost'" in issues["edges.4.from"].message
    with pytest.raises(FlowError) as err:
        parse_flow(doc)
    assert len(err.value.issues) == len(issues)
    assert "Fix:" in str(err.value)


def test_the_hash_ignores_positions_and_descriptions_but_not_prompts() -> None:
    doc = triage()
    moved = copy.deepcopy(doc)
    moved["nodes"][0]["position"] = {"x": 500, "y": -3.5}
    moved["description"] = "another text"
    moved["nodes"].reverse()
    assert content_hash(doc) == content_hash(moved)
    assert content_hash(doc).startswith("sha256:")
    changed = copy.deepcopy(doc)
    changed["nodes"][0]["prompt"] = "Classify this: {{ticket}}"
    assert content_hash(changed) != content_hash(doc)
