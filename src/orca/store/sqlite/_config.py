"""Configurations in SQLite: the ``configurations`` table, one text value per key."""

from __future__ import annotations

from orca.store._user import check_config_key, check_config_value
from orca.store.sqlite._user_db import UserDb


class SqliteConfigurations:
    """Named settings Orca keeps (``orca.store.ConfigurationRepository``)."""

    def __init__(self, db: UserDb) -> None:
        self._db = db

    def get(self, key: str) -> str | None:
        check_config_key(key)
        rows = self._db.read("SELECT value FROM configurations WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set(self, key: str, value: str) -> None:
        check_config_key(key)
        check_config_value(key, value)
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO configurations (key, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (key, value, self._db.clock().isoformat()),
            )

    def delete(self, key: str) -> bool:
        check_config_key(key)
        with self._db.write() as conn:
            return conn.execute("DELETE FROM configurations WHERE key = ?", (key,)).rowcount > 0

    def all(self) -> dict[str, str]:
        return dict(self._db.read("SELECT key, value FROM configurations ORDER BY key"))
