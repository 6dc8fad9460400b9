"""The SQLite backend: every repository of Orca over one SQLite file (WAL, one writer at a
time across processes, readers never blocked)."""

from __future__ import annotations

from pathlib import Path

from orca.errors import CheckpointError
from orca.store._clock import Clock, utc_now
from orca.store._sealing import KeySource
from orca.store.sqlite._artifacts import SqliteArtifacts
from orca.store.sqlite._audit import SqliteAudit
from orca.store.sqlite._catalog import SqliteCatalog
from orca.store.sqlite._checkpoints import SqliteCheckpointer
from orca.store.sqlite._config import SqliteConfigurations
from orca.store.sqlite._db import BUSY_TIMEOUT_MS
from orca.store.sqlite._flows import SqliteFlows
from orca.store.sqlite._integrity import decode_problems, page_problems
from orca.store.sqlite._ledger import SqliteLedger
from orca.store.sqlite._prices import SqlitePrices
from orca.store.sqlite._profiles import SqliteProfiles
from orca.store.sqlite._queue import SqliteRunQueue
from orca.store.sqlite._runviews import SqliteRunViews
from orca.store.sqlite._secrets import SqliteSecrets
from orca.store.sqlite._tasks import SqliteTasks
from orca.store.sqlite._tokens import SqliteTenants, SqliteTokens
from orca.store.sqlite._usage import SqliteUsage
from orca.store.sqlite._user_db import UserDb

__all__ = [
    "SqliteArtifacts",
    "SqliteAudit",
    "SqliteCatalog",
    "SqliteCheckpointer",
    "SqliteFlows",
    "SqliteLedger",
    "SqliteRunQueue",
    "SqliteRunViews",
    "SqliteSecrets",
    "SqliteStore",
    "SqliteTasks",
    "SqliteTenants",
    "SqliteTokens",
]


