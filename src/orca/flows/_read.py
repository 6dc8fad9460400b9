"""Reading a flow document (JSON or YAML text, a file, a mapping) into plain JSON data,
within limits: a hostile document (huge, deeply nested, a YAML alias bomb) is refused
with an issue, never followed."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_BYTES = 1 << 20
"""The largest flow document read, in bytes."""
MAX_DEPTH = 32
"""The deepest nesting of objects and lists a flow document may have."""
MAX_ITEMS = 100_000
"""The most values (objects, lists, scalars) a flow document may hold."""


@dataclass(frozen=True, slots=True)
class FlowIssue:
    """One problem of a flow document.

    Attributes:
        path: where, as dotted keys and indexes (``nodes.2.prompt``); "" for the whole.
        node: the id of the node concerned, if any.
        field: the field concerned (``prompt``), if any.
        message: what is wrong.
        fix: how to fix it.
    """

    path: str
    node: str | None
    field: str | None
    message: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "node": self.node,
            "field": self.field,
            "message": self.message,
            "fix": self.fix,
        }


def issue(message: str, fix: str, path: str = "", *, node: str | None = None) -> FlowIssue:
    field = path.rsplit(".", 1)[-1] if path else None
    if field is not None and field.isdigit():
        field = None
    return FlowIssue(path, node, field, message, fix)


def json_type(value: Any) -> str:
    """What a JSON value is, for messages: "a list", "null", "a str"..."""
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "null"
    return f"a {type(value).__name__}"


def read_doc(data: Any) -> tuple[Any, list[FlowIssue]]:
    """The JSON data ``data`` holds: a mapping as it is, text or bytes parsed as JSON
    (or YAML when it is not JSON), a ``Path`` read as JSON or YAML by its suffix."""
    if isinstance(data, Path):
        try:
            size = data.stat().st_size
        except OSError as exc:
            return None, [issue(f"cannot read {data}: {exc.strerror}", "give an existing file")]
        if size > MAX_BYTES:
            return None, [_too_big(size)]
        raw = data.read_bytes()
        suffix = data.suffix.lower()
        yaml = suffix in (".yaml", ".yml") or (
            suffix != ".json" and not raw.lstrip().startswith(b"{")
        )
        return _parse(raw, yaml=yaml, json_only=suffix == ".json")
    if isinstance(data, str | bytes | bytearray):
        raw = data.encode() if isinstance(data, str) else bytes(data)
        if len(raw) > MAX_BYTES:
            return None, [_too_big(len(raw))]
        return _parse(raw, yaml=not raw.lstrip().startswith(b"{"), json_only=False)
    if isinstance(data, Mapping):
        problem = _shape(data)
        return (None, [problem]) if problem else (data, [])
    return None, [
        issue(
            f"a flow document is a JSON object, got a {type(data).__name__}",
            "pass a mapping, JSON or YAML text, or the path of a .json/.yaml file",
        )
    ]


def _too_big(size: int) -> FlowIssue:
    return issue(
        f"the flow document is {size} bytes, more than the {MAX_BYTES} allowed",
        "split it into subflows",
    )


def _parse(raw: bytes, *, yaml: bool, json_only: bool) -> tuple[Any, list[FlowIssue]]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [issue(f"the flow document is not UTF-8 ({exc.reason})", "save it as UTF-8")]
    try:
        if yaml and not json_only:
            doc = _yaml(text)
        else:
            doc = json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        return None, [_too_deep()]
    except ValueError as exc:
        kind = "YAML" if yaml and not json_only else "JSON"
        return None, [
            issue(f"the flow document is not valid {kind}: {str(exc)[:300]}", _syntax_fix(kind))
        ]
    problem = _shape(doc)
    return (None, [problem]) if problem else (doc, [])


def _syntax_fix(kind: str) -> str:
    return f"correct the {kind} syntax at the place named"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _yaml(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)  # plain data only: no Python objects are built
    except yaml.YAMLError as exc:
        raise ValueError(str(exc)) from None


def _too_deep() -> FlowIssue:
    return issue(
        f"the flow document nests deeper than {MAX_DEPTH} levels",
        "flatten it: a flow needs only a few levels",
    )


def _shape(doc: Any) -> FlowIssue | None:
    """A problem with the document's size, depth or value types, or None. Counts each
    visit, so a YAML alias bomb (one list referenced a million times) stops early."""
    seen = 0
    todo: list[tuple[Any, int, str]] = [(doc, 0, "")]
    while todo:
        item, depth, path = todo.pop()
        seen += 1
        if seen > MAX_ITEMS:
            return issue(
                f"the flow document holds more than {MAX_ITEMS} values", "split it into subflows"
            )
        if depth > MAX_DEPTH:
            return _too_deep()
        if isinstance(item, Mapping):
            for key, value in item.items():
                if not isinstance(key, str):
                    return issue(
                        f"key {str(key)[:40]!r} is not a string",
                        "quote the key (YAML reads 1, yes or a date as a non-string)",
                        path,
                    )
                todo.append((value, depth + 1, f"{path}.{key}" if path else key))
        elif isinstance(item, list):
            todo.extend(
                (v, depth + 1, f"{path}.{i}" if path else str(i)) for i, v in enumerate(item)
            )
        elif isinstance(item, float) and not math.isfinite(item):
            return issue("a number is not finite (NaN or infinity)", "use a finite number", path)
        elif not (item is None or isinstance(item, str | int | float | bool)):
            return issue(
                f"a value is a {type(item).__name__}, which JSON cannot hold",
                "quote it as a string (YAML reads dates and times as such)",
                path,
            )
    return None
