"""A user store on either backend, for tests whose processes share one: a SQLite file
(a path) or a PostgreSQL database (a ``postgresql://`` URL), and a plain connection to
the same data to look at its rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import psycopg

from orca.store import UserStore, user_store
from orca.store.postgres import PostgresStore


def opened(where: Path | str, **options: Any) -> UserStore:
    """The user store at ``where``, opened (and migrated) now."""
    if str(where).startswith("postgresql://"):
        store = PostgresStore(str(where), **options)
        store.open_user()
        return store
    return user_store(where, **options)


class Rows:
    """A plain connection to the data at ``where``, to look at the rows; SQL takes
    ``?`` placeholders on both backends."""

    def __init__(self, where: Path | str) -> None:
        self._pg = (
            psycopg.connect(str(where), autocommit=True)
            if str(where).startswith("postgresql://")
            else None
        )
        self._sqlite = None if self._pg else sqlite3.connect(where, isolation_level=None)

    def execute(self, sql: str, args: tuple[object, ...] = ()) -> Any:
        if self._pg is not None:
            return self._pg.execute(sql.replace("?", "%s").encode(), args)
        assert self._sqlite is not None
        return self._sqlite.execute(sql, args)

    def close(self) -> None:
        for conn in (self._pg, self._sqlite):
            if conn is not None:
                conn.close()
