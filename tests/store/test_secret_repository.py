"""A tenant's secrets (``SecretRepository``) over a real project database, on both
backends: values sealed with AES-256-GCM under a per-tenant key, never at rest in
plaintext, never in a record or a log; a row copied to another name or tenant, or
altered in any byte, does not open; a wrong master key says so and names the fix."""

from __future__ import annotations

import base64
import datetime as dt
import logging
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from orca.errors import CorruptDatabaseError, InvalidFieldError, SecretKeyError
from orca.store import KeySource, SecretRecord, SecretRepository, SqliteStore
from orca.store._sealing import KEY_ENV, MasterKey, new_key_text, parse_key
from orca.store._secrets import MAX_VALUE_BYTES
from orca.store.postgres import PostgresStore
from orca.store.postgres._schema import SECRETS_MIGRATIONS as PG_SECRETS_MIGRATIONS
from orca.store.sqlite._schema import SECRETS_MIGRATIONS

from ._project import Opener, Store, open_project_fixture, rows, write  # noqa: F401 - a fixture

KEY = "sk-live-3f9a1c7e5b2d4068a1b2c3d4e5f60718"
OTHER = "sk-ant-93b1e0aa77c2f4d1e5a6b7c8d9e0f1a2"
T0 = dt.datetime(2026, 5, 13, 9, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)


def keys(text: str | None = None, **kwargs: Any) -> KeySource:
    """A key source reading ``text`` as ``ORCA_SECRET_KEY`` (a new key when None)."""
    return KeySource(env={KEY_ENV: text or new_key_text()}, **kwargs)


def hexed(store: Store, data: bytes) -> str:
    """``data`` as a literal of the store's SQL."""
    if isinstance(store, PostgresStore):
        return f"'\\x{data.hex()}'::bytea"
    return f"X'{data.hex()}'"


