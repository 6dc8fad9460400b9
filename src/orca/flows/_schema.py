"""The JSON Schema of the flow format, generated from the models of ``_spec``; committed
as ``contracts/workflow.schema.json`` (a test fails when they drift). Regenerate it with
``python -m orca.flows._schema > contracts/workflow.schema.json``."""

from __future__ import annotations

import json
from typing import Any

from orca.flows._spec import FORMAT, Flow

SCHEMA_ID = "https://orca.dev/contracts/workflow.schema.json"


def workflow_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of an ``orca.flow/v1`` document."""
    schema = Flow.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": f"Orca flow ({FORMAT})",
        **{k: v for k, v in schema.items() if k != "title"},
    }


def render() -> str:
    return json.dumps(workflow_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(render(), end="")
