"""Fixtures of the user-database conformance suites: each runs once per backend, through
the repository protocols only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from orca.store import UserStore

from ._support import BACKENDS, TTL, Clock, open_backend

Opener = Callable[[], UserStore]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def where(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """Where a test's data lives: a folder (SQLite), or a new database of the test
    cluster (PostgreSQL; asked for only here, so SQLite runs need no cluster)."""
    if backend == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return tmp_path


@pytest.fixture
def open_store(backend: str, where: Path | str, clock: Clock) -> Iterator[Opener]:
    """Opens another client of the same data (closed after the test)."""
    opened: list[UserStore] = []

    def open_one() -> UserStore:
        store = open_backend(backend, where, clock, TTL)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Opener) -> UserStore:
    return open_store()