def at_rest(store: Store) -> bytes:
    """Every byte the store's database holds: the SQLite files, or every row of the
    PostgreSQL tables as text."""
    if isinstance(store, PostgresStore):
        tables = rows(store, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        found = b""
        for (table,) in tables:
            for row in rows(store, f"SELECT * FROM {table}"):
                found += repr(row).encode()
        return found
    base = Path(store.path)
    return b"".join(p.read_bytes() for p in base.parent.glob(base.name + "*"))


def test_a_stored_secret_opens_and_only_its_record_is_shown(open_project: Opener) -> None:
    store = open_project(clock=lambda: T0, secret_keys=keys())
    secrets = store.secrets
    assert isinstance(secrets, SecretRepository)
    record = secrets.put("OPENAI_API_KEY", KEY)
    assert record == SecretRecord(
        "OPENAI_API_KEY", record.fingerprint, str(T0.isoformat()), str(T0.isoformat())
    )
    assert len(record.fingerprint) == 12
    assert int(record.fingerprint, 16) >= 0
    assert KEY not in repr(record)
    assert KEY not in str(record.to_dict())
    assert secrets.list() == [record]
    assert secrets.reveal("OPENAI_API_KEY") == KEY
    assert secrets.reveal("ANTHROPIC_API_KEY") is None
    versions = dict(rows(store, "SELECT component, version FROM orca_schema"))
    migrations = PG_SECRETS_MIGRATIONS if isinstance(store, PostgresStore) else SECRETS_MIGRATIONS
    assert versions["secrets"] == len(migrations)


def test_put_replaces_and_keeps_when_it_was_made(open_project: Opener) -> None:
    now = [T0]
    store = open_project(clock=lambda: now[0], secret_keys=keys())
    first = store.secrets.put("OPENAI_API_KEY", KEY)
    now[0] = T0 + dt.timedelta(hours=1)
    same = store.secrets.put("OPENAI_API_KEY", KEY)
    assert same.fingerprint == first.fingerprint  # equal values, equal marks
    assert (same.created_at, same.updated_at) == (first.created_at, now[0].isoformat())
    changed = store.secrets.put("OPENAI_API_KEY", OTHER)
    assert changed.fingerprint != first.fingerprint
    assert store.secrets.reveal("OPENAI_API_KEY") == OTHER
    assert [r.name for r in store.secrets.list()] == ["OPENAI_API_KEY"]
    # each write its own nonce: the same value twice is two different ciphertexts
    store.secrets.put("ANTHROPIC_API_KEY", OTHER)
    sealed = rows(store, "SELECT nonce, ciphertext FROM secrets ORDER BY name")
    assert sealed[0][0] != sealed[1][0]
    assert sealed[0][1] != sealed[1][1]


def test_delete_forgets_a_secret(open_project: Opener) -> None:
    store = open_project(secret_keys=keys())
    store.secrets.put("OPENAI_API_KEY", KEY)
    assert store.secrets.delete("OPENAI_API_KEY") is True
    assert store.secrets.delete("OPENAI_API_KEY") is False
    assert store.secrets.delete("NO\x00PE") is False
    assert store.secrets.list() == []
    assert store.secrets.reveal("OPENAI_API_KEY") is None


def test_two_clients_of_one_store_see_each_others_secrets(open_project: Opener) -> None:
    text = new_key_text()
    one, two = open_project(secret_keys=keys(text)), open_project(secret_keys=keys(text))
    one.secrets.put("OPENAI_API_KEY", KEY)
    assert two.secrets.reveal("OPENAI_API_KEY") == KEY
    two.secrets.delete("OPENAI_API_KEY")
    assert one.secrets.list() == []


def test_no_value_is_at_rest_in_plaintext(open_project: Opener) -> None:
    store = open_project(secret_keys=keys())
    store.secrets.put("OPENAI_API_KEY", KEY)
    store.secrets.put("ANTHROPIC_API_KEY", OTHER)
    store.secrets.put("OPENAI_API_KEY", OTHER + "-2")  # the old value replaced
    if isinstance(store, SqliteStore):
        store.close()  # the WAL's pages too: every file of the database
    held = at_rest(store)
    assert b"OPENAI_API_KEY" in held  # the names are there: what is read is the data
    for value in (KEY, OTHER, OTHER + "-2"):
        assert value.encode() not in held
        assert base64.b64encode(value.encode()) not in held
        assert value.encode().hex().encode() not in held


def test_a_row_copied_to_another_name_does_not_open(open_project: Opener) -> None:
    store = open_project(secret_keys=keys())
    store.secrets.put("OPENAI_API_KEY", KEY)
    write(
        store,
        "INSERT INTO secrets (name, nonce, ciphertext, key_id, fingerprint, created_at, "
        "updated_at) SELECT 'ANTHROPIC_API_KEY', nonce, ciphertext, key_id, fingerprint, "
        "created_at, updated_at FROM secrets WHERE name = 'OPENAI_API_KEY'",
    )
    with pytest.raises(CorruptDatabaseError, match="'ANTHROPIC_API_KEY' does not open") as err:
        store.secrets.reveal("ANTHROPIC_API_KEY")
    assert "copied from another secret or tenant" in str(err.value)
    assert "orca secret set ANTHROPIC_API_KEY" in str(err.value)
    assert KEY not in str(err.value)
    assert store.secrets.reveal("OPENAI_API_KEY") == KEY


def copy_row(source: Store, target: Store, name: str) -> None:
    """Secret ``name``'s row of ``source`` written into ``target``'s table, in SQL."""
    [(nonce, ciphertext, key_id, mark)] = rows(
        source, f"SELECT nonce, ciphertext, key_id, fingerprint FROM secrets WHERE name = '{name}'"
    )
    write(
        target,
        f"INSERT INTO secrets VALUES ('{name}', {hexed(target, bytes(nonce))}, "
        f"{hexed(target, bytes(ciphertext))}, '{key_id}', '{mark}', 'x', 'x')",
    )


def test_a_row_of_another_tenant_does_not_open(open_project: Opener) -> None:
    text = new_key_text()
    acme = open_project(tenant="acme", secret_keys=keys(text))
    acme.secrets.put("OPENAI_API_KEY", KEY)
    globex = open_project(tenant="globex", secret_keys=keys(text))
    if globex.secrets.list() == []:  # a namespace of its own (a PostgreSQL schema)
        copy_row(acme, globex, "OPENAI_API_KEY")
    # else one table read as either tenant's: the same row, read as globex's
    with pytest.raises(CorruptDatabaseError, match="copied from another secret or tenant"):
        globex.secrets.reveal("OPENAI_API_KEY")
    again = open_project(tenant="acme", secret_keys=keys(text))
    assert again.secrets.reveal("OPENAI_API_KEY") == KEY


def test_a_row_copied_into_another_tenants_database_does_not_open(
    open_project: Opener, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    text = new_key_text()
    acme = open_project(tenant="acme", secret_keys=keys(text))
    acme.secrets.put("OPENAI_API_KEY", KEY)
    globex: Store
    if isinstance(acme, PostgresStore):
        url = request.getfixturevalue("pg_cluster").create_database()
        globex = PostgresStore(url, tenant="globex", secret_keys=keys(text))
    else:
        globex = SqliteStore(tmp_path / "globex" / "project.db", tenant="globex",
                             secret_keys=keys(text))  # fmt: skip
    try:
        globex.secrets.put("ANTHROPIC_API_KEY", OTHER)
        copy_row(acme, globex, "OPENAI_API_KEY")
        with pytest.raises(CorruptDatabaseError, match="'OPENAI_API_KEY' does not open"):
            globex.secrets.reveal("OPENAI_API_KEY")
        assert globex.secrets.reveal("ANTHROPIC_API_KEY") == OTHER
    finally:
        globex.close()


@pytest.mark.parametrize("column", ["nonce", "ciphertext", "tag"])
def test_an_altered_byte_of_a_row_is_refused(open_project: Opener, column: str) -> None:
    store = open_project(secret_keys=keys())
    store.secrets.put("OPENAI_API_KEY", KEY)
    [(nonce, ciphertext)] = rows(store, "SELECT nonce, ciphertext FROM secrets")
    data = bytearray(bytes(nonce) if column == "nonce" else bytes(ciphertext))
    at = {"nonce": 5, "ciphertext": 3, "tag": len(data) - 1}[column]  # the tag ends it
    data[at] ^= 0x01
    target = "nonce" if column == "nonce" else "ciphertext"
    write(store, f"UPDATE secrets SET {target} = {hexed(store, bytes(data))}")
    with pytest.raises(CorruptDatabaseError, match="was altered"):
        store.secrets.reveal("OPENAI_API_KEY")


def test_a_truncated_ciphertext_is_refused(open_project: Opener) -> None:
    store = open_project(secret_keys=keys())
    store.secrets.put("OPENAI_API_KEY", KEY)
    write(store, f"UPDATE secrets SET ciphertext = {hexed(store, b'short')}, "
                 f"nonce = {hexed(store, b'')}")  # fmt: skip
    with pytest.raises(CorruptDatabaseError, match="was altered"):
        store.secrets.reveal("OPENAI_API_KEY")


def test_a_wrong_master_key_is_named_with_its_fix(open_project: Opener) -> None:
    store = open_project(secret_keys=keys())
    store.secrets.put("OPENAI_API_KEY", KEY)
    wrong = new_key_text()
    other = open_project(secret_keys=keys(wrong))
    with pytest.raises(SecretKeyError) as err:
        other.secrets.reveal("OPENAI_API_KEY")
    message = str(err.value)
    assert "sealed under master key" in message
    assert KEY_ENV in message
    assert "orca secret set OPENAI_API_KEY" in message
    assert wrong not in message
    assert KEY not in message
    assert other.secrets.list()[0].name == "OPENAI_API_KEY"  # listing needs no key


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("openai", "OPENAI_API_KEY"),
        ("", "capitals"),
        ("1PASSWORD", "capitals"),
        ("OPENAI-API-KEY", "capitals"),
        ("OPENAI API KEY", "capitals"),
        ("A" * 65, "capitals"),
        ("KEY\x00", "capitals"),
        ("../etc/passwd", "capitals"),
        ("KÉY", "capitals"),
    ],
)
def test_bad_names_are_refused_before_anything_is_stored(
    open_project: Opener, name: str, why: str
) -> None:
    store = open_project(secret_keys=keys())
    with pytest.raises(InvalidFieldError, match=why) as err:
        store.secrets.put(name, KEY)
    assert err.value.field == "name"
    assert store.secrets.list() == []


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("", "is empty"),
        ("  \n\t", "is empty"),
        ("sk-\x00abc", "NUL"),
        ("k" * (MAX_VALUE_BYTES + 1), f"over the {MAX_VALUE_BYTES}"),
        ("é" * (MAX_VALUE_BYTES // 2 + 1), "bytes"),
        ("sk-\ud800", "surrogate"),
    ],
)
def test_bad_values_are_refused_and_never_quoted(
    open_project: Opener, value: str, why: str
) -> None:
    store = open_project(secret_keys=keys())
    with pytest.raises(InvalidFieldError, match=why) as err:
        store.secrets.put("OPENAI_API_KEY", value)
    assert err.value.field == "value"
    if value.strip():
        assert value not in str(err.value)
    assert store.secrets.list() == []


