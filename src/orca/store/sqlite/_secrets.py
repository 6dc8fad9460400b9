"""A tenant's sealed secrets in a project database (``secrets``)."""

from __future__ import annotations

from pathlib import Path

from orca.store._clock import Clock, utc_now
from orca.store._sealing import KeySource, MasterKey, Sealed, reseal, seal, unseal
from orca.store._secrets import SecretRecord, check_secret_name, check_secret_value
from orca.store.sqlite import _db
from orca.store.sqlite._schema import SECRETS_COMPONENT, SECRETS_MIGRATIONS
from orca.store.sqlite._tables import SqliteTables

_RECORD = "name, fingerprint, created_at, updated_at"
_SEALED = "nonce, ciphertext, key_id, fingerprint"


class SqliteSecrets(SqliteTables):
    """``SecretRepository`` over the project database at ``path`` (its table created, or
    migrated, when opened), for ``tenant``, sealing under the master key of ``keys``.

    Raises:
        CorruptDatabaseError: the file is not an Orca database, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """

    COMPONENTS = ((SECRETS_COMPONENT, SECRETS_MIGRATIONS),)

    def __init__(
        self,
        path: str | Path,
        *,
        tenant: str,
        keys: KeySource | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.tenant = tenant
        self.keys = keys if keys is not None else KeySource()
        super().__init__(path, clock=clock)

    def __repr__(self) -> str:
        return f"<SqliteSecrets {self.path!r} tenant={self.tenant!r}>"

    def put(self, name: str, value: str) -> SecretRecord:
        check_secret_name(name)
        check_secret_value(value)
        sealed = seal(self.keys.key(create=True), self.tenant, name, value)
        now = self._now()
        with self._lock, self._errors(), _db.transaction(self._conn):
            row = self._conn.execute(
                f"INSERT INTO secrets (name, {_SEALED}, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
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
        return SecretRecord(*row)

    def list(self) -> list[SecretRecord]:
        with self._lock, self._errors():
            rows = self._conn.execute(f"SELECT {_RECORD} FROM secrets ORDER BY name").fetchall()
        return [SecretRecord(*r) for r in rows]

    def delete(self, name: str) -> bool:
        with self._lock, self._errors(), _db.transaction(self._conn):
            gone = self._conn.execute("DELETE FROM secrets WHERE name = ?", (name,)).rowcount
        return gone > 0

    def reveal(self, name: str) -> str | None:
        with self._lock, self._errors():
            row = self._conn.execute(
                f"SELECT {_SEALED} FROM secrets WHERE name = ?", (name,)
            ).fetchone()
        if row is None:
            return None
        return unseal(self.keys.key(), self.tenant, name, Sealed.of(row), where=self.path)

    def rekey(self, old: MasterKey, new: MasterKey) -> int:
        with self._lock, self._errors(), _db.transaction(self._conn):
            rows = self._conn.execute(f"SELECT name, {_SEALED} FROM secrets").fetchall()
            changed = 0
            for name, *rest in rows:
                again = reseal(old, new, self.tenant, name, Sealed.of(rest), where=self.path)
                if again is None:
                    continue
                self._conn.execute(
                    "UPDATE secrets SET nonce = ?, ciphertext = ?, key_id = ?, "
                    "fingerprint = ? WHERE name = ?",
                    (again.nonce, again.ciphertext, again.key_id, again.fingerprint, name),
                )
                changed += 1
        return changed
