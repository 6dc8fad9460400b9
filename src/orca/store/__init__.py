"""Orca's SQLite databases: the user database (``$ORCA_HOME/orca.db``: profiles, prices,
budgets, usage) and, per project, ``.orca/project.db``."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from orca.store import _db
from orca.store._schema import USER_COMPONENT, USER_MIGRATIONS

__all__ = ["open_user_db", "orca_home", "user_db_path"]


def orca_home() -> Path:
    """``$ORCA_HOME``, or ``~/.orca``."""
    home = os.environ.get("ORCA_HOME")
    return Path(home).expanduser() if home else Path.home() / ".orca"


def user_db_path() -> Path:
    """Where the user database lives: ``$ORCA_HOME/orca.db``."""
    return orca_home() / "orca.db"


def open_user_db(path: str | Path | None = None) -> sqlite3.Connection:
    """Open (creating and migrating on first use) the user database.

    Raises:
        CorruptDatabaseError: the file is not Orca's, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """
    where = str(path) if path is not None else str(user_db_path())
    conn = _db.connect(where)
    try:
        _db.prepare(conn, where, USER_COMPONENT, USER_MIGRATIONS)
    except BaseException:
        conn.close()
        raise
    return conn
