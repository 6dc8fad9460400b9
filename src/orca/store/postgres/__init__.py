"""The PostgreSQL backend: every repository of Orca in one PostgreSQL database, through
one pool of connections (psycopg 3, ``psycopg_pool``).

Where the SQLite backend keeps two files (the user database and the project's), a
PostgreSQL store holds both: the user repositories (``ledger``, ``prices``,
``profiles``, ``configurations``, ``usage``) and the project ones (``checkpoints``,
``audit``, ``tasks``, ``artifacts``, ``tokens``, ``flows``, ``run_views``,
``catalog``) share the
database and its pool. Each repository creates and migrates its tables on first use
(``PgDb.prepare``, safe from many processes at once).

The repositories are synchronous, as the protocols are; their async twins run the same
code on the store's threads (``PgDb.submit``), so one implementation serves both faces
and the event loop never waits on the database.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from orca.store._clock import Clock, utc_now
from orca.store._sealing import KeySource
from orca.store._tenants import schema_of
from orca.store.postgres._checkpoints import PgCheckpointer
from orca.store.postgres._db import PgDb

if TYPE_CHECKING:
    from orca.store.postgres._artifacts import PgArtifacts
    from orca.store.postgres._audit import PgAudit
    from orca.store.postgres._catalog import PgCatalog
    from orca.store.postgres._config import PgConfigurations
    from orca.store.postgres._flows import PgFlows
    from orca.store.postgres._ledger import PgLedger
    from orca.store.postgres._prices import PgPrices
    from orca.store.postgres._profiles import PgProfiles
    from orca.store.postgres._queue import PgRunQueue
    from orca.store.postgres._runviews import PgRunViews
    from orca.store.postgres._secrets import PgSecrets
    from orca.store.postgres._tasks import PgTasks
    from orca.store.postgres._tokens import PgTenants, PgTokens
    from orca.store.postgres._usage import PgUsage

__all__ = ["PgCheckpointer", "PgDb", "PostgresStore"]

R = TypeVar("R")


class PostgresStore:
    """Orca's repositories over the PostgreSQL database at ``url``.

    Args:
        url: ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE``.
        clock: the current time for what the repositories stamp, and for when the
            ledger's holds expire (tests move it).
        hold_ttl_s: how long a ledger hold lives unless its holder renews it; then a
            sweep may release it.
        key: the setting that chose ``url``, named by configuration errors.
        pool_size: the most connections this store opens at once.
        tenant: the tenant whose store this is (``orca.store.DEFAULT_TENANT`` for the
            installation's own).
        secret_keys: where ``secrets`` finds the master key (default: ``KeySource()``,
            ``ORCA_SECRET_KEY`` or ``$ORCA_HOME/secret.key``).

    Raises:
        ConfigError: the URL cannot be parsed.
        StoreUnavailableError: the server does not accept a connection.
    """

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = utc_now,
        hold_ttl_s: float = 600.0,
        key: str = "store",
        pool_size: int = 8,
        tenant: str = "default",
        secret_keys: KeySource | None = None,
    ) -> None:
        self.tenant = tenant
        self.secret_keys = secret_keys if secret_keys is not None else KeySource()
        self.db = PgDb(url, key=key, max_size=pool_size, schema=schema_of(tenant))
        self.url = url
        self._clock = clock
        self._hold_ttl_s = hold_ttl_s
        self._repos: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<PostgresStore {self.db.where}>"

    def _repo(self, name: str, make: Callable[[], R]) -> R:
        """The repository ``name``, made on first use."""
        if name not in self._repos:
            self._repos[name] = make()
        repo: R = self._repos[name]
        return repo

    # The repositories, each made on first use (their modules are the files of this
    # package): checkpoints, ledger, prices, profiles, configurations, usage, audit,
    # tasks, artifacts, tokens, flows, run_views, catalog.

    @property
    def tenants(self) -> PgTenants:
        """The registry of tenants (use the default tenant's store)."""
        from orca.store.postgres._tokens import PgTenants

        return self._repo("tenants", lambda: PgTenants(self.db, clock=self._clock))

    @property
    def queue(self) -> PgRunQueue:
        """The durable run queue ``orca worker`` processes claim from (``RunQueue``)."""
        from orca.store.postgres._queue import PgRunQueue

        return self._repo("queue", lambda: PgRunQueue(self.db, clock=self._clock))

    @property
    def tasks(self) -> PgTasks:
        """The server's LLM tasks, their event streams and their sessions."""
        from orca.store.postgres._tasks import PgTasks

        return self._repo("tasks", lambda: PgTasks(self.db, clock=self._clock))

    @property
    def artifacts(self) -> PgArtifacts:
        """The artifact registry: content-addressed plans, summaries, diffs, traces."""
        from orca.store.postgres._artifacts import PgArtifacts

        return self._repo("artifacts", lambda: PgArtifacts(self.db, clock=self._clock))

    @property
    def tokens(self) -> PgTokens:
        """The server's bearer tokens (``TokenRepository``)."""
        from orca.store.postgres._tokens import PgTokens

        return self._repo("tokens", lambda: PgTokens(self.db, clock=self._clock))

    @property
    def flows(self) -> PgFlows:
        """Saved versions of declarative workflows (``FlowRepository``)."""
        from orca.store.postgres._flows import PgFlows

        return self._repo("flows", lambda: PgFlows(self.db, clock=self._clock))

    @property
    def ledger(self) -> PgLedger:
        """Budgets, holds and the usage they settle into."""
        from orca.store.postgres._ledger import PgLedger

        return self._repo(
            "ledger",
            lambda: PgLedger(self.db, clock=self._clock, hold_ttl_s=self._hold_ttl_s),
        )

    @property
    def prices(self) -> PgPrices:
        """The user's price overrides."""
        from orca.store.postgres._prices import PgPrices

        return self._repo("prices", lambda: PgPrices(self.db, clock=self._clock))

    @property
    def profiles(self) -> PgProfiles:
        """LLM profiles and the active one."""
        from orca.store.postgres._profiles import PgProfiles

        return self._repo("profiles", lambda: PgProfiles(self.db, clock=self._clock))

    @property
    def configurations(self) -> PgConfigurations:
        """Named settings Orca keeps."""
        from orca.store.postgres._config import PgConfigurations

        return self._repo("configurations", lambda: PgConfigurations(self.db, clock=self._clock))

    @property
    def usage(self) -> PgUsage:
        """Reports over the usage ledger."""
        from orca.store.postgres._usage import PgUsage

        return self._repo("usage", lambda: PgUsage(self.db))

    @property
    def checkpoints(self) -> PgCheckpointer:
        """Checkpoints and the event log of threads, run and task records, thread
        leases, and the project's workflows and sessions."""
        return self._repo("checkpoints", lambda: PgCheckpointer(self.db))

    @property
    def audit(self) -> PgAudit:
        """The tool-execution audit (``ToolAudit``)."""
        from orca.store.postgres._audit import PgAudit

        return self._repo("audit", lambda: PgAudit(self.db))

    @property
    def run_views(self) -> PgRunViews:
        """Runs listed by filters, counted and searched by their event log
        (``RunViews``)."""
        from orca.store.postgres._runviews import PgRunViews

        return self._repo("run_views", lambda: PgRunViews(self.db))

    @property
    def secrets(self) -> PgSecrets:
        """The tenant's sealed secrets (``SecretRepository``), sealed under the master
        key of ``secret_keys`` (which may be set any time: the repository follows it)."""
        from orca.store.postgres._secrets import PgSecrets

        made = self._repos.get("secrets")
        if made is not None and made.keys is not self.secret_keys:
            del self._repos["secrets"]
        return self._repo(
            "secrets",
            lambda: PgSecrets(
                self.db, tenant=self.tenant, keys=self.secret_keys, clock=self._clock
            ),
        )

    @property
    def catalog(self) -> PgCatalog:
        """The installation's model catalog (``CatalogRepository``; use the default
        tenant's store)."""
        from orca.store.postgres._catalog import PgCatalog

        return self._repo("catalog", lambda: PgCatalog(self.db, clock=self._clock))

    def open_user(self) -> None:
        """Create or migrate the user tables now rather than on first use.

        Raises:
            SchemaVersionError, CorruptDatabaseError, StoreUnavailableError.
        """
        from orca.store.postgres._schema import USER_COMPONENT, USER_MIGRATIONS

        self.db.prepare([(USER_COMPONENT, USER_MIGRATIONS)])

    def schema(self) -> dict[str, tuple[int, int]]:
        """Each component's schema version in the database and the version this Orca
        writes: ``{component: (found, supported)}`` (found 0: not created yet, it is on
        first use).

        Raises:
            StoreUnavailableError: the server cannot be reached.
        """
        from orca.store.postgres._schema import COMPONENTS

        found = self.db.versions()
        return {name: (found.get(name, 0), len(migrations)) for name, migrations in COMPONENTS}

    def damage(self, *, rows: bool = False) -> list[str]:
        """What is wrong with the database, one line per finding (empty when sound).
        PostgreSQL checks its own pages; this reports a server Orca cannot reach."""
        try:
            self.db.versions()
        except Exception as exc:
            return [str(exc)]
        return []

    def close(self) -> None:
        for repo in self._repos.values():
            close = getattr(repo, "close", None)
            if close is not None:
                close()
        self._repos.clear()
        self.db.close()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
