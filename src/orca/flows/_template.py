"""Templates and conditions over a flow's state.

A template is text with ``{{key}}`` or ``{{key.sub.0}}`` variables: each is looked up in
the state, through mappings (by key) and lists (by index) only. Nothing is evaluated and
no attribute is ever read, so ``{{__class__}}`` is not a variable but an error.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_PATH = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.([A-Za-z][A-Za-z0-9_]*|[0-9]{1,9}))*$")
_MISSING = object()


def tags(text: str) -> Iterator[tuple[str, bool]]:
    """Each ``{{...}}`` of ``text``: (the variable path, stripped; whether it is valid)."""
    for match in _TAG.finditer(text):
        path = match.group(1).strip()
        yield path, bool(_PATH.match(path))


def problems(text: str) -> list[str]:
    """What is wrong with ``text`` as a template (empty: nothing)."""
    found = [f"{{{{{path[:60]}}}}} is not a state variable" for path, ok in tags(text) if not ok]
    rest = _TAG.sub("", text)
    if "{{" in rest or "}}" in rest:
        found.append("a '{{' or '}}' is not closed")
    return found


def roots(text: str) -> list[str]:
    """The state keys the valid variables of ``text`` start from, in order."""
    return [path.split(".", 1)[0] for path, ok in tags(text) if ok]


def value_roots(value: Any) -> list[tuple[str, str]]:
    """(where, template) of every string inside ``value`` (an argument tree)."""
    out: list[tuple[str, str]] = []

    def walk(item: Any, where: str) -> None:
        if isinstance(item, str):
            out.append((where, item))
        elif isinstance(item, Mapping):
            for k, v in item.items():
                walk(v, f"{where}.{k}" if where else str(k))
        elif isinstance(item, list):
            for i, v in enumerate(item):
                walk(v, f"{where}.{i}" if where else str(i))

    walk(value, "")
    return out


def lookup(values: Mapping[str, Any], path: str) -> Any:
    """The value at ``path`` (``a.b.0``) in ``values``, or ``None`` when absent."""
    found = _find(values, path)
    return None if found is _MISSING else found


def has(values: Mapping[str, Any], path: str) -> bool:
    found = _find(values, path)
    return found is not _MISSING and found is not None


def _find(values: Any, path: str) -> Any:
    current = values
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part, _MISSING)
        elif isinstance(current, list | tuple) and part.isdigit():
            index = int(part)
            current = current[index] if index < len(current) else _MISSING
        else:
            return _MISSING
        if current is _MISSING:
            return _MISSING
    return current


def text_of(value: Any) -> str:
    """A state value as template text: strings as they are, nothing as '', JSON else."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def render(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with each variable replaced by its value's text."""
    return _TAG.sub(lambda m: text_of(lookup(values, m.group(1).strip())), text)


def render_value(value: Any, values: Mapping[str, Any]) -> Any:
    """An argument tree with its strings rendered; a string that is exactly one
    variable (``"{{items}}"``) becomes the value itself (a list stays a list)."""
    if isinstance(value, str):
        whole = _TAG.fullmatch(value.strip())
        if whole is not None and "{{" not in whole.group(1):
            return lookup(values, whole.group(1).strip())
        return render(value, values)
    if isinstance(value, Mapping):
        return {k: render_value(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(v, values) for v in value]
    return value


def holds(op: str, actual: Any, expected: Any, present: bool) -> bool:
    """Whether ``actual <op> expected``; comparisons of values that do not compare
    (a number with a text) do not hold."""
    if op == "exists":
        return present
    if op == "truthy":
        return bool(actual)
    if op == "eq":
        return bool(actual == expected)
    if op == "ne":
        return bool(actual != expected)
    if op == "in":
        return isinstance(expected, Sequence) and actual in expected
    if op == "contains":
        if isinstance(actual, str):
            return isinstance(expected, str) and expected in actual
        if isinstance(actual, Mapping | list | tuple):
            return expected in actual
        return False
    if not (_comparable(actual) and _comparable(expected)):
        return False
    if isinstance(actual, str) != isinstance(expected, str):
        return False
    if op == "lt":
        return bool(actual < expected)
    if op == "le":
        return bool(actual <= expected)
    if op == "gt":
        return bool(actual > expected)
    return bool(actual >= expected)  # ge


def _comparable(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, int | str)
