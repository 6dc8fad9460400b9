"""Saved flow versions in a project database (``flow_versions``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

from orca.errors import FlowVersionExistsError
from orca.store._flows import (
    FIRST_VERSION,
    LATEST,
    FlowSummary,
    FlowVersionInfo,
    SavedFlow,
    Semver,
    check_flow_name,
)
from orca.store._text import refuse_nul
from orca.store.sqlite import _db
from orca.store.sqlite._schema import FLOWS_COMPONENT, FLOWS_MIGRATIONS
from orca.store.sqlite._tables import SqliteTables

_INFO = "name, version, hash, created_at, message"
_WHERE = "the project database"


class SqliteFlows(SqliteTables):
    """``FlowRepository`` over the project database at ``path`` (its table created, or
    migrated, when opened).

    Raises:
        CorruptDatabaseError: the file is not an Orca database, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """

    COMPONENTS = ((FLOWS_COMPONENT, FLOWS_MIGRATIONS),)

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
        with self._lock, self._errors(), _db.transaction(self._conn) as c:
            saved = _infos(c.execute(f"SELECT {_INFO} FROM flow_versions WHERE name = ?", (name,)))
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
            info = FlowVersionInfo(
                name, wanted, content_hash, self._clock().isoformat(timespec="seconds"), message
            )
            c.execute(
                "INSERT INTO flow_versions (name, version, hash, document, message, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (name, info.version, content_hash, document, message, info.created_at),
            )
        return info, True

    def get(self, name: str, version: str = LATEST) -> SavedFlow | None:
        wanted = version if version == LATEST else str(Semver.parse(version))
        with self._lock, self._errors():
            saved = self._infos(name)
            info = saved[0] if wanted == LATEST and saved else None
            info = info or next((i for i in saved if i.version == wanted), None)
            if info is None:
                return None
            row = self._conn.execute(
                "SELECT document FROM flow_versions WHERE name = ? AND version = ?",
                (name, info.version),
            ).fetchone()
        flow = _db.json_column(row[0], f"flow {info.ref}'s document", where=_WHERE)
        return SavedFlow(info, flow)

    def versions(self, name: str) -> list[FlowVersionInfo]:
        with self._lock, self._errors():
            return self._infos(name)

    def flows(self) -> list[FlowSummary]:
        with self._lock, self._errors():
            rows = self._conn.execute(f"SELECT {_INFO} FROM flow_versions").fetchall()
        by_name: dict[str, list[FlowVersionInfo]] = {}
        for info in _infos(rows):
            by_name.setdefault(info.name, []).append(info)
        return [FlowSummary(name, infos[0], len(infos)) for name, infos in sorted(by_name.items())]

    def delete(self, name: str, version: str) -> bool:
        wanted = version if version == LATEST else str(Semver.parse(version))
        with self._lock, self._errors(), _db.transaction(self._conn) as c:
            if wanted == LATEST:
                saved = _infos(
                    c.execute(f"SELECT {_INFO} FROM flow_versions WHERE name = ?", (name,))
                )
                if not saved:
                    return False
                wanted = saved[0].version
            gone = c.execute(
                "DELETE FROM flow_versions WHERE name = ? AND version = ?", (name, wanted)
            )
            return gone.rowcount > 0

    def _infos(self, name: str) -> list[FlowVersionInfo]:
        rows = self._conn.execute(f"SELECT {_INFO} FROM flow_versions WHERE name = ?", (name,))
        return _infos(rows)


def _infos(rows: Iterator[Any] | Sequence[Any]) -> list[FlowVersionInfo]:
    """Rows of ``_INFO`` as values, highest version first."""
    infos = [FlowVersionInfo(*row) for row in rows]
    return sorted(infos, key=lambda i: Semver.parse(i.version).key, reverse=True)
