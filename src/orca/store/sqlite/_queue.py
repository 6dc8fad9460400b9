"""The run queue in a project database (``run_queue``, ``queue_workers``): several worker
processes of one host share the file. ``BEGIN IMMEDIATE`` serialises every claim (one
writer at a time), so limits are checked and the item taken in one transaction that no
other claim can interleave with."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import orjson

from orca.store._queue import (
    COLUMNS,
    DEFAULT_QUEUE,
    DEFAULT_TENANT,
    NO_LIMITS,
    Beat,
    Limits,
    QueueCount,
    QueueItem,
    QueueStatus,
    WorkerSeen,
    check_claim,
    check_enqueue,
    check_name,
    check_seconds,
    error_text,
    held_by,
    item_of,
    result_text,
    under_limits,
)
from orca.store.sqlite import _db
from orca.store.sqlite._schema import QUEUE_COMPONENT, QUEUE_MIGRATIONS
from orca.store.sqlite._tables import SqliteTables

POLL_S = 0.2
"""How often an idle worker looks for work (SQLite has no notifications)."""

_HELD = "run_id = ? AND worker_id = ? AND attempts = ? AND status = 'running'"


class SqliteRunQueue(SqliteTables):
    """``RunQueue`` over the project database at ``path`` (its tables created, or
    migrated, when opened).

    Raises:
        CorruptDatabaseError: the file is not an Orca database, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """

    COMPONENTS = ((QUEUE_COMPONENT, QUEUE_MIGRATIONS),)

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._lock, self._errors(), _db.transaction(self._conn) as conn:
            yield conn

    def _times(self) -> tuple[float, str]:
        now = self._clock()
        return now.timestamp(), now.isoformat(timespec="milliseconds")

    def enqueue(
        self,
        run_id: str,
        *,
        workflow: str,
        queue: str = DEFAULT_QUEUE,
        tenant: str = DEFAULT_TENANT,
        priority: int = 0,
        payload: Mapping[str, Any] | None = None,
        delay_s: float = 0.0,
    ) -> bool:
        body = check_enqueue(run_id, queue, workflow, tenant, priority, payload, delay_s)
        now, stamp = self._times()
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO run_queue (run_id, queue, workflow, tenant, priority, payload, "
                "status, available_at, enqueued_at) VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?) "
                "ON CONFLICT (run_id) DO NOTHING",
                (run_id, queue, workflow, tenant, priority, body, now + delay_s, stamp),
            )
            return cur.rowcount == 1

    def claim(
        self,
        worker_id: str,
        lease_s: float,
        limits: Limits = NO_LIMITS,
        *,
        queues: tuple[str, ...] = (DEFAULT_QUEUE,),
    ) -> QueueItem | None:
        check_claim(worker_id, lease_s, limits, queues)
        now, stamp = self._times()
        wanted = orjson.dumps(list(queues)).decode()
        with self._write() as conn:
            self._reclaim(conn, now)
            running: dict[tuple[str, str], int] = {}
            for queue, workflow, tenant in conn.execute(
                "SELECT queue, workflow, tenant FROM run_queue WHERE status = 'running'"
            ):
                for key in (("queue", queue), ("workflow", workflow), ("tenant", tenant)):
                    running[key] = running.get(key, 0) + 1
            # the waiting items in claim order: the tenant with the fewest running first,
            # then priority, then age; the first under every limit is taken
            found = None
            for seq, queue, workflow, tenant in conn.execute(
                "SELECT q.seq, q.queue, q.workflow, q.tenant FROM run_queue q "
                "LEFT JOIN (SELECT tenant, COUNT(*) AS n FROM run_queue "
                "  WHERE status = 'running' GROUP BY tenant) r ON r.tenant = q.tenant "
                "WHERE q.status = 'queued' AND q.available_at <= ? "
                "AND q.queue IN (SELECT value FROM json_each(?)) "
                "ORDER BY COALESCE(r.n, 0), q.priority DESC, q.seq",
                (now, wanted),
            ):
                if under_limits(limits, running, queue, workflow, tenant):
                    found = seq
                    break
            if found is None:
                return None
            row = conn.execute(
                "UPDATE run_queue SET status = 'running', worker_id = ?, attempts = attempts + 1, "
                "lease_expires_at = ?, lease_s = ?, claimed_at = ? "
                f"WHERE seq = ? RETURNING {COLUMNS}",
                (worker_id, now + lease_s, lease_s, stamp, found),
            ).fetchone()
        return item_of(row, self.path)

    def _reclaim(self, conn: sqlite3.Connection, now: float) -> list[str]:
        rows = conn.execute(
            "UPDATE run_queue SET status = 'queued', worker_id = NULL, lease_expires_at = NULL, "
            "available_at = ? WHERE status = 'running' AND lease_expires_at <= ? "
            "RETURNING run_id",
            (now, now),
        ).fetchall()
        return sorted(r[0] for r in rows)

    def reclaim(self) -> list[str]:
        now, _ = self._times()
        with self._write() as conn:
            return self._reclaim(conn, now)

    def heartbeat(self, worker_id: str, item: QueueItem) -> Beat:
        key = held_by(item, worker_id)
        now, _ = self._times()
        with self._write() as conn:
            row = conn.execute(
                "UPDATE run_queue SET lease_expires_at = ? + lease_s "
                f"WHERE {_HELD} AND lease_expires_at > ? RETURNING cancel_requested",
                (now, *key, now),
            ).fetchone()
        return Beat(held=row is not None, cancel_requested=bool(row and row[0]))

    def _end(
        self,
        worker_id: str,
        item: QueueItem,
        status: QueueStatus,
        error: str | None,
        result: str | None = None,
    ) -> bool:
        key = held_by(item, worker_id)
        _, stamp = self._times()
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE run_queue SET status = ?, worker_id = NULL, lease_expires_at = NULL, "
                f"ended_at = ?, error = ?, result = ? WHERE {_HELD}",
                (status, stamp, error, result, *key),
            )
            return cur.rowcount == 1

    def complete(self, worker_id: str, item: QueueItem, result: Any = None) -> bool:
        return self._end(worker_id, item, "done", None, result_text(result))

    def fail(self, worker_id: str, item: QueueItem, error: str) -> bool:
        return self._end(worker_id, item, "failed", error_text(error))

    def release(self, worker_id: str, item: QueueItem, *, delay_s: float = 0.0) -> bool:
        key = held_by(item, worker_id)
        delay_s = check_seconds("delay_s", delay_s)
        now, _ = self._times()
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE run_queue SET status = 'queued', worker_id = NULL, "
                f"lease_expires_at = NULL, available_at = ? WHERE {_HELD}",
                (now + delay_s, *key),
            )
            return cur.rowcount == 1

    def cancel(self, run_id: str) -> QueueStatus | None:
        _, stamp = self._times()
        with self._write() as conn:
            conn.execute(
                "UPDATE run_queue SET status = 'cancelled', ended_at = ? "
                "WHERE run_id = ? AND status = 'queued'",
                (stamp, run_id),
            )
            conn.execute(
                "UPDATE run_queue SET cancel_requested = 1 WHERE run_id = ? AND status = 'running'",
                (run_id,),
            )
            row = conn.execute(
                "SELECT status FROM run_queue WHERE run_id = ?", (run_id,)
            ).fetchone()
        status: QueueStatus | None = None if row is None else row[0]
        return status

    def get(self, run_id: str) -> QueueItem | None:
        with self._lock, self._errors():
            row = self._conn.execute(
                f"SELECT {COLUMNS} FROM run_queue WHERE run_id = ?", (run_id,)
            ).fetchone()
        return None if row is None else item_of(row, self.path)

    def worker_seen(self, worker_id: str, host: str, pid: int, queues: tuple[str, ...]) -> None:
        check_name("worker_id", worker_id)
        now, stamp = self._times()
        names = orjson.dumps(list(queues)).decode()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO queue_workers (worker_id, host, pid, queues, started_at, "
                "last_seen_at, last_seen) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (worker_id) DO UPDATE SET last_seen_at = excluded.last_seen_at, "
                "last_seen = excluded.last_seen, queues = excluded.queues, stopped_at = NULL",
                (worker_id, host, int(pid), names, stamp, stamp, now),
            )

    def worker_stopped(self, worker_id: str) -> None:
        _, stamp = self._times()
        with self._write() as conn:
            conn.execute(
                "UPDATE queue_workers SET stopped_at = ? WHERE worker_id = ?", (stamp, worker_id)
            )

    def workers(self) -> list[WorkerSeen]:
        with self._lock, self._errors():
            rows = self._conn.execute(
                "SELECT worker_id, host, pid, queues, started_at, last_seen_at, stopped_at "
                "FROM queue_workers ORDER BY last_seen DESC, worker_id"
            ).fetchall()
        return [
            WorkerSeen(r[0], r[1], int(r[2]), tuple(orjson.loads(r[3])), r[4], r[5], r[6])
            for r in rows
        ]

    def counts(self) -> list[QueueCount]:
        with self._lock, self._errors():
            rows = self._conn.execute(
                "SELECT queue, workflow, tenant, status, COUNT(*) FROM run_queue "
                "GROUP BY queue, workflow, tenant, status ORDER BY queue, workflow, tenant, status"
            ).fetchall()
        return [QueueCount(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]

    def wait(self, timeout_s: float) -> bool:
        time.sleep(max(0.0, min(timeout_s, POLL_S)))
        return False

    def announce(self, run_id: str) -> None:
        """Nothing: SQLite has no notifications (a run's streams poll its log)."""

    def follow(self, callback: Callable[[str], None]) -> Callable[[], None] | None:
        return None
