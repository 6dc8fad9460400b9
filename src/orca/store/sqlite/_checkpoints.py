"""A SQLite checkpointer: one file, WAL, one transaction per superstep. The file is a
project database: checkpoints and the event log, runs, tasks, leases, workflows,
sessions and tool executions.

The async face runs on one writer thread, which commits in groups: the calls queued
while it was busy run together in one transaction (each in a savepoint of its own) and
share one commit, so many concurrent runs pay one fsync per round, not one each."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import math
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, ParamSpec, TypeVar

from orca import _serde
from orca.checkpoint._records import TaskRow
from orca.checkpoint._rows import BlobRow, CallRow, EventRow, HeaderRow, RowCheckpointer, WriteRow
from orca.errors import (
    CheckpointError,
    InvalidInputError,
)
from orca.store.sqlite import _db
from orca.store.sqlite._runs import SqliteRunRows, upsert_tasks
from orca.store.sqlite._schema import (
    CHECKPOINT_COMPONENT,
    CHECKPOINT_MIGRATIONS,
    PROJECT_COMPONENT,
    PROJECT_MIGRATIONS,
)

INLINE_ROW_BYTES = 900
"""A checkpoint row keeps its event batch inline while body + batch stay under this: a
WITHOUT ROWID row much larger spills onto overflow pages."""

GROUP_LIMIT = 64
"""The most queued async calls the writer thread runs in one transaction."""

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]

P = ParamSpec("P")
T = TypeVar("T")


def _event_order(row: tuple[bytes, float | None, int | None]) -> tuple[float, int]:
    """Where a batch row goes in its run's log: by its first event's time, then seq (a
    damaged row, not numbered, first)."""
    ts, first = row[1], row[2]
    return (-math.inf if ts is None else ts, -1 if first is None else first)


@dataclass(slots=True)
class _Job:
    """An async call queued for the writer thread, and where its outcome goes."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    ok: bool = False
    outcome: Any = None

    def run(self) -> None:
        try:
            self.outcome, self.ok = self.fn(*self.args, **self.kwargs), True
        except BaseException as exc:  # the caller gets it where it awaits
            self.outcome, self.ok = exc, False

    def fail(self, exc: BaseException) -> None:
        self.outcome, self.ok = exc, False

    def settle(self) -> None:
        """Hand the outcome to the caller's loop (gone quietly if that loop is closed)."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(_settle, self.future, self.ok, self.outcome)


def _settle(future: asyncio.Future[Any], ok: bool, outcome: Any) -> None:
    if future.done():  # cancelled by its caller meanwhile
        return
    if ok:
        future.set_result(outcome)
    else:
        future.set_exception(outcome)


def _insert_events(c: sqlite3.Connection, thread_id: str, rows: Sequence[EventRow]) -> None:
    if rows:
        c.executemany(
            "INSERT INTO events (thread_id, run_id, batch, first_seq, last_seq, first_ts) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(thread_id, r.run_id, r.batch, r.first, r.last, r.ts) for r in rows],
        )


class SqliteCheckpointer(SqliteRunRows, RowCheckpointer):
    """Stores checkpoints, the event log, run and task records and thread leases in a
    SQLite file (created, or migrated, with its schema when opened). It also keeps the
    project's workflows and sessions (``save_workflow``, ``begin_session``,
    ``end_session``).

    Args:
        path: the database file; its folder is created if missing.
        synchronous: SQLite's ``synchronous`` PRAGMA. ``FULL`` (default) fsyncs every
            commit, so a committed superstep survives power loss; ``NORMAL`` survives a
            process crash but may lose the last commits on power loss.
        busy_timeout_ms: how long to wait for another process's write lock.

    Raises:
        CorruptDatabaseError: the file is not a SQLite database, is damaged, or belongs
            to something else.
        SchemaVersionError: the file was written by a newer Orca.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = "FULL",
        busy_timeout_ms: int = 5000,
    ) -> None:
        super().__init__()
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise InvalidInputError(
                f"synchronous={synchronous!r} is not one of OFF, NORMAL, FULL, EXTRA"
            )
        self.path = self.location = str(path)
        # the async face's one writer thread: SQLite's blocking calls never run on an event
        # loop, and one thread runs what it is handed in the order it was handed
        self._worker: threading.Thread | None = None
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()  # None: closed
        # its own lock: queueing a call must not wait behind another thread's write
        self._worker_lock = threading.Lock()
        self._closed = False
        # True while the writer thread holds a group's transaction open (and self._lock):
        # each _transaction() is then a savepoint inside it
        self._group_open = False
        self._synchronous = synchronous
        # calls share a commit only where a commit fsyncs: without one a commit is cheap,
        # and calls run one by one let the event loop go on with each result at once
        self._group_limit = GROUP_LIMIT if synchronous in ("FULL", "EXTRA") else 1
        self._conn = _db.connect(self.path, busy_timeout_ms=busy_timeout_ms)
        try:
            with self._errors():
                _db.prepare_components(
                    self._conn,
                    self.path,
                    [
                        (CHECKPOINT_COMPONENT, CHECKPOINT_MIGRATIONS),
                        (PROJECT_COMPONENT, PROJECT_MIGRATIONS),
                    ],
                    synchronous=synchronous,
                )
        except BaseException:
            self._conn.close()
            raise

    def _submit(
        self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs
    ) -> asyncio.Future[T]:
        """Queue ``fn(*args, **kwargs)`` for this store's writer thread now (so calls run in
        the order they were made) and return a future of its result, resolved once what
        it wrote is committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._worker_lock:
            if not self._closed:
                if self._worker is None:
                    # a daemon: a store left open must not keep the interpreter alive
                    self._worker = threading.Thread(
                        target=self._work, name="orca-checkpoints", daemon=True
                    )
                    self._worker.start()
                self._jobs.put(_Job(fn, args, kwargs, loop, future))
                return future
        future.set_exception(self._closed_error("after it was closed"))
        return future

    def _work(self) -> None:
        """The writer thread: take every call queued (up to GROUP_LIMIT) and run them; one
        at a time where commits do not fsync (synchronous OFF or NORMAL)."""
        while True:
            taken = [self._jobs.get()]
            while len(taken) < self._group_limit and taken[-1] is not None:
                try:
                    taken.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            group = [job for job in taken if job is not None and not job.future.cancelled()]
            if self._closed:
                # calls queued before close() must not run after it: the connection is
                # going (close() queues None after the last of them)
                for job in group:
                    job.fail(self._closed_error("before this call ran"))
            elif len(group) == 1:
                group[0].run()  # alone: its own transactions, as a sync call makes them
            elif group:
                self._run_group(group)
            for job in group:
                job.settle()
            if taken[-1] is None:
                return

    def _run_group(self, group: list[_Job]) -> None:
        """Run ``group`` in one transaction, each call's writes in savepoints of their own
        (a call that raises undoes only its own), and commit once. The lock is held
        throughout, so no other thread's call runs inside the open transaction."""
        # a group of call records alone commits as a call record does: without an fsync
        relaxed = self._synchronous in ("FULL", "EXTRA") and all(
            job.fn == self.put_call for job in group
        )
        with self._lock:
            if self._closed:
                for job in group:
                    job.fail(self._closed_error("before this call ran"))
                return
            try:
                with self._errors():
                    if relaxed:
                        self._conn.execute("PRAGMA synchronous = NORMAL")
                    try:
                        self._commit_group(group)
                    finally:
                        if relaxed:
                            self._conn.execute(f"PRAGMA synchronous = {self._synchronous}")
            except BaseException as exc:
                for job in group:
                    if job.ok:
                        job.fail(exc)

    def _commit_group(self, group: list[_Job]) -> None:
        ran: list[_Job] = []
        self._conn.execute("BEGIN IMMEDIATE")
        self._group_open = True
        try:
            for i, job in enumerate(group):
                if self._closed:  # close() came meanwhile: what has not run does not
                    job.fail(self._closed_error("before this call ran"))
                    continue
                job.run()
                ran.append(job)
                if not self._conn.in_transaction:
                    # SQLite rolled the whole transaction back (a full disk, an I/O error):
                    # the calls before this one lost their writes too; the rest run anew
                    self._group_open = False
                    self._heads.clear()
                    lost = CheckpointError(
                        f"{self.path}: SQLite rolled back the transaction this call was "
                        "committed in, because a call made with it failed "
                        f"({job.outcome!r}); nothing of it was stored. Fix: retry it"
                    )
                    for earlier in ran:
                        if earlier.ok:
                            earlier.fail(lost)
                    rest = group[i + 1 :]
                    if rest:
                        self._commit_group(rest)
                    return
            self._group_open = False
            self._conn.execute("COMMIT")
        except BaseException:
            self._group_open = False
            # nothing of the group was stored: the heads it cached may name lost rows
            self._heads.clear()
            if self._conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise

    def _closed_error(self, when: str) -> CheckpointError:
        return CheckpointError(
            f"{self.path}: the store was closed {when}. Fix: await the store's async calls "
            "before closing it, or open a new SqliteCheckpointer"
        )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.ProgrammingError as exc:
            raise CheckpointError(
                f"{self.path}: {exc}. Fix: open a new SqliteCheckpointer; this one is closed"
            ) from exc
        except sqlite3.IntegrityError as exc:
            raise CheckpointError(
                f"{self.path}: {exc}: a checkpoint with that id already exists. Fix: "
                "checkpoints are immutable; write a new one"
            ) from exc
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            if not _db.is_damage(exc):
                raise
            raise _db.damaged(self.path, exc) from exc

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors():
            if self._group_open:  # the writer thread's group: a savepoint within it
                with self._savepoint():
                    yield self._conn
                return
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        self._conn.execute("SAVEPOINT orca_call")
        try:
            yield
            self._conn.execute("RELEASE orca_call")
        except BaseException:
            if self._conn.in_transaction:  # else SQLite has rolled back the whole group
                self._conn.execute("ROLLBACK TO orca_call")
                self._conn.execute("RELEASE orca_call")
            raise

    # -- primitives ---------------------------------------------------------------------------

    def _write(
        self,
        thread_id: str,
        header: HeaderRow | None,
        blobs: list[BlobRow],
        writes: list[tuple[str, WriteRow]],
        tasks: Sequence[TaskRow] = (),
        events: Sequence[EventRow] = (),
    ) -> None:
        with self._transaction() as c:
            upsert_tasks(c, tasks)
            if blobs:
                c.executemany(
                    "INSERT OR REPLACE INTO checkpoint_blobs VALUES (?, ?, ?, ?, ?)",
                    [(thread_id, b.channel, b.base, b.pos, b.data) for b in blobs],
                )
            if writes:
                c.executemany(
                    "INSERT INTO checkpoint_writes VALUES (?, ?, ?, ?, ?, ?)",
                    [(thread_id, cid, w.task_id, w.idx, w.kind, w.data) for cid, w in writes],
                )
            if header is not None:
                one = events[0] if len(events) == 1 else None
                inline = one is not None and len(one.batch) + len(header.body) <= INLINE_ROW_BYTES
                c.execute(
                    "INSERT INTO checkpoints (thread_id, checkpoint_id, seq, parent_id, step, "
                    "body, created_at, events, events_run, events_first, events_last, "
                    "events_ts) SELECT ?, ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ?, ?, ?, ?, ?, ? "
                    "FROM checkpoints WHERE thread_id = ?",
                    (
                        header.thread_id,
                        header.checkpoint_id,
                        header.parent_id,
                        header.step,
                        header.body,
                        header.created_at,
                        *(
                            (one.batch, one.run_id, one.first, one.last, one.ts)
                            if one and inline
                            else (None,) * 5
                        ),
                        thread_id,
                    ),
                )
                if not inline:
                    _insert_events(c, thread_id, events)

    def _put_tail(self, thread_id: str, rows: Sequence[EventRow]) -> None:
        with self._transaction() as c:
            _insert_events(c, thread_id, rows)

    def _events(self, run_id: str, start: int, stop: int | None) -> Iterator[bytes]:
        # two ordered reads merged as the caller iterates, fetched no further once it
        # stops: batches of the `events` table walk their (run, ts, seq) index; those
        # riding in checkpoint rows walk the run's thread in seq order (one run holds a
        # thread at a time, so its rows come in its events' order)
        in_range = "(%s IS NULL OR (%s >= ?2 AND (?3 IS NULL OR %s < ?3)))"
        with self._errors():
            found = self._conn.execute(
                "SELECT thread_id FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
            thread = "?4" if found is not None else None
            inline = self._conn.execute(
                "SELECT events, events_ts, events_first FROM checkpoints WHERE "
                + (f"thread_id = {thread} AND " if thread else "")
                + "events_run = ?1 AND "
                + in_range % ("events_last", "events_last", "events_first")
                + (" ORDER BY seq" if thread else " ORDER BY events_ts, events_first"),
                (run_id, start, stop, *(found or ())),
            )
            logged = self._conn.execute(
                "SELECT batch, first_ts, first_seq FROM events WHERE run_id = ?1 AND "
                + in_range % ("last_seq", "last_seq", "first_seq")
                + " ORDER BY first_ts, first_seq",
                (run_id, start, stop),
            )
        try:
            yield from (
                row[0]
                for row in heapq.merge(
                    self._rows_of(inline), self._rows_of(logged), key=_event_order
                )
            )
        finally:
            inline.close()  # ends the reads at once when the caller stops early
            logged.close()

    def _rows_of(self, cursor: sqlite3.Cursor) -> Iterator[tuple[bytes, float | None, int | None]]:
        while True:
            with self._errors():
                rows = cursor.fetchmany(4)
            if not rows:
                return
            yield from rows

    def _header(self, thread_id: str, checkpoint_id: str | None) -> HeaderRow | None:
        with self._errors():
            if checkpoint_id is None:
                row = self._conn.execute(
                    "SELECT checkpoint_id, parent_id, step, body, created_at FROM checkpoints "
                    "WHERE thread_id = ? ORDER BY seq DESC LIMIT 1",
                    (thread_id,),
                ).fetchone()
            else:
                row = self._conn.execute(
                    "SELECT checkpoint_id, parent_id, step, body, created_at FROM checkpoints "
                    "WHERE thread_id = ? AND checkpoint_id = ?",
                    (thread_id, checkpoint_id),
                ).fetchone()
        return None if row is None else HeaderRow(thread_id, *row)

    def _blobs(self, thread_id: str, wanted: list[tuple[str, str, int]]) -> list[BlobRow]:
        if not wanted:
            return []
        with self._errors():
            rows = self._conn.execute(
                "SELECT b.channel, b.base, b.pos, b.data FROM json_each(?) AS w "
                "JOIN checkpoint_blobs AS b ON b.thread_id = ? "
                "AND b.channel = w.value ->> 0 AND b.base = w.value ->> 1 "
                "AND b.pos <= w.value ->> 2 ORDER BY b.channel, b.pos",
                (_serde.dumps(wanted), thread_id),
            ).fetchall()
        return rows  # plain (channel, base, pos, data) tuples: BlobRow's shape

    def _writes(self, thread_id: str, checkpoint_id: str) -> list[WriteRow]:
        with self._errors():
            rows = self._conn.execute(
                "SELECT task_id, idx, kind, data FROM checkpoint_writes "
                "WHERE thread_id = ? AND checkpoint_id = ? ORDER BY idx",
                (thread_id, checkpoint_id),
            ).fetchall()
        return [WriteRow(*r) for r in rows]

    def _headers(self, thread_id: str, limit: int | None, before: str | None) -> list[HeaderRow]:
        sql = (
            "SELECT checkpoint_id, parent_id, step, body, created_at FROM checkpoints "
            "WHERE thread_id = ?"
        )
        args: list[object] = [thread_id]
        if before is not None:
            sql += (
                " AND seq < COALESCE((SELECT seq FROM checkpoints WHERE thread_id = ? "
                "AND checkpoint_id = ?), -1)"
            )
            args += [thread_id, before]
        sql += " ORDER BY seq DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._errors():
            rows = self._conn.execute(sql, args).fetchall()
        return [HeaderRow(thread_id, *r) for r in rows]

    def _delete(
        self, thread_id: str, keep: set[str] | None, needed: dict[tuple[str, str], int]
    ) -> int:
        with self._transaction() as c:
            if keep is None:
                removed = c.execute(
                    "DELETE FROM checkpoints WHERE thread_id = ?", (thread_id,)
                ).rowcount
                c.execute("DELETE FROM checkpoint_blobs WHERE thread_id = ?", (thread_id,))
                c.execute("DELETE FROM checkpoint_writes WHERE thread_id = ?", (thread_id,))
                c.execute("DELETE FROM events WHERE thread_id = ?", (thread_id,))
                c.execute("DELETE FROM call_records WHERE thread_id = ?", (thread_id,))
                return removed
            keep_json = _serde.dumps(sorted(keep))
            # the event log outlives pruned checkpoints
            c.execute(
                "INSERT INTO events (thread_id, run_id, batch, first_seq, last_seq, first_ts) "
                "SELECT thread_id, events_run, events, events_first, events_last, events_ts "
                "FROM checkpoints "
                "WHERE thread_id = ? AND events IS NOT NULL "
                "AND checkpoint_id NOT IN (SELECT value FROM json_each(?)) ORDER BY seq",
                (thread_id, keep_json),
            )
            removed = c.execute(
                "DELETE FROM checkpoints WHERE thread_id = ? "
                "AND checkpoint_id NOT IN (SELECT value FROM json_each(?))",
                (thread_id, keep_json),
            ).rowcount
            c.execute(
                "DELETE FROM checkpoint_writes WHERE thread_id = ? "
                "AND checkpoint_id NOT IN (SELECT value FROM json_each(?))",
                (thread_id, keep_json),
            )
            c.execute(
                "DELETE FROM call_records WHERE thread_id = ? "
                "AND checkpoint_id NOT IN (SELECT value FROM json_each(?))",
                (thread_id, keep_json),
            )
            c.execute("CREATE TEMP TABLE IF NOT EXISTS orca_needed (channel, base, pos)")
            c.execute("DELETE FROM orca_needed")
            c.executemany(
                "INSERT INTO orca_needed VALUES (?, ?, ?)",
                [(ch, base, pos) for (ch, base), pos in needed.items()],
            )
            c.execute(
                "DELETE FROM checkpoint_blobs WHERE thread_id = ? AND NOT EXISTS ("
                "SELECT 1 FROM orca_needed AS n WHERE n.channel = checkpoint_blobs.channel "
                "AND n.base = checkpoint_blobs.base AND checkpoint_blobs.pos <= n.pos)",
                (thread_id,),
            )
            return removed

    def threads(self) -> list[str]:
        with self._lock, self._errors():
            rows = self._conn.execute(
                "SELECT DISTINCT thread_id FROM checkpoints ORDER BY thread_id"
            ).fetchall()
        return [r[0] for r in rows]

    def _put_call_row(self, row: CallRow) -> None:
        # committed without an fsync of its own: in WAL mode the record survives a killed
        # process at once, and the next checkpoint's commit makes it survive power loss
        # (a record lost to a power cut costs one call paid again, not a wrong state)
        # (in a group the PRAGMA cannot change: the record rides the group's commit)
        relaxed = self._synchronous in ("FULL", "EXTRA") and not self._group_open
        with self._errors():
            if relaxed:
                self._conn.execute("PRAGMA synchronous = NORMAL")
            try:
                with self._transaction() as c:
                    c.execute(
                        "INSERT OR REPLACE INTO call_records VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        row,
                    )
            finally:
                if relaxed:
                    self._conn.execute(f"PRAGMA synchronous = {self._synchronous}")

    def _call_rows(self, thread_id: str, task_id: str) -> list[CallRow]:
        with self._errors():
            rows = self._conn.execute(
                "SELECT * FROM call_records WHERE thread_id = ? AND task_id = ? "
                "ORDER BY kind, digest, occurrence",
                (thread_id, task_id),
            ).fetchall()
        return [CallRow(*r) for r in rows]

    def _drop_call_rows(self, thread_id: str, task_id: str) -> int:
        with self._transaction() as c:
            return c.execute(
                "DELETE FROM call_records WHERE thread_id = ? AND task_id = ?",
                (thread_id, task_id),
            ).rowcount

    def close(self) -> None:
        """Fold the WAL into the main file and close the connection. Async calls
        running on the writer thread finish (and commit) first; those still queued raise
        ``CheckpointError``, as does any call made afterwards."""
        with self._worker_lock:
            self._closed = True
            worker, self._worker = self._worker, None
            if worker is not None:
                self._jobs.put(None)  # after every call queued: the writer thread ends
        if worker is not None and worker is not threading.current_thread():
            worker.join()  # the queued calls see the store closed and fail fast
        with self._lock:
            # closing still releases the file if this fails; the WAL is replayed on next open
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._conn.close()

    def __enter__(self) -> SqliteCheckpointer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
