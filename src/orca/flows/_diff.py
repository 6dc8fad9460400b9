"""What changed between two flow documents: state keys, nodes (field by field, nested
fields as dotted paths such as ``routes.0.when.value``) and edges, with canvas moves
(``position``) apart so that a viewer may ignore them. Pure functions over plain JSON
documents: no validation, so a saved document that no longer validates diffs too."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from typing import Any

_MISSING = object()
_CANVAS = "position"


def diff_flows(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The structured difference from ``old`` to ``new``::

        {"flow": [{"field", "from", "to"}],          # top-level fields (description...)
         "state": {"added": [keys], "removed": [keys],
                   "changed": [{"key", "fields": [{"field", "from", "to"}]}]},
         "nodes": {"added": [ids], "removed": [ids],
                   "changed": [{"name", "fields": [{"field", "from", "to"}]}],
                   "moved": [ids]},                  # position changed (may also be changed)
         "edges": {"added": [edge], "removed": [edge]}}

    A field added is reported ``from`` null, one removed ``to`` null. Lists are compared
    item by item (``routes.1.to``). Everything is in document order (then by name)."""
    sections = ("state", "nodes", "edges")
    return {
        "flow": _fields(
            {k: v for k, v in old.items() if k not in sections},
            {k: v for k, v in new.items() if k not in sections},
        ),
        "state": _keyed(_items(old, "state", "key"), _items(new, "state", "key"), "key"),
        "nodes": _nodes(_items(old, "nodes", "id"), _items(new, "nodes", "id")),
        "edges": _edges(_list(old, "edges"), _list(new, "edges")),
    }


def is_empty(diff: Mapping[str, Any], *, moves: bool = False) -> bool:
    """Whether ``diff`` (from ``diff_flows``) holds no change (canvas moves count only
    with ``moves``)."""
    nodes = diff["nodes"]
    return not (
        diff["flow"]
        or any(diff["state"][k] for k in ("added", "removed", "changed"))
        or any(nodes[k] for k in ("added", "removed", "changed"))
        or (moves and nodes["moved"])
        or diff["edges"]["added"]
        or diff["edges"]["removed"]
    )


def render_diff(diff: Mapping[str, Any], *, moves: bool = False) -> str:
    """``diff`` as lines a person reads (``+`` added, ``-`` removed, ``~`` changed)."""
    lines: list[str] = []
    for change in diff["flow"]:
        lines.append(f"~ {change['field']}: {_show(change['from'])} -> {_show(change['to'])}")
    for title, section, name in (("state", diff["state"], "key"), ("node", diff["nodes"], "name")):
        lines.extend(f"+ {title} {item}" for item in section["added"])
        lines.extend(f"- {title} {item}" for item in section["removed"])
        for changed in section["changed"]:
            lines.append(f"~ {title} {changed[name]}")
            lines.extend(
                f"    {c['field']}: {_show(c['from'])} -> {_show(c['to'])}"
                for c in changed["fields"]
            )
    if moves:
        lines.extend(f"~ node {node} moved" for node in diff["nodes"]["moved"])
    for sign, key in (("+", "added"), ("-", "removed")):
        lines.extend(f"{sign} edge {_edge_text(e)}" for e in diff["edges"][key])
    return "\n".join(lines) if lines else "no changes"


def _show(value: Any, limit: int = 80) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _edge_text(edge: Any) -> str:
    if isinstance(edge, Mapping):
        mark = " (conditional)" if edge.get("conditional") else ""
        return f"{edge.get('from')} -> {edge.get('to')}{mark}"
    return _show(edge)


def _list(doc: Mapping[str, Any], key: str) -> list[Any]:
    found = doc.get(key)
    return list(found) if isinstance(found, list) else []


def _items(doc: Mapping[str, Any], key: str, ident: str) -> dict[str, Mapping[str, Any]]:
    """The list ``doc[key]`` of objects by their ``ident`` field (one without one is
    named by its place, ``#3``)."""
    found: dict[str, Mapping[str, Any]] = {}
    for index, item in enumerate(_list(doc, key)):
        if not isinstance(item, Mapping):
            item = {"value": item}
        name = item.get(ident)
        found[name if isinstance(name, str) else f"#{index}"] = item
    return found


def _keyed(
    old: dict[str, Mapping[str, Any]], new: dict[str, Mapping[str, Any]], label: str
) -> dict[str, Any]:
    changed: list[dict[str, Any]] = []
    for name in old.keys() & new.keys():
        fields = _fields(old[name], new[name])
        if fields:
            changed.append({label: name, "fields": fields})
    order = {name: i for i, name in enumerate([*new, *old])}
    changed.sort(key=lambda c: order[c[label]])
    return {
        "added": [n for n in new if n not in old],
        "removed": [n for n in old if n not in new],
        "changed": changed,
    }


def _nodes(old: dict[str, Mapping[str, Any]], new: dict[str, Mapping[str, Any]]) -> dict[str, Any]:
    def content(node: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in node.items() if k != _CANVAS}

    section = _keyed(
        {k: content(v) for k, v in old.items()}, {k: content(v) for k, v in new.items()}, "name"
    )
    section["moved"] = [
        name
        for name in new
        if name in old and _canon(old[name].get(_CANVAS)) != _canon(new[name].get(_CANVAS))
    ]
    return section


def _edges(old: list[Any], new: list[Any]) -> dict[str, list[Any]]:
    """Edges as a multiset: each one added or removed as often as its count changed."""
    before = Counter(_canon(e) for e in old)
    after = Counter(_canon(e) for e in new)
    added = after - before
    removed = before - after

    def pick(edges: list[Any], wanted: Counter[str]) -> list[Any]:
        picked = []
        for edge in edges:
            key = _canon(edge)
            if wanted[key] > 0:
                wanted[key] -= 1
                picked.append(edge)
        return picked

    return {"added": pick(new, added), "removed": pick(old, removed)}


def _fields(old: Any, new: Any, prefix: str = "") -> list[dict[str, Any]]:
    """Leaf-level changes from ``old`` to ``new`` as ``{"field", "from", "to"}``, where
    ``field`` is the dotted path inside the object."""
    if isinstance(old, Mapping) and isinstance(new, Mapping) and (old or new):
        changes = []
        for key in dict.fromkeys([*old, *new]):
            path = f"{prefix}.{key}" if prefix else str(key)
            changes.extend(
                _fields(old.get(key, _MISSING), new.get(key, _MISSING), path)
                if key in old and key in new
                else [_change(path, old.get(key, _MISSING), new.get(key, _MISSING))]
            )
        return changes
    if isinstance(old, list) and isinstance(new, list) and prefix and (old or new):
        changes = []
        for index in range(max(len(old), len(new))):
            a = old[index] if index < len(old) else _MISSING
            b = new[index] if index < len(new) else _MISSING
            path = f"{prefix}.{index}"
            if a is _MISSING or b is _MISSING:
                changes.append(_change(path, a, b))
            else:
                changes.extend(_fields(a, b, path))
        return changes
    if _canon(old) == _canon(new):
        return []
    return [_change(prefix, old, new)]


def _change(field: str, old: Any, new: Any) -> dict[str, Any]:
    return {
        "field": field,
        "from": None if old is _MISSING else old,
        "to": None if new is _MISSING else new,
    }


def _canon(value: Any) -> str:
    """A spelling equal for equal JSON values only (``1`` and ``true`` differ; key order
    does not matter)."""
    if value is _MISSING:
        return "\x00missing"
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)
