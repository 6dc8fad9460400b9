"""One PostgreSQL database and its pool of connections, shared by a store's repositories.

Every repository of the PostgreSQL backend does its work through ``PgDb``: a
``transaction()`` (a pooled connection inside ``BEGIN ... COMMIT``, rolled back on any
error) or a ``read()`` (a pooled connection in autocommit, for single statements).
Schemas are components migrated by ``prepare``: versions in ``orca_schema``, forward
only, each component's migrations applied under a transaction-scoped advisory lock so
that any number of processes may open a new database at once.

Lost connections and a server that does not answer raise ``StoreUnavailableError``;
nothing a failed transaction did is kept, so a caller may retry.
"""

from __future__ import annotations

import asyncio
import logging
import select
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
import psycopg_pool
from psycopg import errors as pgerrors
from psycopg import sql

from orca.errors import ConfigError, CorruptDatabaseError, SchemaVersionError, StoreUnavailableError

Migrations = Sequence[Sequence[str]]
T = TypeVar("T")

# the pool logs every failed connection attempt (many a second while a server is down);
# Orca reports the outage itself, once, as StoreUnavailableError
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)

_LOCK_KEY = 0x0_0C_A5_C4_E3  # pg_advisory_xact_lock's key for migrations (any fixed int8)
SERIALIZATION_RETRIES = 8
"""How often a transaction that lost a serialization or deadlock race is run again."""


def redact(url: str) -> str:
    """``url`` without its password (for errors and logs)."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    host = info.get("host", "")
    port = info.get("port", "")
    user = info.get("user", "")
    db = info.get("dbname", "")
    who = f"{user}@" if user else ""
    where = f"{host}:{port}" if port else str(host)
    return f"postgresql://{who}{where}/{db}"


def _unavailable(exc: BaseException) -> bool:
    # a lost deadlock or serialization race is an OperationalError to psycopg, but the
    # server is there: ``retrying`` runs the transaction again
    return isinstance(exc, psycopg.OperationalError | psycopg_pool.PoolTimeout) and not isinstance(
        exc, pgerrors.QueryCanceled | pgerrors.LockNotAvailable | _LOST_RACE
    )


_LOST_RACE = (
    pgerrors.DeadlockDetected | pgerrors.SerializationFailure | pgerrors.TransactionRollback
)


HOT_S = 1.0
"""A connection lent again within this many seconds of its last loan is not checked by
a query (unless its socket is readable)."""
_lent: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = weakref.WeakKeyDictionary()


def check_idle(conn: psycopg.Connection[Any]) -> None:
    """The pool's check of a connection before it lends it, without a round trip while
    the connection is in steady use: an idle connection has nothing to read, so a
    readable socket means the server closed it (a restart, a killed backend) or sent a
    notice; that, or a connection not lent for ``HOT_S`` (a peer may have vanished
    without a word meanwhile), costs a query, and the pool replaces a connection that
    fails it. A server lost in the instant between two loans is found by the
    statement itself (``StoreUnavailableError``)."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("the connection is closed")
    now = time.monotonic()
    last = _lent.get(conn)
    _lent[conn] = now
    if last is None or now - last > HOT_S or _readable(conn.pgconn.socket):
        psycopg_pool.ConnectionPool.check_connection(conn)


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # pragma: no cover (no poll: Windows)


