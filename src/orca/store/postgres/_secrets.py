"""A tenant's sealed secrets in a PostgreSQL database (``secrets``): the twin of
``orca.store.sqlite._secrets``, through the same protocol (``SecretRepository``)."""

from __future__ import annotations

from orca.store._clock import Clock, utc_now
from orca.store._sealing import KeySource, MasterKey, Sealed, reseal, seal, unseal
from orca.store._secrets import SecretRecord, check_secret_name, check_secret_value
from orca.store._text import has_nul
from orca.store.postgres._db import PgDb
from orca.store.postgres._schema import SECRETS_COMPONENT, SECRETS_MIGRATIONS

_RECORD = "name, fingerprint, created_at, updated_at"
_SEALED = "nonce, ciphertext, key_id, fingerprint"


class PgSecrets:
    """``SecretRepository`` over the database of ``db`` (its table created, or migrated,
    when made), for ``tenant``, sealing under the master key of ``keys``. Safe to share
    between threads.

    Raises:
        SchemaVersionError, CorruptDatabaseError, StoreUnavailableError: as ``PgDb.prepare``.
    """

    def __init__(
        self,
        db: PgDb,
        *,
        tenant: str,
        keys: KeySource | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.db = db
        self.tenant = tenant
        self.keys = keys if keys is not None else KeySource()
        self._clock = clock
        db.prepare([(SECRETS_COMPONENT, SECRETS_MIGRATIONS)])

    def __repr__(self) -> str:
        return f"<PgSecrets {self.db.where} tenant={self.tenant!r}>"

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds")

    def put(self, name: str, value: str) -> SecretRecord:
        check_secret_name(name)
        check_secret_value(value)
        sealed = seal(self.keys.key(create=True), self.tenant, name, value)
        now = self._now()
        with self.db.transaction() as c:
            row = c.execute(
                f"INSERT INTO secrets (name, {_SEALED}, created_at, updated_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                "nonce = excluded.nonce, ciphertext = excluded.ciphertext, "
                "key_id = excluded.key_id, fingerprint = excluded.fingerprint, "
                f"updated_at = excluded.updated_at RETURNING {_RECORD}",
                (
                    name,
                    sealed.nonce,
                    sealed.ciphertext,
                    sealed.key_id,
                    sealed.fingerprint,
                    now,
                    now,
                ),
            ).fetchone()
        assert row is not None
        return SecretRecord(*row)

    def list(self) -> list[SecretRecord]:
        with self.db.read() as c:
            rows = c.execute(f"SELECT {_RECORD} FROM secrets ORDER BY name").fetchall()
        return [SecretRecord(*r) for r in rows]

    def delete(self, name: str) -> bool:
        if has_nul(name):  # no secret is named so
            return False
        with self.db.transaction() as c:
            gone = c.execute("DELETE FROM secrets WHERE name = %s", (name,)).rowcount
        return gone > 0

    def reveal(self, name: str) -> str | None:
        if has_nul(name):
            return None
        with self.db.read() as c:
            row = c.execute(f"SELECT {_SEALED} FROM secrets WHERE name = %s", (name,)).fetchone()
        if row is None:
            return None
        return unseal(self.keys.key(), self.tenant, name, Sealed.of(row), where=self.db.where)

    def rekey(self, old: MasterKey, new: MasterKey) -> int:
        changed = 0
        with self.db.transaction() as c:
            rows = c.execute(f"SELECT name, {_SEALED} FROM secrets FOR UPDATE").fetchall()
            for name, *rest in rows:
                again = reseal(old, new, self.tenant, name, Sealed.of(rest), where=self.db.where)
                if again is None:
                    continue
                c.execute(
                    "UPDATE secrets SET nonce = %s, ciphertext = %s, key_id = %s, "
                    "fingerprint = %s WHERE name = %s",
                    (again.nonce, again.ciphertext, again.key_id, again.fingerprint, name),
                )
                changed += 1
        return changed

    def close(self) -> None:
        """Nothing to release: the store owns the pool."""

    def __enter__(self) -> PgSecrets:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
