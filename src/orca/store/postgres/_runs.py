"""Run records, task records, thread leases, workflows and sessions in PostgreSQL: the
row primitives under ``checkpoint/_records.py``'s logic (the decisions are made there;
each primitive here is one transaction).

A thread's lease is one row of ``leases``. ``begin_run`` locks it (``FOR UPDATE``; an
``INSERT ... ON CONFLICT DO NOTHING`` first, so that a thread without one gets a row to
lock) before it decides, so that of two processes racing for a thread one waits for the
other's commit and then sees its lease. Every transaction that writes a run's rows locks
them in one order: the lease, the run, then its tasks by id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import psycopg

from orca.checkpoint._base import Lease, refuse_ended
from orca.checkpoint._records import RunRow, TaskRow
from orca.store.postgres._batch import Part, statement

T = TypeVar("T")
Cursor = psycopg.Cursor[Any]

RUN_COLUMNS = (
    "id, thread_id, graph, status, started_at, ended_at, steps, llm_calls, input_tokens, "
    "output_tokens, cost_nano_usd, checkpoint_id, error, session_id, parent_run_id, metadata"
)

# a run is linked to the workflow of its graph's name when the project has one; an
# update never unlinks it (nor moves the run's place in "first stored" order: ``seq``)
_UPSERT_RUN = (
    "INSERT INTO runs (id, thread_id, graph, status, started_at, ended_at, steps, llm_calls, "
    "input_tokens, output_tokens, cost_nano_usd, checkpoint_id, error, session_id, "
    "parent_run_id, metadata, workflow_id) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
    "(SELECT id FROM workflows WHERE name = %s)) "
    "ON CONFLICT (id) DO UPDATE SET thread_id = EXCLUDED.thread_id, graph = EXCLUDED.graph, "
    "status = EXCLUDED.status, started_at = EXCLUDED.started_at, ended_at = EXCLUDED.ended_at, "
    "steps = EXCLUDED.steps, llm_calls = EXCLUDED.llm_calls, "
    "input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens, "
    "cost_nano_usd = EXCLUDED.cost_nano_usd, checkpoint_id = EXCLUDED.checkpoint_id, "
    "error = EXCLUDED.error, session_id = EXCLUDED.session_id, "
    "parent_run_id = EXCLUDED.parent_run_id, metadata = EXCLUDED.metadata, "
    "workflow_id = COALESCE(EXCLUDED.workflow_id, runs.workflow_id)"
)

TASK_UPDATE = (
    "ON CONFLICT (run_id, task_id) DO UPDATE SET step = EXCLUDED.step, node = EXCLUDED.node, "
    "status = EXCLUDED.status, started_at = EXCLUDED.started_at, "
    "ended_at = EXCLUDED.ended_at, duration_ms = EXCLUDED.duration_ms, error = EXCLUDED.error"
)
# a run's tasks upserted (in the lock order, by task id) and linked to its workflow: parts
# of one statement (``_checkpoints`` writes them with a superstep's rows)
TASK_PARTS: dict[str, Part] = {
    "tasks": Part(
        "tasks (run_id, task_id, step, node, status, started_at, ended_at, duration_ms, error)",
        "u.run_id, u.task_id, u.step, u.node, u.status, u.started_at, u.ended_at, "
        "u.duration_ms, u.error",
        (
            ("run_id", "text"),
            ("task_id", "text"),
            ("step", "bigint"),
            ("node", "text"),
            ("status", "text"),
            ("started_at", "text"),
            ("ended_at", "text"),
            ("duration_ms", "float8"),
            ("error", "text"),
        ),
        tail=TASK_UPDATE,
    ),
    "links": Part(
        "workflow_tasks (workflow_id, run_id, task_id)",
        "r.workflow_id, r.id, u.task_id",
        (("run_id", "text"), ("task_id", "text")),
        join="JOIN runs AS r ON r.id = u.run_id WHERE r.workflow_id IS NOT NULL",
        tail="ON CONFLICT DO NOTHING",
    ),
}

_LEASE = "SELECT thread_id, run_id, owner, expires_at FROM leases WHERE thread_id = %s"


def upsert_run(cur: Cursor, row: RunRow) -> None:
    cur.execute(_UPSERT_RUN, (*row, row.graph))


def task_part_rows(rows: Sequence[TaskRow]) -> list[tuple[str, list[Sequence[Any]]]]:
    """The rows of ``TASK_PARTS``: a task listed twice is stored as listed last (an upsert
    may touch a row once per statement), the tasks sorted by (run, task), the lock
    order."""
    latest = {(t.run_id, t.task_id): t for t in rows}
    ordered = [latest[k] for k in sorted(latest)]
    return [("tasks", list(ordered)), ("links", [(t.run_id, t.task_id) for t in ordered])]


def upsert_tasks(cur: Cursor, rows: Sequence[TaskRow]) -> None:
    if rows:
        cur.execute(*statement(TASK_PARTS, task_part_rows(rows)))


TASKS_RUN_KEY = "tasks_run_id_fkey"
"""The constraint of ``tasks`` that a task's run has a record."""


def no_run_record(exc: psycopg.errors.ForeignKeyViolation) -> str | None:
    """The error of a task stored before its run's record (``begin_run``), when ``exc``
    is that refusal; None for any other foreign key."""
    if exc.diag.constraint_name != TASKS_RUN_KEY:
        return None
    detail = exc.diag.message_detail or ""
    start = detail.find("=(")
    end = detail.rfind(")")
    run_id = detail[start + 2 : end] if start != -1 and end > start else "?"
    return (
        f"task records of run {run_id!r}, which has no record. Fix: store the run with "
        "begin_run before its tasks"
    )


