"""The user database: created and migrated on first use under ``$ORCA_HOME``, never
altered when it is not Orca's or is newer than this Orca, and shared with checkpoints."""

from __future__ import annotations

import hashlib
import random
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import TypedDict

import pytest

from orca import END, START, SqliteCheckpointer, StateGraph
from orca.cost import Price, PriceBook
from orca.errors import CheckpointError, CorruptDatabaseError, SchemaVersionError
from orca.llm import ModelSpec, Profile, Profiles
from orca.store import SqliteStore, orca_home, user_db_path, user_store
from orca.store.sqlite import _db
from orca.store.sqlite._schema import (
    CHECKPOINT_MIGRATIONS,
    PROJECT_MIGRATIONS,
    USER_COMPONENT,
    USER_MIGRATIONS,
)

USER_TABLES = {
    "orca_schema",
    "llm_profiles",
    "llm_pricing",
    "budgets",
    "budget_periods",
    "holds",
    "hold_parts",
    "usage",
    "usage_charges",
    "configurations",
}
LATEST = len(USER_MIGRATIONS)
# what a SqliteCheckpointer prepares in any file it opens (a project database)
SQLITE_CHECKPOINTER = {
    "checkpoints": len(CHECKPOINT_MIGRATIONS),
    "project": len(PROJECT_MIGRATIONS),
}


def fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def siblings(path: Path) -> set[str]:
    return {p.name for p in path.parent.iterdir()}


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def schema_sql(conn: sqlite3.Connection) -> list[tuple[str, str, str | None]]:
    return conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name").fetchall()


