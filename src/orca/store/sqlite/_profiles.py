"""LLM profiles in SQLite: the ``llm_profiles`` table; params as JSON objects."""

from __future__ import annotations

import json
import sqlite3
import uuid
from typing import Any

from orca.errors import ConfigError, UnknownProfileError
from orca.store._user import ModelRecord, ProfileRecord
from orca.store.sqlite._db import json_column
from orca.store.sqlite._user_db import UserDb

_COLUMNS = (
    "name, description, planner_provider, planner_model, planner_params, "
    "worker_provider, worker_model, worker_params, active"
)


class SqliteProfiles:
    """Profile CRUD and the one active profile (``orca.store.ProfileRepository``)."""

    def __init__(self, db: UserDb) -> None:
        self._db = db

    def create(self, profile: ProfileRecord, *, activate: bool = False) -> ProfileRecord:
        now = self._db.clock().isoformat()
        with self._db.write() as conn:
            if _row(conn, profile.name) is not None:
                raise ConfigError(
                    f"profile {profile.name!r} already exists",
                    key="name",
                    fix="pick another name, or change it with update",
                )
            first = conn.execute("SELECT COUNT(*) FROM llm_profiles").fetchone()[0] == 0
            conn.execute(
                "INSERT INTO llm_profiles (id, name, description, planner_provider, "
                "planner_model, planner_params, worker_provider, worker_model, worker_params, "
                "active, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,0,?,?)",
                (str(uuid.uuid4()), profile.name, profile.description, *_cols(profile), now, now),
            )
            if activate or first:
                _activate(conn, profile.name)
            return _get(conn, profile.name)

    def get(self, name: str) -> ProfileRecord:
        with self._db.lock:
            return _get(self._db.conn, name)

    def all(self) -> list[ProfileRecord]:
        return [
            _record(r) for r in self._db.read(f"SELECT {_COLUMNS} FROM llm_profiles ORDER BY name")
        ]

    def names(self) -> list[str]:
        return [r[0] for r in self._db.read("SELECT name FROM llm_profiles ORDER BY name")]

    def active(self) -> ProfileRecord | None:
        rows = self._db.read(f"SELECT {_COLUMNS} FROM llm_profiles WHERE active = 1")
        return _record(rows[0]) if rows else None

    def use(self, name: str) -> ProfileRecord:
        with self._db.write() as conn:
            _get(conn, name)
            _activate(conn, name)
            return _get(conn, name)

    def update(
        self,
        name: str,
        *,
        planner: ModelRecord | None = None,
        worker: ModelRecord | None = None,
        description: str | None = None,
    ) -> ProfileRecord:
        with self._db.write() as conn:
            old = _get(conn, name)
            new = ProfileRecord(
                name,
                planner or old.planner,
                worker or old.worker,
                old.description if description is None else description,
                old.active,
            )
            conn.execute(
                "UPDATE llm_profiles SET description=?, planner_provider=?, planner_model=?, "
                "planner_params=?, worker_provider=?, worker_model=?, worker_params=?, "
                "updated_at=? WHERE name=?",
                (new.description, *_cols(new), self._db.clock().isoformat(), name),
            )
            return _get(conn, name)

    def delete(self, name: str) -> None:
        with self._db.write() as conn:
            _get(conn, name)
            conn.execute("DELETE FROM llm_profiles WHERE name = ?", (name,))


def _get(conn: sqlite3.Connection, name: str) -> ProfileRecord:
    row = _row(conn, name)
    if row is None:
        known = [r[0] for r in conn.execute("SELECT name FROM llm_profiles ORDER BY name")]
        raise UnknownProfileError(name, known)
    return _record(row)


def _row(conn: sqlite3.Connection, name: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = conn.execute(
        f"SELECT {_COLUMNS} FROM llm_profiles WHERE name = ?", (name,)
    ).fetchone()
    return row


def _activate(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("UPDATE llm_profiles SET active = 0 WHERE active = 1")
    conn.execute("UPDATE llm_profiles SET active = 1 WHERE name = ?", (name,))


def _cols(p: ProfileRecord) -> tuple[str, ...]:
    return (
        p.planner.provider,
        p.planner.model,
        json.dumps(dict(p.planner.params), sort_keys=True),
        p.worker.provider,
        p.worker.model,
        json.dumps(dict(p.worker.params), sort_keys=True),
    )


def _record(row: tuple[Any, ...]) -> ProfileRecord:
    name, description, pp, pm, pparams, wp, wm, wparams, active = row
    return ProfileRecord(
        name,
        ModelRecord(pp, pm, json_column(pparams, f"the row of profile {name!r} (planner params)")),
        ModelRecord(wp, wm, json_column(wparams, f"the row of profile {name!r} (worker params)")),
        description,
        bool(active),
    )
