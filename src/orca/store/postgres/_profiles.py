"""LLM profiles in PostgreSQL: the ``llm_profiles`` table; params as JSON objects.

The one active profile is kept by a partial unique index; the transactions that may
change which one it is take a transaction-scoped advisory lock first, so concurrent
creators never race into that index."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from orca.errors import ConfigError, UnknownProfileError
from orca.store._clock import Clock
from orca.store._user import ModelRecord, ProfileRecord
from orca.store.postgres._db import PgDb
from orca.store.postgres._user_db import has_nul, json_value, prepare_user, refuse_nul

Conn = psycopg.Connection[Any]

_COLUMNS = (
    "name, description, planner_provider, planner_model, planner_params, "
    "worker_provider, worker_model, worker_params, active"
)

_ACTIVE_LOCK = 0x0_0C_A5_F0_F1  # pg_advisory_xact_lock's key: which profile is active


class PgProfiles:
    """Profile CRUD and the one active profile (``orca.store.ProfileRepository``)."""

    def __init__(self, db: PgDb, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        prepare_user(db)

    def create(self, profile: ProfileRecord, *, activate: bool = False) -> ProfileRecord:
        _refuse_nul(profile)
        now = self._clock().isoformat()

        def work(conn: Conn) -> ProfileRecord:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ACTIVE_LOCK,))
            if self._row(conn, profile.name) is not None:
                raise _taken(profile.name)
            first = conn.execute("SELECT 1 FROM llm_profiles LIMIT 1").fetchone() is None
            conn.execute(
                "INSERT INTO llm_profiles (id, name, description, planner_provider, "
                "planner_model, planner_params, worker_provider, worker_model, worker_params, "
                "active, created_at, updated_at) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,0,%s,%s)",
                (str(uuid.uuid4()), profile.name, profile.description, *_cols(profile), now, now),
            )
            if activate or first:
                _activate(conn, profile.name)
            return self._get(conn, profile.name)

        try:
            return self._db.retrying(work)
        except pgerrors.UniqueViolation:
            raise _taken(profile.name) from None

    def get(self, name: str) -> ProfileRecord:
        with self._db.read() as conn:
            return self._get(conn, name)

    def all(self) -> list[ProfileRecord]:
        with self._db.read() as conn:
            rows = conn.execute(f"SELECT {_COLUMNS} FROM llm_profiles ORDER BY name").fetchall()
        return [self._record(r) for r in rows]

    def names(self) -> list[str]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT name FROM llm_profiles ORDER BY name").fetchall()
        return [str(r[0]) for r in rows]

    def active(self) -> ProfileRecord | None:
        with self._db.read() as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM llm_profiles WHERE active = 1").fetchone()
        return self._record(row) if row else None

    def use(self, name: str) -> ProfileRecord:
        def work(conn: Conn) -> ProfileRecord:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ACTIVE_LOCK,))
            self._get(conn, name)
            _activate(conn, name)
            return self._get(conn, name)

        return self._db.retrying(work)

    def update(
        self,
        name: str,
        *,
        planner: ModelRecord | None = None,
        worker: ModelRecord | None = None,
        description: str | None = None,
    ) -> ProfileRecord:
        def work(conn: Conn) -> ProfileRecord:
            row = (
                None
                if has_nul(name)
                else conn.execute(
                    f"SELECT {_COLUMNS} FROM llm_profiles WHERE name = %s FOR UPDATE", (name,)
                ).fetchone()
            )
            if row is None:
                raise self._unknown(conn, name)
            old = self._record(row)
            new = ProfileRecord(
                name,
                planner or old.planner,
                worker or old.worker,
                old.description if description is None else description,
                old.active,
            )
            _refuse_nul(new)
            conn.execute(
                "UPDATE llm_profiles SET description = %s, planner_provider = %s, "
                "planner_model = %s, planner_params = %s, worker_provider = %s, "
                "worker_model = %s, worker_params = %s, updated_at = %s WHERE name = %s",
                (new.description, *_cols(new), self._clock().isoformat(), name),
            )
            return self._get(conn, name)

        return self._db.retrying(work)

    def delete(self, name: str) -> None:
        def work(conn: Conn) -> None:
            if (
                has_nul(name)
                or conn.execute("DELETE FROM llm_profiles WHERE name = %s", (name,)).rowcount == 0
            ):
                raise self._unknown(conn, name)

        self._db.retrying(work)

    def _get(self, conn: Conn, name: str) -> ProfileRecord:
        row = self._row(conn, name)
        if row is None:
            raise self._unknown(conn, name)
        return self._record(row)

    @staticmethod
    def _unknown(conn: Conn, name: str) -> UnknownProfileError:
        known = [str(r[0]) for r in conn.execute("SELECT name FROM llm_profiles ORDER BY name")]
        return UnknownProfileError(name, known)

    @staticmethod
    def _row(conn: Conn, name: str) -> tuple[Any, ...] | None:
        if has_nul(name):
            return None
        row: tuple[Any, ...] | None = conn.execute(
            f"SELECT {_COLUMNS} FROM llm_profiles WHERE name = %s", (name,)
        ).fetchone()
        return row

    def _record(self, row: tuple[Any, ...]) -> ProfileRecord:
        name, description, pp, pm, pparams, wp, wm, wparams, active = row
        where = self._db.where
        return ProfileRecord(
            name,
            ModelRecord(pp, pm, json_value(pparams, f"profile {name!r} (planner params)", where)),
            ModelRecord(wp, wm, json_value(wparams, f"profile {name!r} (worker params)", where)),
            description,
            bool(active),
        )


def _taken(name: str) -> ConfigError:
    return ConfigError(
        f"profile {name!r} already exists",
        key="name",
        fix="pick another name, or change it with update",
    )


def _activate(conn: Conn, name: str) -> None:
    conn.execute("UPDATE llm_profiles SET active = 0 WHERE active = 1 AND name <> %s", (name,))
    conn.execute("UPDATE llm_profiles SET active = 1 WHERE name = %s", (name,))


def _refuse_nul(p: ProfileRecord) -> None:
    refuse_nul(
        ConfigError,
        {
            "description": p.description,
            "planner.provider": p.planner.provider,
            "planner.model": p.planner.model,
            "worker.provider": p.worker.provider,
            "worker.model": p.worker.model,
        },
    )


def _cols(p: ProfileRecord) -> tuple[str, ...]:
    return (
        p.planner.provider,
        p.planner.model,
        json.dumps(dict(p.planner.params), sort_keys=True),
        p.worker.provider,
        p.worker.model,
        json.dumps(dict(p.worker.params), sort_keys=True),
    )
