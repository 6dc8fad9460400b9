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
def open_store(backend: str, tmp_path: Path, clock: Clock) -> Iterator[Opener]:
    """Opens another client of the same data (closed after the test)."""
    opened: list[UserStore] = []

    def open_one() -> UserStore:
        store = open_backend(backend, tmp_path, clock, TTL)
        opened.append(store)
        return store

    yield open_one
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: Opener) -> UserStore:
    return open_store()
