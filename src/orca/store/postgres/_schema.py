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
# As SQLite's: llm_tasks, llm_task_events, llm_sessions and the artifact registry. ``pos``
# (an identity) stands in for SQLite's rowid: the order rows were stored in, which breaks
# ties of ``created_at`` in listings. Text that is compared or ordered is ``COLLATE "C"``
# (byte order, as SQLite's), whatever the database's locale. ``decode_ms`` is a duration
# in milliseconds, not money, hence DOUBLE PRECISION.
TASKS_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE llm_tasks (
            id TEXT COLLATE "C" PRIMARY KEY,
            pos BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            session_id TEXT COLLATE "C",
            status TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
            priority TEXT NOT NULL CHECK (priority IN ('interactive', 'batch')),
            model_ref TEXT NOT NULL,
            engine TEXT NOT NULL,
            model TEXT NOT NULL,
            body TEXT NOT NULL,
            digest TEXT NOT NULL,
            created_at TEXT COLLATE "C" NOT NULL,
            started_at TEXT,
            ended_at TEXT,
            input_tokens BIGINT NOT NULL DEFAULT 0,
            output_tokens BIGINT NOT NULL DEFAULT 0,
            cost_nano_usd BIGINT NOT NULL DEFAULT 0,
            decode_ms DOUBLE PRECISION,
            error_code TEXT,
            error TEXT
        )""",
        "CREATE INDEX llm_tasks_by_status ON llm_tasks (status, created_at, pos)",
        "CREATE INDEX llm_tasks_by_session ON llm_tasks (session_id, created_at, pos)",
        "CREATE INDEX llm_tasks_by_time ON llm_tasks (created_at, pos)",
        """CREATE TABLE llm_task_events (
            task_id TEXT COLLATE "C" NOT NULL REFERENCES llm_tasks (id) ON DELETE CASCADE,
            seq BIGINT NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (task_id, seq)
        )""",
        """CREATE TABLE llm_sessions (
            id TEXT COLLATE "C" PRIMARY KEY,
            created_at TEXT NOT NULL,
            last_used_at TEXT NOT NULL,
            expires_at TEXT COLLATE "C" NOT NULL,
            ttl_ms BIGINT NOT NULL,
            turns BIGINT NOT NULL DEFAULT 0,
            input_tokens BIGINT NOT NULL DEFAULT 0,
            output_tokens BIGINT NOT NULL DEFAULT 0,
            cost_nano_usd BIGINT NOT NULL DEFAULT 0,
            decode_ms DOUBLE PRECISION NOT NULL DEFAULT 0
        )""",
        # content-addressed artifacts: ``id`` is sha256 of the content
        """CREATE TABLE artifacts (
            id TEXT COLLATE "C" PRIMARY KEY,
            pos BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('plan', 'summary', 'diff', 'trace')),
            media_type TEXT NOT NULL,
            content BYTEA NOT NULL,
            size BIGINT NOT NULL,
            session_id TEXT COLLATE "C",
            task_id TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at TEXT COLLATE "C" NOT NULL
        )""",
        "CREATE INDEX artifacts_by_kind ON artifacts (kind, created_at, pos)",
        "CREATE INDEX artifacts_by_session ON artifacts (session_id, created_at, pos)",
        "CREATE INDEX artifacts_by_time ON artifacts (created_at, pos)",
        """CREATE TABLE artifact_tags (
            artifact_id TEXT COLLATE "C" NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
            tag TEXT COLLATE "C" NOT NULL,
            PRIMARY KEY (tag, artifact_id)
        )""",
        "CREATE INDEX artifact_tags_of ON artifact_tags (artifact_id, tag)",
        # lineage: what each artifact was made from
        """CREATE TABLE artifact_parents (
            artifact_id TEXT COLLATE "C" NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
            parent_id TEXT COLLATE "C" NOT NULL REFERENCES artifacts (id),
            PRIMARY KEY (artifact_id, parent_id)
        )""",
        "CREATE INDEX artifact_children ON artifact_parents (parent_id, artifact_id)",
    ],
]


# -- tokens: the server's bearer tokens ---------------------------------------------------

TOKEN_COMPONENT = "tokens"
# As SQLite's: only each token's SHA-256 is kept; one live token per name (a partial
# unique index); ``pos`` stands in for SQLite's rowid (the order tokens were made in).
TOKEN_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE api_tokens (
            id TEXT COLLATE "C" PRIMARY KEY,
            pos BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            name TEXT COLLATE "C" NOT NULL,
            scope TEXT NOT NULL CHECK (scope IN ('read', 'run', 'admin')),
            token_sha256 TEXT NOT NULL UNIQUE,
            created_at TEXT COLLATE "C" NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        )""",
        "CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL",
    ],
]


# -- flows: saved versions of declarative workflows ---------------------------------------

FLOWS_COMPONENT = "flows"
# As SQLite's: (name, version) is the key and a version never changes once saved;
# ``document`` is the flow's JSON as given (TEXT, not JSONB, which would reorder its keys).
FLOWS_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE flow_versions (
            name TEXT COLLATE "C" NOT NULL,
            version TEXT COLLATE "C" NOT NULL,
            hash TEXT NOT NULL,
            document TEXT NOT NULL,
            message TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (name, version)
        )""",
    ],
]


# -- run_views: indexes for listing and searching runs ------------------------------------

RUN_VIEWS_COMPONENT = "run_views"
RUN_VIEWS_MIGRATIONS: list[list[str]] = []