def test_the_largest_value_is_taken(open_project: Opener) -> None:
    store = open_project(secret_keys=keys())
    big = "k" * MAX_VALUE_BYTES
    store.secrets.put("GOOGLE_APPLICATION_CREDENTIALS", big)
    assert store.secrets.reveal("GOOGLE_APPLICATION_CREDENTIALS") == big


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "is empty"),
        ("   ", "is empty"),
        ("not base64 at all!", "not base64"),
        (base64.b64encode(b"k" * 16).decode(), "is 16 bytes; it must be 32"),
        (base64.b64encode(b"k" * 33).decode(), "is 33 bytes; it must be 32"),
    ],
)
def test_a_malformed_master_key_is_refused_and_never_quoted(
    open_project: Opener, text: str, why: str
) -> None:
    store = open_project(secret_keys=keys(text) if text else KeySource(env={KEY_ENV: ""}))
    with pytest.raises(SecretKeyError, match=why) as err:
        store.secrets.put("OPENAI_API_KEY", KEY)
    assert KEY_ENV in str(err.value)
    assert "base64 of 32 random bytes" in str(err.value)
    if text.strip():
        assert text not in str(err.value)
    assert store.secrets.list() == []


def test_the_default_key_file_is_made_0600_on_first_write_only(
    open_project: Opener, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    store = open_project(secret_keys=KeySource(env={}, home=home))
    assert store.secrets.list() == []
    assert store.secrets.reveal("OPENAI_API_KEY") is None
    assert not (home / "secret.key").exists()  # nothing stored, no key made
    store.secrets.put("OPENAI_API_KEY", KEY)
    made = home / "secret.key"
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert len(base64.b64decode(made.read_text().strip())) == 32
    again = open_project(secret_keys=KeySource(env={}, home=home))
    assert again.secrets.reveal("OPENAI_API_KEY") == KEY
    # the key file gone: the secrets cannot be opened, and the error says what to restore
    made.unlink()
    lost = open_project(secret_keys=KeySource(env={}, home=home))
    with pytest.raises(SecretKeyError, match="does not exist") as err:
        lost.secrets.reveal("OPENAI_API_KEY")
    assert f"restore {made}" in str(err.value)


def test_a_configured_key_file_must_exist_and_is_never_made(
    open_project: Opener, tmp_path: Path
) -> None:
    path = tmp_path / "keys" / "orca.key"
    store = open_project(secret_keys=KeySource(path, env={}))
    with pytest.raises(SecretKeyError, match=f"{path} does not exist"):
        store.secrets.put("OPENAI_API_KEY", KEY)
    assert not path.exists()
    path.parent.mkdir()
    path.write_text("tooshort")
    store = open_project(secret_keys=KeySource(path, env={}))
    with pytest.raises(SecretKeyError, match=r"not base64|bytes; it must be 32"):
        store.secrets.put("OPENAI_API_KEY", KEY)
    path.write_text(new_key_text() + "\n")
    store = open_project(secret_keys=KeySource(path, env={}))
    store.secrets.put("OPENAI_API_KEY", KEY)
    assert store.secrets.reveal("OPENAI_API_KEY") == KEY


def test_the_environment_key_wins_over_the_key_file(tmp_path: Path) -> None:
    path = tmp_path / "orca.key"
    path.write_text(new_key_text())
    text = new_key_text()
    assert KeySource(path, env={KEY_ENV: text}).key() == parse_key(text, KEY_ENV)
    assert KeySource(path, env={}).key().origin == str(path)
    assert "material" not in repr(parse_key(text, KEY_ENV))
    assert text not in repr(parse_key(text, KEY_ENV))


def test_rekey_seals_every_secret_under_the_new_key(open_project: Opener) -> None:
    old_text, new_text = new_key_text(), new_key_text()
    store = open_project(secret_keys=keys(old_text))
    store.secrets.put("OPENAI_API_KEY", KEY)
    store.secrets.put("ANTHROPIC_API_KEY", OTHER)
    before = {r.name: r for r in store.secrets.list()}
    old, new = parse_key(old_text, "old"), parse_key(new_text, "new")
    assert store.secrets.rekey(old, new) == 2
    assert store.secrets.rekey(old, new) == 0  # already done: nothing to do
    rotated = open_project(secret_keys=keys(new_text))
    assert rotated.secrets.reveal("OPENAI_API_KEY") == KEY
    assert rotated.secrets.reveal("ANTHROPIC_API_KEY") == OTHER
    after = {r.name: r for r in rotated.secrets.list()}
    assert after["OPENAI_API_KEY"].created_at == before["OPENAI_API_KEY"].created_at
    with pytest.raises(SecretKeyError, match="sealed under master key"):
        open_project(secret_keys=keys(old_text)).secrets.reveal("OPENAI_API_KEY")


def test_rekey_changes_nothing_when_a_secret_is_under_neither_key(open_project: Opener) -> None:
    text = new_key_text()
    store = open_project(secret_keys=keys(text))
    store.secrets.put("OPENAI_API_KEY", KEY)
    stray = new_key_text()
    open_project(secret_keys=keys(stray)).secrets.put("ANTHROPIC_API_KEY", OTHER)
    before = rows(store, "SELECT name, nonce, ciphertext, key_id FROM secrets ORDER BY name")
    a, b = parse_key(text, "old"), parse_key(new_key_text(), "new")
    with pytest.raises(SecretKeyError, match="neither the old key"):
        store.secrets.rekey(a, b)
    after = rows(store, "SELECT name, nonce, ciphertext, key_id FROM secrets ORDER BY name")
    assert [tuple(map(_plain, r)) for r in after] == [tuple(map(_plain, r)) for r in before]


def _plain(value: Any) -> Any:
    return bytes(value) if isinstance(value, bytes | memoryview) else value


def test_no_value_reaches_a_log(open_project: Opener, caplog: pytest.LogCaptureFixture,
                                tmp_path: Path) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    store = open_project(secret_keys=KeySource(env={}, home=tmp_path / "h"))
    store.secrets.put("OPENAI_API_KEY", KEY)
    assert store.secrets.reveal("OPENAI_API_KEY") == KEY
    store.secrets.list()
    with pytest.raises(InvalidFieldError):
        store.secrets.put("OPENAI_API_KEY", KEY + "\x00")
    key_text = (tmp_path / "h" / "secret.key").read_text().strip()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "made a new master key" in logged  # the log is captured: it says the file
    assert KEY not in logged
    assert key_text not in logged


def test_tenant_keys_and_fingerprints_differ_by_tenant() -> None:
    master: MasterKey = parse_key(new_key_text(), "test")
    assert master.tenant_key("acme") != master.tenant_key("globex")
    assert master.fingerprint("acme", KEY) != master.fingerprint("globex", KEY)
    assert master.fingerprint("acme", KEY) == master.fingerprint("acme", KEY)
    assert len(master.key_id) == 16
    assert master.key_id != parse_key(new_key_text(), "x").key_id


STORE_ONE = """
import sys
from pathlib import Path
from orca.store import KeySource, SqliteStore

folder, i = Path(sys.argv[1]), sys.argv[2]
store = SqliteStore(folder / "project.db", secret_keys=KeySource(home=folder, env={}))
store.secrets.list()  # opened: only the key is still to be read
print("ready", flush=True)
sys.stdin.readline()  # every process waits here, then all store at once
store.secrets.put(f"KEY_{i}", f"value-{i}")
store.close()
"""


def test_processes_storing_at_once_on_first_use_share_one_key_file(tmp_path: Path) -> None:
    """Eight processes, all opened, then all storing at once: one key file is made and
    every value opens under it, no stray files left (the file is written aside and
    linked into place, so no process can read a half-written key; the test shows the
    outcome, it cannot force the interleaving)."""
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != KEY_ENV}
    command = [sys.executable, "-c", STORE_ONE, str(tmp_path)]
    procs = [
        subprocess.Popen([*command, str(i)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        for i in range(8)
    ]
    for proc in procs:  # all opened before any goes on
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
    assert [proc.wait(timeout=120) for proc in procs] == [0] * 8
    with SqliteStore(tmp_path / "project.db",
                     secret_keys=KeySource(home=tmp_path, env={})) as store:  # fmt: skip
        # every value opens under the one key file: no process made a second key
        opened = {store.secrets.reveal(f"KEY_{i}") for i in range(8)}
    assert opened == {f"value-{i}" for i in range(8)}
    assert [p.name for p in tmp_path.iterdir() if "secret" in p.name] == ["secret.key"]


def test_an_existing_key_file_is_never_replaced(tmp_path: Path) -> None:
    from orca.store._sealing import write_key_file

    path = tmp_path / "secret.key"
    assert write_key_file(path) is True
    first = path.read_text()
    assert write_key_file(path) is False
    assert path.read_text() == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]


def test_a_key_file_others_may_read_is_used_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "orca.key"
    text = new_key_text()
    path.write_text(text)
    path.chmod(0o644)
    with caplog.at_level(logging.WARNING, logger="orca.store"):
        assert KeySource(path, env={}).key() == parse_key(text, str(path))
    assert f"the master key file {path} is readable by others: chmod 600 it" in caplog.text
    assert text not in caplog.text
