"""Usage reports: queries over the usage ledger, grouped by model, node, role, day, run,
workflow or session."""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from typing import Any, Literal, get_args

from orca.errors import InvalidInputError

GroupBy = Literal["model", "node", "role", "day", "run", "workflow", "session"]

_KEYS: dict[str, str] = {
    "model": "provider || '/' || model",
    "node": "COALESCE(node, '-')",
    "role": "COALESCE(role, '-')",
    "day": "substr(created_at, 1, 10)",
    "run": "COALESCE(run_id, '-')",
    "workflow": "COALESCE(workflow, '-')",
    "session": "COALESCE(session, '-')",
}


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One group of a usage report."""

    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_nano: int
    unpriced_calls: int
    estimated_calls: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_nano_usd": self.cost_nano,
            "unpriced_calls": self.unpriced_calls,
            "estimated_calls": self.estimated_calls,
        }


def usage_report(
    conn: sqlite3.Connection,
    by: GroupBy,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    run_id: str | None = None,
) -> list[UsageRow]:
    """Usage grouped ``by`` one key, most expensive first (days in date order).

    Raises:
        InvalidInputError: ``by`` is not one of the groupings, or a time is naive.
    """
    if by not in _KEYS:
        raise InvalidInputError(
            f"cannot group usage by {by!r}. Fix: use one of {', '.join(get_args(GroupBy))}"
        )
    where, args = [], []
    for op, when in ((">=", since), ("<", until)):
        if when is not None:
            if when.tzinfo is None:
                raise InvalidInputError("report times need a time zone. Fix: pass aware datetimes")
            where.append(f"created_at {op} ?")
            args.append(when.astimezone(dt.UTC).isoformat())
    if run_id is not None:
        where.append("run_id = ?")
        args.append(run_id)
    key = _KEYS[by]
    order = "k" if by == "day" else "SUM(cost_nano) DESC, k"
    rows = conn.execute(
        f"SELECT {key} AS k, COUNT(*), SUM(input_tokens), SUM(output_tokens), "
        "SUM(reasoning_tokens), SUM(cost_nano), SUM(1 - priced), SUM(estimated) FROM usage "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} GROUP BY k ORDER BY {order}",
        args,
    )
    return [UsageRow(*r) for r in rows]
