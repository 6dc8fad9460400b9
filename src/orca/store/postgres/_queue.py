"""The run queue in PostgreSQL (``run_queue``, ``queue_workers``): workers on any number
of hosts share it.

A claim is one transaction: the eligible items in claim order (the tenant with the
fewest running items, then priority, then age), their rows locked with ``FOR UPDATE
SKIP LOCKED`` so concurrent claims take different items without waiting; then, when
limits apply, a transaction-scoped advisory lock per limited key (queue, workflow,
tenant), taken in sorted order, and the running counts read again under those locks:
two claims of one key are serialised, the second sees the first's commit, so no limit
is ever exceeded, whatever the race. ``NOTIFY orca_queue`` on enqueue wakes idle
workers (``wait``), which otherwise look again every few seconds.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import psycopg

from orca.store._clock import Clock, utc_now
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
    limit_keys,
    result_text,
    under_limits,
)
from orca.store.postgres._db import PgDb
from orca.store.postgres._schema import QUEUE_COMPONENT, QUEUE_MIGRATIONS

CHANNEL = "orca_queue"
EVENTS_CHANNEL = "orca_events"  # a run committed events: its streams read them
LOCK_CLASS = 0x0CA5  # pg_advisory_xact_lock(int4, int4)'s first key: Orca's queue limits
CANDIDATES = 8  # items a claim locks and considers at once
CLAIM_TRIES = 4  # claims again when every candidate lost its room to a concurrent claim

_HELD = "run_id = %s AND worker_id = %s AND attempts = %s AND status = 'running'"

_CANDIDATES = """
WITH lim AS (
    SELECT * FROM jsonb_to_recordset(%(limits)s::jsonb) AS l(scope TEXT, key TEXT, n BIGINT)
),
running AS (SELECT queue, workflow, tenant FROM run_queue WHERE status = 'running'),
rq AS (SELECT queue AS k, COUNT(*) AS n FROM running GROUP BY queue),
rw AS (SELECT workflow AS k, COUNT(*) AS n FROM running GROUP BY workflow),
rt AS (SELECT tenant AS k, COUNT(*) AS n FROM running GROUP BY tenant)
SELECT q.seq, q.queue, q.workflow, q.tenant FROM run_queue q
LEFT JOIN rq ON rq.k = q.queue
LEFT JOIN rw ON rw.k = q.workflow
LEFT JOIN rt ON rt.k = q.tenant
WHERE q.status = 'queued' AND q.available_at <= %(now)s AND q.queue = ANY(%(queues)s)
AND COALESCE(rq.n, 0) < COALESCE(
    (SELECT n FROM lim WHERE scope = 'queue' AND key = q.queue),
    (SELECT n FROM lim WHERE scope = 'queue' AND key = '*'), 9223372036854775807)
AND COALESCE(rw.n, 0) < COALESCE(
    (SELECT n FROM lim WHERE scope = 'workflow' AND key = q.workflow),
    (SELECT n FROM lim WHERE scope = 'workflow' AND key = '*'), 9223372036854775807)
AND COALESCE(rt.n, 0) < COALESCE(
    (SELECT n FROM lim WHERE scope = 'tenant' AND key = q.tenant),
    (SELECT n FROM lim WHERE scope = 'tenant' AND key = '*'), 9223372036854775807)
ORDER BY COALESCE(rt.n, 0), q.priority DESC, q.seq
LIMIT %(limit)s
FOR UPDATE OF q SKIP LOCKED
"""

_RUNNING = """
SELECT 'queue', queue, COUNT(*) FROM run_queue
    WHERE status = 'running' AND queue = ANY(%(queues)s) GROUP BY queue
UNION ALL SELECT 'workflow', workflow, COUNT(*) FROM run_queue
    WHERE status = 'running' AND workflow = ANY(%(workflows)s) GROUP BY workflow
UNION ALL SELECT 'tenant', tenant, COUNT(*) FROM run_queue
    WHERE status = 'running' AND tenant = ANY(%(tenants)s) GROUP BY tenant
