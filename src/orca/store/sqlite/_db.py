"""Opening Orca's SQLite files: pragmas, the schema version table, ordered migrations."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from orca.errors import (
    ConfigError,
    CorruptDatabaseError,
    DatabaseLockedError,
    SchemaVersionError,
)

Migrations = Sequence[Sequence[str]]
"""Migration N (1-based) brings a component's schema from version N-1 to N. Never
loses a row: a table SQLite cannot alter in place is rebuilt with every row copied."""


BUSY_TIMEOUT_MS = 5000
"""How long a connection waits for another process's write lock before giving up."""


def connect(path: str | Path, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are opened with BEGIN IMMEDIATE)."""
    path = str(path)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    # wait for other processes' locks instead of failing at once
    conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    # deleting a budget or a run takes its dependent rows with it
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def is_locked(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite giving up on another connection's lock."""
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _use_wal(conn: sqlite3.Connection) -> None:
    """WAL: readers never block the writer, and a commit is one append to the log.

    Switching a new file to WAL takes its exclusive lock, and SQLite does not call the
    busy handler there when another process holds the file open (processes opening one
    new file at once saw "database is locked" at once), so the switch is retried here
    for as long as the busy timeout would have waited."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.002
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def prepare(
    conn: sqlite3.Connection,
    path: str,
    component: str,
    migrations: Migrations,
    *,
    synchronous: str = "FULL",
) -> None:
    """Check the file is Orca's and not newer than this code, set WAL, then migrate
    ``component`` to the latest version in one transaction.

    Raises:
        CorruptDatabaseError: the file belongs to something else or is damaged.
        SchemaVersionError: the component's schema is newer than this Orca knows.
    """
    prepare_components(conn, path, [(component, migrations)], synchronous=synchronous)


def is_damage(exc: BaseException) -> bool:
    """Whether ``exc`` is SQLite (or its text decoding) finding the file damaged, rather
    than a lock, a closed connection or a constraint."""
    if isinstance(exc, UnicodeDecodeError):  # a TEXT value whose bytes were flipped
        return True
    if isinstance(exc, sqlite3.OperationalError):
        text = str(exc)
        return "malformed" in text or "not a database" in text or "decode" in text
    return isinstance(exc, sqlite3.DatabaseError) and not isinstance(
        exc, sqlite3.IntegrityError | sqlite3.ProgrammingError
    )


def damaged(path: str, exc: BaseException) -> CorruptDatabaseError:
    """The error for a file SQLite reports damaged (``is_damage``)."""
    return CorruptDatabaseError(
        path,
        f"the database is damaged or not SQLite ({type(exc).__name__}: {exc})",
        "restore the file from a backup or point Orca at a new file; `orca doctor` "
        "checks every database",
    )


USER_DB = "the user database ($ORCA_HOME/orca.db)"


def json_column(text: str | bytes, what: str, *, where: str = USER_DB) -> Any:
    """A JSON column's value; a damaged one raises ``CorruptDatabaseError`` naming
    ``what`` (never ``json.JSONDecodeError``)."""
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise CorruptDatabaseError(
            where,
            f"{what} is damaged ({exc})",
            "restore the file from a backup, or delete and re-create what it names; "
            "`orca doctor` checks every database",
        ) from None


def prepare_components(
    conn: sqlite3.Connection,
    path: str,
    components: Sequence[tuple[str, Migrations]],
    *,
    synchronous: str = "FULL",
) -> None:
    """``prepare`` for several components of one file: every version is checked before
    anything changes (a file with any component from a newer Orca stays untouched),
    then all are migrated in one transaction. Raises as ``prepare``."""
    try:
        _prepare(conn, path, components, synchronous)
    except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
        if not is_damage(exc):
            raise
        raise damaged(path, exc) from exc


def _prepare(
    conn: sqlite3.Connection,
    path: str,
    components: Sequence[tuple[str, Migrations]],
    synchronous: str,
) -> None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if tables and "orca_schema" not in tables:
        raise CorruptDatabaseError(
            path,
            f"not an Orca database (it holds tables {', '.join(sorted(tables)[:5])})",
            "point Orca at a new file; it never alters a database it did not create",
        )
    if tables:  # refuse a newer schema before anything, even the journal mode, changes
        for component, migrations in components:
            _check(path, component, _version(conn, component), len(migrations))
    _use_wal(conn)
    # FULL fsyncs at every commit, so a committed write survives power loss
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS orca_schema "
            "(component TEXT PRIMARY KEY, version INTEGER NOT NULL)"
        )
        for component, migrations in components:
            latest = len(migrations)
            found = _version(conn, component)
            _check(path, component, found, latest)
            for version in range(found + 1, latest + 1):
                for statement in migrations[version - 1]:
                    conn.execute(statement)
            if found < latest:
                conn.execute(
                    "INSERT OR REPLACE INTO orca_schema (component, version) VALUES (?, ?)",
                    (component, latest),
                )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _version(conn: sqlite3.Connection, component: str) -> int:
    try:
        row = conn.execute(
            "SELECT version FROM orca_schema WHERE component=?", (component,)
        ).fetchone()
    except sqlite3.OperationalError:  # no orca_schema table yet
        return 0
    return int(row[0]) if row else 0


def _check(path: str, component: str, found: int, latest: int) -> None:
    if found > latest:
        raise SchemaVersionError(path, found, latest, component=component)


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (take the write lock now, so the transaction cannot fail on a
    lock upgrade later) ... ``COMMIT``, or ``ROLLBACK`` on any error."""
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        if is_locked(exc):
            raise DatabaseLockedError(_path_of(conn)) from exc
        raise
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _path_of(conn: sqlite3.Connection) -> str:
    row = conn.execute("PRAGMA database_list").fetchone()
    return str(row[2]) if row and row[2] else ":memory:"


def open_db(
    path: Path,
    component: str,
    migrations: Migrations,
    key: str,
    *,
    busy_timeout_ms: int = BUSY_TIMEOUT_MS,
) -> sqlite3.Connection:
    """A connection to ``path`` with ``component`` created or migrated; errors name the
    setting ``key`` that chose the path.

    Raises:
        ConfigError: the file or its folder cannot be created, read or written.
        CorruptDatabaseError: the file is not Orca's, or is damaged.
        SchemaVersionError: the component was written by a newer Orca.
        DatabaseLockedError: another process held the lock past the busy timeout.
    """
    try:
        conn = connect(path, busy_timeout_ms=busy_timeout_ms)
    except (OSError, sqlite3.OperationalError) as exc:
        raise ConfigError(
            f"cannot open {path} ({exc})",
            key=key,
            fix=f"make {path.parent} a writable directory, or point {key} somewhere writable",
        ) from exc
    try:
        prepare(conn, str(path), component, migrations)
    except sqlite3.OperationalError as exc:
        conn.close()
        if is_locked(exc):
            raise DatabaseLockedError(str(path)) from exc
        raise ConfigError(
            f"cannot use {path} ({exc})",
            key=key,
            fix=f"make {path} and its folder readable and writable",
        ) from exc
    except BaseException:
        conn.close()
        raise
    return conn
