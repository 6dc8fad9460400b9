"""Usage reports in PostgreSQL: queries over the ``usage`` table the ledger writes; every
sum is taken as BIGINT (nano-USD and tokens are whole numbers, never NUMERIC)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from orca.cost import Bucket, Charge, GroupBy, RunUsage, UsageRow, check_report
from orca.store.postgres._db import PgDb
from orca.store.postgres._user_db import has_nul, prepare_user

_KEYS: dict[str, str] = {
    "model": "provider || '/' || model",
    "node": "COALESCE(node, '-')",
    "role": "COALESCE(role, '-')",
    "day": "substr(created_at, 1, 10)",
    "run": "COALESCE(run_id, '-')",
    "workflow": "COALESCE(workflow, '-')",
    "session": "COALESCE(session, '-')",
}

# the start of a call's time bucket, as ISO 8601 UTC (``created_at`` is ISO 8601 text)
_BUCKETS: dict[str, str] = {
    "hour": "to_char(created_at::timestamptz AT TIME ZONE 'UTC', "
    "'YYYY-MM-DD\"T\"HH24:00:00+00:00')",
    "day": "to_char(created_at::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"00:00:00+00:00')",
}


class PgUsage:
    """Reports over the usage ledger (``orca.store.UsageRepository``)."""

    def __init__(self, db: PgDb) -> None:
        self._db = db
        prepare_user(db)

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
        if has_nul(run_id, workflow):  # no row holds NUL
            return []
        where: list[str] = []
        args: list[str] = []
        for op, when in ((">=", since), ("<", until)):
            if when is not None:
                where.append(f"created_at {op} %s")
                args.append(when.astimezone(dt.UTC).isoformat())
        if run_id is not None:
            where.append("run_id = %s")
            args.append(run_id)
        if workflow is not None:
            if "@" in workflow:
                where.append("workflow = %s")
                args.append(workflow)
            else:  # its saved versions too (``name@1.2.0``)
                where.append("(workflow = %s OR starts_with(workflow, %s))")
                args += [workflow, workflow + "@"]
        # fixed expressions per grouping and bucket, never text from the caller
        key = _KEYS[by]
        order = "k" if by == "day" else "SUM(cost_nano_usd) DESC, k"
        start = "NULL::text" if bucket is None else _BUCKETS[bucket]
        if bucket is not None:
            order = f"b, {order}"
        query = (
            # keys sort as text in byte order, as SQLite sorts them, whatever the
            # database's collation
            f'SELECT ({key}) COLLATE "C" AS k, COUNT(*), SUM(input_tokens)::bigint, '
            "SUM(output_tokens)::bigint, SUM(reasoning_tokens)::bigint, "
            "SUM(cost_nano_usd)::bigint, COUNT(*) FILTER (WHERE priced = 0), "
            f'COUNT(*) FILTER (WHERE estimated <> 0), ({start}) COLLATE "C" AS b FROM usage '
            f"{'WHERE ' + ' AND '.join(where) if where else ''} "
            f"GROUP BY b, k ORDER BY {order}"
        )
        with self._db.read() as conn:
            rows = conn.execute(query.encode(), tuple(args)).fetchall()
        return [UsageRow(*r) for r in rows]

    def of_run(self, run_id: str) -> list[RunUsage]:
        if has_nul(run_id):
            return []
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT node, role, (provider || '/' || model) COLLATE \"C\", COUNT(*), "
                "SUM(input_tokens)::bigint, SUM(output_tokens)::bigint, "
                "SUM(cost_nano_usd)::bigint FROM usage WHERE run_id = %s "
                'GROUP BY 1, 2, 3 ORDER BY node COLLATE "C" NULLS FIRST, '
                'role COLLATE "C" NULLS FIRST, 3',
                (run_id,),
            ).fetchall()
        return [RunUsage(*r) for r in rows]

    def charges(self, run_id: str) -> list[Charge]:
        if has_nul(run_id):
            return []
        with self._db.read() as conn:
            rows = conn.execute(
                "SELECT provider, model, input_tokens, output_tokens, cache_read_tokens, "
                "cache_write_tokens, reasoning_tokens, cost_nano_usd, priced, estimated "
                'FROM usage WHERE run_id = %s ORDER BY created_at COLLATE "C", id COLLATE "C"',
                (run_id,),
            ).fetchall()
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
