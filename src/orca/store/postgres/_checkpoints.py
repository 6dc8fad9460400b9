"""A PostgreSQL checkpointer: checkpoints, the event log, call records, run and task
records, thread leases, workflows and sessions, in one database shared by any number of
processes and hosts.

A superstep is one transaction: its checkpoint row, the blobs of the channels it
changed, its pending writes, its events and its task records commit together or not at
all. The logic over the rows (chains of deltas, lease decisions) is
``checkpoint/_rows.py``'s and ``checkpoint/_records.py``'s, shared with SQLite.

The async face runs each call on a lane of its own (``_lane.Lane``: one thread per
checkpointer), so that calls are applied in the order they were made, as the
``Checkpointer`` protocol asks; ``PgDb.submit``'s threads run calls side by side, in
no order.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import psycopg
from psycopg import errors as pgerrors

from orca.checkpoint._base import Checkpoint
from orca.checkpoint._records import TaskRow
from orca.checkpoint._rows import BlobRow, CallRow, EventRow, HeaderRow, RowCheckpointer, WriteRow
from orca.errors import CheckpointError, InvalidInputError
from orca.store.postgres import _text
from orca.store.postgres._batch import Part, statement
from orca.store.postgres._db import SERIALIZATION_RETRIES, PgDb
from orca.store.postgres._lane import Lane
from orca.store.postgres._runs import (
    TASK_PARTS,
    Cursor,
    PgRunRows,
    no_run_record,
    task_part_rows,
)
from orca.store.postgres._schema import (
    CHECKPOINT_COMPONENT,
    CHECKPOINT_MIGRATIONS,
    PROJECT_COMPONENT,
    PROJECT_MIGRATIONS,
)

P = ParamSpec("P")
T = TypeVar("T")

_HEADER = "SELECT checkpoint_id, parent_id, step, body, created_at FROM checkpoints "
_EVENTS_PAGE = 16
"""Event batches one read of the log fetches (a reader that stops early reads few)."""


# A superstep's rows as one statement (``_batch``): its task records, its checkpoint, the
# blobs of the channels it changed, its pending writes and its events
_PARTS: dict[str, Part] = {
    **TASK_PARTS,
    "header": Part(
        "checkpoints (thread_id, checkpoint_id, parent_id, step, body, created_at)",
        "u.thread_id, u.checkpoint_id, u.parent_id, u.step, u.body, u.created_at",
        (
            ("thread_id", "text"),
            ("checkpoint_id", "text"),
            ("parent_id", "text"),
            ("step", "bigint"),
            ("body", "bytea"),
            ("created_at", "text"),
        ),
    ),
    "blobs": Part(
        "checkpoint_blobs (thread_id, channel, base, pos, data)",
        "u.thread_id, u.channel, u.base, u.pos, u.data",
        (
            ("thread_id", "text"),
            ("channel", "text"),
            ("base", "text"),
            ("pos", "bigint"),
            ("data", "bytea"),
        ),
        tail="ON CONFLICT (thread_id, channel, base, pos) DO UPDATE SET data = EXCLUDED.data",
    ),
    "writes": Part(
        "checkpoint_writes (thread_id, checkpoint_id, task_id, idx, kind, data)",
        "u.thread_id, u.checkpoint_id, u.task_id, u.idx, u.kind, u.data",
        (
            ("thread_id", "text"),
            ("checkpoint_id", "text"),
            ("task_id", "text"),
            ("idx", "bigint"),
            ("kind", "text"),
            ("data", "bytea"),
        ),
    ),
    "events": Part(
        "events (thread_id, run_id, batch, first_seq, last_seq, first_ts)",
        "u.thread_id, u.run_id, convert_from(u.batch, 'UTF8'), u.first_seq, u.last_seq, u.first_ts",
        (
            ("thread_id", "text"),
            ("run_id", "text"),
            ("batch", "bytea"),
            ("first_seq", "bigint"),
            ("last_seq", "bigint"),
            ("first_ts", "float8"),
        ),
    ),
}


_PUT_CALL_SELECT = (
    "INSERT INTO call_records (thread_id, task_id, kind, digest, occurrence, "
    "checkpoint_id, run_id, value, created_at) "
    "SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s"
)
_PUT_CALL_CONFLICT = (
    "ON CONFLICT (thread_id, task_id, kind, digest, occurrence) DO UPDATE SET "
    "checkpoint_id = EXCLUDED.checkpoint_id, run_id = EXCLUDED.run_id, "
    "value = EXCLUDED.value, created_at = EXCLUDED.created_at"
)
_PUT_CALL = (
    "INSERT INTO call_records (thread_id, task_id, kind, digest, occurrence, "
    "checkpoint_id, run_id, value, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
    f"{_PUT_CALL_CONFLICT}"
)
"""A call's record, replacing one with its key (``_PUT_CALL_SELECT`` with a condition)."""


