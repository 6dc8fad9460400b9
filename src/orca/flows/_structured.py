"""Structured output: the JSON Schema an ``llm`` node gives (checked when the flow is),
and the answer parsed as the object it asks for."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orca.errors import MalformedResponseError
from orca.flows._read import json_type

_SCHEMA_TYPES = {"object", "array", "string", "number", "integer", "boolean", "null"}


def schema_problems(schema: Any, where: str, depth: int = 0) -> list[tuple[str, str]]:
    """Problems of a JSON Schema given for structured output: the top is an object with
    properties; each type a JSON type; properties, items, required well formed."""
    out: list[tuple[str, str]] = []
    if depth > 16:
        return [(where, "the schema nests too deep")]
    if not isinstance(schema, Mapping):
        return [(where, f"a schema is a JSON object, got {json_type(schema)}")]
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for k in kinds:
        if k not in _SCHEMA_TYPES:
            out.append((f"{where}.type", f"schema type {str(k)[:40]!r} is not a JSON type"))
    if depth == 0 and kind != "object":
        out.append((f"{where}.type", 'structured output needs "type": "object" at the top'))
    props = schema.get("properties")
    if props is not None:
        if not isinstance(props, Mapping):
            out.append((f"{where}.properties", "properties is not an object"))
        else:
            for name, sub in props.items():
                out.extend(schema_problems(sub, f"{where}.properties.{name}", depth + 1))
    required = schema.get("required")
    if required is not None:
        if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
            out.append((f"{where}.required", "required is not a list of property names"))
        elif isinstance(props, Mapping):
            for name in required:
                if name not in props:
                    out.append((f"{where}.required", f"required names {name!r}, not a property"))
    items = schema.get("items")
    if items is not None:
        out.extend(schema_problems(items, f"{where}.items", depth + 1))
    enum = schema.get("enum")
    if enum is not None and (not isinstance(enum, list) or not enum):
        out.append((f"{where}.enum", "enum is not a non-empty list"))
    return out


def parse_answer(answer: Any, schema: Mapping[str, Any]) -> Any:
    """The answer parsed as the JSON object ``schema`` asks for (its required keys
    present)."""
    text = answer.text.strip()
    if text.startswith("```"):  # a model that fenced its JSON
        text = text.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise MalformedResponseError(
            f"the answer is not the JSON the node's schema asks for ({exc})",
            provider=answer.provider,
            model=answer.model,
            fix="use a model that supports structured output, or drop the schema",
        ) from None
    missing = [
        k for k in schema.get("required", ()) if not isinstance(value, dict) or k not in value
    ]
    if not isinstance(value, dict) or missing:
        raise MalformedResponseError(
            "the answer lacks what the node's schema requires"
            + (f": {', '.join(missing)}" if missing else " (an object)"),
            provider=answer.provider,
            model=answer.model,
            fix="use a model that supports structured output, or loosen the schema",
        )
    return value
