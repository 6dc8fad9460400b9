"""The server's LLM tasks, their event streams and their sessions in a project database
(``llm_tasks``, ``llm_task_events``, ``llm_sessions``)."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orca.errors import InvalidInputError
from orca.store._clock import Clock, utc_now
from orca.store._tasks import (
    SessionRecord,
    StreamItem,
    TaskOutcome,
    TaskRecord,
    check_events,
    check_find,
    check_outcome,
    check_task,
)
from orca.store.sqlite import _db
from orca.store.sqlite._schema import TASKS_COMPONENT, TASKS_MIGRATIONS
from orca.store.sqlite._tables import SqliteTables

_TASK_COLUMNS = (
    "id, session_id, status, priority, model_ref, engine, model, body, digest, created_at, "
    "started_at, ended_at, input_tokens, output_tokens, cost_nano_usd, decode_ms, "
    "error_code, error"
)
_SESSION_COLUMNS = (
    "id, created_at, last_used_at, expires_at, ttl_ms, turns, input_tokens, output_tokens, "
    "cost_nano_usd, decode_ms"
)


class ProjectTables(SqliteTables):
    """One connection to a project database with the ``tasks`` component migrated, used
    by one thread at a time."""

    COMPONENTS = ((TASKS_COMPONENT, TASKS_MIGRATIONS),)

    def __init__(self, path: str | Path, *, clock: Clock = utc_now) -> None:
        super().__init__(path, clock=clock)
        self.clock = clock
        self._lock = threading.RLock()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors(), _db.transaction(self._conn) as conn:
            yield conn

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        with self._lock, self._errors():
            return self._conn.execute(sql, tuple(args)).fetchall()

    def now(self) -> str:
        return self.clock().isoformat()


class SqliteTasks(ProjectTables):
    """LLM tasks, their streams and their sessions in the project database at ``path``.

    Raises:
        CorruptDatabaseError: the file is not an Orca database, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """

    # -- tasks -----------------------------------------------------------------------------

    def create(self, task: TaskRecord, *, session_ttl_ms: int) -> tuple[TaskRecord, bool]:
        """Store an accepted task (and count a turn of its session, which starts anew
        when it has expired) in one transaction. A task of the same id stored before is
        returned instead, with False."""
        check_task(task)
        t = task
        with self._write() as c:
            found = c.execute(f"SELECT {_TASK_COLUMNS} FROM llm_tasks WHERE id = ?", (t.task_id,))
            row = found.fetchone()
            if row is not None:
                return _task(row), False
            c.execute(
                f"INSERT INTO llm_tasks ({_TASK_COLUMNS}) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    t.task_id, t.session_id, t.status, t.priority, t.model_ref, t.engine,
                    t.model, json.dumps(t.body, sort_keys=True), t.digest, t.created_at,
                    t.started_at, t.ended_at, t.input_tokens, t.output_tokens,
                    t.cost_nano_usd, t.decode_ms, t.error_code, t.error,
                ),
            )  # fmt: skip
            if t.session_id is not None:
                _turn(c, t.session_id, self.clock(), session_ttl_ms)
        return t, True

    def get(self, task_id: str) -> TaskRecord | None:
        rows = self._read(f"SELECT {_TASK_COLUMNS} FROM llm_tasks WHERE id = ?", (task_id,))
        return _task(rows[0]) if rows else None

    def find(
        self, *, session_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[TaskRecord]:
        """Tasks, newest first."""
        check_find(status)
        where, args = [], []
        for column, value in (("session_id", session_id), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {_TASK_COLUMNS} FROM llm_tasks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        return [_task(r) for r in self._read(sql, [*args, limit])]

    def start(self, task_id: str, events: Sequence[StreamItem]) -> None:
        """The task runs: its status, and the events streamed so far."""
        check_events(task_id, events)
        with self._write() as c:
            c.execute(
                "UPDATE llm_tasks SET status = 'running', started_at = ? WHERE id = ?",
                (self.now(), task_id),
            )
            _insert(c, task_id, events)

    def append(self, task_id: str, events: Sequence[StreamItem]) -> None:
        """Keep events of a task's stream (each seq once)."""
        check_events(task_id, events)
        if events:
            with self._lock:
                # a stream's middle is not worth an fsync each: the next lifecycle commit
                # (FULL) syncs the log with these pages in it
                self._conn.execute("PRAGMA synchronous=NORMAL")
                try:
                    with self._write() as c:
                        _insert(c, task_id, events)
                finally:
                    self._conn.execute("PRAGMA synchronous=FULL")

    def finish(self, task_id: str, outcome: TaskOutcome, events: Sequence[StreamItem]) -> None:
        """The task ended: its last events, its record and its session's totals, in one
        transaction."""
        check_outcome(outcome)
        check_events(task_id, events)
        o = outcome
        with self._write() as c:
            _insert(c, task_id, events)
            c.execute(
                "UPDATE llm_tasks SET status = ?, ended_at = ?, input_tokens = ?, "
                "output_tokens = ?, cost_nano_usd = ?, decode_ms = ?, error_code = ?, "
                "error = ? WHERE id = ?",
                (
                    o.status, self.now(), o.input_tokens, o.output_tokens, o.cost_nano_usd,
                    o.decode_ms, o.error_code, o.error, task_id,
                ),
            )  # fmt: skip
            c.execute(
                "UPDATE llm_sessions SET input_tokens = input_tokens + ?, "
                "output_tokens = output_tokens + ?, cost_nano_usd = cost_nano_usd + ?, "
                "decode_ms = decode_ms + ? "
                "WHERE id = (SELECT session_id FROM llm_tasks WHERE id = ?)",
                (o.input_tokens, o.output_tokens, o.cost_nano_usd, o.decode_ms or 0, task_id),
            )

    def events(self, task_id: str, after: int = -1) -> list[StreamItem]:
        """The task's kept events after seq ``after``, in order."""
        rows = self._read(
            "SELECT seq, type, data FROM llm_task_events WHERE task_id = ? AND seq > ? "
            "ORDER BY seq",
            (task_id, after),
        )
        return [(int(s), str(t), str(d)) for s, t, d in rows]

    def recover(self, error_event: str) -> tuple[list[TaskRecord], list[str]]:
        """At start-up: every task left ``running`` by a server that died is failed
        (``WORKER_RESET``, its stream ended by ``error_event``'s JSON); returns the tasks
        still ``queued`` (oldest first), to be queued again, and the ids of those failed."""
        check_events("", [(0, "error", error_event)])
        with self._write() as c:
            running = [r[0] for r in c.execute("SELECT id FROM llm_tasks WHERE status = 'running'")]
            for task_id in running:
                last = c.execute(
                    "SELECT COALESCE(MAX(seq), -1) FROM llm_task_events WHERE task_id = ?",
                    (task_id,),
                ).fetchone()[0]
                _insert(c, task_id, [(int(last) + 1, "error", error_event)])
                c.execute(
                    "UPDATE llm_tasks SET status = 'failed', ended_at = ?, "
                    "error_code = 'WORKER_RESET', error = ? WHERE id = ?",
                    (self.now(), "the server stopped while the task ran", task_id),
                )
            queued = c.execute(
                f"SELECT {_TASK_COLUMNS} FROM llm_tasks WHERE status = 'queued' "
                "ORDER BY created_at, rowid"
            ).fetchall()
        return [_task(r) for r in queued], running

    # -- sessions --------------------------------------------------------------------------

    def session(self, session_id: str) -> SessionRecord | None:
        """The session, unless it has expired or was deleted."""
        rows = self._read(
            f"SELECT {_SESSION_COLUMNS} FROM llm_sessions WHERE id = ? AND expires_at > ?",
            (session_id, self.now()),
        )
        return _session(rows[0]) if rows else None

    def delete_session(self, session_id: str) -> bool:
        """Forget the session (its tasks stay); False when there was none alive."""
        with self._write() as c:
            gone = c.execute(
                "DELETE FROM llm_sessions WHERE id = ? AND expires_at > ?",
                (session_id, self.now()),
            )
            c.execute("DELETE FROM llm_sessions WHERE expires_at <= ?", (self.now(),))
            return gone.rowcount > 0


