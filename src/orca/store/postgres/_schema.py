"""Every table of Orca in a PostgreSQL database, declared here and nowhere else.

The components are those of the SQLite backend (``orca.store.sqlite._schema``), holding
the same data with PostgreSQL's types: ``BIGINT`` for nano-USD and counts, ``BYTEA``
for encoded values, ``JSONB`` where Orca queries inside a document, ``TEXT`` for ISO
timestamps the repositories stamp (their clock, not the server's). Each component is a
list of migrations; migration N brings it from version N-1 to N. Migrations are
append-only and forward only; ``PgDb.prepare`` applies them under an advisory lock.
All components live in one database: a PostgreSQL store is the user database and the
project database at once.
"""

from __future__ import annotations

# -- user: profiles, prices, budgets, the ledger, configurations, usage -------------------

USER_COMPONENT = "user"
USER_MIGRATIONS: list[list[str]] = []


# -- checkpoints: threads, checkpoints, pending writes, the event log, calls, runs ---------

CHECKPOINT_COMPONENT = "checkpoints"
CHECKPOINT_MIGRATIONS: list[list[str]] = []


# -- project: workflows, sessions, tool audit, artifacts ----------------------------------

PROJECT_COMPONENT = "project"
PROJECT_MIGRATIONS: list[list[str]] = []


# -- tasks: the server's LLM tasks and their events ---------------------------------------

TASKS_COMPONENT = "tasks"
TASKS_MIGRATIONS: list[list[str]] = []


# -- tokens: the server's bearer tokens ---------------------------------------------------

TOKEN_COMPONENT = "tokens"
TOKEN_MIGRATIONS: list[list[str]] = []


# -- flows: saved versions of declarative workflows ---------------------------------------

FLOWS_COMPONENT = "flows"
FLOWS_MIGRATIONS: list[list[str]] = []


# -- run_views: indexes for listing and searching runs ------------------------------------

RUN_VIEWS_COMPONENT = "run_views"
RUN_VIEWS_MIGRATIONS: list[list[str]] = []


# -- queue: the durable run queue orca worker processes claim from ------------------------

QUEUE_COMPONENT = "queue"
QUEUE_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE run_queue (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            run_id TEXT NOT NULL UNIQUE,
            queue TEXT NOT NULL,
            workflow TEXT NOT NULL,
            tenant TEXT NOT NULL,
            priority BIGINT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
            attempts BIGINT NOT NULL DEFAULT 0,
            worker_id TEXT,
            lease_expires_at DOUBLE PRECISION,
            lease_s DOUBLE PRECISION,
            available_at DOUBLE PRECISION NOT NULL,
            cancel_requested BOOLEAN NOT NULL DEFAULT FALSE,
            enqueued_at TEXT NOT NULL,
            claimed_at TEXT,
            ended_at TEXT,
            error TEXT,
            result TEXT,
            CHECK ((status = 'running') = (worker_id IS NOT NULL AND lease_expires_at IS NOT NULL))
        )""",
        "CREATE INDEX run_queue_waiting ON run_queue (queue, priority DESC, seq) "
        "WHERE status = 'queued'",
        "CREATE INDEX run_queue_running ON run_queue (lease_expires_at) WHERE status = 'running'",
        """CREATE TABLE queue_workers (
            worker_id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            pid BIGINT NOT NULL,
            queues TEXT NOT NULL,
            started_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            last_seen DOUBLE PRECISION NOT NULL,
            stopped_at TEXT
        )""",
    ],
]