class SqliteStore:
    """Orca's repositories over the SQLite file ``path``; each repository creates and
    migrates its own tables the first time it is used.

    The user database's repositories (``ledger``, ``prices``, ``profiles``,
    ``configurations``, ``usage``) share one connection, opened on first use and closed
    by ``close()``.

    Args:
        path: the SQLite file.
        clock: the current time for what the user repositories stamp, and for when the
            ledger's holds expire (tests move it).
        hold_ttl_s: how long a ledger hold lives unless its holder renews it; then a
            sweep may release it.
        key: the setting that chose ``path``, named by the errors of opening it.
        busy_timeout_ms: how long a write waits for another process's lock before it
            raises ``DatabaseLockedError``.
        tenant: the tenant whose store this is (``orca.store.DEFAULT_TENANT`` for a
            single user's or the installation's own); repositories that bind data to its
            owner (encrypted secrets) read it.
        secret_keys: where ``secrets`` finds the master key (default: ``KeySource()``,
            ``ORCA_SECRET_KEY`` or ``$ORCA_HOME/secret.key``; ``Config.secret_keys()``
            adds ``[secrets] key_file``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock = utc_now,
        hold_ttl_s: float = 600.0,
        key: str = "store",
        busy_timeout_ms: int = BUSY_TIMEOUT_MS,
        tenant: str = "default",
        secret_keys: KeySource | None = None,
    ) -> None:
        self.path = str(path)
        self.tenant = tenant
        self.secret_keys = secret_keys if secret_keys is not None else KeySource()
        self._secrets: SqliteSecrets | None = None
        self._catalog: SqliteCatalog | None = None
        self.url = f"sqlite:///{self.path}"
        self._checkpoints: SqliteCheckpointer | None = None
        self._user = UserDb(self.path, key=key, clock=clock, busy_timeout_ms=busy_timeout_ms)
        self._hold_ttl_s = hold_ttl_s
        self._ledger: SqliteLedger | None = None
        self._audit: SqliteAudit | None = None
        self._tasks: SqliteTasks | None = None
        self._artifacts: SqliteArtifacts | None = None
        self._tokens: SqliteTokens | None = None
        self._tenants: SqliteTenants | None = None
        self._flows: SqliteFlows | None = None
        self._run_views: SqliteRunViews | None = None
        self._queue: SqliteRunQueue | None = None
        self._clock = clock

    def __repr__(self) -> str:
        return f"<SqliteStore {self.path!r}>"

    @property
    def checkpoints(self) -> SqliteCheckpointer:
        """Checkpoints and the event log of threads, run and task records, thread
        leases, and the project's workflows and sessions."""
        if self._checkpoints is None:
            self._checkpoints = SqliteCheckpointer(self.path)
        return self._checkpoints

    @property
    def ledger(self) -> SqliteLedger:
        """Budgets, holds and the usage they settle into."""
        if self._ledger is None:
            self._ledger = SqliteLedger(self._user, hold_ttl_s=self._hold_ttl_s)
        return self._ledger

    @property
    def prices(self) -> SqlitePrices:
        """The user's price overrides."""
        return SqlitePrices(self._user)

    @property
    def profiles(self) -> SqliteProfiles:
        """LLM profiles and the active one."""
        return SqliteProfiles(self._user)

    @property
    def configurations(self) -> SqliteConfigurations:
        """Named settings Orca keeps."""
        return SqliteConfigurations(self._user)

    @property
    def usage(self) -> SqliteUsage:
        """Reports over the usage ledger."""
        return SqliteUsage(self._user)

    def open_user(self) -> None:
        """Open (creating or migrating) the user tables now rather than on first use, so
        that a file Orca cannot use fails here.

        Raises:
            ConfigError, CorruptDatabaseError, SchemaVersionError, DatabaseLockedError:
                as ``orca.store.user_store``.
        """
        _ = self._user.conn

    @property
    def audit(self) -> SqliteAudit:
        """The tool-execution audit (``ToolAudit``)."""
        if self._audit is None:
            self._audit = SqliteAudit(self.path)
        return self._audit

    @property
    def tasks(self) -> SqliteTasks:
        """The server's LLM tasks, their event streams and their sessions."""
        if self._tasks is None:
            self._tasks = SqliteTasks(self.path, clock=self._clock)
        return self._tasks

    @property
    def artifacts(self) -> SqliteArtifacts:
        """The artifact registry: content-addressed plans, summaries, diffs, traces."""
        if self._artifacts is None:
            self._artifacts = SqliteArtifacts(self.path, clock=self._clock)
        return self._artifacts

    @property
    def tokens(self) -> SqliteTokens:
        """The server's bearer tokens (``TokenRepository``), in a project database."""
        if self._tokens is None:
            self._tokens = SqliteTokens(self.path, clock=self._clock)
        return self._tokens

    @property
    def tenants(self) -> SqliteTenants:
        """The registry of tenants (``TenantRepository``; use the default tenant's
        store)."""
        if self._tenants is None:
            self._tenants = SqliteTenants(self.path, clock=self._clock)
        return self._tenants

    @property
    def flows(self) -> SqliteFlows:
        """Saved versions of declarative workflows (``FlowRepository``), in a project
        database."""
        if self._flows is None:
            self._flows = SqliteFlows(self.path, clock=self._clock)
        return self._flows

    @property
    def run_views(self) -> SqliteRunViews:
        """Runs listed by filters, counted and searched by their event log
        (``RunViews``), in a project database."""
        if self._run_views is None:
            self._run_views = SqliteRunViews(self.path)
        return self._run_views

    @property
    def queue(self) -> SqliteRunQueue:
        """The durable run queue ``orca worker`` processes claim from (``RunQueue``), in
        a project database."""
        if self._queue is None:
            self._queue = SqliteRunQueue(self.path, clock=self._clock)
        return self._queue

    @property
    def secrets(self) -> SqliteSecrets:
        """The tenant's sealed secrets (``SecretRepository``), in a project database,
        sealed under the master key of ``secret_keys`` (which may be set any time: the
        repository follows it)."""
        if self._secrets is not None and self._secrets.keys is not self.secret_keys:
            self._secrets.close()
            self._secrets = None
        if self._secrets is None:
            self._secrets = SqliteSecrets(
                self.path, tenant=self.tenant, keys=self.secret_keys, clock=self._clock
            )
        return self._secrets

    @property
    def catalog(self) -> SqliteCatalog:
        """The installation's model catalog (``CatalogRepository``; use the default
        tenant's store)."""
        if self._catalog is None:
            self._catalog = SqliteCatalog(self.path, clock=self._clock)
        return self._catalog

    def damage(self, *, rows: bool = False) -> list[str]:
        """What is damaged in the file, one line per finding (empty when it is sound):
        SQLite's ``quick_check`` of every page and, with ``rows``, a decode of the rows
        read most often (recent runs, their events, their threads' latest checkpoints)."""
        problems = page_problems(self.path)
        if rows and not problems:
            try:
                problems = decode_problems(self.checkpoints)
            except CheckpointError as exc:  # the file cannot even be opened as Orca's
                problems = [str(exc)]
        return problems

    def close(self) -> None:
        if self._checkpoints is not None:
            self._checkpoints.close()
            self._checkpoints = None
        self._user.close()
        if self._audit is not None:
            self._audit.close()
            self._audit = None
        for tables in (self._tasks, self._artifacts):
            if tables is not None:
                tables.close()
        self._tasks = self._artifacts = None
        if self._tokens is not None:
            self._tokens.close()
            self._tokens = None
        if self._tenants is not None:
            self._tenants.close()
            self._tenants = None
        if self._flows is not None:
            self._flows.close()
            self._flows = None
        if self._run_views is not None:
            self._run_views.close()
            self._run_views = None
        if self._queue is not None:
            self._queue.close()
            self._queue = None
        if self._secrets is not None:
            self._secrets.close()
            self._secrets = None
        if self._catalog is not None:
            self._catalog.close()
            self._catalog = None

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
