"""The server's LLM tasks, their event streams and their sessions in a PostgreSQL
database (``llm_tasks``, ``llm_task_events``, ``llm_sessions``): the twin of
``orca.store.sqlite._tasks``, through the same protocol (``TaskRepository``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from orca.errors import CorruptDatabaseError, InvalidInputError
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
from orca.store._text import has_nul
from orca.store.postgres._db import PgDb
from orca.store.postgres._schema import TASKS_COMPONENT, TASKS_MIGRATIONS

_TASK_COLUMNS = (
    "id, session_id, status, priority, model_ref, engine, model, body, digest, created_at, "
    "started_at, ended_at, input_tokens, output_tokens, cost_nano_usd, decode_ms, "
    "error_code, error"
)
_SESSION_COLUMNS = (
    "id, created_at, last_used_at, expires_at, ttl_ms, turns, input_tokens, output_tokens, "
    "cost_nano_usd, decode_ms"
)
Conn = psycopg.Connection[Any]


class PgTasks:
    """LLM tasks, their streams and their sessions in the database of ``db`` (its tables
    created, or migrated, when made). Safe to share between threads: each call takes a
    pooled connection.

    Raises:
        SchemaVersionError, CorruptDatabaseError, StoreUnavailableError: as ``PgDb.prepare``.
    """

    def __init__(self, db: PgDb, *, clock: Clock = utc_now) -> None:
        self.db = db
        self.clock = clock
        db.prepare([(TASKS_COMPONENT, TASKS_MIGRATIONS)])

    def __repr__(self) -> str:
        return f"<PgTasks {self.db.where}>"

    @contextmanager
    def _errors(self, task_id: str) -> Iterator[None]:
        """psycopg's errors as the repository's (the one place they are mapped)."""
        try:
            yield
        except pgerrors.ForeignKeyViolation:
            raise InvalidInputError(
                f"task {task_id!r} is not stored. Fix: create the task before its events"
            ) from None

    def now(self) -> str:
        return self.clock().isoformat()

    def close(self) -> None:
        """Nothing to release: the store owns the pool."""

    # -- tasks -----------------------------------------------------------------------------

    def create(self, task: TaskRecord, *, session_ttl_ms: int) -> tuple[TaskRecord, bool]:
        """Store an accepted task (and count a turn of its session, which starts anew
        when it has expired) in one transaction. A task of the same id stored before is
        returned instead, with False (of two clients storing one id at once, one wins)."""
        check_task(task)
        t = task
        now = self.clock()

        def work(c: Conn) -> tuple[TaskRecord, bool]:
            made = c.execute(
                f"INSERT INTO llm_tasks ({_TASK_COLUMNS}) VALUES "
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING RETURNING id",
                (
                    t.task_id, t.session_id, t.status, t.priority, t.model_ref, t.engine,
                    t.model, json.dumps(t.body, sort_keys=True), t.digest, t.created_at,
                    t.started_at, t.ended_at, t.input_tokens, t.output_tokens,
                    t.cost_nano_usd, t.decode_ms, t.error_code, t.error,
                ),
            ).fetchone()  # fmt: skip
            if made is None:
                row = c.execute(
                    f"SELECT {_TASK_COLUMNS} FROM llm_tasks WHERE id = %s", (t.task_id,)
                ).fetchone()
                assert row is not None  # a conflict means the row is there
                return _task(row, self.db.where), False
            if t.session_id is not None:
                _turn(c, t.session_id, now, session_ttl_ms)
            return t, True

        return self.db.retrying(work)

    def get(self, task_id: str) -> TaskRecord | None:
        if has_nul(task_id):
            return None  # no stored id holds one
        with self.db.read() as c:
            row = c.execute(
                f"SELECT {_TASK_COLUMNS} FROM llm_tasks WHERE id = %s", (task_id,)
            ).fetchone()
        return _task(row, self.db.where) if row else None

    def find(
        self, *, session_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[TaskRecord]:
        """Tasks, newest first."""
        check_find(status)
        if has_nul(session_id):
            return []
        with self.db.read() as c:
            rows = c.execute(
                f"SELECT {_TASK_COLUMNS} FROM llm_tasks "
                "WHERE (%(session)s::text IS NULL OR session_id = %(session)s) "
                "AND (%(status)s::text IS NULL OR status = %(status)s) "
                "ORDER BY created_at DESC, pos DESC LIMIT %(limit)s",
                {"session": session_id, "status": status, "limit": limit if limit >= 0 else None},
            ).fetchall()
        return [_task(r, self.db.where) for r in rows]

    def start(self, task_id: str, events: Sequence[StreamItem]) -> None:
        """The task runs: its status, and the events streamed so far."""
        check_events(task_id, events)
        with self._errors(task_id), self.db.transaction() as c:
            c.execute(
                "UPDATE llm_tasks SET status = 'running', started_at = %s WHERE id = %s",
                (self.now(), task_id),
            )
            _insert(c, task_id, events)

    def append(self, task_id: str, events: Sequence[StreamItem]) -> None:
        """Keep events of a task's stream (each seq once)."""
        check_events(task_id, events)
        if events:
            with self._errors(task_id), self.db.transaction() as c:
                # a stream's middle is not worth waiting for the WAL's flush each time (as
                # SQLite's synchronous=NORMAL): a crash may lose the last few, never
                # corrupt; the next lifecycle commit (start, finish) flushes them
                c.execute("SET LOCAL synchronous_commit = off")
                _insert(c, task_id, events)

    def finish(self, task_id: str, outcome: TaskOutcome, events: Sequence[StreamItem]) -> None:
        """The task ended: its last events, its record and its session's totals, in one
        transaction."""
        check_outcome(outcome)
        check_events(task_id, events)
        o = outcome
        with self._errors(task_id), self.db.transaction() as c:
            _insert(c, task_id, events)
            c.execute(
                "UPDATE llm_tasks SET status = %s, ended_at = %s, input_tokens = %s, "
                "output_tokens = %s, cost_nano_usd = %s, decode_ms = %s, error_code = %s, "
                "error = %s WHERE id = %s",
                (
                    o.status, self.now(), o.input_tokens, o.output_tokens, o.cost_nano_usd,
                    o.decode_ms, o.error_code, o.error, task_id,
                ),
            )  # fmt: skip
            c.execute(
                "UPDATE llm_sessions SET input_tokens = input_tokens + %s, "
                "output_tokens = output_tokens + %s, cost_nano_usd = cost_nano_usd + %s, "
                "decode_ms = decode_ms + %s "
                "WHERE id = (SELECT session_id FROM llm_tasks WHERE id = %s)",
                (o.input_tokens, o.output_tokens, o.cost_nano_usd, o.decode_ms or 0, task_id),
            )

    def events(self, task_id: str, after: int = -1) -> list[StreamItem]:
        """The task's kept events after seq ``after``, in order."""
        if has_nul(task_id):
            return []
        with self.db.read() as c:
            rows = c.execute(
                "SELECT seq, type, data FROM llm_task_events WHERE task_id = %s AND seq > %s "
                "ORDER BY seq",
                (task_id, after),
            ).fetchall()
        return [(int(s), str(t), str(d)) for s, t, d in rows]

    def recover(self, error_event: str) -> tuple[list[TaskRecord], list[str]]:
        """At start-up: every task left ``running`` is failed (``WORKER_RESET``, its
        stream ended by ``error_event``'s JSON); returns the tasks still ``queued``
        (oldest first), to be queued again, and the ids of those failed. The running rows
        are locked (in id order) so that two servers recovering at once fail each task
        once."""
        check_events("", [(0, "error", error_event)])
        now = self.now()

        def work(c: Conn) -> tuple[list[TaskRecord], list[str]]:
            running = [
                str(r[0])
                for r in c.execute(
                    "SELECT id FROM llm_tasks WHERE status = 'running' ORDER BY id FOR UPDATE"
                ).fetchall()
            ]
            for task_id in running:
                last = c.execute(
                    "SELECT COALESCE(MAX(seq), -1) FROM llm_task_events WHERE task_id = %s",
                    (task_id,),
                ).fetchone()
                assert last is not None
                _insert(c, task_id, [(int(last[0]) + 1, "error", error_event)])
                c.execute(
                    "UPDATE llm_tasks SET status = 'failed', ended_at = %s, "
                    "error_code = 'WORKER_RESET', error = %s WHERE id = %s",
                    (now, "the server stopped while the task ran", task_id),
                )
            queued = c.execute(
                f"SELECT {_TASK_COLUMNS} FROM llm_tasks WHERE status = 'queued' "
                "ORDER BY created_at, pos"
            ).fetchall()
            return [_task(r, self.db.where) for r in queued], running

        return self.db.retrying(work)

    # -- sessions --------------------------------------------------------------------------

    def session(self, session_id: str) -> SessionRecord | None:
        """The session, unless it has expired or was deleted."""
        if has_nul(session_id):
            return None
        with self.db.read() as c:
            row = c.execute(
                f"SELECT {_SESSION_COLUMNS} FROM llm_sessions WHERE id = %s AND expires_at > %s",
                (session_id, self.now()),
            ).fetchone()
        return _session(row) if row else None

    def delete_session(self, session_id: str) -> bool:
        """Forget the session (its tasks stay); False when there was none alive."""
        if has_nul(session_id):
            return False
        now = self.now()
        with self.db.transaction() as c:
            gone = c.execute(
                "DELETE FROM llm_sessions WHERE id = %s AND expires_at > %s", (session_id, now)
            )
            c.execute("DELETE FROM llm_sessions WHERE expires_at <= %s", (now,))
            return gone.rowcount > 0


