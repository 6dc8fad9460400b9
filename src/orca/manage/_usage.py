"""Usage reports (``orca usage report``, ``/v1/usage``) and the tool audit (``orca tools
log``, ``/v1/audit``) as plain data."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from orca.errors import InvalidFieldError
from orca.manage._plain import llm_calls, usd_decimal

if TYPE_CHECKING:
    from orca.cost import UsageRow
    from orca.store import ToolAudit, UserStore


def report(
    store: UserStore,
    by: str,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    run_id: str | None = None,
    workflow: str | None = None,
    bucket: str | None = None,
) -> list[UsageRow]:
    """Calls, tokens and cost from the usage ledger grouped ``by`` model, node, role,
    day, run, workflow or session, most expensive first (days in date order), of one
    run and one workflow when given; with ``bucket`` (hour or day) per time bucket too.

    Raises:
        InvalidInputError: ``by`` is not a grouping, or ``bucket`` not a bucket (the
            message names them).
    """
    grouping: Any = by  # the repository checks them and names the choices
    buckets: Any = bucket
    return store.usage.report(
        grouping, since=since, until=until, run_id=run_id, workflow=workflow, bucket=buckets
    )


SERIES_KEYS = ("model", "node", "role", "workflow", "session")
"""What a series may be split by (``GET /v1/usage/series?by=``)."""


def series(
    store: UserStore,
    by: str,
    bucket: str,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> dict[str, Any]:
    """Spend over time: per ``bucket`` (hour or day, UTC) and per key of ``by``, the
    calls, tokens and cost (a decimal string of dollars, exact), buckets in time order.

    Raises:
        InvalidFieldError: ``by`` or ``bucket`` is not one of the choices.
    """
    if by not in SERIES_KEYS:
        raise InvalidFieldError(
            f"by is {by[:40]!r}", field="by", fix=f"use one of {', '.join(SERIES_KEYS)}"
        )
    if bucket not in ("hour", "day"):
        raise InvalidFieldError(f"bucket is {bucket[:40]!r}", field="bucket", fix="use hour or day")
    found = report(store, by, since=since, until=until, bucket=bucket)
    return {
        "bucket": bucket,
        "by": by,
        "points": [
            {
                "t": r.bucket,
                "key": r.key,
                "cost_usd": usd_decimal(r.cost_nano_usd),
                "cost_nano_usd": r.cost_nano_usd,
                "tokens_in": r.input_tokens,
                "tokens_out": r.output_tokens,
                "calls": r.calls,
            }
            for r in found
        ],
    }


def rows(found: list[UsageRow]) -> list[dict[str, Any]]:
    """A report as ``orca usage report --json`` writes it."""
    return [llm_calls(r.as_dict()) for r in found]


def tool_log(
    audit: ToolAudit,
    *,
    run_id: str | None = None,
    tool: str | None = None,
    status: str | None = None,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Recorded tool executions, newest first, arguments and results as the tool
    registry redacted them when it recorded them (``orca tools log --json``)."""
    found = audit.executions(run_id=run_id, tool=tool, status=status, limit=limit)
    return [
        {
            "created_at": e.created_at,
            "run_id": e.run_id,
            "thread_id": e.thread_id,
            "node": e.node,
            "tool": e.tool,
            "status": e.status,
            "duration_ms": e.duration_ms,
            "arguments": json.loads(e.arguments),
            "result": e.result,
        }
        for e in found
    ]
