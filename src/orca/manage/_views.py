"""Runs seen many at once, as plain data: a page of runs by filters, the counters over
every run, a search of the event log, and a workflow's per-node figures (``GET
/v1/runs``, ``/v1/runs/stats``, ``/v1/events/search``, ``/v1/workflows/{name}/stats``).

Money is integer nano-USD in the stores and an exact decimal string of dollars in what
these return (``cost_usd``), never a float."""

from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson

from orca.checkpoint._base import RUN_STATUSES
from orca.errors import InvalidFieldError, InvalidInputError
from orca.manage._plain import usd_decimal

if TYPE_CHECKING:
    from orca.checkpoint import RunRecord
    from orca.store import RunViews, UserStore

_MAX_USD = Decimal(2**63 - 1).scaleb(-9)


def nano_of(text: str | None, field: str) -> int | None:
    """A decimal string of dollars (``0.25``) as integer nano-USD, exactly (an amount
    finer than a nano-dollar is refused, not rounded).

    Raises:
        InvalidFieldError: ``text`` is not a plain non-negative decimal number.
    """
    if text is None:
        return None
    fix = f"write {field} as a decimal number of dollars, e.g. 0.25"
    cleaned = text.strip()
    try:
        if not cleaned or not cleaned.replace(".", "", 1).isdigit() or not cleaned.isascii():
            raise InvalidOperation
        value = Decimal(cleaned)
    except InvalidOperation:
        raise InvalidFieldError(
            f"{field} {text[:40]!r} is not an amount", field=field, fix=fix
        ) from None
    if value > _MAX_USD or value.scaleb(9) != value.scaleb(9).to_integral_value():
        raise InvalidFieldError(
            f"{field} {text[:40]!r} is out of range or finer than a nano-dollar",
            field=field,
            fix=fix + f" (at most {_MAX_USD}, 9 decimals)",
        )
    return int(value.scaleb(9))


def check_statuses(statuses: list[str]) -> tuple[str, ...]:
    """The statuses asked for, each one of a run's.

    Raises:
        InvalidInputError: one is not (a 400, as ``GET /v1/runs`` has always answered).
    """
    for status in statuses:
        if status not in RUN_STATUSES:
            raise InvalidInputError(
                f"status is {status[:40]!r}. Fix: use one of {', '.join(RUN_STATUSES)} "
                "(repeat status= for several)"
            )
    return tuple(dict.fromkeys(statuses))


def record(run: RunRecord) -> dict[str, Any]:
    """A run record as ``GET /v1/runs/{id}`` answers it (plain JSON values)."""
    data: dict[str, Any] = orjson.loads(
        orjson.dumps(dataclasses.asdict(run), default=repr, option=orjson.OPT_NON_STR_KEYS)
    )
    return data


def stats(views: RunViews, now: dt.datetime) -> dict[str, Any]:
    """The runs page's counters: runs by status and in all, their cost all time and over
    the last day (runs started in it), and that day's tokens and runs."""
    found = views.stats(now)
    return {
        **found.by_status,
        "total": found.total,
        "cost_usd": usd_decimal(found.cost_nano_usd),
        "cost_usd_24h": usd_decimal(found.cost_nano_usd_24h),
        "tokens_24h": found.tokens_24h,
        "runs_24h": found.runs_24h,
    }


def search(
    views: RunViews, text: str, *, types: list[str], run_id: str | None, limit: int
) -> list[dict[str, Any]]:
    """Logged events holding ``text`` (case-insensitive, secrets redacted), latest first."""
    return [
        dataclasses.asdict(h)
        for h in views.search_events(text, types=types, run_id=run_id, limit=limit)
    ]


def workflow_stats(
    views: RunViews, users: UserStore, graph: str, *, since: dt.datetime | None
) -> list[dict[str, Any]]:
    """Per node of a workflow: the runs it ran in, its tasks (``calls``), the failed ones
    (``errors``), its task latency (p50 and p95, ms, nearest rank), and what its LLM
    calls cost and used (``cost_usd``, ``tokens``, ``llm_calls``) from the usage ledger;
    over the runs started since ``since`` (and the calls made since)."""
    times = {n.node: n for n in views.node_times(graph, since=since)}
    spent = {
        r.key: r for r in users.usage.report("node", since=since, workflow=graph) if r.key != "-"
    }
    rows = []
    for node in sorted(times.keys() | spent.keys()):
        t, u = times.get(node), spent.get(node)
        rows.append(
            {
                "node": node,
                "runs": t.runs if t else 0,
                "calls": t.calls if t else 0,
                "errors": t.errors if t else 0,
                "p50_ms": t.percentile(50) if t else None,
                "p95_ms": t.percentile(95) if t else None,
                "cost_usd": usd_decimal(u.cost_nano_usd if u else 0),
                "cost_nano_usd": u.cost_nano_usd if u else 0,
                "tokens": (u.input_tokens + u.output_tokens) if u else 0,
                "llm_calls": u.calls if u else 0,
            }
        )
    return rows
