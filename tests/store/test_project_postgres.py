"""What only the PostgreSQL project repositories need proving: they order and compare
text byte by byte (as SQLite does) whatever the database's locale, they keep each
component's schema version, and they outlive a restart of the server."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from _pg import Cluster, wait_ready
from orca.errors import StoreUnavailableError
from orca.store._tasks import TaskRecord
from orca.store.postgres import PostgresStore
from orca.store.postgres._schema import (
    FLOWS_MIGRATIONS,
    TASKS_MIGRATIONS,
    TOKEN_MIGRATIONS,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def icu_url(pg_cluster: Cluster) -> Iterator[str]:
    """A new database whose default collation is ICU's English, which sorts "a" before
    "B" and ignores punctuation at first: not byte order."""
    name = "icu_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_cluster.url(), autocommit=True) as conn:
        conn.execute(
            f"CREATE DATABASE \"{name}\" LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C' "
            "TEMPLATE template0".encode()
        )
    url = pg_cluster.url(name)
    yield url
    pg_cluster.drop_database(url)


def _task(task_id: str, created_at: str) -> TaskRecord:
    return TaskRecord(
        task_id, "s", "queued", "batch", "m", "e", "m.gguf", {}, "d", created_at
    )  # fmt: skip


def test_text_is_ordered_by_bytes_whatever_the_locale(icu_url: str) -> None:
    with psycopg.connect(icu_url) as conn:  # the locale does order otherwise
        row = conn.execute("SELECT 'a' < 'B', '2026-01-01T00:00:00.5' < '2026-01-01T00:00:00+'")
        assert row.fetchone() == (True, True)
    clock = [T0]
    with PostgresStore(icu_url, clock=lambda: clock[0]) as store:
        for name in ("b", "B", "a", "9z"):
            store.tokens.create(name, "read")
        with pytest.raises(ValueError, match=r"\(live: 9z, B, a, b\)"):
            store.tokens.revoke("nobody")
        made, _ = store.artifacts.put(b"x", kind="plan", tags=["b", "B", "a"])
        assert made.tags == ("B", "a", "b")
        # times as the store stamps them: a whole second has no fraction, and sorts
        # before the same second with one (byte order: "+" < ".")
        store.tasks.create(_task("later", "2026-01-01T00:00:00.500000+00:00"), session_ttl_ms=1)
        store.tasks.create(_task("first", "2026-01-01T00:00:00+00:00"), session_ttl_ms=1)
        assert [t.task_id for t in store.tasks.find()] == ["later", "first"]
        queued, _ = store.tasks.recover("{}")
        assert [t.task_id for t in queued] == ["first", "later"]
        # a session expires by its clock: half a second past a whole one is later
        store.tasks.create(_task("t", T0.isoformat()), session_ttl_ms=1000)
        clock[0] = T0 + dt.timedelta(seconds=1, microseconds=500_000)
        assert store.tasks.session("s") is None


def test_each_component_keeps_its_own_schema_version(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        store.tasks.get("x")
        store.artifacts.get("x")  # the same component as the tasks
        store.tokens.live()
        store.flows.flows()
        assert store.db.versions() == {
            "tasks": len(TASKS_MIGRATIONS),
            "tokens": len(TOKEN_MIGRATIONS),
            "flows": len(FLOWS_MIGRATIONS),
        }


def test_the_repositories_outlive_a_restart_of_the_server(pg_url: str, pg_cluster: Cluster) -> None:
    with PostgresStore(pg_url) as store:
        store.tasks.create(_task("a", T0.isoformat()), session_ttl_ms=60_000)
        _, token = store.tokens.create("ci", "read")
        store.flows.put("f", {"v": 1}, "sha256:f")
        pg_cluster.stop("immediate")  # a crash: no shutdown checkpoint
        try:
            with pytest.raises(StoreUnavailableError):
                store.tasks.get("a")
        finally:
            pg_cluster.start()
        wait_ready(pg_url)
        # every committed row is there, through the same store (its pool reconnects)
        assert store.tasks.get("a") is not None
        assert store.tokens.verify(token) is not None
        saved = store.flows.get("f")
        assert saved is not None
        assert saved.flow == {"v": 1}
