"""``RunViews`` over PostgreSQL: runs listed by filters with a cursor, counted, and
searched by the text of their event log (the ``runs``, ``tasks`` and ``events`` tables
``PgCheckpointer`` writes). What a search matches is decided by the rules of
``orca.store._runviews`` that SQLite's views follow too: ``ILIKE`` only narrows the
batches read, and each one left is decoded and matched (redacted, case-folded) here."""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Sequence
from typing import Any

from orca.checkpoint import RunRecord
from orca.checkpoint._records import run_record
from orca.checkpoint._rows import decode_events
from orca.errors import CorruptDatabaseError, InvalidInputError
from orca.store._runviews import (
    SCANNED_RUNS,
    STATS_RUNS,
    EventHit,
    NodeTimes,
    RunFilter,
    RunStats,
    check_text,
    hits,
    holds,
    like_pattern,
)
from orca.store.postgres import _text
from orca.store.postgres._db import PgDb
from orca.store.postgres._runs import RUN_COLUMNS
from orca.store.postgres._schema import (
    CHECKPOINT_COMPONENT,
    CHECKPOINT_MIGRATIONS,
    PROJECT_COMPONENT,
    PROJECT_MIGRATIONS,
    RUN_VIEWS_COMPONENT,
    RUN_VIEWS_MIGRATIONS,
)

_NEWEST = "ORDER BY started_at DESC, seq DESC"
_CHUNK = 50  # candidate runs whose logs one query looks into
_MAX_VERSIONS = 1000  # the saved versions of one workflow a filter takes, at most
_STATUSES = ("queued", "running", "interrupted", "done", "failed", "cancelled")


def _iso(when: dt.datetime) -> str:
    """An aware time as run records write theirs (UTC, ISO 8601), for comparing text."""
    return when.astimezone(dt.UTC).isoformat()


def _events(batch: bytes, run_id: str) -> list[dict[str, Any]]:
    return decode_events(bytes(batch), run_id, 0, None, None)


def _holds(batch: bytes, run_id: str, text: str) -> bool:
    """Whether one of the batch's events holds ``text``; a damaged batch holds nothing."""
    try:
        return holds(_events(batch, run_id), text)
    except (ValueError, TypeError, KeyError):
        return False


