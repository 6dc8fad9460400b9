"""``RunViews`` over a project database: runs listed by filters with a cursor, counted,
and searched by the text of their event log (the ``runs``, ``tasks``, ``events`` and
``checkpoints`` tables the checkpointer writes; read here on a connection of its own)."""

from __future__ import annotations

import datetime as dt
import heapq
import itertools
from collections.abc import Sequence
from pathlib import Path
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
from orca.store.sqlite._runs import _RUN_COLUMNS
from orca.store.sqlite._schema import (
    CHECKPOINT_COMPONENT,
    CHECKPOINT_MIGRATIONS,
    PROJECT_COMPONENT,
    PROJECT_MIGRATIONS,
    RUN_VIEWS_COMPONENT,
    RUN_VIEWS_MIGRATIONS,
)
from orca.store.sqlite._tables import SqliteTables

_NEWEST = "ORDER BY started_at DESC, rowid DESC"
_CHUNK = 50  # candidate runs whose logs one query looks into
_MAX_VERSIONS = 1000  # the saved versions of one workflow a filter takes, at most

# a run ``r`` whose log holds the text: the raw batches pre-filtered by LIKE (in C), the
# few that pass decoded and matched exactly (redacted, case-folded) by ``orca_holds``
_LOGGED_TEXT = (
    "EXISTS (SELECT 1 FROM events AS e WHERE e.run_id = r.id AND "
    "CAST(e.batch AS TEXT) LIKE ? ESCAPE '\\' AND orca_holds(e.batch, r.id, ?)) OR "
    "EXISTS (SELECT 1 FROM checkpoints AS c WHERE c.thread_id = r.thread_id AND "
    "c.events_run = r.id AND CAST(c.events AS TEXT) LIKE ? ESCAPE '\\' AND "
    "orca_holds(c.events, r.id, ?))"
)


def workflow_match(column: str, name: str) -> tuple[str, list[Any]]:
    """SQL matching a workflow ``name`` in ``column``: that name exactly, and when it
    names no version, its saved versions too (``name@1.2.0``, as runs of a saved flow
    record it). A range on ``column``, so that its index serves it."""
    if "@" in name:
        return f"{column} = ?", [name]
    # '@' and 'A' are neighbours in every collation SQLite uses by default (BINARY)
    return f"({column} = ? OR ({column} >= ? AND {column} < ?))", [name, name + "@", name + "A"]


def _iso(when: dt.datetime) -> str:
    """An aware time as run records write theirs (UTC, ISO 8601), for comparing text."""
    return when.astimezone(dt.UTC).isoformat()


def _events(batch: bytes | str, run_id: str) -> list[dict[str, Any]]:
    data = batch.encode() if isinstance(batch, str) else bytes(batch)
    return decode_events(data, run_id, 0, None, None)


def _holds(batch: bytes | str | None, run_id: str | None, text: str) -> int:
    """SQL function ``orca_holds(batch, run_id, text)``: 1 when one of the batch's events
    holds ``text`` (as ``orca.store._runviews.holds``); a damaged batch holds nothing."""
    if batch is None or run_id is None:
        return 0
    try:
        return int(holds(_events(batch, run_id), text))
    except (ValueError, TypeError, KeyError):
        return 0


