"""The artifact registry in a PostgreSQL database: content-addressed artifacts (plans,
summaries, diffs, traces), their tags and their lineage; the twin of
``orca.store.sqlite._artifacts``, through the same protocol (``ArtifactRepository``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from orca.errors import CorruptDatabaseError, InvalidInputError
from orca.store._clock import Clock, utc_now
from orca.store._tasks import ArtifactConflict, ArtifactRecord, artifact_id, check_artifact
from orca.store._text import has_nul
from orca.store.postgres._db import PgDb
from orca.store.postgres._schema import TASKS_COMPONENT, TASKS_MIGRATIONS

Conn = psycopg.Connection[Any]

# One row per artifact, with its tags, parents and children gathered by the same query
# (byte order, as SQLite's: the columns are COLLATE "C").
_SELECT = """SELECT a.id, a.kind, a.media_type, a.content, a.size, a.created_at,
    a.session_id, a.task_id, a.metadata,
    ARRAY(SELECT t.tag FROM artifact_tags t WHERE t.artifact_id = a.id ORDER BY t.tag),
    ARRAY(SELECT p.parent_id FROM artifact_parents p WHERE p.artifact_id = a.id
          ORDER BY p.parent_id),
    ARRAY(SELECT p.artifact_id FROM artifact_parents p WHERE p.parent_id = a.id
          ORDER BY p.artifact_id)
FROM artifacts a """


class PgArtifacts:
    """Artifacts in the database of ``db`` (the ``tasks`` component's tables, created or
    migrated when made). Safe to share between threads.

    Raises:
        SchemaVersionError, CorruptDatabaseError, StoreUnavailableError: as ``PgDb.prepare``.
    """

    def __init__(self, db: PgDb, *, clock: Clock = utc_now) -> None:
        self.db = db
        self.clock = clock
        db.prepare([(TASKS_COMPONENT, TASKS_MIGRATIONS)])

    def __repr__(self) -> str:
        return f"<PgArtifacts {self.db.where}>"

    def close(self) -> None:
        """Nothing to release: the store owns the pool."""

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
        content again is the same artifact: its tags and parents are added. Of two
        clients registering one content at once, one makes it.

        Raises:
            InvalidInputError: an unknown kind, or a parent that is not registered.
            ArtifactConflict: the content is registered as another kind.
            InvalidFieldError: a NUL in a text field.
        """
        check_artifact(kind, media_type, tags, session_id, task_id)
        ident = artifact_id(content)
        document = json.dumps(metadata or {}, sort_keys=True)
        now = self.clock().isoformat()
        # tags and parents in one order, so that two puts of one artifact lock their
        # rows in the same order (no deadlock between them)
        tag_rows = [(ident, t) for t in sorted(set(tags))]
        parent_rows = [(ident, p) for p in sorted(set(parents))]

        def work(c: Conn) -> tuple[ArtifactRecord, bool]:
            made = c.execute(
                "INSERT INTO artifacts (id, kind, media_type, content, size, created_at, "
                "session_id, task_id, metadata) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING RETURNING id",
                (ident, kind, media_type, content, len(content), now, session_id, task_id,
                 document),
            ).fetchone()  # fmt: skip
            if made is None:
                row = c.execute("SELECT kind FROM artifacts WHERE id = %s", (ident,)).fetchone()
                assert row is not None
                if row[0] != kind:
                    raise ArtifactConflict(
                        f"artifact {ident} is registered as a {row[0]}, not a {kind}. Fix: "
                        f"send kind {row[0]!r}, or other content"
                    )
            missing = [p for p in parents if p == ident or has_nul(p) or not _exists(c, p)]
            if missing:
                raise InvalidInputError(
                    f"parent {missing[0]} is not a registered artifact (or is the artifact "
                    "itself). Fix: register the parents first, and name them by their ids"
                )
            with c.cursor() as cur:
                if tag_rows:
                    cur.executemany(
                        "INSERT INTO artifact_tags (artifact_id, tag) VALUES (%s, %s) "
                        "ON CONFLICT DO NOTHING",
                        tag_rows,
                    )
                if parent_rows:
                    cur.executemany(
                        "INSERT INTO artifact_parents (artifact_id, parent_id) VALUES (%s, %s) "
                        "ON CONFLICT DO NOTHING",
                        parent_rows,
                    )
            found = c.execute(_SELECT + "WHERE a.id = %s", (ident,)).fetchone()
            assert found is not None
            return _record(found, self.db.where), made is not None

        return self.db.retrying(work)

    def get(self, ident: str) -> ArtifactRecord | None:
        if has_nul(ident):
            return None  # no stored id holds one
        with self.db.read() as c:
            row = c.execute(_SELECT + "WHERE a.id = %s", (ident,)).fetchone()
        return _record(row, self.db.where) if row else None

    def find(
        self,
        *,
        kind: str | None = None,
        tag: str | None = None,
        session_id: str | None = None,
        limit: int = 50,
    ) -> list[ArtifactRecord]:
        """Artifacts, newest first."""
        if has_nul(kind, tag, session_id):
            return []
        with self.db.read() as c:
            rows = c.execute(
                _SELECT + "WHERE (%(kind)s::text IS NULL OR a.kind = %(kind)s) "
                "AND (%(session)s::text IS NULL OR a.session_id = %(session)s) "
                "AND (%(tag)s::text IS NULL OR a.id IN "
                "(SELECT artifact_id FROM artifact_tags WHERE tag = %(tag)s)) "
                "ORDER BY a.created_at DESC, a.pos DESC LIMIT %(limit)s",
                {
                    "kind": kind,
                    "session": session_id,
                    "tag": tag,
                    "limit": limit if limit >= 0 else None,
                },
            ).fetchall()
        return [_record(r, self.db.where) for r in rows]


def _exists(c: Conn, ident: str) -> bool:
    return c.execute("SELECT 1 FROM artifacts WHERE id = %s", (ident,)).fetchone() is not None


def _record(row: Sequence[Any], where: str) -> ArtifactRecord:
    try:
        metadata = json.loads(row[8])
    except ValueError as exc:
        raise CorruptDatabaseError(
            where,
            f"artifact {row[0]}'s metadata is damaged ({exc})",
            "restore the database from a backup, or delete the row it names",
        ) from None
    return ArtifactRecord(
        row[0], row[1], row[2], bytes(row[3]), int(row[4]), row[5], row[6], row[7], metadata,
        tuple(row[9]), tuple(row[10]), tuple(row[11]),
    )  # fmt: skip
