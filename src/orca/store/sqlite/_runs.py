"""Run records, task records, thread leases, workflows and sessions in a project
database: the SQLite row primitives under ``checkpoint/_records.py``'s logic."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from orca.checkpoint._base import Lease, refuse_ended
from orca.checkpoint._records import RunRow, TaskRow

_RUN_COLUMNS = (
    "id, thread_id, graph, status, started_at, ended_at, steps, llm_calls, input_tokens, "
    "output_tokens, cost_nano_usd, checkpoint_id, error, session_id, parent_run_id, metadata"
)

# a run is linked to the workflow of its graph's name when the project has one; an
# update never unlinks it
_UPSERT_RUN = (
    "INSERT INTO runs (id, thread_id, graph, status, started_at, ended_at, steps, llm_calls, "
    "input_tokens, output_tokens, cost_nano_usd, checkpoint_id, error, session_id, "
    "parent_run_id, metadata, workflow_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
    "(SELECT id FROM workflows WHERE name = ?)) "
    "ON CONFLICT (id) DO UPDATE SET thread_id = excluded.thread_id, graph = excluded.graph, "
    "status = excluded.status, started_at = excluded.started_at, ended_at = excluded.ended_at, "
    "steps = excluded.steps, llm_calls = excluded.llm_calls, "
    "input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens, "
    "cost_nano_usd = excluded.cost_nano_usd, checkpoint_id = excluded.checkpoint_id, "
    "error = excluded.error, session_id = excluded.session_id, "
    "parent_run_id = excluded.parent_run_id, metadata = excluded.metadata, "
    "workflow_id = COALESCE(excluded.workflow_id, runs.workflow_id)"
)

_UPSERT_TASK = (
    "INSERT INTO tasks (run_id, task_id, step, node, status, started_at, ended_at, "
    "duration_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (run_id, task_id) DO UPDATE SET step = excluded.step, node = excluded.node, "
    "status = excluded.status, started_at = excluded.started_at, "
    "ended_at = excluded.ended_at, duration_ms = excluded.duration_ms, error = excluded.error"
)

_LINK_TASK = (
    "INSERT OR IGNORE INTO workflow_tasks (workflow_id, run_id, task_id) "
    "SELECT workflow_id, id, ? FROM runs WHERE id = ? AND workflow_id IS NOT NULL"
)


def upsert_run(c: sqlite3.Connection, row: RunRow) -> None:
    c.execute(_UPSERT_RUN, (*row, row.graph))


def upsert_tasks(c: sqlite3.Connection, rows: Sequence[TaskRow]) -> None:
    if rows:
        c.executemany(_UPSERT_TASK, rows)
        c.executemany(_LINK_TASK, [(t.task_id, t.run_id) for t in rows])


class SqliteRunRows:
    """The run-record primitives of ``SqliteCheckpointer`` (which supplies the
    connection, its transactions and its error mapping)."""

    _conn: sqlite3.Connection
    _transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]
    _errors: Callable[[], AbstractContextManager[None]]

    def _begin(self, lease: Lease, row: RunRow, blocked: Callable[[Lease], bool]) -> Lease | None:
        with self._transaction() as c:
            found = c.execute(
                "SELECT thread_id, run_id, owner, expires_at FROM leases WHERE thread_id = ?",
                (lease.thread_id,),
            ).fetchone()
            if found is not None and blocked(held := Lease(*found)):
                return held
            stored = c.execute("SELECT status FROM runs WHERE id = ?", (row.run_id,)).fetchone()
            refuse_ended(row.run_id, stored[0] if stored else None)
            c.execute(
                "INSERT OR REPLACE INTO leases (thread_id, run_id, owner, expires_at) "
                "VALUES (?, ?, ?, ?)",
                (lease.thread_id, lease.run_id, lease.owner, lease.expires_at),
            )
            upsert_run(c, row)
        return None

    def _lease(self, thread_id: str) -> Lease | None:
        with self._errors():
            found = self._conn.execute(
                "SELECT thread_id, run_id, owner, expires_at FROM leases WHERE thread_id = ?",
                (thread_id,),
            ).fetchone()
        return None if found is None else Lease(*found)

    def _renew(self, lease: Lease) -> bool:
        with self._transaction() as c:
            moved = c.execute(
                "UPDATE leases SET expires_at = ? WHERE thread_id = ? AND run_id = ? AND owner = ?",
                (lease.expires_at, lease.thread_id, lease.run_id, lease.owner),
            ).rowcount
        return moved == 1

    def _end(self, row: RunRow, tasks: list[TaskRow]) -> None:
        with self._transaction() as c:
            upsert_run(c, row)
            upsert_tasks(c, tasks)
            c.execute(
                "DELETE FROM leases WHERE thread_id = ? AND run_id = ?",
                (row.thread_id, row.run_id),
            )

    def _put_task_rows(self, tasks: list[TaskRow]) -> None:
        with self._transaction() as c:
            upsert_tasks(c, tasks)

    def _run_row(self, run_id: str) -> Sequence[Any] | None:
        with self._errors():
            row: Sequence[Any] | None = self._conn.execute(
                f"SELECT {_RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,)
            ).fetchone()
        return row

    def _run_rows(
        self, thread_id: str | None, status: str | None, limit: int | None, graph: str | None
    ) -> list[Sequence[Any]]:
        where: list[str] = []
        args: list[object] = []
        for column, value in (("thread_id", thread_id), ("status", status), ("graph", graph)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {_RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._errors():
            return self._conn.execute(sql, args).fetchall()

    def _task_rows(self, run_id: str) -> list[Sequence[Any]]:
        with self._errors():
            return self._conn.execute(
                "SELECT run_id, task_id, step, node, status, started_at, ended_at, duration_ms, "
                "error FROM tasks WHERE run_id = ? ORDER BY step, started_at, rowid",
                (run_id,),
            ).fetchall()

    def _delete_runs(self, thread_id: str) -> None:
        with self._transaction() as c:
            c.execute("DELETE FROM runs WHERE thread_id = ?", (thread_id,))  # tasks cascade
            c.execute("DELETE FROM leases WHERE thread_id = ?", (thread_id,))

    # -- workflows and sessions (the project's catalog) ----------------------------------------

    def save_workflow(self, name: str, source: str, now: str) -> str:
        """Record (or update the source of) the workflow ``name``; returns its id."""
        with self._transaction() as c:
            c.execute(
                "INSERT INTO workflows (id, name, source, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "source = excluded.source, updated_at = excluded.updated_at",
                (str(uuid.uuid4()), name, source, now, now),
            )
            found = c.execute("SELECT id FROM workflows WHERE name = ?", (name,)).fetchone()
        return str(found[0])

    def begin_session(self, session_id: str, *, origin: str, pid: int | None, now: str) -> None:
        """Record a session (runs started together) unless it is recorded already."""
        with self._transaction() as c:
            c.execute(
                "INSERT OR IGNORE INTO sessions (id, started_at, origin, pid) VALUES (?, ?, ?, ?)",
                (session_id, now, origin, pid),
            )

    def end_session(self, session_id: str, now: str) -> None:
        with self._transaction() as c:
            c.execute("UPDATE sessions SET ended_at = ? WHERE id = ?", (now, session_id))
