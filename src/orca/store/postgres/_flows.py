"""Saved flow versions in a PostgreSQL database (``flow_versions``): the twin of
``orca.store.sqlite._flows``, through the same protocol (``FlowRepository``).

A save reads the flow's versions, chooses one and inserts it; two clients saving one
flow at once would both choose. So each save of a flow holds a transaction-scoped
advisory lock on its name: saves of one flow take turns (the second sees the first's
version), saves of different flows do not wait for each other."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from orca.errors import CorruptDatabaseError, FlowVersionExistsError
from orca.store._clock import Clock, utc_now
from orca.store._flows import (
    FIRST_VERSION,
    LATEST,
    FlowSummary,
    FlowVersionInfo,
    SavedFlow,
    Semver,
    check_flow_name,
)
from orca.store._text import has_nul, refuse_nul
from orca.store.postgres._db import PgDb
from orca.store.postgres._schema import FLOWS_COMPONENT, FLOWS_MIGRATIONS

_INFO = "name, version, hash, created_at, message"
_LOCK_CLASS = 0x4F52_4346
"""The first key of ``pg_advisory_xact_lock(int4, int4)`` for a flow's saves (the second
is the hash of its name); one-key advisory locks (migrations) are another space."""

Conn = psycopg.Connection[Any]


class PgFlows:
    """``FlowRepository`` over the database of ``db`` (its table created, or migrated,
    when made). Safe to share between threads.

    Raises:
        SchemaVersionError, CorruptDatabaseError, StoreUnavailableError: as ``PgDb.prepare``.
    """

    def __init__(self, db: PgDb, *, clock: Clock = utc_now) -> None:
        self.db = db
        self._clock = clock
        db.prepare([(FLOWS_COMPONENT, FLOWS_MIGRATIONS)])

    def __repr__(self) -> str:
        return f"<PgFlows {self.db.where}>"

    def put(
        self,
        name: str,
        flow: dict[str, Any],
        content_hash: str,
        *,
        version: str | None = None,
        message: str | None = None,
    ) -> tuple[FlowVersionInfo, bool]:
        check_flow_name(name)
        wanted = str(Semver.parse(version)) if version is not None else None
        refuse_nul("hash", content_hash)
        refuse_nul("message", message)
        document = json.dumps(flow, ensure_ascii=False)  # as given: its order too
        created_at = self._clock().isoformat(timespec="seconds")
        with self.db.transaction() as c:
            c.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, name))
            saved = _infos(c, name)
            if wanted is not None:
                same = next((i for i in saved if i.version == wanted), None)
                if same is not None:
                    if same.hash != content_hash:
                        raise FlowVersionExistsError(name, wanted, same.hash)
                    return same, False
            elif saved:
                latest = saved[0]
                if latest.hash == content_hash:
                    return latest, False
                wanted = str(Semver.parse(latest.version).next_patch())
                taken = {i.version for i in saved}
                while wanted in taken:  # e.g. 1.0.1 saved by hand before 1.0.0-rc.1's bump
                    wanted = str(Semver.parse(wanted).next_patch())
            else:
                wanted = FIRST_VERSION
            info = FlowVersionInfo(name, wanted, content_hash, created_at, message)
            c.execute(
                "INSERT INTO flow_versions (name, version, hash, document, message, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (name, info.version, content_hash, document, message, info.created_at),
            )
        return info, True

    def get(self, name: str, version: str = LATEST) -> SavedFlow | None:
        wanted = version if version == LATEST else str(Semver.parse(version))
        if has_nul(name):
            return None  # no saved flow is named so
        with self.db.read() as c:
            saved = _infos(c, name)
            info = saved[0] if wanted == LATEST and saved else None
            info = info or next((i for i in saved if i.version == wanted), None)
            if info is None:
                return None
            row = c.execute(
                "SELECT document FROM flow_versions WHERE name = %s AND version = %s",
                (name, info.version),
            ).fetchone()
        if row is None:  # deleted between the two reads
            return None
        try:
            flow = json.loads(row[0])
        except ValueError as exc:
            raise CorruptDatabaseError(
                self.db.where,
                f"flow {info.ref}'s document is damaged ({exc})",
                "restore the database from a backup, or delete the row it names",
            ) from None
        return SavedFlow(info, flow)

    def versions(self, name: str) -> list[FlowVersionInfo]:
        if has_nul(name):
            return []
        with self.db.read() as c:
            return _infos(c, name)

    def flows(self) -> list[FlowSummary]:
        with self.db.read() as c:
            rows = c.execute(f"SELECT {_INFO} FROM flow_versions").fetchall()
        by_name: dict[str, list[FlowVersionInfo]] = {}
        for info in _sorted(rows):
            by_name.setdefault(info.name, []).append(info)
        return [FlowSummary(name, infos[0], len(infos)) for name, infos in sorted(by_name.items())]

    def delete(self, name: str, version: str) -> bool:
        wanted = version if version == LATEST else str(Semver.parse(version))
        if has_nul(name):
            return False
        with self.db.transaction() as c:
            c.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_CLASS, name))
            if wanted == LATEST:
                saved = _infos(c, name)
                if not saved:
                    return False
                wanted = saved[0].version
            gone = c.execute(
                "DELETE FROM flow_versions WHERE name = %s AND version = %s", (name, wanted)
            )
            return gone.rowcount > 0

    def close(self) -> None:
        """Nothing to release: the store owns the pool."""

    def __enter__(self) -> PgFlows:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _infos(c: Conn, name: str) -> list[FlowVersionInfo]:
    rows = c.execute(f"SELECT {_INFO} FROM flow_versions WHERE name = %s", (name,)).fetchall()
    return _sorted(rows)


def _sorted(rows: Sequence[Any]) -> list[FlowVersionInfo]:
    """Rows of ``_INFO`` as values, highest version first (semantic-version precedence,
    which SQL cannot sort)."""
    infos = [FlowVersionInfo(*row) for row in rows]
    return sorted(infos, key=lambda i: Semver.parse(i.version).key, reverse=True)
