"""The server's bearer tokens in a project database (``api_tokens``)."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orca.errors import InvalidInputError, closest
from orca.store._clock import Clock, utc_now
from orca.store._tokens import (
    TokenRecord,
    check_scope,
    check_token_name,
    mint,
    same_hash,
    split_token,
    token_hash,
)
from orca.store.sqlite import _db
from orca.store.sqlite._schema import TOKEN_COMPONENT, TOKEN_MIGRATIONS

_COLUMNS = "id, name, scope, created_at, last_used_at, revoked_at"
TOUCH_EVERY_S = 60.0
"""``last_used_at`` is written at most this often per token (a write per request would
cost every authenticated request a commit)."""


class SqliteTokens:
    """``TokenRepository`` over the project database at ``path`` (its table created, or
    migrated, when opened).

    Raises:
        CorruptDatabaseError: the file is not an Orca database, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """

    def __init__(self, path: str | Path, *, clock: Clock = utc_now) -> None:
        self.path = str(path)
        self._clock = clock
        self._conn = _db.connect(self.path)
        self._lock = threading.Lock()
        self._touched: dict[str, float] = {}
        try:
            _db.prepare(self._conn, self.path, TOKEN_COMPONENT, TOKEN_MIGRATIONS)
        except BaseException:
            self._conn.close()
            raise

    def __repr__(self) -> str:
        return f"<SqliteTokens {self.path!r}>"

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            if not _db.is_damage(exc):
                raise
            raise _db.damaged(self.path, exc) from exc

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds")

    def create(self, name: str, scope: str) -> tuple[TokenRecord, str]:
        check_token_name(name)
        check_scope(scope)
        token_id, token = mint()
        record = TokenRecord(token_id, name, scope, self._now())
        with self._lock, self._errors():
            try:
                with _db.transaction(self._conn):
                    self._conn.execute(
                        "INSERT INTO api_tokens (id, name, scope, token_sha256, created_at) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (token_id, name, scope, token_hash(token), record.created_at),
                    )
            except sqlite3.IntegrityError:
                raise InvalidInputError(
                    f"a live token is named {name!r}. Fix: choose another name, or revoke "
                    f"it first: orca token revoke {name}"
                ) from None
        return record, token

    def list(self, *, revoked: bool = True) -> list[TokenRecord]:
        sql = f"SELECT {_COLUMNS} FROM api_tokens"
        if not revoked:
            sql += " WHERE revoked_at IS NULL"
        with self._lock, self._errors():
            rows = self._conn.execute(sql + " ORDER BY created_at, rowid").fetchall()
        return [TokenRecord(*r) for r in rows]

    def revoke(self, name: str) -> TokenRecord:
        now = self._now()
        with self._lock, self._errors(), _db.transaction(self._conn):
            row = self._conn.execute(
                f"UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL "
                f"RETURNING {_COLUMNS}",
                (now, name),
            ).fetchone()
            live = [r[0] for r in self._conn.execute(
                "SELECT name FROM api_tokens WHERE revoked_at IS NULL ORDER BY name"
            )]  # fmt: skip
        if row is None:
            raise InvalidInputError(
                f"no live token is named {name!r}{closest(name, live)} (live: "
                f"{', '.join(live) or 'none'}). Fix: orca token list shows them"
            )
        self._touched.pop(row[0], None)
        return TokenRecord(*row)

    def verify(self, token: str) -> TokenRecord | None:
        token_id = split_token(token)
        if token_id is None:
            return None
        with self._lock, self._errors():
            row = self._conn.execute(
                f"SELECT {_COLUMNS}, token_sha256 FROM api_tokens "
                "WHERE id = ? AND revoked_at IS NULL",
                (token_id,),
            ).fetchone()
            if row is None or not same_hash(row[6], token):
                return None
            record = TokenRecord(*row[:6])
            now = time.monotonic()
            if now - self._touched.get(token_id, -TOUCH_EVERY_S) >= TOUCH_EVERY_S:
                self._touched[token_id] = now
                used = self._now()
                with _db.transaction(self._conn):
                    self._conn.execute(
                        "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (used, token_id)
                    )
                record = dataclasses.replace(record, last_used_at=used)
        return record

    def live(self) -> int:
        with self._lock, self._errors():
            row = self._conn.execute(
                "SELECT COUNT(*) FROM api_tokens WHERE revoked_at IS NULL"
            ).fetchone()
        return int(row[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteTokens:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
