"""Every table of Orca's own databases, declared here and nowhere else.

Each database is a list of migrations; migration N brings it from version N-1 to N.
Migrations are append-only and never destructive, so an older file opens with a newer
Orca. (Checkpoint tables are the checkpointer's own component: see
``orca.checkpoint._sqlite``.)
"""

from __future__ import annotations

USER_COMPONENT = "user"

USER_MIGRATIONS: list[list[str]] = [
    [
        # LLM profiles: a planner and a worker model; params are JSON objects
        """CREATE TABLE llm_profiles (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL DEFAULT '',
            planner_provider TEXT NOT NULL,
            planner_model TEXT NOT NULL,
            planner_params TEXT NOT NULL DEFAULT '{}',
            worker_provider TEXT NOT NULL,
            worker_model TEXT NOT NULL,
            worker_params TEXT NOT NULL DEFAULT '{}',
            active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        # at most one active profile, enforced by the database itself
        "CREATE UNIQUE INDEX llm_profiles_one_active ON llm_profiles (active) WHERE active = 1",
        # user price overrides, per 1M tokens, as exact decimal strings; time-versioned
        """CREATE TABLE llm_pricing (
            id TEXT PRIMARY KEY,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            effective_from TEXT NOT NULL,
            input_per_mtok TEXT NOT NULL,
            cached_input_per_mtok TEXT,
            cache_write_per_mtok TEXT,
            output_per_mtok TEXT NOT NULL,
            reasoning_per_mtok TEXT,
            note TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            UNIQUE (provider, model, effective_from)
        )""",
    ],
]
