"""Usage reports in SQLite: queries over the ``usage`` table the ledger writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from orca.cost import Bucket, Charge, GroupBy, RunUsage, UsageRow, check_report
from orca.store.sqlite._runviews import workflow_match
from orca.store.sqlite._user_db import UserDb

_KEYS: dict[str, str] = {
    "model": "provider || '/' || model",
    "node": "COALESCE(node, '-')",
    "role": "COALESCE(role, '-')",
    "day": "substr(created_at, 1, 10)",
    "run": "COALESCE(run_id, '-')",
    "workflow": "COALESCE(workflow, '-')",
    "session": "COALESCE(session, '-')",
}

# the start of a call's time bucket, as ISO 8601 UTC (``created_at`` is written in UTC)
_BUCKETS: dict[str, str] = {
    "hour": "strftime('%Y-%m-%dT%H:00:00+00:00', created_at)",
    "day": "strftime('%Y-%m-%dT00:00:00+00:00', created_at)",
}


class SqliteUsage:
    """Reports over the usage ledger (``orca.store.UsageRepository``)."""

    def __init__(self, db: UserDb) -> None:
        self._db = db

    def report(
        self,
        by: GroupBy,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        run_id: str | None = None,
        workflow: str | None = None,
        bucket: Bucket | None = None,
    ) -> list[UsageRow]:
        check_report(by, since, until, bucket)
        where: list[str] = []
        args: list[str] = []
        for op, when in ((">=", since), ("<", until)):
            if when is not None:
                where.append(f"created_at {op} ?")
                args.append(when.astimezone(dt.UTC).isoformat())
        if run_id is not None:
            where.append("run_id = ?")
            args.append(run_id)
        if workflow is not None:  # its saved versions too (``name@1.2.0``)
            cond, values = workflow_match("workflow", workflow)
            where.append(cond)
            args += values
        # fixed expressions per grouping and bucket, never text from the caller
        key = _KEYS[by]
        order = "k" if by == "day" else "SUM(cost_nano_usd) DESC, k"
        start = "NULL" if bucket is None else _BUCKETS[bucket]
        if bucket is not None:
            order = f"b, {order}"
        rows = self._db.read(
            f"SELECT {key} AS k, COUNT(*), SUM(input_tokens), SUM(output_tokens), "
            "SUM(reasoning_tokens), SUM(cost_nano_usd), SUM(1 - priced), SUM(estimated), "
            f"{start} AS b FROM usage {'WHERE ' + ' AND '.join(where) if where else ''} "
            f"GROUP BY b, k ORDER BY {order}",
            tuple(args),
        )
        return [UsageRow(*r) for r in rows]

    def of_run(self, run_id: str) -> list[RunUsage]:
        rows = self._db.read(
            "SELECT node, role, provider || '/' || model, "
            "COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cost_nano_usd) FROM usage "
            "WHERE run_id = ? GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
            (run_id,),
        )
        return [RunUsage(*r) for r in rows]

    def charges(self, run_id: str) -> list[Charge]:
        rows = self._db.read(
            "SELECT provider, model, input_tokens, output_tokens, cache_read_tokens, "
            "cache_write_tokens, reasoning_tokens, cost_nano_usd, priced, estimated FROM usage "
            "WHERE run_id = ? ORDER BY created_at, id",
            (run_id,),
        )
        return [_charge(r) for r in rows]


def _charge(row: tuple[Any, ...]) -> Charge:
    provider, model, inp, out, cache_read, cache_write, reasoning, cost, priced, estimated = row
    return Charge(
        provider,
        model,
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=reasoning,
        cost_nano_usd=cost,
        priced=bool(priced),
        estimated=bool(estimated),
    )
