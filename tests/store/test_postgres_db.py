"""The PostgreSQL backend's foundation: URLs, the pool, migrations under an advisory lock
(from several processes at once), and the errors of a database Orca cannot use."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
import pytest

from orca.errors import ConfigError, CorruptDatabaseError, SchemaVersionError, StoreUnavailableError
from orca.store import open_store, parse_url
from orca.store.postgres import PgDb, PostgresStore

SRC = str(Path(__file__).resolve().parents[2] / "src")

MIGRATIONS = [
    ["CREATE TABLE things (id BIGINT PRIMARY KEY, name TEXT NOT NULL)"],
    ["ALTER TABLE things ADD COLUMN size BIGINT NOT NULL DEFAULT 0"],
]


def test_urls_name_the_backend_and_never_show_a_password() -> None:
    parsed = parse_url("postgres://orca:s3cret@db.internal:5433/orca")
    assert parsed.scheme == "postgresql"
    assert parsed.path == "postgresql://orca:s3cret@db.internal:5433/orca"
    assert "s3cret" not in str(parsed)
    assert str(parsed) == "postgresql://orca:***@db.internal:5433/orca"
    assert parse_url("sqlite:///x.db").scheme == "sqlite"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("postgresql://orca:pw@host:5432", "names no database"),
        ("postgresql://orca:pw@host:5432/", "names no database"),
        ("postgresql://orca:pw@host:notaport/db", "cannot be parsed"),
        ("mysql://orca:pw@host/db", "no backend serves"),
    ],
)
def test_bad_urls_name_the_fix_and_hide_the_password(url: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_url(url)
    assert words in str(caught.value)
    assert "pw" not in str(caught.value).replace("pwd", "")
    assert caught.value.key == "store"


def test_open_store_by_url_gives_a_postgres_store(pg_url: str) -> None:
    with open_store(pg_url) as store:
        assert isinstance(store, PostgresStore)
        assert store.damage() == []
        assert "postgresql://" in repr(store)


def test_a_server_that_does_not_answer_is_unavailable_not_a_hang() -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        PgDb("postgresql://orca:hunter2@127.0.0.1:1/orca", timeout_s=2)
    assert "hunter2" not in str(caught.value)
    assert "127.0.0.1:1/orca" in str(caught.value)


def test_migrations_run_forward_once_and_record_their_version(pg_url: str) -> None:
    db = PgDb(pg_url)
    try:
        db.prepare([("things", MIGRATIONS[:1])])
        assert db.versions() == {"things": 1}
        with db.transaction() as conn:
            conn.execute("INSERT INTO things (id, name) VALUES (1, 'kept')")
    finally:
        db.close()
    db = PgDb(pg_url)  # a newer Orca: one more migration; the row survives it
    try:
        db.prepare([("things", MIGRATIONS)])
        db.prepare([("things", MIGRATIONS)])  # a second call does nothing
        assert db.versions() == {"things": 2}
        with db.read() as conn:
            assert conn.execute("SELECT id, name, size FROM things").fetchall() == [(1, "kept", 0)]
    finally:
        db.close()


def test_a_database_of_a_newer_orca_is_left_untouched(pg_url: str) -> None:
    db = PgDb(pg_url)
    try:
        db.prepare([("things", MIGRATIONS)])
    finally:
        db.close()
    older = PgDb(pg_url)
    try:
        with pytest.raises(SchemaVersionError) as caught:
            older.prepare([("things", MIGRATIONS[:1]), ("more", [["CREATE TABLE more (x INT)"]])])
        assert "upgrade Orca" in str(caught.value)
        assert older.versions() == {"things": 2}  # and 'more' was not created either
    finally:
        older.close()


def test_a_database_that_is_not_orcas_is_refused(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE customers (id INT)")
    db = PgDb(pg_url)
    try:
        with pytest.raises(CorruptDatabaseError) as caught:
            db.prepare([("things", MIGRATIONS)])
        assert "customers" in str(caught.value)
    finally:
        db.close()
    with psycopg.connect(pg_url) as conn:
        names = [
            r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")
        ]
    assert names == ["customers"]


def test_many_processes_migrating_a_new_database_at_once_agree(pg_url: str, tmp_path: Path) -> None:
    script = tmp_path / "migrate.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {SRC!r})
            from orca.store.postgres import PgDb
            db = PgDb(sys.argv[1])
            db.prepare([("things", {MIGRATIONS!r})])
            with db.transaction() as conn:
                conn.execute("INSERT INTO things (id, name) VALUES (%s, 'p')", (int(sys.argv[2]),))
            db.close()
            """
        )
    )
    procs = [
        subprocess.Popen([sys.executable, str(script), pg_url, str(i)], stderr=subprocess.PIPE)
        for i in range(6)
    ]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 6, errors
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM things").fetchone() == (6,)
        assert conn.execute("SELECT version FROM orca_schema").fetchall() == [(2,)]


def test_a_restarted_server_is_reconnected_to(pg_url: str, pg_cluster: object) -> None:
    from _pg import Cluster, wait_ready

    assert isinstance(pg_cluster, Cluster)
    db = PgDb(pg_url)
    try:
        db.prepare([("things", MIGRATIONS)])
        pg_cluster.restart("immediate")
        wait_ready(pg_url)
        # the pool checks a connection before lending it: the dead ones are replaced
        with db.transaction() as conn:
            conn.execute("INSERT INTO things (id, name) VALUES (7, 'after')")
        with db.read() as conn:
            assert conn.execute("SELECT name FROM things").fetchall() == [("after",)]
    finally:
        db.close()