class PgRunRows:
    """The run-record primitives of ``PgCheckpointer`` (which supplies ``_run``, a
    transaction retried on a lost deadlock, and ``_read``, an autocommit cursor)."""

    _run: Callable[..., Any]
    _read: Callable[[str, Sequence[Any]], list[Any]]

    def _begin(self, lease: Lease, row: RunRow, blocked: Callable[[Lease], bool]) -> Lease | None:
        def work(cur: Cursor) -> Lease | None:
            while True:
                cur.execute(
                    "INSERT INTO leases (thread_id, run_id, owner, expires_at) "
                    "VALUES (%s, %s, %s, %s) ON CONFLICT (thread_id) DO NOTHING "
                    "RETURNING thread_id",
                    (lease.thread_id, lease.run_id, lease.owner, lease.expires_at),
                )
                if cur.fetchone() is not None:
                    break  # the thread had no lease: the new row is ours, locked
                found = cur.execute(_LEASE + " FOR UPDATE", (lease.thread_id,)).fetchone()
                if found is None:
                    continue  # its holder ended meanwhile: insert again
                held = Lease(*found)
                if blocked(held):
                    return held
                cur.execute(
                    "UPDATE leases SET run_id = %s, owner = %s, expires_at = %s "
                    "WHERE thread_id = %s",
                    (lease.run_id, lease.owner, lease.expires_at, lease.thread_id),
                )
                break
            # under the thread's lease row: a run that ended meanwhile is not begun again
            stored = cur.execute("SELECT status FROM runs WHERE id = %s", (row.run_id,))
            found_run = stored.fetchone()
            refuse_ended(row.run_id, found_run[0] if found_run else None)
            upsert_run(cur, row)
            return None

        held: Lease | None = self._run(work)
        return held

    def _lease(self, thread_id: str) -> Lease | None:
        found = self._read(_LEASE, (thread_id,))
        return None if not found else Lease(*found[0])

    def _renew(self, lease: Lease) -> bool:
        def work(cur: Cursor) -> bool:
            cur.execute(
                "UPDATE leases SET expires_at = %s "
                "WHERE thread_id = %s AND run_id = %s AND owner = %s",
                (lease.expires_at, lease.thread_id, lease.run_id, lease.owner),
            )
            return cur.rowcount == 1

        moved: bool = self._run(work)
        return moved

    def _end(self, row: RunRow, tasks: list[TaskRow]) -> None:
        def work(cur: Cursor) -> None:
            cur.execute(
                "DELETE FROM leases WHERE thread_id = %s AND run_id = %s",
                (row.thread_id, row.run_id),
            )
            upsert_run(cur, row)
            upsert_tasks(cur, tasks)

        self._run(work, pipeline=True)  # BEGIN to COMMIT in one round trip

    def _put_task_rows(self, tasks: list[TaskRow]) -> None:
        self._run(lambda cur: upsert_tasks(cur, tasks), pipeline=True)

    def _check_runs(self, rows: list[TaskRow]) -> None:
        """Nothing to read first: the foreign key of ``tasks`` refuses a task of a run
        without a record when its statement runs (nothing of it is written), and
        ``no_run_record`` words that refusal as the check of other stores does. A
        superstep with tasks saves a round trip."""

    def _run_row(self, run_id: str) -> Sequence[Any] | None:
        found = self._read(f"SELECT {RUN_COLUMNS} FROM runs WHERE id = %s", (run_id,))
        return found[0] if found else None

    def _run_rows(
        self, thread_id: str | None, status: str | None, limit: int | None, graph: str | None
    ) -> list[Sequence[Any]]:
        where: list[str] = []
        args: list[object] = []
        for column, value in (("thread_id", thread_id), ("status", status), ("graph", graph)):
            if value is not None:
                where.append(f"{column} = %s")
                args.append(value)
        sql = f"SELECT {RUN_COLUMNS} FROM runs"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, seq DESC"
        if limit is not None:
            sql += " LIMIT %s"
            args.append(limit)
        return self._read(sql, args)

    def _task_rows(self, run_id: str) -> list[Sequence[Any]]:
        return self._read(
            "SELECT run_id, task_id, step, node, status, started_at, ended_at, duration_ms, "
            "error FROM tasks WHERE run_id = %s ORDER BY step, started_at, seq",
            (run_id,),
        )

    def _delete_runs(self, thread_id: str) -> None:
        def work(cur: Cursor) -> None:
            cur.execute("DELETE FROM leases WHERE thread_id = %s", (thread_id,))
            cur.execute("DELETE FROM runs WHERE thread_id = %s", (thread_id,))  # tasks cascade

        self._run(work)

    # -- workflows and sessions (the project's catalog) ----------------------------------------

    def save_workflow(self, name: str, source: str, now: str) -> str:
        """Record (or update the source of) the workflow ``name``; returns its id."""

        def work(cur: Cursor) -> str:
            found = cur.execute(
                "INSERT INTO workflows (id, name, source, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                "source = EXCLUDED.source, updated_at = EXCLUDED.updated_at RETURNING id",
                (str(uuid.uuid4()), name, source, now, now),
            ).fetchone()
            assert found is not None  # an upsert with RETURNING always answers a row
            return str(found[0])

        workflow: str = self._run(work)
        return workflow

    def begin_session(self, session_id: str, *, origin: str, pid: int | None, now: str) -> None:
        """Record a session (runs started together) unless it is recorded already."""
        self._run(
            lambda cur: cur.execute(
                "INSERT INTO sessions (id, started_at, origin, pid) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING",
                (session_id, now, origin, pid),
            )
        )

    def end_session(self, session_id: str, now: str) -> None:
        self._run(
            lambda cur: cur.execute(
                "UPDATE sessions SET ended_at = %s WHERE id = %s", (now, session_id)
            )
        )
