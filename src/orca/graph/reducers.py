"""Reducers: how a state key combines the writes of one superstep.

Attach one with ``Annotated``::

    class State(TypedDict):
        status: str                                     # overwrite (the default)
        messages: Annotated[list[str], reducers.append]
        scores: Annotated[dict[str, int], reducers.merge]
        tokens: Annotated[int, reducers.sum]
        best: Annotated[int, max]                       # any (old, new) -> value

Writes are folded in task order, never completion order, so results are deterministic.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Reducer", "append", "merge", "overwrite", "sum"]


@dataclass(frozen=True, slots=True)
class Reducer:
    """A named reducer. ``empty`` builds the value a key starts from (None: no value)."""

    name: str
    fn: Callable[[Any, Any], Any]
    empty: Callable[[], Any] | None = None

    def __call__(self, old: Any, new: Any) -> Any:
        return self.fn(old, new)


def _overwrite(old: Any, new: Any) -> Any:
    return new


def _append(old: Any, new: Any) -> list[Any]:
    items = list(new) if isinstance(new, list | tuple) else [new]
    return items if old is None else [*old, *items]


def _merge(old: Any, new: Any) -> Any:
    if not isinstance(new, Mapping):
        raise TypeError(f"merge expects a mapping, got {type(new).__name__}")
    if old is None:
        return dict(new)
    out = dict(old)
    for key, value in new.items():
        current = out.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            out[key] = _merge(current, value)
        else:
            out[key] = value
    return out


def _sum(old: Any, new: Any) -> Any:
    return new if old is None else old + new


overwrite = Reducer("overwrite", _overwrite)
"""Replace the value. Two tasks writing the key in one superstep is an error."""

append = Reducer("append", _append, list)
"""List concatenation; a list or tuple extends, any other value is appended as one item.
Checkpoints store only the appended items (plus periodic snapshots)."""

merge = Reducer("merge", _merge, dict)
"""Deep dict merge: nested dicts merge key by key, anything else is replaced."""

sum = Reducer("sum", _sum, int)
"""Add numbers (int, float or Decimal)."""
