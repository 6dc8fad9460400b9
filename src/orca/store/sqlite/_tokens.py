"""The server's bearer tokens (``api_tokens``) and the registry of tenants
(``tenants``) in the default tenant's project database."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from pathlib import Path

from orca.errors import InvalidInputError, closest
from orca.store._clock import Clock, utc_now
from orca.store._tenants import (
    DEFAULT_TENANT,
    TenantRecord,
    check_display_name,
    check_tenant,
)
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
from orca.store.sqlite._tables import SqliteTables

_COLUMNS = "id, name, scope, created_at, last_used_at, revoked_at, tenant"
TOUCH_EVERY_S = 60.0
"""``last_used_at`` is written at most this often per token (a write per request would
cost every authenticated request a commit)."""


class SqliteTokens(SqliteTables):
    """``TokenRepository`` over the project database at ``path`` (its table created, or
    migrated, when opened).

    Raises:
        CorruptDatabaseError: the file is not an Orca database, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """

    COMPONENTS = ((TOKEN_COMPONENT, TOKEN_MIGRATIONS),)

    def __init__(self, path: str | Path, *, clock: Clock = utc_now) -> None:
        self._touched: dict[str, float] = {}
        super().__init__(path, clock=clock)

    def create(
        self, name: str, scope: str, *, tenant: str = DEFAULT_TENANT
    ) -> tuple[TokenRecord, str]:
        check_token_name(name)
        check_scope(scope)
        check_tenant(tenant)
        token_id, token = mint()
        record = TokenRecord(token_id, name, scope, self._now(), tenant=tenant)
        with self._lock, self._errors():
            try:
                with _db.transaction(self._conn):
                    owner = self._conn.execute(
                        "SELECT disabled_at FROM tenants WHERE name = ?", (tenant,)
                    ).fetchone()
                    unusable(tenant, owner)
                    self._conn.execute(
                        "INSERT INTO api_tokens (id, name, scope, token_sha256, created_at, "
                        "tenant) VALUES (?, ?, ?, ?, ?, ?)",
                        (token_id, name, scope, token_hash(token), record.created_at, tenant),
                    )
            except sqlite3.IntegrityError:
                raise taken(name, tenant) from None
        return record, token

    def list(
        self, *, revoked: bool = True, tenant: str | None = DEFAULT_TENANT
    ) -> list[TokenRecord]:
        sql = f"SELECT {_COLUMNS} FROM api_tokens WHERE (? OR revoked_at IS NULL)"
        args: tuple[object, ...] = (revoked,)
        if tenant is not None:
            sql += " AND tenant = ?"
            args += (tenant,)
        with self._lock, self._errors():
            rows = self._conn.execute(sql + " ORDER BY created_at, rowid", args).fetchall()
        return [TokenRecord(*r) for r in rows]

    def revoke(self, name: str, *, tenant: str = DEFAULT_TENANT) -> TokenRecord:
        now = self._now()
        with self._lock, self._errors(), _db.transaction(self._conn):
            row = self._conn.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND tenant = ? "
                f"AND revoked_at IS NULL RETURNING {_COLUMNS}",
                (now, name, tenant),
            ).fetchone()
            live = [r[0] for r in self._conn.execute(
                "SELECT name FROM api_tokens WHERE revoked_at IS NULL AND tenant = ? "
                "ORDER BY name", (tenant,)
            )]  # fmt: skip
        if row is None:
            raise not_live(name, live)
        self._touched.pop(row[0], None)
        return TokenRecord(*row)

    def verify(self, token: str) -> TokenRecord | None:
        token_id = split_token(token)
        if token_id is None:
            return None
        with self._lock, self._errors():
            row = self._conn.execute(
                f"SELECT {_COLUMNS}, token_sha256 FROM api_tokens WHERE id = ? "
                "AND revoked_at IS NULL AND tenant IN "
                "(SELECT name FROM tenants WHERE disabled_at IS NULL)",
                (token_id,),
            ).fetchone()
            if row is None or not same_hash(row[7], token):
                return None
            record = TokenRecord(*row[:7])
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


def unusable(tenant: str, owner: tuple[object, ...] | None) -> None:
    """Refuse a token for a tenant that is not registered (``owner`` is its row's
    ``disabled_at``) or is disabled."""
    if owner is None:
        raise InvalidInputError(
            f"no tenant is named {tenant!r}. Fix: register it first: orca tenant create {tenant}"
        )
    if owner[0] is not None:
        raise InvalidInputError(
            f"tenant {tenant!r} is disabled. Fix: enable it first: orca tenant enable {tenant}"
        )


def taken(name: str, tenant: str) -> InvalidInputError:
    where = "" if tenant == DEFAULT_TENANT else f" in tenant {tenant!r}"
    return InvalidInputError(
        f"a live token is named {name!r}{where}. Fix: choose another name, or revoke it "
        f"first: orca token revoke {name}"
    )


def not_live(name: str, live: list[str]) -> InvalidInputError:
    return InvalidInputError(
        f"no live token is named {name!r}{closest(name, live)} (live: "
        f"{', '.join(live) or 'none'}). Fix: orca token list shows them"
    )


def no_tenant(name: str, known: list[str]) -> InvalidInputError:
    return InvalidInputError(
        f"no tenant is named {name!r}{closest(name, known)}. Fix: orca tenant list shows them"
    )


class SqliteTenants(SqliteTables):
    """``TenantRepository`` over the default tenant's project database at ``path``."""

    COMPONENTS = ((TOKEN_COMPONENT, TOKEN_MIGRATIONS),)

    def create(self, name: str, display_name: str = "") -> TenantRecord:
        check_tenant(name)
        check_display_name(display_name)
        record = TenantRecord(name, display_name, self._now())
        with self._lock:
            try:
                with _db.transaction(self._conn):
                    self._conn.execute(
                        "INSERT INTO tenants (name, display_name, created_at) VALUES (?, ?, ?)",
                        (name, display_name, record.created_at),
                    )
            except sqlite3.IntegrityError:
                raise InvalidInputError(
                    f"a tenant is named {name!r}. Fix: choose another name"
                ) from None
        return record

    def get(self, name: str) -> TenantRecord | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT name, display_name, created_at, disabled_at FROM tenants WHERE name = ?",
                (name,),
            ).fetchone()
        return None if row is None else TenantRecord(*row)

    def list(self) -> list[TenantRecord]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, display_name, created_at, disabled_at FROM tenants "
                "ORDER BY name <> 'default', name"
            ).fetchall()
        return [TenantRecord(*r) for r in rows]

    def set_disabled(self, name: str, disabled: bool) -> TenantRecord:
        if name == DEFAULT_TENANT:
            raise InvalidInputError(
                "the default tenant cannot be disabled. Fix: revoke its tokens instead"
            )
        when = self._clock().isoformat(timespec="seconds") if disabled else None
        with self._lock, _db.transaction(self._conn):
            row = self._conn.execute(
                "UPDATE tenants SET disabled_at = ? WHERE name = ? "
                "RETURNING name, display_name, created_at, disabled_at",
                (when, name),
            ).fetchone()
            known = [r[0] for r in self._conn.execute("SELECT name FROM tenants ORDER BY name")]
        if row is None:
            raise no_tenant(name, known)
        return TenantRecord(*row)