def _turn(c: sqlite3.Connection, session_id: str, now: dt.datetime, ttl_ms: int) -> None:
    """One more turn of the session; an expired one starts over."""
    at = now.isoformat()
    expires = (now + dt.timedelta(milliseconds=ttl_ms)).isoformat()
    c.execute("DELETE FROM llm_sessions WHERE id = ? AND expires_at <= ?", (session_id, at))
    c.execute(
        "INSERT INTO llm_sessions (id, created_at, last_used_at, expires_at, ttl_ms, turns) "
        "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (id) DO UPDATE SET turns = turns + 1, "
        "last_used_at = excluded.last_used_at, expires_at = excluded.expires_at, "
        "ttl_ms = excluded.ttl_ms",
        (session_id, at, at, expires, ttl_ms),
    )


def _insert(c: sqlite3.Connection, task_id: str, events: Sequence[StreamItem]) -> None:
    if events:
        try:
            c.executemany(
                "INSERT OR IGNORE INTO llm_task_events (task_id, seq, type, data) VALUES (?,?,?,?)",
                [(task_id, seq, kind, data) for seq, kind, data in events],
            )
        except sqlite3.IntegrityError:  # the foreign key: no such task
            raise InvalidInputError(
                f"task {task_id!r} is not stored. Fix: create the task before its events"
            ) from None


def _task(row: Sequence[Any]) -> TaskRecord:
    body = _db.json_column(row[7], f"task {row[0]}'s request", where="the project database")
    return TaskRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], body, *row[8:])


def _session(row: Sequence[Any]) -> SessionRecord:
    return SessionRecord(*row)
