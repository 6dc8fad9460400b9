"""Configurations in PostgreSQL: the ``configurations`` table, one text value per key."""

from __future__ import annotations

from orca.store._clock import Clock
from orca.store._user import check_config_key, check_config_value
from orca.store.postgres._db import PgDb
from orca.store.postgres._user_db import prepare_user


class PgConfigurations:
    """Named settings Orca keeps (``orca.store.ConfigurationRepository``)."""

    def __init__(self, db: PgDb, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        prepare_user(db)

    def get(self, key: str) -> str | None:
        check_config_key(key)
        with self._db.read() as conn:
            row = conn.execute("SELECT value FROM configurations WHERE key = %s", (key,)).fetchone()
        return str(row[0]) if row else None

    def set(self, key: str, value: str) -> None:
        check_config_key(key)
        check_config_value(key, value)
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO configurations (key, value, updated_at) VALUES (%s, %s, %s) "
                "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, "
                "updated_at = EXCLUDED.updated_at",
                (key, value, self._clock().isoformat()),
            )

    def delete(self, key: str) -> bool:
        check_config_key(key)
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM configurations WHERE key = %s", (key,)).rowcount > 0

    def all(self) -> dict[str, str]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT key, value FROM configurations ORDER BY key").fetchall()
        return {str(k): str(v) for k, v in rows}
