"""Every test gets its own ORCA_HOME, so none reads or writes the user's ~/.orca (and
no ORCA_STORE or ORCA_TENANT).

PostgreSQL tests take ``pg_url``: a fresh database of one private cluster that the whole
session shares (``tests/_pg.py``), dropped after the test. Where PostgreSQL is not
installed they skip, except under ``CI=true``, where that fails the run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from _pg import FAST, Cluster, PostgresMissing, cluster


@pytest.fixture(autouse=True)
def _own_orca_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("orca-home")
    monkeypatch.setenv("ORCA_HOME", str(home))
    # nor a store or tenant the environment names (orca --store and --tenant set them in
    # their process: restored)
    for name in ("ORCA_STORE", "ORCA_TENANT"):
        monkeypatch.setenv(name, "")  # recorded as it was, so a value the test leaves goes
        monkeypatch.delenv(name)
    return home


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    """The session's private PostgreSQL cluster (started on first use)."""
    try:
        with cluster(FAST) as running:
            yield running
    except PostgresMissing as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> Iterator[str]:
    """A new, empty database of the session's cluster; dropped after the test."""
    url = pg_cluster.create_database()
    yield url
    pg_cluster.drop_database(url)
