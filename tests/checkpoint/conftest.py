"""Fixtures for the checkpoint store tests: every store, built the same way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ._support import STORE_KINDS, StoreUnderTest


@pytest.fixture(params=STORE_KINDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    """Each checkpoint store in turn, empty, on a file in ``tmp_path`` where it has one."""
    s = StoreUnderTest(request.param, tmp_path / "checkpoints.sqlite")
    yield s
    s.close()