class PgDb:
    """A pool of connections to the database at ``url``.

    Args:
        url: ``postgresql://user:password@host:port/dbname`` (libpq's URL or key=value
            form; ``PG*`` environment variables fill in what it leaves out).
        key: the setting that chose the URL, named by configuration errors.
        min_size, max_size: the pool's bounds.
        timeout_s: how long a caller waits for a connection before
            ``StoreUnavailableError``.
        schema: the schema every connection works in (its ``search_path``; created by
            the first ``prepare``); None: the connection's own (``public``). A tenant's
            store has its own (``orca.store._tenants.schema_of``).
    """

    def __init__(
        self,
        url: str,
        *,
        key: str = "store",
        min_size: int = 1,
        max_size: int = 8,
        timeout_s: float = 10.0,
        schema: str | None = None,
    ) -> None:
        self.url = url
        self.schema = schema
        self.where = redact(url) + (f" (schema {schema})" if schema else "")
        self.key = key
        self._home: tuple[tuple[str, str], ...] | None = None
        self._prepared: set[str] = set()
        self._lock = threading.Lock()
        self._max_size = max_size
        self._executor: ThreadPoolExecutor | None = None
        try:
            psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ConfigError(
                f"store URL {self.where} cannot be parsed ({exc})",
                key=key,
                fix="write postgresql://USER:PASSWORD@HOST:PORT/DATABASE",
            ) from None
        self.pool = psycopg_pool.ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout_s,
            open=False,
            check=check_idle,
            kwargs={"connect_timeout": max(2, int(timeout_s))}
            | ({} if schema is None else {"options": f"-c search_path={schema}"}),
            name=f"orca:{self.where}",
        )
        # one plain attempt first: a server that refuses is said at once, not after the
        # pool's patient retries
        refused = _why_not(url, timeout_s)
        if refused is not None:
            raise StoreUnavailableError(self.where, refused)
        try:
            self.pool.open(wait=True, timeout=timeout_s)
        except psycopg_pool.PoolTimeout as exc:
            self.pool.close()
            raise StoreUnavailableError(self.where, _first_line(exc)) from None

    def __repr__(self) -> str:
        return f"<PgDb {self.where}>"

    def same_database(self, other: PgDb) -> bool:
        """Whether ``other``'s connections work in this one's database: the same pool,
        or the same connection parameters (server, database, user, options such as a
        ``search_path``), as two stores opened on one URL have. Two spellings of one
        server (``localhost``, ``127.0.0.1``) count as two databases: the answer errs
        on "no", which costs a transaction, never on "yes"."""
        return other is self or other.home == self.home

    @property
    def home(self) -> tuple[tuple[str, str], ...]:
        """The connection parameters, sorted (the password left out)."""
        if self._home is None:
            info = psycopg.conninfo.conninfo_to_dict(self.url)
            found = {k: str(v) for k, v in info.items() if k != "password"}
            found["orca.schema"] = self.schema or ""  # a tenant's schema is another home
            self._home = tuple(sorted(found.items()))
        return self._home

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except BaseException as exc:
            if _unavailable(exc):
                raise StoreUnavailableError(self.where, _first_line(exc)) from exc
            raise

    @contextmanager
    def transaction(self, *, pipeline: bool = False) -> Iterator[psycopg.Connection[Any]]:
        """A connection inside one transaction: committed when the block ends, rolled
        back when it raises. ``pipeline``: the statements are sent without waiting for
        each other's results (BEGIN to COMMIT in one round trip when the block reads no
        result; an error surfaces when the block ends)."""
        with self._errors(), self.pool.connection() as conn:
            if pipeline:
                with conn.pipeline(), conn.transaction():
                    yield conn
            else:
                with conn.transaction():
                    yield conn

    @contextmanager
    def read(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection in autocommit, for reads that need no snapshot across
        statements."""
        with self._errors(), self.pool.connection() as conn:
            conn.autocommit = True
            try:
                yield conn
            finally:
                conn.autocommit = False

    def retrying(
        self, work: Callable[[psycopg.Connection[Any]], T], *, pipeline: bool = False
    ) -> T:
        """Run ``work(conn)`` in a transaction (``pipeline``d or not), again (up to
        ``SERIALIZATION_RETRIES`` times) when it loses a deadlock or serialization race;
        ``work`` must have no effect outside the database."""
        for attempt in range(SERIALIZATION_RETRIES):
            try:
                with self.transaction(pipeline=pipeline) as conn:
                    return work(conn)
            except (pgerrors.DeadlockDetected, pgerrors.SerializationFailure):
                if attempt == SERIALIZATION_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def prepare(self, components: Sequence[tuple[str, Migrations]]) -> None:
        """Create or migrate each component (once per ``PgDb``): every version is checked
        first (a database with a component from a newer Orca stays untouched), then the
        missing migrations run in one transaction under an advisory lock.

        Raises:
            SchemaVersionError: a component was written by a newer Orca.
            CorruptDatabaseError: the database holds tables but is not Orca's.
            StoreUnavailableError: the server cannot be reached.
        """
        wanted = [(c, m) for c, m in components if c not in self._prepared]
        if not wanted:
            return
        with self._lock, self.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            if self.schema is not None:  # a tenant's: its own namespace, made on first use
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                )
            has_schema = conn.execute("SELECT to_regclass('orca_schema') IS NOT NULL").fetchone()
            if not (has_schema and has_schema[0]):
                others = conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "ORDER BY tablename LIMIT 5"
                ).fetchall()
                if others:
                    raise CorruptDatabaseError(
                        self.where,
                        "not an Orca database (it holds tables "
                        + ", ".join(r[0] for r in others)
                        + ")",
                        "point Orca at a new database or schema; it never alters a database "
                        "it did not create",
                    )
                conn.execute(
                    "CREATE TABLE orca_schema (component TEXT PRIMARY KEY, "
                    "version INTEGER NOT NULL)"
                )
            found = {
                str(r[0]): int(r[1])
                for r in conn.execute("SELECT component, version FROM orca_schema").fetchall()
            }
            for component, migrations in wanted:
                if found.get(component, 0) > len(migrations):
                    raise SchemaVersionError(
                        self.where, found[component], len(migrations), component=component
                    )
            for component, migrations in wanted:
                have = found.get(component, 0)
                for version in range(have + 1, len(migrations) + 1):
                    for statement in migrations[version - 1]:
                        conn.execute(statement.encode())
                if have < len(migrations):
                    conn.execute(
                        "INSERT INTO orca_schema (component, version) VALUES (%s, %s) "
                        "ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version",
                        (component, len(migrations)),
                    )
        self._prepared.update(c for c, _ in wanted)

    def versions(self) -> dict[str, int]:
        """Each component's schema version in the database ({} for a new one)."""
        with self.read() as conn:
            row = conn.execute("SELECT to_regclass('orca_schema') IS NOT NULL").fetchone()
            if not (row and row[0]):
                return {}
            rows = conn.execute("SELECT component, version FROM orca_schema").fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def submit(self, work: Callable[[], T]) -> asyncio.Future[T]:
        """``work()`` on one of the store's threads (as many as the pool has
        connections), for the async twins of the repositories' methods: the event loop
        never waits on the database."""
        if self._executor is None:
            with self._lock:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(
                        self._max_size, thread_name_prefix="orca-pg"
                    )
        return asyncio.get_running_loop().run_in_executor(self._executor, work)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        self.pool.close()


def _why_not(url: str, timeout_s: float) -> str | None:
    """Why a connection to ``url`` fails now; None when one opens."""
    try:
        psycopg.connect(url, connect_timeout=max(2, int(timeout_s))).close()
    except psycopg.Error as exc:
        return _first_line(exc)
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
