"""SQLite files Orca did not write, or cannot read, fail clearly and are never altered."""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
from pathlib import Path

import pytest

from orca import SqliteCheckpointer
from orca.checkpoint import MemoryCheckpointer
from orca.errors import CheckpointError, CorruptDatabaseError, SchemaVersionError
from orca.store.sqlite._schema import CHECKPOINT_MIGRATIONS as MIGRATIONS
from orca.store.sqlite._schema import PROJECT_MIGRATIONS

from ._support import make_save


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def siblings(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


def read_everything(path: Path, thread: str, ids: list[str]) -> None:
    """Open the file and read every checkpoint (damage may show only when read)."""
    store = SqliteCheckpointer(path)
    try:
        for cid in ids:
            store.get(thread, cid)
    finally:
        store.close()


def make_foreign_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer INTEGER, total REAL)")
    conn.executemany("INSERT INTO customers (name) VALUES (?)", [("ada",), ("grace",)])
    conn.commit()
    conn.close()


def make_future_db(path: Path, version: int = 99) -> None:
    """A database a newer Orca wrote: its checkpoints schema version is ``version``."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE orca_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    conn.execute("INSERT INTO orca_schema VALUES ('checkpoints', ?)", (version,))
    conn.execute("CREATE TABLE checkpoints_v99 (anything BLOB)")
    conn.commit()
    conn.close()


@pytest.mark.parametrize("content", ["random", "text", "sqlite-header-then-garbage"])
def test_a_file_that_is_not_sqlite_raises_corrupt_database_with_a_fix(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "state.db"
    rng = random.Random(1)
    if content == "random":
        path.write_bytes(bytes(rng.randrange(256) for _ in range(16384)))
    elif content == "text":
        path.write_text("these are my notes, not a database\n" * 200, encoding="utf-8")
    else:
        path.write_bytes(b"SQLite format 3\x00" + bytes(rng.randrange(256) for _ in range(8192)))
    before = fingerprint(path)
    with pytest.raises(CorruptDatabaseError) as info:
        SqliteCheckpointer(path)
    message = str(info.value)
    assert "Fix:" in message
    assert str(path) in message
    assert info.value.path == str(path)
    assert isinstance(info.value, CheckpointError)
    assert fingerprint(path) == before


def test_a_foreign_sqlite_database_is_refused_and_left_byte_for_byte_unchanged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shop.db"
    make_foreign_db(path)
    before = fingerprint(path)
    files = siblings(path)
    with pytest.raises(CorruptDatabaseError) as info:
        SqliteCheckpointer(path)
    assert "Fix:" in str(info.value)
    assert "customers" in str(info.value)
    assert fingerprint(path) == before
    assert siblings(path) == files  # no -wal or -shm left behind either
    conn = sqlite3.connect(path)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert tables == {"customers", "orders"}


def test_a_database_from_a_newer_orca_raises_schema_version_error(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    make_future_db(path)
    with pytest.raises(SchemaVersionError) as info:
        SqliteCheckpointer(path)
    err = info.value
    assert err.found == 99
    assert 1 <= err.supported < 99
    assert "99" in str(err)
    assert str(err.supported) in str(err)
    assert "Fix:" in str(err)


def test_a_database_from_a_newer_orca_is_left_byte_for_byte_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    make_future_db(path)
    before = fingerprint(path)
    files = siblings(path)
    with pytest.raises(SchemaVersionError):
        SqliteCheckpointer(path)
    # the error says "the file was left untouched": it must be, header included
    assert fingerprint(path) == before
    assert siblings(path) == files


def test_a_newer_schema_in_a_wal_database_is_refused_without_changes(tmp_path: Path) -> None:
    path = tmp_path / "future-wal.db"
    make_future_db(path)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    before = fingerprint(path)
    with pytest.raises(SchemaVersionError):
        SqliteCheckpointer(path)
    assert fingerprint(path) == before
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT version FROM orca_schema").fetchall() == [(99,)]
    finally:
        conn.close()


def test_a_damaged_orca_database_raises_corrupt_database(tmp_path: Path) -> None:
    path = tmp_path / "orca.db"
    store = SqliteCheckpointer(path)
    parent = None
    for i in range(40):
        cid = f"c{i}"
        store.put(make_save("t", cid, parent, i, {"blob": "x" * 4000, "i": i}))
        parent = cid
    store.close()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptDatabaseError) as info:
        read_everything(path, "t", [f"c{i}" for i in range(40)])
    assert "Fix:" in str(info.value)


def test_a_checkpoint_written_by_a_newer_orca_raises_schema_version_error_on_read(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orca.db"
    store = SqliteCheckpointer(path)
    store.put(make_save("t", "c0", None, 0, {"v": 1}))
    store.put(make_save("t", "c1", "c0", 1, {"v": 2}))
    store.close()
    conn = sqlite3.connect(path)
    (body,) = conn.execute("SELECT body FROM checkpoints WHERE checkpoint_id = 'c1'").fetchone()
    newer = json.loads(body)
    assert newer["v"] == 1
    newer["v"] = 7
    conn.execute(
        "UPDATE checkpoints SET body = ? WHERE checkpoint_id = 'c1'", (json.dumps(newer).encode(),)
    )
    conn.commit()
    conn.close()
    before = fingerprint(path)
    store = SqliteCheckpointer(path)
    try:
        with pytest.raises(SchemaVersionError) as info:
            store.get("t", "c1")
        assert info.value.found == 7
        with pytest.raises(SchemaVersionError):
            store.history("t")
        # the older checkpoint is still readable
        assert store.get("t", "c0").values == {"v": 1}  # type: ignore[union-attr]
    finally:
        store.close()
    assert fingerprint(path) == before


def test_an_invalid_synchronous_setting_raises_value_error_and_creates_no_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "never.db"
    with pytest.raises(ValueError, match="BOGUS"):
        SqliteCheckpointer(path, synchronous="BOGUS")  # type: ignore[arg-type]
    assert not path.exists()


@pytest.mark.parametrize("synchronous", ["OFF", "NORMAL", "FULL", "EXTRA"])
def test_every_synchronous_setting_stores_and_reads_back(tmp_path: Path, synchronous: str) -> None:
    path = tmp_path / "s.db"
    store = SqliteCheckpointer(path, synchronous=synchronous)  # type: ignore[arg-type]
    store.put(make_save("t", "c0", None, 0, {"v": synchronous}))
    store.close()
    store = SqliteCheckpointer(path)
    try:
        assert store.get("t").values == {"v": synchronous}  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_new_file_and_its_folders_are_created_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "orca.db"
    store = SqliteCheckpointer(path)
    store.put(make_save("t", "c0", None, 0, {"v": 1}))
    store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute(
            "SELECT version FROM orca_schema WHERE component='checkpoints'"
        ).fetchone() == (len(MIGRATIONS),)
    finally:
        conn.close()


def test_an_empty_file_becomes_a_new_orca_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    store = SqliteCheckpointer(path)
    try:
        store.put(make_save("t", "c0", None, 0, {"v": 1}))
        assert store.get("t").values == {"v": 1}  # type: ignore[union-attr]
    finally:
        store.close()


def test_a_database_shared_with_other_orca_components_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "project.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE orca_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    conn.execute("INSERT INTO orca_schema VALUES ('ledger', 3)")
    conn.execute("CREATE TABLE ledger_entries (id INTEGER PRIMARY KEY, amount INTEGER)")
    conn.execute("INSERT INTO ledger_entries (amount) VALUES (42)")
    conn.commit()
    conn.close()
    store = SqliteCheckpointer(path)
    store.put(make_save("t", "c0", None, 0, {"v": 1}))
    store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT amount FROM ledger_entries").fetchall() == [(42,)]
        assert dict(conn.execute("SELECT component, version FROM orca_schema")) == {
            "ledger": 3,
            "checkpoints": len(MIGRATIONS),
            "project": len(PROJECT_MIGRATIONS),  # runs, tasks and leases live beside them
        }
    finally:
        conn.close()


def test_reopening_a_database_keeps_its_schema_and_data(tmp_path: Path) -> None:
    path = tmp_path / "orca.db"
    for i in range(3):
        store = SqliteCheckpointer(path)
        store.put(make_save("t", f"c{i}", f"c{i - 1}" if i else None, i, {"i": i}))
        store.close()
    store = SqliteCheckpointer(path)
    try:
        assert [h.checkpoint_id for h in store.history("t")] == ["c2", "c1", "c0"]
    finally:
        store.close()


def test_close_folds_the_wal_into_the_database_file(tmp_path: Path) -> None:
    path = tmp_path / "orca.db"
    store = SqliteCheckpointer(path)
    store.put(make_save("t", "c0", None, 0, {"v": "x" * 10000}))
    store.close()
    wal = path.with_name(path.name + "-wal")
    assert not wal.exists() or os.path.getsize(wal) == 0
    # a reader that copies only the main file sees the data
    copy = tmp_path / "copy.db"
    copy.write_bytes(path.read_bytes())
    store = SqliteCheckpointer(copy)
    try:
        assert store.get("t").values == {"v": "x" * 10000}  # type: ignore[union-attr]
    finally:
        store.close()


def test_using_a_closed_store_is_not_reported_as_a_damaged_database(tmp_path: Path) -> None:
    path = tmp_path / "orca.db"
    store = SqliteCheckpointer(path)
    store.put(make_save("t", "c0", None, 0, {"v": 1}))
    store.close()
    with pytest.raises(Exception) as info:  # noqa: PT011 - any error but "damaged"
        store.get("t")
    # the file is fine; telling the user to restore it from a backup would be wrong
    assert not isinstance(info.value, CorruptDatabaseError), str(info.value)
    assert "closed" in str(info.value)
    reopened = SqliteCheckpointer(path)
    try:
        assert reopened.get("t").values == {"v": 1}  # type: ignore[union-attr]
    finally:
        reopened.close()


def test_memory_store_needs_no_file(tmp_path: Path) -> None:
    store = MemoryCheckpointer()
    store.put(make_save("t", "c0", None, 0, {"v": 1}))
    store.close()
    assert list(tmp_path.iterdir()) == []
