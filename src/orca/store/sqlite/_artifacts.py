"""The artifact registry in a project database: content-addressed artifacts (plans,
summaries, diffs, traces), their tags and their lineage."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from orca.errors import InvalidInputError
from orca.store._tasks import ArtifactConflict, ArtifactRecord, artifact_id, check_artifact
from orca.store._text import has_nul
from orca.store.sqlite import _db
from orca.store.sqlite._tasks import ProjectTables

__all__ = ["ArtifactConflict", "SqliteArtifacts", "artifact_id"]

_COLUMNS = "id, kind, media_type, content, size, created_at, session_id, task_id, metadata"


class SqliteArtifacts(ProjectTables):
    """Artifacts in the project database at ``path``.

    Raises:
        CorruptDatabaseError: the file is not an Orca database, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """

    def put(
        self,
        content: bytes,
        *,
        kind: str,
        media_type: str = "text/plain",
        tags: Sequence[str] = (),
        parents: Sequence[str] = (),
        session_id: str | None = None,
        task_id: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[ArtifactRecord, bool]:
        """Register ``content``; returns the artifact and whether it is new. The same
        content again is the same artifact: its tags and parents are added.

        Raises:
            InvalidInputError: an unknown kind, or a parent that is not registered.
            ArtifactConflict: the content is registered as another kind.
        """
        check_artifact(kind, media_type, tags, session_id, task_id)
        ident = artifact_id(content)
        with self._write() as c:
            row = c.execute("SELECT kind FROM artifacts WHERE id = ?", (ident,)).fetchone()
            if row is not None and row[0] != kind:
                raise ArtifactConflict(
                    f"artifact {ident} is registered as a {row[0]}, not a {kind}. Fix: send "
                    f"kind {row[0]!r}, or other content"
                )
            missing = [p for p in parents if p == ident or has_nul(p) or not _exists(c, p)]
            if missing:
                raise InvalidInputError(
                    f"parent {missing[0]} is not a registered artifact (or is the artifact "
                    "itself). Fix: register the parents first, and name them by their ids"
                )
            if row is None:
                c.execute(
                    f"INSERT INTO artifacts ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
                    (
                        ident, kind, media_type, content, len(content), self.now(),
                        session_id, task_id, json.dumps(metadata or {}, sort_keys=True),
                    ),
                )  # fmt: skip
            c.executemany(
                "INSERT OR IGNORE INTO artifact_tags (artifact_id, tag) VALUES (?, ?)",
                [(ident, t) for t in tags],
            )
            c.executemany(
                "INSERT OR IGNORE INTO artifact_parents (artifact_id, parent_id) VALUES (?, ?)",
                [(ident, p) for p in parents],
            )
            found = self._one(c, ident)
        assert found is not None
        return found, row is None

    def get(self, ident: str) -> ArtifactRecord | None:
        with self._lock, self._errors():
            return self._one(self._conn, ident)

    def find(
        self,
        *,
        kind: str | None = None,
        tag: str | None = None,
        session_id: str | None = None,
        limit: int = 50,
    ) -> list[ArtifactRecord]:
        """Artifacts, newest first (without their content's lineage of children)."""
        where, args = [], []
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if session_id is not None:
            where.append("session_id = ?")
            args.append(session_id)
        if tag is not None:
            where.append("id IN (SELECT artifact_id FROM artifact_tags WHERE tag = ?)")
            args.append(tag)
        sql = "SELECT id FROM artifacts"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT ?"
        with self._lock, self._errors():
            ids = [r[0] for r in self._conn.execute(sql, (*args, limit))]
            found = [self._one(self._conn, i) for i in ids]
        return [a for a in found if a is not None]

    def _one(self, c: sqlite3.Connection, ident: str) -> ArtifactRecord | None:
        row = c.execute(f"SELECT {_COLUMNS} FROM artifacts WHERE id = ?", (ident,)).fetchone()
        if row is None:
            return None
        tags = [r[0] for r in c.execute(
            "SELECT tag FROM artifact_tags WHERE artifact_id = ? ORDER BY tag", (ident,)
        )]  # fmt: skip
        parents = [r[0] for r in c.execute(
            "SELECT parent_id FROM artifact_parents WHERE artifact_id = ? ORDER BY parent_id",
            (ident,),
        )]  # fmt: skip
        children = [r[0] for r in c.execute(
            "SELECT artifact_id FROM artifact_parents WHERE parent_id = ? ORDER BY artifact_id",
            (ident,),
        )]  # fmt: skip
        metadata = _db.json_column(row[8], f"artifact {ident}'s metadata", where=self.path)
        return ArtifactRecord(
            row[0], row[1], row[2], bytes(row[3]), row[4], row[5], row[6], row[7], metadata,
            tuple(tags), tuple(parents), tuple(children),
        )  # fmt: skip


def _exists(c: sqlite3.Connection, ident: str) -> bool:
    return c.execute("SELECT 1 FROM artifacts WHERE id = ?", (ident,)).fetchone() is not None
