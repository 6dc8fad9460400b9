"""The server's bearer tokens (``api_tokens``) and the registry of tenants
(``tenants``) in the default tenant's schema of a PostgreSQL database: the twins of
``orca.store.sqlite._tokens``, through the same protocols. Only each token's SHA-256 is
kept; times are the store clock's."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import errors as pgerrors

from orca.errors import InvalidInputError
from orca.store._clock import Clock, utc_now
from orca.store._tenants import (
    DEFAULT_TENANT,
    TenantRecord,
    check_display_name,
    check_tenant,
)
from orca.store._text import has_nul
from orca.store._tokens import (
    TokenRecord,
    check_scope,
    check_token_name,
    mint,
    same_hash,
    split_token,
    token_hash,
)
from orca.store.postgres._db import PgDb
from orca.store.postgres._schema import TOKEN_COMPONENT, TOKEN_MIGRATIONS
from orca.store.sqlite._tokens import no_tenant, not_live, taken, unusable

_COLUMNS = "id, name, scope, created_at, last_used_at, revoked_at, tenant"
TOUCH_EVERY_S = 60.0
"""``last_used_at`` is written at most this often per token by one client (a write per
request would cost every authenticated request a commit)."""


class PgTokens:
    """``TokenRepository`` over the database of ``db`` (its table created, or migrated,
    when made). Safe to share between threads.

    Raises:
        SchemaVersionError, CorruptDatabaseError, StoreUnavailableError: as ``PgDb.prepare``.
    """

    def __init__(self, db: PgDb, *, clock: Clock = utc_now) -> None:
        self.db = db
        self._clock = clock
        self._lock = threading.Lock()
        self._touched: dict[str, float] = {}
        db.prepare([(TOKEN_COMPONENT, TOKEN_MIGRATIONS)])

    def __repr__(self) -> str:
        return f"<PgTokens {self.db.where}>"

    @contextmanager
    def _errors(self, name: str, tenant: str) -> Iterator[None]:
        """psycopg's errors as the repository's (the one place they are mapped)."""
        try:
            yield
        except pgerrors.UniqueViolation:
            raise taken(name, tenant) from None

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds")

    def create(
        self, name: str, scope: str, *, tenant: str = DEFAULT_TENANT
    ) -> tuple[TokenRecord, str]:
        check_token_name(name)
        check_scope(scope)
        check_tenant(tenant)
        token_id, token = mint()
        record = TokenRecord(token_id, name, scope, self._now(), tenant=tenant)
        with self._errors(name, tenant), self.db.transaction() as c:
            owner = c.execute(
                "SELECT disabled_at FROM tenants WHERE name = %s FOR SHARE", (tenant,)
            ).fetchone()
            unusable(tenant, owner)
            c.execute(
                "INSERT INTO api_tokens (id, name, scope, token_sha256, created_at, tenant) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (token_id, name, scope, token_hash(token), record.created_at, tenant),
            )
        return record, token

    def list(
        self, *, revoked: bool = True, tenant: str | None = DEFAULT_TENANT
    ) -> list[TokenRecord]:
        with self.db.read() as c:
            rows = c.execute(
                f"SELECT {_COLUMNS} FROM api_tokens WHERE (%s OR revoked_at IS NULL) "
                "AND (%s::text IS NULL OR tenant = %s) ORDER BY created_at, pos",
                (revoked, tenant, tenant),
            ).fetchall()
        return [TokenRecord(*r) for r in rows]

    def revoke(self, name: str, *, tenant: str = DEFAULT_TENANT) -> TokenRecord:
        now = self._now()
        with self.db.transaction() as c:
            row = None
            if not has_nul(name) and not has_nul(tenant):  # no token is named so
                row = c.execute(
                    "UPDATE api_tokens SET revoked_at = %s WHERE name = %s AND tenant = %s "
                    f"AND revoked_at IS NULL RETURNING {_COLUMNS}",
                    (now, name, tenant),
                ).fetchone()
            live = [
                str(r[0])
                for r in c.execute(
                    "SELECT name FROM api_tokens WHERE revoked_at IS NULL AND tenant = %s "
                    "ORDER BY name",
                    (tenant.replace("\x00", ""),),
                ).fetchall()
            ]
        if row is None:
            raise not_live(name, live)
        with self._lock:
            self._touched.pop(row[0], None)
        return TokenRecord(*row)

    def verify(self, token: str) -> TokenRecord | None:
        token_id = split_token(token)
        if token_id is None:
            return None
        with self.db.read() as c:
            row = c.execute(
                f"SELECT {_COLUMNS}, token_sha256 FROM api_tokens WHERE id = %s "
                "AND revoked_at IS NULL AND tenant IN "
                "(SELECT name FROM tenants WHERE disabled_at IS NULL)",
                (token_id,),
            ).fetchone()
            if row is None or not same_hash(row[7], token):
                return None
            record = TokenRecord(*row[:7])
            now = time.monotonic()
            with self._lock:
                due = now - self._touched.get(token_id, -TOUCH_EVERY_S) >= TOUCH_EVERY_S
                if due:
                    self._touched[token_id] = now
            if due:
                used = self._now()
                # autocommit: one statement, its own transaction
                c.execute("UPDATE api_tokens SET last_used_at = %s WHERE id = %s", (used, token_id))
                record = dataclasses.replace(record, last_used_at=used)
        return record

    def live(self) -> int:
        with self.db.read() as c:
            row = c.execute("SELECT COUNT(*) FROM api_tokens WHERE revoked_at IS NULL").fetchone()
        assert row is not None
        return int(row[0])

    def close(self) -> None:
        """Nothing to release: the store owns the pool."""

    def __enter__(self) -> PgTokens:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_TENANT_COLUMNS = "name, display_name, created_at, disabled_at"


class PgTenants:
    """``TenantRepository`` over the default tenant's schema of ``db``."""

    def __init__(self, db: PgDb, *, clock: Clock = utc_now) -> None:
        self.db = db
        self._clock = clock
        db.prepare([(TOKEN_COMPONENT, TOKEN_MIGRATIONS)])

    def __repr__(self) -> str:
        return f"<PgTenants {self.db.where}>"

    def create(self, name: str, display_name: str = "") -> TenantRecord:
        check_tenant(name)
        check_display_name(display_name)
        record = TenantRecord(name, display_name, self._clock().isoformat(timespec="seconds"))
        try:
            with self.db.transaction() as c:
                c.execute(
                    "INSERT INTO tenants (name, display_name, created_at) VALUES (%s, %s, %s)",
                    (name, display_name, record.created_at),
                )
        except pgerrors.UniqueViolation:
            raise InvalidInputError(
                f"a tenant is named {name!r}. Fix: choose another name"
            ) from None
        return record

    def get(self, name: str) -> TenantRecord | None:
        if has_nul(name):
            return None
        with self.db.read() as c:
            row = c.execute(
                f"SELECT {_TENANT_COLUMNS} FROM tenants WHERE name = %s", (name,)
            ).fetchone()
        return None if row is None else TenantRecord(*row)

    def list(self) -> list[TenantRecord]:
        with self.db.read() as c:
            rows = c.execute(
                f"SELECT {_TENANT_COLUMNS} FROM tenants ORDER BY name <> 'default', name"
            ).fetchall()
        return [TenantRecord(*r) for r in rows]

    def set_disabled(self, name: str, disabled: bool) -> TenantRecord:
        if name == DEFAULT_TENANT:
            raise InvalidInputError(
                "the default tenant cannot be disabled. Fix: revoke its tokens instead"
            )
        when = self._clock().isoformat(timespec="seconds") if disabled else None
        with self.db.transaction() as c:
            row = None
            if not has_nul(name):
                row = c.execute(
                    f"UPDATE tenants SET disabled_at = %s WHERE name = %s "
                    f"RETURNING {_TENANT_COLUMNS}",
                    (when, name),
                ).fetchone()
            known = [str(r[0]) for r in c.execute("SELECT name FROM tenants ORDER BY name")]
        if row is None:
            raise no_tenant(name, known)
        return TenantRecord(*row)

    def close(self) -> None:
        """Nothing to release: the store owns the pool."""