def versions(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT component, version FROM orca_schema").fetchall())


def connection(store: SqliteStore) -> sqlite3.Connection:
    """The store's own connection to the user tables (its pragmas are what is tested)."""
    return store._user.conn  # type: ignore[attr-defined]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    where = tmp_path / "deep" / "orca-home"
    monkeypatch.setenv("ORCA_HOME", str(where))
    return where


# -- where it lives ------------------------------------------------------------------------------


def test_orca_home_comes_from_the_environment(home: Path) -> None:
    assert orca_home() == home
    assert user_db_path() == home / "orca.db"


def test_orca_home_expands_a_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ORCA_HOME", "~/elsewhere")
    assert user_db_path() == tmp_path / "elsewhere" / "orca.db"


def test_orca_home_defaults_to_dot_orca_in_the_home_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORCA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert user_db_path() == tmp_path / ".orca" / "orca.db"


# -- creation and reopening -------------------------------------------------------------------


def test_the_user_db_is_created_on_first_use_with_its_schema_version(home: Path) -> None:
    assert not home.exists()
    store = user_store()
    conn = connection(store)
    try:
        assert (home / "orca.db").is_file()
        assert tables(conn) == USER_TABLES
        assert versions(conn) == {USER_COMPONENT: len(USER_MIGRATIONS)}
        assert versions(conn) == {"user": 4}
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert "llm_profiles_one_active" in indexes
        assert not conn.in_transaction
    finally:
        store.close()


def test_an_explicit_path_wins_over_orca_home(home: Path, tmp_path: Path) -> None:
    path = tmp_path / "other" / "mine.db"
    user_store(path).close()
    assert path.is_file()
    assert not (home / "orca.db").exists()


def test_reopening_the_user_db_changes_nothing(home: Path) -> None:
    with user_store() as store:
        Profiles(store.profiles).create(
            Profile("p", ModelSpec("openai", "m"), ModelSpec("openai", "m"))
        )
        store.prices.save(Price("openai", "m", Decimal("1"), Decimal("2")))
        before_schema = schema_sql(connection(store))
    for _ in range(3):
        with user_store() as again:
            assert schema_sql(connection(again)) == before_schema
            assert versions(connection(again)) == {"user": LATEST}
            assert Profiles(again.profiles).names() == ["p"]
            assert len(again.prices.load()) == 1


def test_the_user_db_uses_the_write_ahead_log(home: Path) -> None:
    store = user_store()
    conn = connection(store)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
    finally:
        store.close()
    # the mode is a property of the file: a plain sqlite3 connection sees it too
    plain = sqlite3.connect(home / "orca.db")
    try:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()


def test_an_empty_file_becomes_a_user_db(tmp_path: Path) -> None:
    path = tmp_path / "orca.db"
    path.touch()
    with user_store(path) as store:
        assert tables(connection(store)) == USER_TABLES


# -- files that are not Orca's ------------------------------------------------------------------


@pytest.mark.parametrize("content", ["random", "text", "sqlite-header-then-garbage"])
def test_a_file_that_is_not_sqlite_raises_corrupt_database_and_is_unchanged(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "orca.db"
    rng = random.Random(7)
    if content == "random":
        path.write_bytes(bytes(rng.randrange(256) for _ in range(16384)))
    elif content == "text":
        path.write_text("my shopping list, not a database\n" * 200, encoding="utf-8")
    else:
        path.write_bytes(b"SQLite format 3\x00" + bytes(rng.randrange(256) for _ in range(8192)))
    before, files = fingerprint(path), siblings(path)
    with pytest.raises(CorruptDatabaseError) as info:
        user_store(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    assert "Fix:" in str(info.value)
    assert isinstance(info.value, CheckpointError)
    assert fingerprint(path) == before
    assert siblings(path) == files


def test_another_applications_sqlite_file_is_refused_and_left_byte_identical(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orca.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    other.execute("CREATE TABLE llm_profiles (x)")  # even one of Orca's table names
    other.executemany("INSERT INTO customers (name) VALUES (?)", [("ada",), ("grace",)])
    other.commit()
    other.close()
    before, files = fingerprint(path), siblings(path)
    with pytest.raises(CorruptDatabaseError) as info:
        user_store(path)
    assert "not an Orca database" in str(info.value)
    assert "customers" in str(info.value)
    assert fingerprint(path) == before
    assert siblings(path) == files  # no -wal or -shm left behind either
    check = sqlite3.connect(path)
    try:
        assert check.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert check.execute("SELECT name FROM customers ORDER BY id").fetchall() == [
            ("ada",),
            ("grace",),
        ]
    finally:
        check.close()


def test_the_error_on_orca_home_names_the_file(home: Path) -> None:
    home.mkdir(parents=True)
    (home / "orca.db").write_text("not sqlite at all\n" * 100, encoding="utf-8")
    with pytest.raises(CorruptDatabaseError) as info:
        user_store()
    assert info.value.path == str(home / "orca.db")


def make_future_user_db(path: Path, version: int = 99) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE orca_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL)")
    conn.execute("INSERT INTO orca_schema VALUES ('user', ?)", (version,))
    conn.execute("CREATE TABLE llm_profiles_v99 (anything BLOB)")
    conn.commit()
    conn.close()


def test_a_user_db_from_a_newer_orca_raises_schema_version_error_and_is_unchanged(
    tmp_path: Path,
) -> None:
    path = tmp_path / "orca.db"
    make_future_user_db(path)
    before, files = fingerprint(path), siblings(path)
    with pytest.raises(SchemaVersionError) as info:
        user_store(path)
    err = info.value
    assert (err.found, err.supported, err.component) == (99, len(USER_MIGRATIONS), "user")
    assert err.path == str(path)
    assert "user schema version 99" in str(err)
    assert "untouched" in str(err)
    assert fingerprint(path) == before
    assert siblings(path) == files


def test_a_newer_user_schema_does_not_block_the_checkpoint_component(tmp_path: Path) -> None:
    path = tmp_path / "orca.db"
    make_future_user_db(path)
    SqliteCheckpointer(path).close()
    conn = sqlite3.connect(path)
    try:
        assert versions(conn) == {"user": 99, **SQLITE_CHECKPOINTER}
    finally:
        conn.close()
    with pytest.raises(SchemaVersionError):
        user_store(path)


# -- checkpoints and the user database in one file ----------------------------------------------


class Count(TypedDict):
    n: int


def counter(store: SqliteCheckpointer):  # type: ignore[no-untyped-def]
    g = StateGraph(Count, name="count")
    g.add_node("inc", lambda s: {"n": s["n"] + 1})
    g.add_edge(START, "inc")
    g.add_edge("inc", END)
    return g.compile(checkpointer=store)


@pytest.mark.parametrize("first", ["user", "checkpoints"])
def test_checkpoints_and_user_data_share_one_file_independently(home: Path, first: str) -> None:
    path = user_db_path()
    if first == "checkpoints":
        SqliteCheckpointer(path).close()
    user = user_store()
    Profiles(user.profiles).create(Profile("p", ModelSpec("openai", "m"), ModelSpec("openai", "m")))
    user.prices.save(Price("openai", "m", Decimal("0.000001"), Decimal("2")))

    store = SqliteCheckpointer(path)
    try:
        assert counter(store).invoke({"n": 41}, thread_id="t") == {"n": 42}
    finally:
        store.close()
    assert versions(connection(user)) == {"user": LATEST, **SQLITE_CHECKPOINTER}
    user.close()

    # both reopen, each finding its own data and leaving the other's alone
    with user_store() as again:
        conn = connection(again)
        assert versions(conn) == {"user": LATEST, **SQLITE_CHECKPOINTER}
        assert Profiles(again.profiles).names() == ["p"]
        assert PriceBook(again.prices.load()).price("openai", "m").input == Decimal("0.000001")
        assert {"checkpoints", "checkpoint_blobs", "checkpoint_writes"} <= tables(conn)
    store = SqliteCheckpointer(path)
    try:
        app = counter(store)
        assert app.get_state("t").values == {"n": 42}
        assert app.invoke({"n": 1}, thread_id="u") == {"n": 2}
        assert sorted(store.threads()) == ["t", "u"]
    finally:
        store.close()


# -- migrations ---------------------------------------------------------------------------------


def test_a_failing_migration_leaves_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    conn = _db.connect(path)
    try:
        with pytest.raises(sqlite3.OperationalError):
            _db.prepare(conn, str(path), "demo", [["CREATE TABLE a (x)", "NOT SQL AT ALL"]])
        assert not conn.in_transaction
        assert tables(conn) == set()  # neither 'a' nor orca_schema survived
        _db.prepare(conn, str(path), "demo", [["CREATE TABLE a (x)"]])
        assert versions(conn) == {"demo": 1}
    finally:
        conn.close()


def test_migrations_bring_an_older_file_up_to_date_without_losing_data(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    v1 = [["CREATE TABLE a (x)"]]
    v2 = [*v1, ["ALTER TABLE a ADD COLUMN y DEFAULT 7", "CREATE TABLE b (z)"]]
    conn = _db.connect(path)
    try:
        _db.prepare(conn, str(path), "demo", v1)
        conn.execute("INSERT INTO a (x) VALUES (1)")
        _db.prepare(conn, str(path), "demo", v2)
        assert versions(conn) == {"demo": 2}
        assert conn.execute("SELECT x, y FROM a").fetchall() == [(1, 7)]
        assert {"a", "b"} <= tables(conn)
        with pytest.raises(SchemaVersionError):
            _db.prepare(conn, str(path), "demo", v1)  # an older Orca refuses the newer file
    finally:
        conn.close()


def test_transaction_commits_or_rolls_back(tmp_path: Path) -> None:
    path = tmp_path / "orca.db"
    user_store(path).close()
    conn = _db.connect(path)
    insert = "INSERT INTO configurations (key, value, updated_at) VALUES (?, 'v', 'now')"
    try:
        with _db.transaction(conn):
            conn.execute(insert, ("a",))

        def save_then_fail() -> None:
            with _db.transaction(conn):
                conn.execute(insert, ("b",))
                raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            save_then_fail()
        assert not conn.in_transaction
    finally:
        conn.close()
    with user_store(path) as store:
        assert store.configurations.all() == {"a": "v"}


def test_a_version_1_file_is_upgraded_in_place_keeping_its_profiles(home: Path) -> None:
    from orca.store.sqlite import _db

    path = user_db_path()
    old = _db.connect(path)
    _db.prepare(old, str(path), USER_COMPONENT, USER_MIGRATIONS[:1])
    # a profile as a version-1 Orca wrote it
    old.execute(
        "INSERT INTO llm_profiles (id, name, planner_provider, planner_model, worker_provider, "
        "worker_model, active, created_at, updated_at) "
        "VALUES ('1', 'kept', 'openai', 'm', 'openai', 'm', 1, 'then', 'then')"
    )
    old.close()

    with user_store() as store:
        conn = connection(store)
        assert versions(conn) == {"user": LATEST}
        assert tables(conn) == USER_TABLES
        assert Profiles(store.profiles).get("kept") == Profile(
            "kept", ModelSpec("openai", "m"), ModelSpec("openai", "m"), active=True
        )


def test_a_version_2_file_keeps_its_usage_rows_under_cost_nano_usd(home: Path) -> None:
    from orca.store.sqlite import _db

    path = user_db_path()
    old = _db.connect(path)
    _db.prepare(old, str(path), USER_COMPONENT, USER_MIGRATIONS[:2])
    # a usage row as a version-2 Orca wrote it (its cost in the column cost_nano)
    old.execute(
        "INSERT INTO usage (id, created_at, run_id, provider, model, input_tokens, "
        "cache_read_tokens, cache_write_tokens, output_tokens, reasoning_tokens, cost_nano, "
        "priced, estimated) VALUES ('u1', '2026-01-01T00:00:00+00:00', 'run-old', 'openai', "
        "'m', 10, 0, 0, 5, 0, 12345, 1, 0)"
    )
    old.close()

    with user_store() as store:
        conn = connection(store)
        assert versions(conn) == {"user": LATEST}
        columns = {r[1] for r in conn.execute("PRAGMA table_info(usage)")}
        assert "cost_nano_usd" in columns
        assert "cost_nano" not in columns
        [row] = store.usage.of_run("run-old")
        assert row.cost_nano_usd == 12345


def test_an_unwritable_orca_home_names_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from orca.errors import ConfigError

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("ORCA_HOME", str(blocker / "home"))
    with pytest.raises(ConfigError, match="ORCA_HOME") as info:
        user_store()
    assert info.value.key == "ORCA_HOME"
    assert blocker.read_text() == "not a folder"


def test_a_version_3_file_keeps_its_budgets_and_open_holds(home: Path) -> None:
    from orca.store.sqlite import _db

    path = user_db_path()
    old = _db.connect(path)
    _db.prepare(old, str(path), USER_COMPONENT, USER_MIGRATIONS[:3])
    # a block budget with a live hold, as a version-3 Orca wrote them
    old.execute(
        "INSERT INTO budgets (id, name, kind, unit, amount, enforcement, active, created_at, "
        "updated_at) VALUES ('b1', 'team', 'credit', 'usd', 1000, 'block', 1, 'then', 'then')"
    )
    old.execute(
        "INSERT INTO budget_periods (id, budget_id, period_start, amount, spent, reserved) "
        "VALUES (1, 'b1', '', 1000, 100, 300)"
    )
    old.execute(
        "INSERT INTO holds (id, state, created_at, expires_at) "
        "VALUES ('h1', 'held', '2026-01-01T00:00:00+00:00', '2999-01-01T00:00:00+00:00')"
    )
    old.execute("INSERT INTO hold_parts (hold_id, period_id, amount) VALUES ('h1', 1, 300)")
    old.close()

    with user_store() as store:
        assert versions(connection(store)) == {"user": LATEST}
        status = store.ledger.budgets.status("team")
        assert (status.spent, status.reserved, status.overdrawn, status.overdraft) == (
            100,
            300,
            False,
            0,
        )
        from orca.cost import Charge, Hold

        done = store.ledger.settle(
            Hold("h1", ((1, 300),)), Charge("openai", "m", 1, 1, cost_nano_usd=250)
        )
        assert not done.overdrafts
        assert not done.over_bound
        assert store.ledger.budgets.status("team").spent == 350