def save_statement(
    thread_id: str,
    header: HeaderRow | None,
    blobs: Sequence[BlobRow],
    writes: Sequence[tuple[str, WriteRow]],
    tasks: Sequence[TaskRow],
    events: Sequence[EventRow],
) -> tuple[bytes, list[Any]] | None:
    """The statement that writes these rows and its parameters; None when there is
    nothing to write."""
    rows: list[tuple[str, Sequence[Sequence[Any]]]] = []
    if tasks:
        rows += task_part_rows(tasks)
    if header is not None:
        h = header
        rows.append(
            ("header", [(thread_id, h.checkpoint_id, h.parent_id, h.step, h.body, h.created_at)])
        )
    if blobs:
        rows.append(("blobs", [(thread_id, *b) for b in blobs]))
    if writes:
        rows.append(
            (
                "writes",
                [(thread_id, cid, w.task_id, w.idx, w.kind, w.data) for cid, w in writes],
            )
        )
    if events:
        rows.append(
            ("events", [(thread_id, e.run_id, e.batch, e.first, e.last, e.ts) for e in events])
        )
    return statement(_PARTS, rows) if rows else None


class PgCheckpointer(PgRunRows, RowCheckpointer):
    """Stores checkpoints, the event log, run and task records and thread leases in a
    PostgreSQL database (its tables created, or migrated, when opened). It also keeps
    the project's workflows and sessions (``save_workflow``, ``begin_session``,
    ``end_session``).

    Args:
        db: the store's ``PgDb`` (shared with its other repositories), or a URL: the
            checkpointer then opens a pool of its own and closes it with itself.

    Raises:
        StoreUnavailableError: the server cannot be reached.
        SchemaVersionError: the database was written by a newer Orca.
        CorruptDatabaseError: the database holds tables that are not Orca's.
    """

    # a read fetches a chain in one query whatever its length, and each snapshot costs
    # TOAST pages: a snapshot is written when the deltas outweigh the last three times,
    # so snapshots sum to 4/3 of the deltas instead of twice (benchmarks/NOTES.md)
    SNAPSHOT_WEIGHT = 3

    def __init__(self, db: PgDb | str) -> None:
        super().__init__()
        self._owns_db = isinstance(db, str)
        self.db = PgDb(db) if isinstance(db, str) else db
        self.location = self.db.where
        self._shut = False  # no call at all: the lane has drained
        self._lane = Lane(self._closed_error)
        self._reading = threading.local()  # the cursor of a _snapshot() this thread is in
        try:
            self.db.prepare(
                [
                    (CHECKPOINT_COMPONENT, CHECKPOINT_MIGRATIONS),
                    (PROJECT_COMPONENT, PROJECT_MIGRATIONS),
                ]
            )
        except BaseException:
            if self._owns_db:
                self.db.close()
            raise

    def __repr__(self) -> str:
        return f"<PgCheckpointer {self.location}>"

    # -- how work reaches the database -------------------------------------------------------

    def _submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        """Queue ``fn(*args, **kwargs)`` on this store's lane now (calls run in the order
        they were made, off the event loop) and return a future of its result."""
        return self._lane.submit(fn, *args, **kwargs)

    def _closed_error(self, when: str) -> CheckpointError:
        return CheckpointError(
            f"{self.location}: the store was closed {when}. Fix: await the store's async "
            "calls before closing it, or open a new PgCheckpointer"
        )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """psycopg's errors as Orca's (``StoreUnavailableError`` comes from ``PgDb``)."""
        if self._shut:
            raise self._closed_error("before this call")
        try:
            yield
        except pgerrors.UniqueViolation as exc:
            raise CheckpointError(
                f"{self.location}: {_first_line(exc)}: a checkpoint with that id already "
                "exists. Fix: checkpoints are immutable; write a new one"
            ) from exc
        except pgerrors.ForeignKeyViolation as exc:
            refusal = no_run_record(exc)
            if refusal is not None:
                raise InvalidInputError(refusal) from exc
            raise CheckpointError(
                f"{self.location}: {_first_line(exc)} (a run's record was deleted while "
                "its rows were written). Fix: store the run again with begin_run"
            ) from exc
        except psycopg.IntegrityError as exc:
            raise CheckpointError(
                f"{self.location}: {_first_line(exc)} (a run's record was deleted while "
                "its rows were written). Fix: store the run again with begin_run"
            ) from exc
        except psycopg.DataError as exc:
            raise InvalidInputError(f"{self.location} refused a value: {_first_line(exc)}") from exc

    def _run(self, work: Callable[[Cursor], T], *, pipeline: bool = False) -> T:
        """``work(cursor)`` in one transaction (``pipeline``: sent in one round trip, for
        work that reads no result), run again when it loses a deadlock."""
        with self._errors():
            return self.db.retrying(lambda conn: work(_text.cursor(conn)), pipeline=pipeline)

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        held: Cursor | None = getattr(self._reading, "cursor", None)
        if held is not None:  # inside _snapshot(): its transaction's connection
            with self._errors():
                return held.execute(sql.encode(), args).fetchall()
        with self._errors(), self.db.read() as conn:
            return _text.cursor(conn).execute(sql.encode(), args).fetchall()

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        """The reads of the block on one connection, in one read-only snapshot: a
        checkpoint's header, blobs and writes are read as of one instant, whatever
        another process prunes meanwhile."""
        if getattr(self._reading, "cursor", None) is not None:
            yield
            return
        with self._errors(), self.db.transaction() as conn:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            self._reading.cursor = _text.cursor(conn)
            try:
                yield
            finally:
                self._reading.cursor = None

    def get(self, thread_id: str, checkpoint_id: str | None = None) -> Checkpoint | None:
        with self._snapshot():
            return super().get(thread_id, checkpoint_id)

    def read_events(
        self,
        run_id: str,
        *,
        start: int = 0,
        stop: int | None = None,
        types: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        with self._snapshot():
            return super().read_events(run_id, start=start, stop=stop, types=types, limit=limit)

    # -- checkpoint primitives ----------------------------------------------------------------

    def _write(
        self,
        thread_id: str,
        header: HeaderRow | None,
        blobs: list[BlobRow],
        writes: list[tuple[str, WriteRow]],
        tasks: Sequence[TaskRow] = (),
        events: Sequence[EventRow] = (),
    ) -> None:
        found = save_statement(thread_id, header, blobs, writes, tasks, events)
        if found is not None:
            self._save(*found)

    def _put_tail(self, thread_id: str, rows: Sequence[EventRow]) -> None:
        found = save_statement(thread_id, None, [], [], (), rows)
        if found is not None:
            self._save(*found)

    def _save(self, sql: bytes, args: list[Any]) -> None:
        """A superstep's rows in one statement (``save_statement``), in autocommit: atomic as a
        transaction is, in one round trip and one commit; run again when it loses a
        deadlock (nothing of a failed statement is kept)."""
        with self._errors():
            for attempt in range(SERIALIZATION_RETRIES):
                try:
                    with self.db.read() as conn:
                        _text.cursor(conn).execute(sql, args)
                    return
                except (pgerrors.DeadlockDetected, pgerrors.SerializationFailure):
                    if attempt == SERIALIZATION_RETRIES - 1:
                        raise

    def _events(self, run_id: str, start: int, stop: int | None) -> Iterator[bytes]:
        # a page at a time, each after the last row of the one before (by the index's
        # order), so that a reader who stops early has read a few rows only
        select = (
            "SELECT convert_to(batch, 'UTF8'), first_ts, first_seq, id FROM events "
            "WHERE run_id = %s AND last_seq >= %s AND (%s::bigint IS NULL OR first_seq < %s)"
        )
        order = " ORDER BY first_ts, first_seq, id LIMIT %s"
        rows = self._read(select + order, (run_id, start, stop, stop, _EVENTS_PAGE))
        while rows:
            for row in rows:
                yield bytes(row[0])
            if len(rows) < _EVENTS_PAGE:
                return
            last = rows[-1]
            rows = self._read(
                select + " AND (first_ts, first_seq, id) > (%s, %s, %s)" + order,
                (run_id, start, stop, stop, last[1], last[2], last[3], _EVENTS_PAGE),
            )

    def _header(self, thread_id: str, checkpoint_id: str | None) -> HeaderRow | None:
        if checkpoint_id is None:
            found = self._read(
                _HEADER + "WHERE thread_id = %s ORDER BY seq DESC LIMIT 1", (thread_id,)
            )
        else:
            found = self._read(
                _HEADER + "WHERE thread_id = %s AND checkpoint_id = %s",
                (thread_id, checkpoint_id),
            )
        return HeaderRow(thread_id, *found[0]) if found else None

    def _blobs(self, thread_id: str, wanted: list[tuple[str, str, int]]) -> list[BlobRow]:
        if not wanted:
            return []
        rows = self._read(
            "SELECT b.channel, b.base, b.pos, b.data "
            "FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS w (channel, base, pos) "
            "JOIN checkpoint_blobs AS b ON b.thread_id = %s AND b.channel = w.channel "
            "AND b.base = w.base AND b.pos <= w.pos ORDER BY b.channel, b.pos",
            ([w[0] for w in wanted], [w[1] for w in wanted], [w[2] for w in wanted], thread_id),
        )
        return [BlobRow(*r) for r in rows]

    def _writes(self, thread_id: str, checkpoint_id: str) -> list[WriteRow]:
        rows = self._read(
            "SELECT task_id, idx, kind, data FROM checkpoint_writes "
            "WHERE thread_id = %s AND checkpoint_id = %s ORDER BY idx",
            (thread_id, checkpoint_id),
        )
        return [WriteRow(*r) for r in rows]

    def _headers(self, thread_id: str, limit: int | None, before: str | None) -> list[HeaderRow]:
        sql = _HEADER + "WHERE thread_id = %s"
        args: list[object] = [thread_id]
        if before is not None:
            sql += (
                " AND seq < COALESCE((SELECT seq FROM checkpoints WHERE thread_id = %s "
                "AND checkpoint_id = %s), -1)"
            )
            args += [thread_id, before]
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT %s"
            args.append(limit)
        return [HeaderRow(thread_id, *r) for r in self._read(sql, args)]

    def _delete(
        self, thread_id: str, keep: set[str] | None, needed: dict[tuple[str, str], int]
    ) -> int:
        def everything(cur: Cursor) -> int:
            cur.execute("DELETE FROM checkpoints WHERE thread_id = %s", (thread_id,))
            removed = cur.rowcount
            for table in ("checkpoint_blobs", "checkpoint_writes", "events", "call_records"):
                cur.execute(f"DELETE FROM {table} WHERE thread_id = %s", (thread_id,))
            return removed

        def unkept(cur: Cursor) -> int:
            # (the event log outlives pruned checkpoints: its rows are kept)
            kept = sorted(keep or ())
            cur.execute(
                "DELETE FROM checkpoints WHERE thread_id = %s AND checkpoint_id <> ALL(%s::text[])",
                (thread_id, kept),
            )
            removed = cur.rowcount
            for table in ("checkpoint_writes", "call_records"):
                cur.execute(
                    f"DELETE FROM {table} WHERE thread_id = %s "
                    "AND checkpoint_id <> ALL(%s::text[])",
                    (thread_id, kept),
                )
            cur.execute(
                "DELETE FROM checkpoint_blobs AS b WHERE b.thread_id = %s AND NOT EXISTS ("
                "SELECT 1 FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS n (channel, "
                "base, pos) WHERE n.channel = b.channel AND n.base = b.base AND b.pos <= n.pos)",
                (
                    thread_id,
                    [k[0] for k in needed],
                    [k[1] for k in needed],
                    list(needed.values()),
                ),
            )
            return removed

        removed: int = self._run(everything if keep is None else unkept)
        return removed

    def threads(self) -> list[str]:
        rows = self._read("SELECT DISTINCT thread_id FROM checkpoints ORDER BY thread_id")
        return [r[0] for r in rows]

    def _put_call_row(self, row: CallRow) -> None:
        self._run(lambda cur: cur.execute(_PUT_CALL, row))

    def _keeps_ledger(self, ledger: Any) -> bool:
        from orca.store.postgres._ledger import PgLedger

        return isinstance(ledger, PgLedger) and ledger.db.same_database(self.db)

    def _put_paid_call_row(self, row: CallRow, paid: Any) -> bool:
        from orca.store.postgres._ledger import recording

        found = recording(paid.hold, paid.charge)
        if found is None:  # a hold with nothing held: no row of it to record on
            self._put_call_row(row)
            return True
        # one statement: the hold's answer and the call's record commit together, in one
        # round trip (a data-modifying WITH runs once, whatever reads it). The record is
        # written only beside the hold's row: a ledger taken for this database's that is
        # not (another schema) writes nothing, and the caller records the hold first
        answered, args = found
        sql = (
            f"WITH answered AS ({answered}) {_PUT_CALL_SELECT} "
            "WHERE EXISTS (SELECT 1 FROM holds WHERE id = %s) "
            f"{_PUT_CALL_CONFLICT}"
        )
        return self._put_paid(sql.encode(), [*args, *row, paid.hold.id])

    def _put_paid(self, sql: bytes, args: list[Any]) -> bool:
        """Run a paid call's statement in autocommit (atomic, one round trip), again
        when it loses a deadlock; whether it kept the call's record."""
        with self._errors():
            for attempt in range(SERIALIZATION_RETRIES):
                try:
                    with self.db.read() as conn:
                        return _text.cursor(conn).execute(sql, args).rowcount == 1
                except (pgerrors.DeadlockDetected, pgerrors.SerializationFailure):
                    if attempt == SERIALIZATION_RETRIES - 1:
                        raise
        raise AssertionError("unreachable")

    def _call_rows(self, thread_id: str, task_id: str) -> list[CallRow]:
        rows = self._read(
            "SELECT thread_id, task_id, kind, digest, occurrence, checkpoint_id, run_id, "
            "value, created_at FROM call_records WHERE thread_id = %s AND task_id = %s "
            "ORDER BY kind, digest, occurrence",
            (thread_id, task_id),
        )
        return [CallRow(*r) for r in rows]

    def _drop_call_rows(self, thread_id: str, task_id: str) -> int:
        def work(cur: Cursor) -> int:
            cur.execute(
                "DELETE FROM call_records WHERE thread_id = %s AND task_id = %s",
                (thread_id, task_id),
            )
            return cur.rowcount

        dropped: int = self._run(work)
        return dropped

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop taking calls: the async call running finishes (and commits), those still
        queued raise ``CheckpointError``, as does any call made afterwards. Closes the
        pool when the checkpointer opened it."""
        self._lane.close()
        self._shut = True
        if self._owns_db:
            self.db.close()

    def __enter__(self) -> PgCheckpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
