"""``contracts/workflow.schema.json`` is the flow format's contract: generated from the
models that parse flows, committed, and checked here against drift; the example flows
and every document the parser accepts follow it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from orca.flows import parse_flow
from orca.flows._schema import render, workflow_schema

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "contracts" / "workflow.schema.json"
EXAMPLES = sorted((ROOT / "examples" / "flows").glob("*.yaml"))


def test_the_committed_schema_is_the_generated_one() -> None:
    assert COMMITTED.read_text() == render(), (
        "contracts/workflow.schema.json differs from the flow models. Fix: "
        "python -m orca.flows._schema > contracts/workflow.schema.json"
    )


def test_the_schema_names_the_format_and_every_node_kind() -> None:
    schema = workflow_schema()
    assert schema["properties"]["format"]["const"] == "orca.flow/v1"
    mapping = schema["properties"]["nodes"]["items"]["discriminator"]["mapping"]
    assert sorted(mapping) == sorted(
        ["llm", "agent", "tool", "router", "map", "human", "subflow", "python"]
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_example_flows_follow_the_schema_and_parse(path: Path) -> None:
    doc = yaml.safe_load(path.read_text())
    jsonschema.Draft202012Validator.check_schema(json.loads(COMMITTED.read_text()))
    jsonschema.validate(doc, json.loads(COMMITTED.read_text()))
    assert parse_flow(path).name == doc["name"]


def test_the_schema_refuses_what_the_parser_refuses() -> None:
    schema = json.loads(COMMITTED.read_text())
    doc = yaml.safe_load(EXAMPLES[0].read_text())
    for bad in (
        {**doc, "format": "orca.flow/v2"},
        {**doc, "extra": 1},
        {**doc, "nodes": [{**doc["nodes"][0], "kind": "shell"}]},
        {**doc, "nodes": [{**doc["nodes"][0], "id": "__start__"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
