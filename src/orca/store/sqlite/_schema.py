"""Every table of Orca's own databases, declared here and nowhere else.

Each database is a list of migrations; migration N brings it from version N-1 to N.
Migrations are append-only and never lose a row (a table SQLite cannot alter in place is
rebuilt with every row copied), so an older file opens with a newer Orca. A file holds
one or more components (``user``, ``project``, ``checkpoints``), each with its own
version in ``orca_schema``.
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

USER_MIGRATIONS.append(
    [
        # Budgets. ``unit`` is what the limit counts: usd (nano-USD), tokens, or seconds
        # (milliseconds of run wall time). ``scope`` is global (the active one, or one
        # named for a run) or workflow/run/session, with ``scope_ref`` naming which.
        """CREATE TABLE budgets (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('credit', 'recurring')),
            period TEXT CHECK (period IN ('daily', 'weekly', 'monthly')),
            timezone TEXT NOT NULL DEFAULT 'UTC',
            unit TEXT NOT NULL DEFAULT 'usd' CHECK (unit IN ('usd', 'tokens', 'seconds')),
            amount INTEGER NOT NULL CHECK (amount > 0),
            enforcement TEXT NOT NULL CHECK (enforcement IN ('warn', 'block')),
            thresholds TEXT NOT NULL DEFAULT '[80, 100]',
            scope TEXT NOT NULL DEFAULT 'global'
                CHECK (scope IN ('global', 'workflow', 'run', 'session')),
            scope_ref TEXT,
            active INTEGER NOT NULL DEFAULT 0 CHECK (active IN (0, 1)),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            CHECK ((kind = 'recurring') = (period IS NOT NULL)),
            CHECK ((scope = 'global') = (scope_ref IS NULL))
        )""",
        "CREATE UNIQUE INDEX budgets_one_active ON budgets (active) WHERE active = 1",
        "CREATE INDEX budgets_by_scope ON budgets (scope, scope_ref)",
        # One row per budget and calendar period (a credit budget has one, open-ended).
        # The block-mode invariant lives here: spent + reserved <= amount.
        """CREATE TABLE budget_periods (
            id INTEGER PRIMARY KEY,
            budget_id TEXT NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
            period_start TEXT NOT NULL,
            period_end TEXT,
            amount INTEGER NOT NULL,
            spent INTEGER NOT NULL DEFAULT 0,
            reserved INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
            fired TEXT NOT NULL DEFAULT '[]',
            UNIQUE (budget_id, period_start)
        )""",
        # A reservation for one call (or one run's wall time): its parts hold amounts in
        # each budget period it touches. ``state``: held -> recorded (the answer is in,
        # usage kept here) -> settled, or held -> released / expired.
        """CREATE TABLE holds (
            id TEXT PRIMARY KEY,
            state TEXT NOT NULL
                CHECK (state IN ('held', 'recorded', 'settled', 'released', 'expired')),
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            context TEXT NOT NULL DEFAULT '{}',
            recorded TEXT
        )""",
        "CREATE INDEX holds_open ON holds (expires_at) WHERE state IN ('held', 'recorded')",
        """CREATE TABLE hold_parts (
            hold_id TEXT NOT NULL REFERENCES holds (id) ON DELETE CASCADE,
            period_id INTEGER NOT NULL REFERENCES budget_periods (id) ON DELETE CASCADE,
            amount INTEGER NOT NULL CHECK (amount >= 0),
            PRIMARY KEY (hold_id, period_id)
        )""",
        # The usage ledger: one row per metered call; what it cost, in which context.
        """CREATE TABLE usage (
            id TEXT PRIMARY KEY,
            hold_id TEXT UNIQUE,
            created_at TEXT NOT NULL,
            run_id TEXT,
            thread_id TEXT,
            workflow TEXT,
            session TEXT,
            node TEXT,
            task_id TEXT,
            role TEXT,
            provider TEXT NOT NULL,
            model TEXT NOT NULL,
            input_tokens INTEGER NOT NULL,
            cache_read_tokens INTEGER NOT NULL,
            cache_write_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            reasoning_tokens INTEGER NOT NULL,
            cost_nano INTEGER NOT NULL,
            priced INTEGER NOT NULL,
            estimated INTEGER NOT NULL,
            wall_ms INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE INDEX usage_by_time ON usage (created_at)",
        "CREATE INDEX usage_by_run ON usage (run_id)",
        # What each usage row charged to each budget period (in that budget's unit).
        """CREATE TABLE usage_charges (
            usage_id TEXT NOT NULL REFERENCES usage (id) ON DELETE CASCADE,
            period_id INTEGER NOT NULL REFERENCES budget_periods (id) ON DELETE CASCADE,
            amount INTEGER NOT NULL,
            PRIMARY KEY (usage_id, period_id)
        )""",
        # Named settings kept by Orca itself (never secrets).
        """CREATE TABLE configurations (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
    ]
)

USER_MIGRATIONS.append(
    [
        # one name for nano-USD everywhere (events, rows, --json): cost_nano_usd
        "ALTER TABLE usage RENAME COLUMN cost_nano TO cost_nano_usd",
    ]
)

USER_MIGRATIONS.append(
    [
        # Holds of live calls are renewed by their holder (``expires_at`` moves on);
        # ``holder`` names the process that took one, for people reading the rows.
        "ALTER TABLE holds ADD COLUMN holder TEXT",
        # an answer recorded after its hold expired waits here for a settle (or a sweep)
        "CREATE INDEX holds_late ON holds (id) WHERE state = 'expired' AND recorded IS NOT NULL",
        # A charge a block budget could not afford (a swept hold settled late, a provider
        # reporting more than the reservation) is still recorded: ``overdraft`` sums what
        # went past the amount, and ``overdrawn_at`` marks the period refused to every
        # reservation until the budget is raised.
        "ALTER TABLE budget_periods ADD COLUMN overdraft INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE budget_periods ADD COLUMN overdrawn_at TEXT",
        "ALTER TABLE usage_charges ADD COLUMN overdraft INTEGER NOT NULL DEFAULT 0",
        # the provider reported more than the call's reservation (its bound)
        "ALTER TABLE usage ADD COLUMN over_bound INTEGER NOT NULL DEFAULT 0",
    ]
)

PROJECT_COMPONENT = "project"

PROJECT_MIGRATIONS: list[list[str]] = [
    [
        # a workflow is a graph known by name and where its code lives (PATH:graph)
        """CREATE TABLE workflows (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
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
            pid INTEGER
        )""",
        # one row per run of a workflow on a thread
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            thread_id TEXT NOT NULL,
            workflow_id TEXT REFERENCES workflows (id),
            session_id TEXT REFERENCES sessions (id),
            status TEXT NOT NULL
                CHECK (status IN ('running', 'done', 'interrupted', 'failed')),
            started_at TEXT NOT NULL,
            ended_at TEXT,
            steps INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost_nano INTEGER NOT NULL DEFAULT 0,
            budget TEXT,
            profile TEXT,
            on_budget_exceeded TEXT,
            error TEXT,
            parent_run_id TEXT
        )""",
        "CREATE INDEX runs_by_thread ON runs (thread_id, started_at)",
        # one row per task (a node run in a superstep) and its lifecycle
        """CREATE TABLE tasks (
            id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            step INTEGER NOT NULL,
            node TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted')),
            started_at TEXT NOT NULL,
            ended_at TEXT,
            duration_ms REAL,
            error TEXT
        )""",
        "CREATE INDEX tasks_by_run ON tasks (run_id, step)",
        """CREATE TABLE workflow_tasks (
            workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
            task_id TEXT NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
            PRIMARY KEY (workflow_id, task_id)
        )""",
        # the audit log of tool executions (arguments are stored redacted)
        """CREATE TABLE tool_executions (
            id TEXT PRIMARY KEY,
            run_id TEXT,
            thread_id TEXT,
            node TEXT,
            tool TEXT NOT NULL,
            arguments TEXT NOT NULL,
            result_summary TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL,
            duration_ms REAL NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX tool_executions_by_run ON tool_executions (run_id, created_at)",
    ],
]

PROJECT_MIGRATIONS.append(
    [
        # Run records written by the core, and thread leases. SQLite cannot alter a CHECK
        # constraint, so runs, tasks and workflow_tasks are rebuilt, every row copied
        # (rowids kept, so "first stored" order survives). Each new table is built beside
        # the old one and renamed into place only after the old ones are dropped: the
        # renames carry the foreign keys over, and dropping an old parent never cascades
        # into a copied child.
        """CREATE TABLE runs_v2 (
            id TEXT PRIMARY KEY,
            thread_id TEXT NOT NULL,
            graph TEXT NOT NULL DEFAULT '',
            workflow_id TEXT REFERENCES workflows (id),
            -- no foreign key: a library or server run may name a session no one recorded
            session_id TEXT,
            parent_run_id TEXT,
            status TEXT NOT NULL CHECK (status IN
                ('queued', 'running', 'interrupted', 'done', 'failed', 'cancelled')),
            started_at TEXT NOT NULL,
            ended_at TEXT,
            steps INTEGER NOT NULL DEFAULT 0,
            llm_calls INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost_nano_usd INTEGER NOT NULL DEFAULT 0,
            checkpoint_id TEXT,
            error TEXT,
            -- what the starter added (JSON object): the CLI's session, budget, profile,
            -- on_budget_exceeded, parent_run and workflow source
            metadata TEXT NOT NULL DEFAULT '{}'
        )""",
        # the old CLI columns move into metadata (json_patch drops the NULL ones)
        """INSERT INTO runs_v2 (rowid, id, thread_id, graph, workflow_id, session_id,
            parent_run_id, status, started_at, ended_at, steps, input_tokens, output_tokens,
            cost_nano_usd, error, metadata)
        SELECT r.rowid, r.id, r.thread_id, COALESCE(w.name, ''), r.workflow_id, r.session_id,
            r.parent_run_id, r.status, r.started_at, r.ended_at, r.steps, r.input_tokens,
            r.output_tokens, r.cost_nano, r.error,
            json_patch('{}', json_object(
                'session', r.session_id, 'parent_run', r.parent_run_id, 'budget', r.budget,
                'profile', r.profile, 'on_budget_exceeded', r.on_budget_exceeded,
                'source', w.source))
        FROM runs AS r LEFT JOIN workflows AS w ON w.id = r.workflow_id""",
        # a task is known by (run, task id): two runs of one thread share task ids
        """CREATE TABLE tasks_v2 (
            run_id TEXT NOT NULL REFERENCES runs_v2 (id) ON DELETE CASCADE,
            task_id TEXT NOT NULL,
            step INTEGER NOT NULL,
            node TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'done', 'failed', 'interrupted', 'cancelled')),
            started_at TEXT NOT NULL,
            ended_at TEXT,
            duration_ms REAL,
            error TEXT,
            PRIMARY KEY (run_id, task_id)
        )""",
        # the old key was run_id || '/' || task_id
        """INSERT INTO tasks_v2 (rowid, run_id, task_id, step, node, status, started_at,
            ended_at, duration_ms, error)
        SELECT rowid, run_id,
            CASE WHEN substr(id, 1, length(run_id) + 1) = run_id || '/'
                THEN substr(id, length(run_id) + 2) ELSE id END,
            step, node, status, started_at, ended_at, duration_ms, error
        FROM tasks""",
        """CREATE TABLE workflow_tasks_v2 (
            workflow_id TEXT NOT NULL REFERENCES workflows (id) ON DELETE CASCADE,
            run_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            PRIMARY KEY (workflow_id, run_id, task_id),
            FOREIGN KEY (run_id, task_id) REFERENCES tasks_v2 (run_id, task_id)
                ON DELETE CASCADE
        )""",
        """INSERT INTO workflow_tasks_v2 (workflow_id, run_id, task_id)
        SELECT wt.workflow_id, t.run_id,
            CASE WHEN substr(t.id, 1, length(t.run_id) + 1) = t.run_id || '/'
                THEN substr(t.id, length(t.run_id) + 2) ELSE t.id END
        FROM workflow_tasks AS wt JOIN tasks AS t ON t.id = wt.task_id""",
        "DROP TABLE workflow_tasks",
        "DROP TABLE tasks",
        "DROP TABLE runs",
        "ALTER TABLE runs_v2 RENAME TO runs",
        "ALTER TABLE tasks_v2 RENAME TO tasks",
        "ALTER TABLE workflow_tasks_v2 RENAME TO workflow_tasks",
        "CREATE INDEX runs_by_thread ON runs (thread_id, started_at)",
        "CREATE INDEX runs_by_start ON runs (started_at)",
        # (a run's tasks are found through the primary key: its first column is run_id)
        # who holds each thread: at most one run (checkpoint/_records.py decides who may
        # take it over)
        """CREATE TABLE leases (
            thread_id TEXT PRIMARY KEY,
            run_id TEXT NOT NULL,
            owner TEXT NOT NULL,
            expires_at REAL NOT NULL
        )""",
    ]
)

CHECKPOINT_COMPONENT = "checkpoints"

CHECKPOINT_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE checkpoints (
            thread_id TEXT NOT NULL,
            checkpoint_id TEXT NOT NULL,
            seq INTEGER NOT NULL,
            parent_id TEXT,
            step INTEGER NOT NULL,
            body BLOB NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (thread_id, checkpoint_id)
        ) WITHOUT ROWID""",
        "CREATE UNIQUE INDEX checkpoints_by_seq ON checkpoints (thread_id, seq)",
        # a rowid table: values of a KiB or more would spill a WITHOUT ROWID page
        """CREATE TABLE checkpoint_blobs (
            thread_id TEXT NOT NULL,
            channel TEXT NOT NULL,
            base TEXT NOT NULL,
            pos INTEGER NOT NULL,
            data BLOB NOT NULL
        )""",
        "CREATE UNIQUE INDEX checkpoint_blobs_by_key "
        "ON checkpoint_blobs (thread_id, channel, base, pos)",
        """CREATE TABLE checkpoint_writes (
            thread_id TEXT NOT NULL,
            checkpoint_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            idx INTEGER NOT NULL,
            kind TEXT NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (thread_id, checkpoint_id, idx)
        ) WITHOUT ROWID""",
    ],
    [
        # The event log: a superstep's events are one row, written in its checkpoint's
        # transaction. A rowid table with no index: an append touches only its last page
        # (reading a run's events scans the log, which is rare and sequential).
        """CREATE TABLE events (
            thread_id TEXT NOT NULL,
            run_id TEXT NOT NULL,
            batch BLOB NOT NULL
        )""",
    ],
    [
        # A superstep's events ride in its checkpoint's row when they are small: the
        # commit then writes no page it would not write anyway. Large batches, events
        # after a run's last checkpoint, and those of pruned checkpoints go to `events`.
        "ALTER TABLE checkpoints ADD COLUMN events BLOB",
        "ALTER TABLE checkpoints ADD COLUMN events_run TEXT",
    ],
    [
        # Call records: the LLM answers and tool results a task completed, so the task
        # run again is answered from them (paid once). A rowid table: answers run to KiBs.
        """CREATE TABLE call_records (
            thread_id TEXT NOT NULL,
            task_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            digest TEXT NOT NULL,
            occurrence INTEGER NOT NULL,
            checkpoint_id TEXT NOT NULL,
            run_id TEXT NOT NULL,
            value BLOB NOT NULL,
            created_at TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX call_records_by_key "
        "ON call_records (thread_id, task_id, kind, digest, occurrence)",
    ],
    [
        # Event log reads cost what they return: each batch row knows its first and last
        # seq and its first event's ts, and an index by run (in ts, seq order, covering
        # the seq range) finds the rows of a range without reading the others, so that
        # `orca runs events RUN --max 10` decodes one row however long the run. A batch
        # riding in its checkpoint's row is found through the run's thread, whose rows are
        # in seq order already (an index of its own would cost every commit a page). Existing
        # rows are numbered from their JSON; a damaged one stays NULL and is read (and
        # reported) first.
        "ALTER TABLE events ADD COLUMN first_seq INTEGER",
        "ALTER TABLE events ADD COLUMN last_seq INTEGER",
        "ALTER TABLE events ADD COLUMN first_ts REAL",
        "ALTER TABLE checkpoints ADD COLUMN events_first INTEGER",
        "ALTER TABLE checkpoints ADD COLUMN events_last INTEGER",
        "ALTER TABLE checkpoints ADD COLUMN events_ts REAL",
        """UPDATE events SET
            first_seq = json_extract(CAST(batch AS TEXT), '$[0][1].seq'),
            last_seq = json_extract(CAST(batch AS TEXT), '$[#-1][1].seq'),
            first_ts = json_extract(CAST(batch AS TEXT), '$[0][1].ts')
        WHERE json_valid(CAST(batch AS TEXT))""",
        """UPDATE checkpoints SET
            events_first = json_extract(CAST(events AS TEXT), '$[0][1].seq'),
            events_last = json_extract(CAST(events AS TEXT), '$[#-1][1].seq'),
            events_ts = json_extract(CAST(events AS TEXT), '$[0][1].ts')
        WHERE events IS NOT NULL AND json_valid(CAST(events AS TEXT))""",
        "CREATE INDEX events_by_run_seq ON events (run_id, first_ts, first_seq, last_seq)",
    ],
]

TASKS_COMPONENT = "tasks"

# The server's LLM tasks (``POST /v1/tasks``), their event streams, their sessions and the
# artifact registry, in the project database: a component of its own, so that it migrates
# apart from the engine's tables.
TASKS_MIGRATIONS: list[list[str]] = [
    [
        # one row per accepted task, stored before the server answers 202; ``body`` is the
        # request as taken (JSON) and ``digest`` its hash, so that the same task_id sent
        # again is recognised (the same body) or refused (another)
        """CREATE TABLE llm_tasks (
            id TEXT PRIMARY KEY,
            session_id TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
            priority TEXT NOT NULL CHECK (priority IN ('interactive', 'batch')),
            model_ref TEXT NOT NULL,
            engine TEXT NOT NULL,
            model TEXT NOT NULL,
            body TEXT NOT NULL,
            digest TEXT NOT NULL,
            created_at TEXT NOT NULL,
            started_at TEXT,
            ended_at TEXT,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost_nano_usd INTEGER NOT NULL DEFAULT 0,
            decode_ms REAL,
            error_code TEXT,
            error TEXT
        )""",
        "CREATE INDEX llm_tasks_by_status ON llm_tasks (status, created_at)",
        "CREATE INDEX llm_tasks_by_session ON llm_tasks (session_id, created_at)",
        # a task's stream as its readers got it (``seq`` is the SSE id), kept so that a
        # reader may resume or join after the end
        """CREATE TABLE llm_task_events (
            task_id TEXT NOT NULL REFERENCES llm_tasks (id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            type TEXT NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (task_id, seq)
        ) WITHOUT ROWID""",
        # a session: the tasks sent under one session_id while it lives (``expires_at``
        # moves on with each turn); its totals are those of its finished tasks
        """CREATE TABLE llm_sessions (
            id TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            last_used_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            ttl_ms INTEGER NOT NULL,
            turns INTEGER NOT NULL DEFAULT 0,
            input_tokens INTEGER NOT NULL DEFAULT 0,
            output_tokens INTEGER NOT NULL DEFAULT 0,
            cost_nano_usd INTEGER NOT NULL DEFAULT 0,
            decode_ms REAL NOT NULL DEFAULT 0
        )""",
        # content-addressed artifacts: ``id`` is sha256 of the content
        """CREATE TABLE artifacts (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('plan', 'summary', 'diff', 'trace')),
            media_type TEXT NOT NULL,
            content BLOB NOT NULL,
            size INTEGER NOT NULL,
            session_id TEXT,
            task_id TEXT,
            metadata TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL
        )""",
        "CREATE INDEX artifacts_by_kind ON artifacts (kind, created_at)",
        "CREATE INDEX artifacts_by_session ON artifacts (session_id, created_at)",
        """CREATE TABLE artifact_tags (
            artifact_id TEXT NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (tag, artifact_id)
        ) WITHOUT ROWID""",
        # lineage: what each artifact was made from
        """CREATE TABLE artifact_parents (
            artifact_id TEXT NOT NULL REFERENCES artifacts (id) ON DELETE CASCADE,
            parent_id TEXT NOT NULL REFERENCES artifacts (id),
            PRIMARY KEY (artifact_id, parent_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX artifact_children ON artifact_parents (parent_id)",
    ],
]

TOKEN_COMPONENT = "tokens"

TOKEN_MIGRATIONS: list[list[str]] = [
    [
        # The server's bearer tokens, in the project database. Only a SHA-256 of each
        # token is kept (a token is 256 random bits, so a plain hash is enough: nothing
        # to guess from it); ``id`` is the token's public part, used to find its row.
        # ``scope`` is the highest it grants: admin > run > read.
        """CREATE TABLE api_tokens (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            scope TEXT NOT NULL CHECK (scope IN ('read', 'run', 'admin')),
            token_sha256 TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            last_used_at TEXT,
            revoked_at TEXT
        )""",
        # one live token per name; a revoked one keeps its row (and its name) for the record
        "CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL",
    ],
    [
        # Tenants (orgs.): the registry, in the default tenant's database; each tenant's
        # own data lives in its own files (orca.store._tenants). A token belongs to one
        # tenant, and its name is unique among that tenant's live tokens.
        """CREATE TABLE tenants (
            name TEXT PRIMARY KEY,
            display_name TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            disabled_at TEXT
        ) WITHOUT ROWID""",
        "INSERT INTO tenants (name, display_name, created_at) VALUES ('default', 'Default', "
        "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now'))",
        "ALTER TABLE api_tokens ADD COLUMN tenant TEXT NOT NULL DEFAULT 'default'",
        "DROP INDEX api_tokens_live_name",
        "CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (tenant, name) "
        "WHERE revoked_at IS NULL",
    ],
]

FLOWS_COMPONENT = "flows"

FLOWS_MIGRATIONS: list[list[str]] = [
    [
        # Saved versions of declarative workflows ("flows"), in the project database. A
        # version never changes once saved: (name, version) is the key, and ``hash`` (the
        # content's sha256, canvas positions left out) is what a save compares against.
        # ``document`` is the flow as JSON. Versions order by semantic-version precedence,
        # which SQL cannot sort (prereleases), so the repository sorts them.
        """CREATE TABLE flow_versions (
            name TEXT NOT NULL,
            version TEXT NOT NULL,
            hash TEXT NOT NULL,
            document TEXT NOT NULL,
            message TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (name, version)
        ) WITHOUT ROWID""",
    ],
]

RUN_VIEWS_COMPONENT = "run_views"

# Indexes for the reads of many runs at once (the web UI's runs page: by status, by
# workflow, newest first), in the project database: a component of its own, created by
# the first ``SqliteRunViews`` opened on the file (a server's), so a project only ever run
# from the CLI or the library does not keep them up at each run record it writes.
RUN_VIEWS_MIGRATIONS: list[list[str]] = [
    [
        # newest first of a status; with the cost, the counters by status read it alone
        "CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, started_at, cost_nano_usd)",
        "CREATE INDEX IF NOT EXISTS runs_by_graph ON runs (graph, started_at)",
    ],
]

QUEUE_COMPONENT = "queue"

# The durable run queue ``orca worker`` processes claim from (``SqliteRunQueue``), in the
# project database: a component of its own, created by the first queue opened on the file.
QUEUE_MIGRATIONS: list[list[str]] = [
    [
        # one item per run, ever; ``seq`` is its age (claims take the oldest first among
        # equals). Times a lease compares are epoch seconds of the store's clock.
        """CREATE TABLE run_queue (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            run_id TEXT NOT NULL UNIQUE,
            queue TEXT NOT NULL,
            workflow TEXT NOT NULL,
            tenant TEXT NOT NULL,
            priority INTEGER NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
            attempts INTEGER NOT NULL DEFAULT 0,
            worker_id TEXT,
            lease_expires_at REAL,
            lease_s REAL,
            available_at REAL NOT NULL,
            cancel_requested INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
            enqueued_at TEXT NOT NULL,
            claimed_at TEXT,
            ended_at TEXT,
            error TEXT,
            result TEXT,
            CHECK ((status = 'running') = (worker_id IS NOT NULL AND lease_expires_at IS NOT NULL))
        )""",
        # what a claim reads: the waiting items in claim order, and the running ones
        "CREATE INDEX run_queue_waiting ON run_queue (queue, priority DESC, seq) "
        "WHERE status = 'queued'",
        "CREATE INDEX run_queue_running ON run_queue (lease_expires_at) WHERE status = 'running'",
        # the worker processes seen (``orca doctor``); ``last_seen`` is epoch seconds
        """CREATE TABLE queue_workers (
            worker_id TEXT PRIMARY KEY,
            host TEXT NOT NULL,
            pid INTEGER NOT NULL,
            queues TEXT NOT NULL,
            started_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            last_seen REAL NOT NULL,
            stopped_at TEXT
        ) WITHOUT ROWID""",
    ],
]

SECRETS_COMPONENT = "secrets"

# A tenant's stored secrets (provider API keys), in the project database: a component of
# its own, created by the first ``SqliteSecrets`` opened on the file. Values are sealed
# (AES-256-GCM, see store/_sealing.py): ``nonce`` is the write's random 96 bits,
# ``ciphertext`` holds the GCM tag at its end, ``key_id`` names the master key that
# sealed it (a hash of it, so a wrong key is told apart from a damaged row) and
# ``fingerprint`` tells values apart without revealing them. No plaintext is kept.
SECRETS_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE secrets (
            name TEXT PRIMARY KEY,
            nonce BLOB NOT NULL,
            ciphertext BLOB NOT NULL,
            key_id TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID""",
    ],
]

CATALOG_COMPONENT = "catalog"

# The model catalog (``SqliteCatalog``), in the default tenant's project database: the
# installation's model files by digest, created by the first catalog opened on the file.
# ``metadata`` (the GGUF header's values) and ``tags`` (a sorted array) are JSON text;
# ``stamp`` is the file's identity when it was last hashed (device, inode, size, mtime,
# ctime): a use hashes the file again when it differs.
CATALOG_MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE catalog_models (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            path TEXT NOT NULL,
            digest TEXT NOT NULL UNIQUE,
            size_bytes INTEGER NOT NULL CHECK (size_bytes >= 0),
            stamp TEXT NOT NULL,
            format TEXT NOT NULL,
            metadata TEXT NOT NULL,
            tags TEXT NOT NULL,
            state TEXT NOT NULL
                CHECK (state IN ('draft', 'active', 'canary', 'deprecated', 'retired')),
            trust TEXT NOT NULL CHECK (trust IN ('unverified', 'verified', 'untrusted')),
            verified_at TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        ) WITHOUT ROWID""",
    ],
]
