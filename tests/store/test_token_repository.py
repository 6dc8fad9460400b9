"""The server's token repository (``TokenRepository``) over a real project database:
tokens made, verified, listed and revoked; only hashes at rest; its own schema component;
two clients of one file see each other's revocations."""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

import pytest

from orca.errors import InvalidInputError
from orca.store import SqliteStore, SqliteTokens, TokenRecord, TokenRepository
from orca.store._tokens import allows, granted, split_token
from orca.store.sqlite._schema import TOKEN_MIGRATIONS

T0 = dt.datetime(2026, 5, 13, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / ".orca" / "project.db"


def test_a_made_token_verifies_and_only_its_hash_is_kept(db: Path) -> None:
    with SqliteTokens(db, clock=lambda: T0) as tokens:
        assert isinstance(tokens, TokenRepository)
        record, token = tokens.create("ci-bot", "run")
        assert record == TokenRecord(record.id, "ci-bot", "run", "2026-05-13T09:00:00+00:00")
        assert split_token(token) == record.id
        found = tokens.verify(token)
        assert found is not None
        assert (found.name, found.scope, found.last_used_at) == ("ci-bot", "run", record.created_at)
    conn = sqlite3.connect(db)
    try:
        [row] = conn.execute("SELECT * FROM api_tokens").fetchall()
        versions = dict(conn.execute("SELECT component, version FROM orca_schema"))
    finally:
        conn.close()
    assert hashlib.sha256(token.encode()).hexdigest() in row
    assert not any(isinstance(v, str) and token.split("_", 2)[2] in v for v in row)
    assert versions["tokens"] == len(TOKEN_MIGRATIONS)


def test_wrong_tokens_do_not_verify(db: Path) -> None:
    with SqliteTokens(db) as tokens:
        _, token = tokens.create("ci", "admin")
        secret = token.split("_", 2)[2]
        for wrong in (
            "",
            "orca_",
            token[:-1],
            token + "A",
            f"orca_ffffffffffff_{secret}",  # the right secret under another id
            token[:-1] + ("B" if token[-1] == "A" else "A"),
        ):
            assert tokens.verify(wrong) is None, wrong


def test_a_revoked_token_stops_verifying_in_every_client(db: Path) -> None:
    first, second = SqliteTokens(db), SqliteTokens(db)
    try:
        _, token = first.create("ci", "read")
        assert second.verify(token) is not None
        revoked = first.revoke("ci")
        assert revoked.revoked_at is not None
        assert second.verify(token) is None
        assert second.live() == 0
        assert [r.name for r in second.list()] == ["ci"]
        assert second.list(revoked=False) == []
        _, again = second.create("ci", "read")  # the name is free once revoked
        assert first.verify(again) is not None
        assert first.verify(token) is None
    finally:
        first.close()
        second.close()


def test_last_use_is_written_at_most_once_a_minute(db: Path) -> None:
    now = [T0]
    with SqliteTokens(db, clock=lambda: now[0]) as tokens:
        _, token = tokens.create("ci", "read")
        tokens.verify(token)
        now[0] = T0 + dt.timedelta(seconds=5)
        tokens.verify(token)  # within the minute (of the monotonic clock): not written
        [record] = tokens.list()
        assert record.last_used_at == "2026-05-13T09:00:00+00:00"


@pytest.mark.parametrize(
    ("name", "scope", "said"),
    [
        ("ci", "root", "scope 'root' is not read, run or admin"),
        ("", "read", "token name '' is not"),
        ("-ci", "read", "token name '-ci' is not"),
        ("a b", "read", "token name 'a b' is not"),
        ("x" * 65, "read", "is not 1 to 64"),
    ],
)
def test_bad_names_and_scopes_are_refused(db: Path, name: str, scope: str, said: str) -> None:
    with SqliteTokens(db) as tokens, pytest.raises(InvalidInputError, match=said) as caught:
        tokens.create(name, scope)
    assert "Fix:" in str(caught.value)


def test_two_live_tokens_cannot_share_a_name(db: Path) -> None:
    with SqliteTokens(db) as tokens:
        tokens.create("ci-bot", "read")
        with pytest.raises(InvalidInputError, match="a live token is named 'ci-bot'"):
            tokens.create("ci-bot", "admin")
        with pytest.raises(
            InvalidInputError, match=r"'ci-bat' \(did you mean 'ci-bot'\?\) \(live: ci-bot\)"
        ):
            tokens.revoke("ci-bat")
        assert tokens.live() == 1


def test_the_store_offers_the_tokens_beside_the_checkpoints(db: Path) -> None:
    with SqliteStore(db) as store:
        store.checkpoints  # noqa: B018 - the project tables first, as project_store does
        _, token = store.tokens.create("ui", "read")
        assert store.tokens.verify(token) is not None


def test_scopes_hold_those_below_them() -> None:
    assert granted("admin") == ("read", "run", "admin")
    assert granted("read") == ("read",)
    assert allows("admin", "run")
    assert allows("run", "read")
    assert not allows("run", "admin")
    assert not allows("read", "run")
