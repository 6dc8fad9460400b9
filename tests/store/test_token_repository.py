"""The server's token repository (``TokenRepository``) over a real project database:
tokens made, verified, listed and revoked; only hashes at rest; its own schema component;
two clients of one file see each other's revocations."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from orca.errors import InvalidInputError
from orca.store import SqliteStore, TokenRecord, TokenRepository
from orca.store._tokens import allows, granted, split_token
from orca.store.postgres import PostgresStore
from orca.store.postgres._schema import TOKEN_MIGRATIONS as PG_TOKEN_MIGRATIONS
from orca.store.sqlite._schema import TOKEN_MIGRATIONS

from ._project import Clock, Opener, open_project_fixture, rows  # noqa: F401 - a fixture

T0 = dt.datetime(2026, 5, 13, 9, 0, tzinfo=dt.UTC)

TokenOpener = Callable[..., TokenRepository]


@pytest.fixture
def open_tokens(open_project: Opener) -> TokenOpener:
    """Opens another client of one project's tokens (on each backend of ``BACKENDS``)."""

    def open_one(clock: Clock | None = None) -> TokenRepository:
        store = open_project(clock=clock) if clock is not None else open_project()
        return store.tokens

    return open_one


def test_a_made_token_verifies_and_only_its_hash_is_kept(open_project: Opener) -> None:
    store = open_project(clock=lambda: T0)
    tokens = store.tokens
    assert isinstance(tokens, TokenRepository)
    record, token = tokens.create("ci-bot", "run")
    assert record == TokenRecord(record.id, "ci-bot", "run", "2026-05-13T09:00:00+00:00")
    assert split_token(token) == record.id
    found = tokens.verify(token)
    assert found is not None
    assert (found.name, found.scope, found.last_used_at) == ("ci-bot", "run", record.created_at)
    [row] = rows(store, "SELECT * FROM api_tokens")
    versions = dict(rows(store, "SELECT component, version FROM orca_schema"))
    assert hashlib.sha256(token.encode()).hexdigest() in row
    assert not any(isinstance(v, str) and token.split("_", 2)[2] in v for v in row)
    migrations = PG_TOKEN_MIGRATIONS if isinstance(store, PostgresStore) else TOKEN_MIGRATIONS
    assert versions["tokens"] == len(migrations)


def test_wrong_tokens_do_not_verify(open_tokens: TokenOpener) -> None:
    tokens = open_tokens()
    _, token = tokens.create("ci", "admin")
    secret = token.split("_", 2)[2]
    for wrong in (
        "",
        "orca_",
        token[:-1],
        token + "A",
        f"orca_ffffffffffff_{secret}",  # the right secret under another id
        token[:-1] + ("B" if token[-1] == "A" else "A"),
        token + "\x00",  # hostile: a NUL (PostgreSQL's text refuses it)
        f"orca_{token[5:17]}\x00{secret}",
    ):
        assert tokens.verify(wrong) is None, wrong


def test_a_revoked_token_stops_verifying_in_every_client(open_tokens: TokenOpener) -> None:
    first, second = open_tokens(), open_tokens()
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


def test_last_use_is_written_at_most_once_a_minute(open_tokens: TokenOpener) -> None:
    now = [T0]
    tokens = open_tokens(clock=lambda: now[0])
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
        ("ci\x00", "read", r"token name 'ci\\x00' is not"),
        ("ci", "read\x00", r"scope 'read\\x00' is not"),
    ],
)
def test_bad_names_and_scopes_are_refused(
    open_tokens: TokenOpener, name: str, scope: str, said: str
) -> None:
    tokens = open_tokens()
    with pytest.raises(InvalidInputError, match=said) as caught:
        tokens.create(name, scope)
    assert "Fix:" in str(caught.value)
    assert tokens.list() == []


def test_two_live_tokens_cannot_share_a_name(open_tokens: TokenOpener) -> None:
    tokens = open_tokens()
    tokens.create("ci-bot", "read")
    with pytest.raises(InvalidInputError, match="a live token is named 'ci-bot'"):
        tokens.create("ci-bot", "admin")
    with pytest.raises(
        InvalidInputError, match=r"'ci-bat' \(did you mean 'ci-bot'\?\) \(live: ci-bot\)"
    ):
        tokens.revoke("ci-bat")
    with pytest.raises(InvalidInputError, match=r"no live token is named 'ci-bot\\x00'"):
        tokens.revoke("ci-bot\x00")  # hostile: a NUL names no token
    assert tokens.live() == 1


def test_revoked_and_live_names_list_in_byte_order(open_tokens: TokenOpener) -> None:
    tokens = open_tokens()
    for name in ("b", "B", "a", "9z"):
        tokens.create(name, "read")
    with pytest.raises(InvalidInputError, match=r"\(live: 9z, B, a, b\)"):
        tokens.revoke("nobody")


# SQLite only: ``checkpoints`` of the PostgreSQL store is another module's; the next
# test is the same promise over PostgreSQL's project repositories.
def test_the_store_offers_the_tokens_beside_the_checkpoints(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / ".orca" / "project.db") as store:
        store.checkpoints  # noqa: B018 - the project tables first, as project_store does
        _, token = store.tokens.create("ui", "read")
        assert store.tokens.verify(token) is not None


def test_the_postgres_store_offers_the_tokens_beside_its_project_tables(pg_url: str) -> None:
    with PostgresStore(pg_url) as store:
        store.flows.versions("x")  # other project tables first
        store.tasks.get("x")
        _, token = store.tokens.create("ui", "read")
        assert store.tokens.verify(token) is not None
        assert set(store.db.versions()) == {"flows", "tasks", "tokens"}


def test_scopes_hold_those_below_them() -> None:
    assert granted("admin") == ("read", "run", "admin")
    assert granted("read") == ("read",)
    assert allows("admin", "run")
    assert allows("run", "read")
    assert not allows("run", "admin")
    assert not allows("read", "run")
