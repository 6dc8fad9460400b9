"""Storage: the only package with SQL.

``open_store(url)`` opens a store by URL (``sqlite:///path``); a store offers Orca's
repositories (checkpoints and events, ...). Each backend is a module of its own
(``orca.store.sqlite``); the rest of Orca sees only the repositories' protocols.

Orca keeps two stores by default: the user database (``$ORCA_HOME/orca.db``: profiles,
prices, budgets, the usage ledger; ``user_store()``) and, per project,
``.orca/project.db`` (workflows, runs, tasks, sessions, checkpoints, tool executions, the server's
tokens, saved flow versions, the model catalog).
The user database's repositories are protocols (``LedgerRepository``,
``PriceRepository``, ``ProfileRepository``, ``ConfigurationRepository``,
``UsageRepository``), each with one conformance suite a backend must pass."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from orca.errors import ConfigError, DatabaseLockedError
from orca.store._audit import ToolAudit, ToolExecution
from orca.store._catalog import CatalogModel, CatalogRepository
from orca.store._clock import Clock, utc_now
from orca.store._flows import (
    FlowRepository,
    FlowSummary,
    FlowVersionInfo,
    SavedFlow,
    Semver,
    check_flow_name,
)
from orca.store._queue import Limits, QueueItem, RunQueue
from orca.store._runviews import EventHit, NodeTimes, RunFilter, RunStats, RunViews
from orca.store._sealing import KeySource
from orca.store._secrets import SecretRecord, SecretRepository
from orca.store._tenants import (
    DEFAULT_TENANT,
    TENANT_ENV,
    TenantRecord,
    TenantRepository,
    check_tenant,
    current_tenant,
    tenant_path,
)
from orca.store._tokens import SCOPES, TokenRecord, TokenRepository
from orca.store._url import StoreURL, parse_url
from orca.store._user import (
    BudgetRepository,
    ConfigurationRepository,
    LedgerRepository,
    ModelRecord,
    PriceRepository,
    ProfileRecord,
    ProfileRepository,
    UsageRepository,
    UserStore,
    check_profile_name,
)
from orca.store.sqlite import (
    SqliteAudit,
    SqliteCheckpointer,
    SqliteFlows,
    SqliteLedger,
    SqliteRunViews,
    SqliteStore,
    SqliteTokens,
    _db,
)

if TYPE_CHECKING:
    from orca.store.postgres import PgCheckpointer, PostgresStore

__all__ = [
    "DEFAULT_TENANT",
    "SCOPES",
    "STORE_ENV",
    "TENANT_ENV",
    "BudgetRepository",
    "CatalogModel",
    "CatalogRepository",
    "ConfigurationRepository",
    "EventHit",
    "FlowRepository",
    "FlowSummary",
    "FlowVersionInfo",
    "KeySource",
    "LedgerRepository",
    "Limits",
    "ModelRecord",
    "NodeTimes",
    "PriceRepository",
    "ProfileRecord",
    "ProfileRepository",
    "QueueItem",
    "RunFilter",
    "RunQueue",
    "RunStats",
    "RunViews",
    "SavedFlow",
    "SecretRecord",
    "SecretRepository",
    "Semver",
    "SqliteAudit",
    "SqliteCheckpointer",
    "SqliteFlows",
    "SqliteLedger",
    "SqliteRunViews",
    "SqliteStore",
    "SqliteTokens",
    "Store",
    "StoreCheckpointer",
    "StoreURL",
    "TenantRecord",
    "TenantRepository",
    "TokenRecord",
    "TokenRepository",
    "ToolAudit",
    "ToolExecution",
    "UsageRepository",
    "UserStore",
    "check_flow_name",
    "check_profile_name",
    "check_tenant",
    "configured_url",
    "current_tenant",
    "find_project",
    "open_store",
    "orca_home",
    "parse_url",
    "project_db_path",
    "project_store",
    "user_db_path",
    "user_store",
]


Store: TypeAlias = "SqliteStore | PostgresStore"
"""A store of either backend: the same repositories under the same names."""

StoreCheckpointer: TypeAlias = "SqliteCheckpointer | PgCheckpointer"
"""A store's ``checkpoints``: the ``Checkpointer`` protocol, with the project's run
records, workflows and sessions."""

STORE_ENV = "ORCA_STORE"
"""The environment variable naming one store for everything (``orca --store URL`` sets
it): the user repositories and the project's, in one SQLite file or one PostgreSQL
database. Unset, Orca keeps its two SQLite files."""


def open_store(
    url: str | Path,
    *,
    clock: Clock = utc_now,
    hold_ttl_s: float = 600.0,
    key: str = "store",
    tenant: str = DEFAULT_TENANT,
    pool_size: int = 8,
) -> Store:
    """The store at ``url``: ``sqlite:///relative.db``, ``sqlite:////abs/path.db`` or a
    plain file path (SQLite), or ``postgresql://USER:PASSWORD@HOST:PORT/DATABASE``; for
    a ``tenant`` other than the default, that tenant's namespace of it (its own files
    beside the SQLite file, its own PostgreSQL schema, with a pool of ``pool_size``
    connections).

    Raises:
        ConfigError: a URL Orca cannot open (the error names the fix).
        InvalidInputError: ``tenant`` is not a tenant name.
        StoreUnavailableError: the PostgreSQL server does not accept a connection.
    """
    check_tenant(tenant)
    parsed = parse_url(url)
    if parsed.scheme == "postgresql":
        from orca.store.postgres import PostgresStore

        return PostgresStore(
            parsed.path,
            clock=clock,
            hold_ttl_s=hold_ttl_s,
            key=key,
            tenant=tenant,
            pool_size=pool_size,
        )
    path = tenant_path(Path(parsed.path).expanduser(), tenant)
    return SqliteStore(path, clock=clock, hold_ttl_s=hold_ttl_s, key=key, tenant=tenant)


def configured_url() -> str | None:
    """The store every repository lives in when ``ORCA_STORE`` names one, else None."""
    url = os.environ.get(STORE_ENV, "").strip()
    return url or None


def orca_home() -> Path:
    """``$ORCA_HOME``, or ``~/.orca``."""
    home = os.environ.get("ORCA_HOME")
    return Path(home).expanduser() if home else Path.home() / ".orca"


def user_db_path() -> Path:
    """Where the user database lives: ``$ORCA_HOME/orca.db``."""
    return orca_home() / "orca.db"


def find_project(start: str | Path | None = None) -> Path:
    """The project directory: the nearest of ``start`` (default: the working directory)
    and its parents that holds a ``.orca`` folder, else ``start`` itself.

    Raises:
        ConfigError: ``start`` does not exist or is not a directory.
    """
    here = Path(start) if start is not None else Path.cwd()
    if not here.is_dir():
        raise ConfigError(
            f"project directory {str(here)!r} does not exist",
            key="project",
            fix="pass an existing directory with --project, or create it first",
        )
    here = here.resolve()
    for folder in (here, *here.parents):
        if (folder / ".orca").is_dir() and folder != Path.home():
            return folder
    return here


def project_db_path(project: str | Path | None = None) -> Path:
    """``<project>/.orca/project.db`` (the project is found with ``find_project``)."""
    return find_project(project) / ".orca" / "project.db"


def user_store(
    path: str | Path | None = None,
    *,
    clock: Clock = utc_now,
    hold_ttl_s: float = 600.0,
    tenant: str | None = None,
) -> Store:
    """The user database's store (``$ORCA_HOME/orca.db``, or ``path``), opened and
    migrated now. Close it (or use it as a context manager) when done.

    Args:
        path: another file than ``$ORCA_HOME/orca.db``.
        clock: the current time for what the repositories stamp and for hold expiry.
        hold_ttl_s: how long a ledger hold lives unless its holder renews it (a running
            call's meter renews it every third of that); then a sweep may release it.
        tenant: whose (default: ``current_tenant()``, the ``ORCA_TENANT`` one); another
            tenant's user database is ``$ORCA_HOME/tenants/<tenant>/orca.db`` (its budgets,
            prices, profiles and usage).

    Raises:
        ConfigError: ``ORCA_HOME`` (or ``path``) cannot be created or written.
        CorruptDatabaseError: the file is not Orca's, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
        DatabaseLockedError: another process held the lock past the busy timeout.
    """
    tenant = current_tenant() if tenant is None else check_tenant(tenant)
    url = configured_url() if path is None else None
    if url is not None:
        shared = open_store(url, clock=clock, hold_ttl_s=hold_ttl_s, key=STORE_ENV, tenant=tenant)
        try:
            shared.open_user()
        except BaseException:
            shared.close()
            raise
        return shared
    where = Path(path) if path is not None else tenant_path(user_db_path(), tenant)
    store = SqliteStore(where, clock=clock, hold_ttl_s=hold_ttl_s, key="ORCA_HOME", tenant=tenant)
    store.open_user()
    return store


def project_store(project: str | Path | None = None, *, tenant: str | None = None) -> Store:
    """The project's store, ``<project>/.orca/project.db`` (the project is found with
    ``find_project``), opened, created and migrated now; close it when done. ``tenant``
    (default: ``current_tenant()``): whose; another tenant's is
    ``<project>/.orca/tenants/<tenant>/project.db``.

    Raises:
        ConfigError: the project folder cannot be created or written.
        CorruptDatabaseError: the file is not Orca's, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
        DatabaseLockedError: another process held the lock past the busy timeout.
    """
    tenant = current_tenant() if tenant is None else check_tenant(tenant)
    url = configured_url()
    if url is not None:
        shared = open_store(url, key=STORE_ENV, tenant=tenant)
        try:
            shared.checkpoints.threads()  # creates and migrates its tables now
        except BaseException:
            shared.close()
            raise
        return shared
    path = tenant_path(project_db_path(project), tenant)
    store = SqliteStore(path, tenant=tenant)
    try:
        store.checkpoints  # noqa: B018 - opening it creates and migrates the file
    except (OSError, sqlite3.OperationalError) as exc:
        store.close()
        if _db.is_locked(exc):
            raise DatabaseLockedError(str(path)) from exc
        raise ConfigError(
            f"cannot use {path} ({exc})",
            key="project",
            fix=f"make {path.parent} a writable directory, or run Orca in a writable project",
        ) from exc
    return store