class PgRunViews:
    """``RunViews`` over the PostgreSQL database of ``db`` (its indexes created, or
    migrated, when opened).

    Raises:
        StoreUnavailableError, SchemaVersionError, CorruptDatabaseError: as ``PgDb.prepare``.
    """

    def __init__(self, db: PgDb) -> None:
        self.db = db
        db.prepare(
            [
                (CHECKPOINT_COMPONENT, CHECKPOINT_MIGRATIONS),
                (PROJECT_COMPONENT, PROJECT_MIGRATIONS),
                (RUN_VIEWS_COMPONENT, RUN_VIEWS_MIGRATIONS),
            ]
        )

    def __repr__(self) -> str:
        return f"<PgRunViews {self.db.where}>"

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self.db.read() as conn:
            return _text.cursor(conn).execute(sql.encode(), args).fetchall()

    # -- runs --------------------------------------------------------------------------------

    def find_runs(self, query: RunFilter) -> list[RunRecord]:
        where: list[str] = []
        args: list[Any] = []
        graphs = self._graphs(query.graph) if query.graph is not None else ()
        if query.thread_id is not None:
            where.append("thread_id = %s")
            args.append(query.thread_id)
        for op, when in ((">=", query.since), ("<", query.until)):
            if when is not None:
                where.append(f"started_at {op} %s")
                args.append(_iso(when))
        for op, bound in ((">=", query.min_cost_nano_usd), ("<=", query.max_cost_nano_usd)):
            if bound is not None:
                where.append(f"cost_nano_usd {op} %s")
                args.append(bound)
        if query.before is not None:
            cursor = self._read("SELECT started_at, seq FROM runs WHERE id = %s", (query.before,))
            if not cursor:
                raise InvalidInputError(
                    f"before names run {query.before[:80]!r}, which is not stored. Fix: pass "
                    "the id of the last run of the page before (or none for the first page)"
                )
            where.append("(started_at, seq) < (%s, %s)")
            args += cursor[0]
        if query.text is None:
            rows = self._newest(RUN_COLUMNS, where, args, graphs, query.statuses, query.limit)
            return [self._decode(r[2:]) for r in rows]
        # the newest SCANNED_RUNS candidates, then their logs looked into a chunk at a time,
        # in order, until the page is full: a common text reads a few runs' logs only
        candidates = [
            r[2] for r in self._newest("id", where, args, graphs, query.statuses, SCANNED_RUNS)
        ]
        text = check_text(query.text, "text")
        pattern = like_pattern(text)
        found: list[RunRecord] = []
        for at in range(0, len(candidates), _CHUNK):
            chunk = candidates[at : at + _CHUNK]
            matched: set[str] = set()
            for run_id, batch in self._read(
                "SELECT run_id, convert_to(batch, 'UTF8') FROM events "
                "WHERE run_id = ANY(%s::text[]) AND batch ILIKE %s",
                (chunk, pattern),
            ):
                if run_id not in matched and _holds(batch, run_id, text):
                    matched.add(run_id)
            if matched:
                rows = self._read(
                    f"SELECT {RUN_COLUMNS} FROM runs WHERE id = ANY(%s::text[]) {_NEWEST}",
                    (sorted(matched),),
                )
                found += [self._decode(r) for r in rows]
            if len(found) >= query.limit:
                break
        return found[: query.limit]

    def _decode(self, row: Sequence[Any]) -> RunRecord:
        try:
            return run_record(row)
        except ValueError as exc:  # orjson's decode error is one too
            raise CorruptDatabaseError(
                self.db.where,
                f"the record of run {row[0]!r} is damaged ({exc})",
                "restore the database from a backup, or delete the run's thread",
            ) from exc

    def _graphs(self, name: str) -> tuple[str, ...]:
        """The graph names a workflow filter takes: ``name``, and when it names no version,
        the saved versions that have runs (``name@1.2.0``): the names from ``name@`` up to
        ``nameA``, neighbours in code point order (the column's collation is "C")."""
        if "@" in name:
            return (name,)
        # each next version is one step of the graph index (a DISTINCT would read every
        # run of every version)
        found, after = [name], name + "@"
        op = ">="
        while len(found) <= _MAX_VERSIONS:
            row = self._read(
                f"SELECT graph FROM runs WHERE graph {op} %s AND graph < %s ORDER BY graph LIMIT 1",
                (after, name + "A"),
            )
            if not row:
                break
            found.append(row[0][0])
            after, op = row[0][0], ">"
        return tuple(found)

    def _newest(
        self,
        columns: str,
        where: list[str],
        args: list[Any],
        graphs: Sequence[str],
        statuses: Sequence[str],
        limit: int,
    ) -> list[Any]:
        """``started_at, seq[, columns]`` of the newest ``limit`` runs ``where`` selects,
        of any of ``graphs`` and ``statuses`` (any, when empty): one index range per graph
        and status (``runs_by_graph``, ``runs_by_status``: newest first), merged, so that a
        filter of several values never sorts a whole table."""
        picked = f"started_at, seq{', ' + columns if columns else ''}"
        ranges: list[list[Any]] = []
        for graph in graphs or (None,):
            for status in statuses or (None,):
                cond, values = list(where), list(args)
                for column, value in (("graph", graph), ("status", status)):
                    if value is not None:
                        cond.append(f"{column} = %s")
                        values.append(value)
                sql = f"SELECT {picked} FROM runs"
                if cond:
                    sql += " WHERE " + " AND ".join(cond)
                ranges.append(self._read(f"{sql} {_NEWEST} LIMIT %s", [*values, limit]))
        if len(ranges) == 1:
            return ranges[0]
        merged = heapq.merge(*ranges, key=lambda r: (r[0], r[1]), reverse=True)
        return list(itertools.islice(merged, limit))

    def stats(self, now: dt.datetime) -> RunStats:
        if now.tzinfo is None:
            raise InvalidInputError("stats needs an aware time. Fix: pass UTC")
        by_status = dict.fromkeys(_STATUSES, 0)
        total = cost = 0
        for status, n, spent in self._read(
            "SELECT status, COUNT(*), COALESCE(SUM(cost_nano_usd), 0)::bigint FROM runs "
            "GROUP BY status"
        ):
            by_status[status] = n
            total += n
            cost += spent
        day = self._read(
            "SELECT COUNT(*), COALESCE(SUM(cost_nano_usd), 0)::bigint, "
            "COALESCE(SUM(input_tokens + output_tokens), 0)::bigint FROM runs "
            "WHERE started_at >= %s",
            (_iso(now - dt.timedelta(days=1)),),
        )[0]
        return RunStats(by_status, total, cost, day[1], day[2], day[0])

    # -- the event log -----------------------------------------------------------------------

    def search_events(
        self,
        text: str,
        *,
        types: Sequence[str] = (),
        run_id: str | None = None,
        limit: int = 50,
    ) -> list[EventHit]:
        check_text(text, "q")
        if not 0 < limit <= 1000:
            raise InvalidInputError(f"limit is {limit}. Fix: ask for 1 to 1000 events")
        if run_id is not None:
            runs = "SELECT id FROM runs WHERE id = %s"
            runs_args: list[Any] = [run_id]
        else:
            runs = f"SELECT id FROM runs {_NEWEST} LIMIT %s"
            runs_args = [SCANNED_RUNS]
        taken: list[EventHit] = []
        # a server-side cursor: the batches are read as they are matched, no further than
        # the hits asked for
        with self.db.transaction() as conn, _text.server_cursor(conn, "orca_search") as cursor:
            cursor.execute(
                f"WITH r AS ({runs}) SELECT e.run_id, convert_to(e.batch, 'UTF8') "
                "FROM events AS e WHERE e.run_id IN (SELECT id FROM r) AND e.batch ILIKE %s "
                "ORDER BY e.first_ts DESC, e.id DESC".encode(),
                [*runs_args, like_pattern(text)],
            )
            while len(taken) < limit:
                rows = cursor.fetchmany(16)
                if not rows:
                    break
                for owner, batch in rows:
                    try:
                        taken += hits(_events(batch, owner), text, types)
                    except (ValueError, TypeError, KeyError):
                        continue  # a damaged batch: `orca doctor` reports it
        taken.sort(key=lambda h: (h.ts, h.seq), reverse=True)
        return taken[:limit]

    # -- workflows ---------------------------------------------------------------------------

    def node_times(self, graph: str, *, since: dt.datetime | None = None) -> list[NodeTimes]:
        where: list[str] = [] if since is None else ["started_at >= %s"]
        args: list[Any] = [] if since is None else [_iso(since)]
        newest = self._newest("id", where, args, self._graphs(graph), (), STATS_RUNS)
        rows = self._read(
            "SELECT node, run_id, status, duration_ms FROM tasks WHERE run_id = ANY(%s::text[])",
            ([r[2] for r in newest],),
        )
        nodes: dict[str, tuple[set[str], list[int], list[float]]] = {}
        for node, run, status, duration in rows:
            runs, counts, durations = nodes.setdefault(node, (set(), [0, 0], []))
            runs.add(run)
            counts[0] += 1
            counts[1] += status == "failed"
            if duration is not None:
                durations.append(float(duration))
        return [
            NodeTimes(node, len(runs), counts[0], counts[1], tuple(sorted(durations)))
            for node, (runs, counts, durations) in sorted(nodes.items())
        ]

    def close(self) -> None:
        """Nothing of its own to release: the pool is the store's."""

    def __enter__(self) -> PgRunViews:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
