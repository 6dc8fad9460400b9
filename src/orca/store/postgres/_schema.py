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


# -- checkpoints: checkpoints, blobs, pending writes, the event log, call records ---------

CHECKPOINT_COMPONENT = "checkpoints"
# Keys and names are ``COLLATE "C"``: they compare and sort by code point, as SQLite's
# BINARY does, whatever the database's locale (run views scan name ranges).
CHECKPOINT_MIGRATIONS: list[list[str]] = [
    [
        # ``seq`` numbers checkpoints in the order they were stored (the latest of a
        # thread is its highest): an identity, so two writers never compute the same one
        """CREATE TABLE checkpoints (
            thread_id TEXT COLLATE "C" NOT NULL,
            checkpoint_id TEXT COLLATE "C" NOT NULL,
            seq BIGINT GENERATED ALWAYS AS IDENTITY,
            parent_id TEXT COLLATE "C",
            step BIGINT NOT NULL,
            body BYTEA NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (thread_id, checkpoint_id)
        )""",
        "CREATE UNIQUE INDEX checkpoints_by_seq ON checkpoints (thread_id, seq)",
        # channel values: a snapshot (pos 0) and the deltas appended to it (checkpoint/_rows.py)
        """CREATE TABLE checkpoint_blobs (
            thread_id TEXT COLLATE "C" NOT NULL,
            channel TEXT COLLATE "C" NOT NULL,
            base TEXT COLLATE "C" NOT NULL,
            pos BIGINT NOT NULL,
            data BYTEA NOT NULL,
            CONSTRAINT checkpoint_blobs_by_key PRIMARY KEY (thread_id, channel, base, pos)
        )""",
        """CREATE TABLE checkpoint_writes (
            thread_id TEXT COLLATE "C" NOT NULL,
            checkpoint_id TEXT COLLATE "C" NOT NULL,
            task_id TEXT COLLATE "C" NOT NULL,
            idx BIGINT NOT NULL,
            kind TEXT NOT NULL,
            data BYTEA NOT NULL,
            PRIMARY KEY (thread_id, checkpoint_id, idx)
        )""",
        # The event log: a superstep's events are rows written in its checkpoint's
        # transaction (SQLite keeps small batches inside the checkpoint row to save a
        # page per commit; here every batch is a row of its own). ``batch`` is the JSON
        # text (TEXT, not BYTEA: run views search it with ILIKE); ``id`` breaks ties of
        # (first_ts, first_seq) in the order rows were stored.
        """CREATE TABLE events (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            thread_id TEXT COLLATE "C" NOT NULL,
            run_id TEXT COLLATE "C" NOT NULL,
            batch TEXT NOT NULL,
            first_seq BIGINT NOT NULL,
            last_seq BIGINT NOT NULL,
            first_ts DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX events_by_run_seq ON events (run_id, first_ts, first_seq, last_seq)",
        "CREATE INDEX events_by_thread ON events (thread_id)",
        # call records: the LLM answers and tool results a task completed (paid once)
        """CREATE TABLE call_records (
            thread_id TEXT COLLATE "C" NOT NULL,
            task_id TEXT COLLATE "C" NOT NULL,
            kind TEXT COLLATE "C" NOT NULL,
            digest TEXT COLLATE "C" NOT NULL,
            occurrence BIGINT NOT NULL,
            checkpoint_id TEXT COLLATE "C" NOT NULL,
            run_id TEXT NOT NULL,
            value BYTEA NOT NULL,
            created_at TEXT NOT NULL,
            CONSTRAINT call_records_by_key
                PRIMARY KEY (thread_id, task_id, kind, digest, occurrence)
        )""",
    ],
]


# -- project: workflows, sessions, runs, tasks, leases, tool audit ------------------------

PROJECT_COMPONENT = "project"
# ``seq`` columns number rows in the order they were first stored (SQLite's rowid): the
# tie-break of "newest first"; an upsert keeps a row's number.
PROJECT_MIGRATIONS: list[list[str]] = [
    [
        # a workflow is a graph known by name and where its code lives (PATH:graph)
        """CREATE TABLE workflows (
            id TEXT PRIMARY KEY,
            name TEXT COLLATE "C" NOT NULL UNIQUE,
            source TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        # a session groups runs started together (one CLI invocation, one server client)
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            origin TEXT NOT NULL DEFAULT 'cli',
            pid BIGINT
        )""",
        # one row per run of a workflow on a thread
        """CREATE TABLE runs (
            id TEXT COLLATE "C" PRIMARY KEY,
            seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            thread_id TEXT COLLATE "C" NOT NULL,
            graph TEXT COLLATE "C" NOT NULL DEFAULT '',
            workflow_id TEXT REFERENCES workflows (id),
            -- no foreign key: a library or server run may name a session no one recorded
            session_id TEXT,
            parent_run_id TEXT,
            status TEXT NOT NULL CHECK (status IN
                ('queued', 'running', 'interrupted', 'done', 'failed', 'cancelled')),
            started_at TEXT COLLATE "C" NOT NULL,
            ended_at TEXT,
            steps BIGINT NOT NULL DEFAULT 0,
            llm_calls BIGINT NOT NULL DEFAULT 0,
            input_tokens BIGINT NOT NULL DEFAULT 0,
            output_tokens BIGINT NOT NULL DEFAULT 0,
            cost_nano_usd BIGINT NOT NULL DEFAULT 0,
            checkpoint_id TEXT,
            error TEXT,
            -- what the starter added (JSON object, kept as written)
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        "CREATE INDEX runs_by_thread ON runs (thread_id, started_at, seq)",
        "CREATE INDEX runs_by_start ON runs (started_at, seq)",
        # one row per task (a node run in a superstep) of a run
        """CREATE TABLE tasks (
            run_id TEXT COLLATE "C" NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            task_id TEXT COLLATE "C" NOT NULL,
            seq BIGINT GENERATED ALWAYS AS IDENTITY,
            step BIGINT NOT NULL,
            node TEXT COLLATE "C" NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'done', 'failed', 'interrupted', 'cancelled')),
            started_at TEXT COLLATE "C" NOT NULL,
            ended_at TEXT,
            duration_ms DOUBLE PRECISION,
            error TEXT,
            PRIMARY KEY (run_id, task_id)
        )""",
        """CREATE TABLE workflow_tasks (
            workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
            run_id TEXT COLLATE "C" NOT NULL,
            task_id TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (workflow_id, run_id, task_id),
            FOREIGN KEY (run_id, task_id) REFERENCES tasks (run_id, task_id) ON DELETE CASCADE
        )""",
        "CREATE INDEX workflow_tasks_by_task ON workflow_tasks (run_id, task_id)",
        # the audit log of tool executions (arguments are stored redacted)
        """CREATE TABLE tool_executions (
            id TEXT PRIMARY KEY,
            seq BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            run_id TEXT,
            thread_id TEXT,
            node TEXT,
            tool TEXT NOT NULL,
            arguments TEXT NOT NULL,
            result_summary TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            duration_ms DOUBLE PRECISION NOT NULL,
            created_at TEXT COLLATE "C" NOT NULL
        )""",
        "CREATE INDEX tool_executions_by_run ON tool_executions (run_id, created_at)",
        # who holds each thread: at most one run (checkpoint/_records.py decides who may
        # take it over; the row is locked while it does)
        """CREATE TABLE leases (
            thread_id TEXT COLLATE "C" PRIMARY KEY,
            run_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            expires_at DOUBLE PRECISION NOT NULL
        )""",
    ],
]


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
RUN_VIEWS_MIGRATIONS: list[list[str]] = [
    [
        # newest first of a status; with the cost, the counters by status read it alone
        "CREATE INDEX IF NOT EXISTS runs_by_status "
        "ON runs (status, started_at, seq, cost_nano_usd)",
        "CREATE INDEX IF NOT EXISTS runs_by_graph ON runs (graph, started_at, seq)",
    ],
]
