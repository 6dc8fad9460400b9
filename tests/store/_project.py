"""What the project-repository suites (tasks, artifacts, tokens, flows) need from a
backend: a store over one project's data, opened as often as a test has clients, and
the rows of a table as the database holds them."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from orca.store import SqliteStore
from orca.store.postgres import PostgresStore

BACKENDS = ["sqlite", "postgres"]
"""Every backend the suites run against; the PostgreSQL one takes a fresh database of
the session's cluster (``pg_url``), so the SQLite runs need no cluster."""

Store = SqliteStore | PostgresStore
Clock = Callable[[], dt.datetime]
Opener = Callable[..., Store]


@pytest.fixture(params=BACKENDS, name="open_project")
def open_project_fixture(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens another client of one project's store (``clock=`` for what it stamps);
    every client is closed after the test."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    opened: list[Store] = []

    def open_one(**kwargs: Any) -> Store:
        store: Store
        if url is not None:
            store = PostgresStore(url, **kwargs)
        else:
            store = SqliteStore(tmp_path / ".orca" / "project.db", **kwargs)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    """The rows ``sql`` reads from the store's database, bypassing the repositories."""
    if isinstance(store, PostgresStore):
        with store.db.read() as conn:
            return [tuple(r) for r in conn.execute(sql.encode()).fetchall()]
    conn = sqlite3.connect(store.path)
    try:
        return [tuple(r) for r in conn.execute(sql).fetchall()]
    finally:
        conn.close()


def write(store: Store, sql: str) -> None:
    """Run ``sql`` on the store's database, bypassing the repositories (as damage would)."""
    if isinstance(store, PostgresStore):
        with store.db.transaction() as conn:
            conn.execute(sql.encode())
        return
    conn = sqlite3.connect(store.path)
    try:
        with conn:
            conn.execute(sql)
    finally:
        conn.close()
