"""Fixtures for the checkpoint store tests: every store, built the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._support import FACES, STORE_KINDS, StoreUnderTest


@pytest.fixture(params=FACES)
def face(request: pytest.FixtureRequest) -> str:
    """A test that takes ``face`` runs its store through the sync methods, then through
    their async twins (``aput`` for ``put``, ...), with the same assertions."""
    return str(request.param)


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    """Each checkpoint store in turn, empty, on a file in ``tmp_path`` or a new
    PostgreSQL database where it has one; used through the ``face`` the test asks for
    (sync when it asks for none)."""
    face = request.getfixturevalue("face") if "face" in request.fixturenames else "sync"
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else ""
    s = StoreUnderTest(request.param, tmp_path / "checkpoints.sqlite", face, url)
    yield s
    s.close()
