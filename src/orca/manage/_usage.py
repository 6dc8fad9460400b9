"""Usage reports (``orca usage report``, ``/v1/usage``) and the tool audit (``orca tools
log``, ``/v1/audit``) as plain data."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

from orca.manage._plain import llm_calls

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
) -> list[UsageRow]:
    """Calls, tokens and cost from the usage ledger grouped ``by`` model, node, role,
    day, run, workflow or session, most expensive first (days in date order).

    Raises:
        InvalidInputError: ``by`` is not a grouping (the message names them).
    """
    grouping: Any = by  # the repository checks it and names the choices
    return store.usage.report(grouping, since=since, until=until, run_id=run_id)


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