def _turn(c: Conn, session_id: str, now: dt.datetime, ttl_ms: int) -> None:
    """One more turn of the session; an expired one starts over."""
    at = now.isoformat()
    expires = (now + dt.timedelta(milliseconds=ttl_ms)).isoformat()
    c.execute("DELETE FROM llm_sessions WHERE id = %s AND expires_at <= %s", (session_id, at))
    c.execute(
        "INSERT INTO llm_sessions (id, created_at, last_used_at, expires_at, ttl_ms, turns) "
        "VALUES (%s, %s, %s, %s, %s, 1) ON CONFLICT (id) DO UPDATE SET "
        "turns = llm_sessions.turns + 1, last_used_at = EXCLUDED.last_used_at, "
        "expires_at = EXCLUDED.expires_at, ttl_ms = EXCLUDED.ttl_ms",
        (session_id, at, at, expires, ttl_ms),
    )


def _insert(c: Conn, task_id: str, events: Sequence[StreamItem]) -> None:
    if events:
        with c.cursor() as cur:
            cur.executemany(
                "INSERT INTO llm_task_events (task_id, seq, type, data) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (task_id, seq) DO NOTHING",
                [(task_id, seq, kind, data) for seq, kind, data in events],
            )


def _task(row: Sequence[Any], where: str) -> TaskRecord:
    try:
        body = json.loads(row[7])
    except ValueError as exc:
        raise CorruptDatabaseError(
            where,
            f"task {row[0]}'s request is damaged ({exc})",
            "restore the database from a backup, or delete the row it names",
        ) from None
    return TaskRecord(row[0], row[1], row[2], row[3], row[4], row[5], row[6], body, *row[8:])


def _session(row: Sequence[Any]) -> SessionRecord:
    return SessionRecord(*row)