"""


class PgRunQueue:
    """``RunQueue`` over the PostgreSQL database of ``db`` (its tables created, or
    migrated, when opened)."""

    def __init__(self, db: PgDb, *, clock: Clock = utc_now) -> None:
        self.db = db
        self._clock = clock
        self._listener: psycopg.Connection[Any] | None = None
        self._listen_lock = threading.Lock()
        db.prepare([(QUEUE_COMPONENT, QUEUE_MIGRATIONS)])

    def __repr__(self) -> str:
        return f"<PgRunQueue {self.db.where}>"

    def _now(self) -> tuple[float, str]:
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
        now, stamp = self._now()
        with self.db.transaction() as conn:
            cur = conn.execute(
                "INSERT INTO run_queue (run_id, queue, workflow, tenant, priority, payload, "
                "status, available_at, enqueued_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, 'queued', %s, %s) "
                "ON CONFLICT (run_id) DO NOTHING",
                (run_id, queue, workflow, tenant, priority, body, now + delay_s, stamp),
            )
            added = cur.rowcount == 1
            if added:  # delivered at commit: idle workers look at once
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, queue))
        return added

    def claim(
        self,
        worker_id: str,
        lease_s: float,
        limits: Limits = NO_LIMITS,
        *,
        queues: tuple[str, ...] = (DEFAULT_QUEUE,),
    ) -> QueueItem | None:
        check_claim(worker_id, lease_s, limits, queues)
        for _ in range(CLAIM_TRIES):
            found, contended = self.db.retrying(
                lambda conn: self._claim(conn, worker_id, lease_s, limits, list(queues))
            )
            if found is not None or not contended:
                return found
        return None

    def _claim(
        self,
        conn: psycopg.Connection[Any],
        worker_id: str,
        lease_s: float,
        limits: Limits,
        queues: list[str],
    ) -> tuple[QueueItem | None, bool]:
        """One try: the item claimed (or None), and whether candidates were there but
        lost their room to a concurrent claim (worth another try)."""
        now, stamp = self._now()
        self._reclaim(conn, now)
        rows = conn.execute(
            _CANDIDATES,
            {
                "limits": orjson.dumps(
                    [{"scope": s, "key": k, "n": n} for s, k, n in limits.rows()]
                ).decode(),
                "now": now,
                "queues": queues,
                "limit": CANDIDATES,
            },
        ).fetchall()
        if not rows:
            return None, False
        chosen = rows[0][0]
        if limits:
            keys = sorted({k for _, q, w, t in rows for k in limit_keys(limits, q, w, t)})
            for scope, key in keys:  # in one order everywhere: no deadlock between claims
                conn.execute(
                    "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (LOCK_CLASS, f"{scope}:{key}")
                )
            running = {
                (str(r[0]), str(r[1])): int(r[2])
                for r in conn.execute(
                    _RUNNING,
                    {
                        "queues": [k for s, k in keys if s == "queue"],
                        "workflows": [k for s, k in keys if s == "workflow"],
                        "tenants": [k for s, k in keys if s == "tenant"],
                    },
                ).fetchall()
            }
            chosen = next((r[0] for r in rows if under_limits(limits, running, *r[1:])), None)
            if chosen is None:
                return None, True
        row = conn.execute(
            "UPDATE run_queue SET status = 'running', worker_id = %s, attempts = attempts + 1, "
            "lease_expires_at = %s, lease_s = %s, claimed_at = %s "
            f"WHERE seq = %s RETURNING {COLUMNS}",
            (worker_id, now + lease_s, lease_s, stamp, chosen),
        ).fetchone()
        assert row is not None  # locked by this transaction since the SELECT
        return item_of(row, self.db.where), False

    def _reclaim(self, conn: psycopg.Connection[Any], now: float) -> list[str]:
        rows = conn.execute(
            "UPDATE run_queue SET status = 'queued', worker_id = NULL, lease_expires_at = NULL, "
            "available_at = %s WHERE seq IN (SELECT seq FROM run_queue "
            "WHERE status = 'running' AND lease_expires_at <= %s FOR UPDATE SKIP LOCKED) "
            "RETURNING run_id",
            (now, now),
        ).fetchall()
        return sorted(str(r[0]) for r in rows)

    def reclaim(self) -> list[str]:
        now, _ = self._now()
        return self.db.retrying(lambda conn: self._reclaim(conn, now))

    def heartbeat(self, worker_id: str, item: QueueItem) -> Beat:
        key = held_by(item, worker_id)
        now, _ = self._now()
        with self.db.transaction() as conn:
            row = conn.execute(
                "UPDATE run_queue SET lease_expires_at = %s + lease_s "
                f"WHERE {_HELD} AND lease_expires_at > %s RETURNING cancel_requested",
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
        _, stamp = self._now()
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE run_queue SET status = %s, worker_id = NULL, lease_expires_at = NULL, "
                f"ended_at = %s, error = %s, result = %s WHERE {_HELD}",
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
        now, _ = self._now()
        with self.db.transaction() as conn:
            cur = conn.execute(
                "UPDATE run_queue SET status = 'queued', worker_id = NULL, "
                f"lease_expires_at = NULL, available_at = %s WHERE {_HELD}",
                (now + delay_s, *key),
            )
            released = cur.rowcount == 1
            if released and delay_s == 0:
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, item.queue))
        return released

    def cancel(self, run_id: str) -> QueueStatus | None:
        _, stamp = self._now()
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT status FROM run_queue WHERE run_id = %s FOR UPDATE", (run_id,)
            ).fetchone()
            if row is None:
                return None
            status: QueueStatus = row[0]
            if status == "queued":
                conn.execute(
                    "UPDATE run_queue SET status = 'cancelled', ended_at = %s WHERE run_id = %s",
                    (stamp, run_id),
                )
                return "cancelled"
            if status == "running":
                conn.execute(
                    "UPDATE run_queue SET cancel_requested = TRUE WHERE run_id = %s", (run_id,)
                )
            return status

    def get(self, run_id: str) -> QueueItem | None:
        with self.db.read() as conn:
            row = conn.execute(
                f"SELECT {COLUMNS} FROM run_queue WHERE run_id = %s", (run_id,)
            ).fetchone()
        return None if row is None else item_of(row, self.db.where)

    def worker_seen(self, worker_id: str, host: str, pid: int, queues: tuple[str, ...]) -> None:
        check_name("worker_id", worker_id)
        now, stamp = self._now()
        names = orjson.dumps(list(queues)).decode()
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO queue_workers (worker_id, host, pid, queues, started_at, "
                "last_seen_at, last_seen) VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (worker_id) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at, "
                "last_seen = EXCLUDED.last_seen, queues = EXCLUDED.queues, stopped_at = NULL",
                (worker_id, host, int(pid), names, stamp, stamp, now),
            )

    def worker_stopped(self, worker_id: str) -> None:
        _, stamp = self._now()
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE queue_workers SET stopped_at = %s WHERE worker_id = %s", (stamp, worker_id)
            )

    def workers(self) -> list[WorkerSeen]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT worker_id, host, pid, queues, started_at, last_seen_at, stopped_at "
                "FROM queue_workers ORDER BY last_seen DESC, worker_id"
            ).fetchall()
        return [
            WorkerSeen(r[0], r[1], int(r[2]), tuple(orjson.loads(r[3])), r[4], r[5], r[6])
            for r in rows
        ]

    def counts(self) -> list[QueueCount]:
        with self.db.read() as conn:
            rows = conn.execute(
                "SELECT queue, workflow, tenant, status, COUNT(*) FROM run_queue "
                "GROUP BY queue, workflow, tenant, status ORDER BY queue, workflow, tenant, status"
            ).fetchall()
        return [QueueCount(r[0], r[1], r[2], r[3], int(r[4])) for r in rows]

    def wait(self, timeout_s: float) -> bool:
        """Until a ``NOTIFY orca_queue`` arrives (an enqueue committed) or ``timeout_s``
        passed; a lost connection is opened again at the next wait."""
        timeout_s = max(0.0, timeout_s)
        with self._listen_lock:
            try:
                if self._listener is None or self._listener.closed:
                    self._listener = psycopg.connect(
                        self.db.url, autocommit=True, connect_timeout=max(2, int(timeout_s) + 1)
                    )
                    self._listener.execute(f"LISTEN {CHANNEL}")
                for _ in self._listener.notifies(timeout=timeout_s, stop_after=1):
                    return True
                return False
            except psycopg.OperationalError:
                self._close_listener()
        time.sleep(timeout_s)  # the server is away: the next claim says so
        return False

    def announce(self, run_id: str) -> None:
        with self.db.read() as conn:
            conn.execute("SELECT pg_notify(%s, %s)", (EVENTS_CHANNEL, run_id))

    def follow(self, callback: Callable[[str], None]) -> Callable[[], None] | None:
        """A thread of its own, on a connection of its own, ``LISTEN orca_events``; a
        lost connection is opened again (announcements meanwhile are missed: readers
        look at the log on their own now and then anyway)."""
        stop = threading.Event()
        ready = threading.Event()

        def listen() -> None:
            while not stop.is_set():
                try:
                    with psycopg.connect(self.db.url, autocommit=True, connect_timeout=5) as conn:
                        conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                        ready.set()
                        while not stop.is_set():
                            for note in conn.notifies(timeout=0.5):
                                with contextlib.suppress(Exception):  # the caller's
                                    callback(note.payload)
                except psycopg.Error:
                    stop.wait(1.0)
                finally:
                    ready.set()

        thread = threading.Thread(target=listen, name="orca-pg-events", daemon=True)
        thread.start()
        ready.wait(10)

        def stop_following() -> None:
            stop.set()
            thread.join(timeout=5)

        return stop_following

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            finally:
                self._listener = None

    def close(self) -> None:
        with self._listen_lock:
            self._close_listener()