class SqliteRunViews(SqliteTables):
    """``RunViews`` over the project database at ``path`` (its indexes created, or
    migrated, when opened).

    Raises:
        CorruptDatabaseError: the file is not an Orca database, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """

    COMPONENTS = (
        (CHECKPOINT_COMPONENT, CHECKPOINT_MIGRATIONS),
        (PROJECT_COMPONENT, PROJECT_MIGRATIONS),
        (RUN_VIEWS_COMPONENT, RUN_VIEWS_MIGRATIONS),
    )

    def __init__(self, path: str | Path) -> None:  # stamps no times: takes no clock
        super().__init__(path)

    def _open(self) -> None:
        super()._open()
        # deterministic: SQLite may call it once per row and value
        self._conn.create_function("orca_holds", 3, _holds, deterministic=True)

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock, self._errors():
            return self._conn.execute(sql, tuple(args)).fetchall()

    # -- runs --------------------------------------------------------------------------------

    def find_runs(self, query: RunFilter) -> list[RunRecord]:
        where: list[str] = []
        args: list[Any] = []
        graphs = self._graphs(query.graph) if query.graph is not None else ()
        if query.thread_id is not None:
            where.append("thread_id = ?")
            args.append(query.thread_id)
        for op, when in ((">=", query.since), ("<", query.until)):
            if when is not None:
                where.append(f"started_at {op} ?")
                args.append(_iso(when))
        for op, bound in ((">=", query.min_cost_nano_usd), ("<=", query.max_cost_nano_usd)):
            if bound is not None:
                where.append(f"cost_nano_usd {op} ?")
                args.append(bound)
        if query.before is not None:
            cursor = self._read("SELECT started_at, rowid FROM runs WHERE id = ?", (query.before,))
            if not cursor:
                raise InvalidInputError(
                    f"before names run {query.before[:80]!r}, which is not stored. Fix: pass "
                    "the id of the last run of the page before (or none for the first page)"
                )
            where.append("(started_at, rowid) < (?, ?)")
            args += cursor[0]
        if query.text is None:
            rows = self._newest(_RUN_COLUMNS, where, args, graphs, query.statuses, query.limit)
            return [self._decode(r[2:]) for r in rows]
        # the newest SCANNED_RUNS candidates, then their logs looked into a chunk at a time,
        # in order, until the page is full: a common text reads a few runs' logs only
        candidates = [
            r[1] for r in self._newest("", where, args, graphs, query.statuses, SCANNED_RUNS)
        ]
        text = check_text(query.text, "text")
        pattern = like_pattern(text)
        found: list[RunRecord] = []
        for at in range(0, len(candidates), _CHUNK):
            chunk = candidates[at : at + _CHUNK]
            rows = self._read(
                f"SELECT {_RUN_COLUMNS} FROM runs AS r WHERE r.rowid IN "
                f"({', '.join('?' * len(chunk))}) AND ({_LOGGED_TEXT}) {_NEWEST}",
                [*chunk, pattern, text, pattern, text],
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
                self.path,
                f"the record of run {row[0]!r} is damaged ({exc})",
                "restore the file from a backup, or delete the run's thread",
            ) from exc

    def _graphs(self, name: str) -> tuple[str, ...]:
        """The graph names a workflow filter takes: ``name``, and when it names no version,
        the saved versions that have runs (``name@1.2.0``; see ``workflow_match``)."""
        if "@" in name:
            return (name,)
        # each next version is one step of the graph index (a DISTINCT would read every
        # run of every version)
        found, after, op = [name], name + "@", ">="
        while len(found) <= _MAX_VERSIONS:
            row = self._read(
                f"SELECT graph FROM runs WHERE graph {op} ? AND graph < ? ORDER BY graph LIMIT 1",
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
        """``started_at, rowid[, columns]`` of the newest ``limit`` runs ``where`` selects,
        of any of ``graphs`` and ``statuses`` (any, when empty): one index range per graph
        and status (``runs_by_graph``, ``runs_by_status``: newest first), merged, so that a
        filter of several values never sorts a whole table."""
        picked = f"started_at, rowid{', ' + columns if columns else ''}"
        ranges: list[list[Any]] = []
        for graph in graphs or (None,):
            for status in statuses or (None,):
                cond, values = list(where), list(args)
                for column, value in (("graph", graph), ("status", status)):
                    if value is not None:
                        cond.append(f"{column} = ?")
                        values.append(value)
                sql = f"SELECT {picked} FROM runs"
                if cond:
                    sql += " WHERE " + " AND ".join(cond)
                ranges.append(self._read(f"{sql} {_NEWEST} LIMIT ?", [*values, limit]))
        if len(ranges) == 1:
            return ranges[0]
        merged = heapq.merge(*ranges, key=lambda r: (r[0], r[1]), reverse=True)
        return list(itertools.islice(merged, limit))

    def stats(self, now: dt.datetime) -> RunStats:
        if now.tzinfo is None:
            raise InvalidInputError("stats needs an aware time. Fix: pass UTC")
        by_status = dict.fromkeys(
            ("queued", "running", "interrupted", "done", "failed", "cancelled"), 0
        )
        total = cost = 0
        for status, n, spent in self._read(
            "SELECT status, COUNT(*), COALESCE(SUM(cost_nano_usd), 0) FROM runs GROUP BY status"
        ):
            by_status[status] = n
            total += n
            cost += spent
        day = self._read(
            "SELECT COUNT(*), COALESCE(SUM(cost_nano_usd), 0), "
            "COALESCE(SUM(input_tokens + output_tokens), 0) FROM runs WHERE started_at >= ?",
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
        pattern = like_pattern(text)
        if run_id is not None:
            runs = "SELECT id, thread_id FROM runs WHERE id = ?"
            runs_args: list[Any] = [run_id]
        else:
            runs = f"SELECT id, thread_id FROM runs {_NEWEST} LIMIT ?"
            runs_args = [SCANNED_RUNS]
        like = " AND CAST({0} AS TEXT) LIKE ? ESCAPE '\\'"
        matches = [pattern]
        sources = (
            f"WITH r AS ({runs}) SELECT e.run_id, e.batch FROM events AS e "
            f"WHERE e.run_id IN (SELECT id FROM r){like.format('e.batch')} "
            "ORDER BY e.first_ts DESC",
            f"WITH r AS ({runs}) SELECT c.events_run, c.events FROM r JOIN checkpoints AS c "
            f"ON c.thread_id = r.thread_id AND c.events_run = r.id{like.format('c.events')} "
            "ORDER BY c.events_ts DESC",
        )
        found: list[EventHit] = []
        for sql in sources:
            with self._lock, self._errors():
                cursor = self._conn.execute(sql, [*runs_args, *matches])
                try:
                    taken: list[EventHit] = []
                    while len(taken) < limit:
                        rows = cursor.fetchmany(16)
                        if not rows:
                            break
                        for owner, batch in rows:
                            try:
                                taken += hits(_events(batch, owner), text, types)
                            except (ValueError, TypeError, KeyError):
                                continue  # a damaged batch: `orca doctor` reports it
                finally:
                    cursor.close()
            found += taken[:limit]
        found.sort(key=lambda h: (h.ts, h.seq), reverse=True)
        return found[:limit]

    # -- workflows ---------------------------------------------------------------------------

    def node_times(self, graph: str, *, since: dt.datetime | None = None) -> list[NodeTimes]:
        where: list[str] = [] if since is None else ["started_at >= ?"]
        args: list[Any] = [] if since is None else [_iso(since)]
        newest = self._newest("id", where, args, self._graphs(graph), (), STATS_RUNS)
        ids = [r[2] for r in newest]
        rows: list[Any] = []
        for at in range(0, len(ids), 500):  # SQLite's bound on parameters: in slices
            chunk = ids[at : at + 500]
            rows += self._read(
                "SELECT node, run_id, status, duration_ms FROM tasks "
                f"WHERE run_id IN ({', '.join('?' * len(chunk))})",
                chunk,
            )
        nodes: dict[str, tuple[set[str], list[int], list[float]]] = {}
        for node, run_id, status, duration in rows:
            runs, counts, durations = nodes.setdefault(node, (set(), [0, 0], []))
            runs.add(run_id)
            counts[0] += 1
            counts[1] += status == "failed"
            if duration is not None:
                durations.append(float(duration))
        return [
            NodeTimes(node, len(runs), counts[0], counts[1], tuple(sorted(durations)))
            for node, (runs, counts, durations) in sorted(nodes.items())
        ]
