"""The model catalog (``catalog_models``) in the default tenant's schema of a PostgreSQL
database: the twin of ``orca.store.sqlite._catalog``, through the same protocol
(``CatalogRepository``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from psycopg import errors as pgerrors

from orca.store._catalog import (
    CatalogModel,
    check_find,
    check_model,
    check_state,
    check_tags,
    check_trust,
)
from orca.store._clock import Clock, utc_now
from orca.store._text import has_nul
from orca.store.postgres._db import PgDb
from orca.store.postgres._schema import CATALOG_COMPONENT, CATALOG_MIGRATIONS
from orca.store.sqlite._catalog import (
    COLUMNS,
    conflict,
    model_of,
    refuse_move,
    row_of,
    unknown,
)


class PgCatalog:
    """``CatalogRepository`` over the database of ``db`` (its table created, or migrated,
    when made). Safe to share between threads.

    Raises:
        SchemaVersionError, CorruptDatabaseError, StoreUnavailableError: as ``PgDb.prepare``.
    """

    def __init__(self, db: PgDb, *, clock: Clock = utc_now) -> None:
        self.db = db
        self._clock = clock
        db.prepare([(CATALOG_COMPONENT, CATALOG_MIGRATIONS)])

    def __repr__(self) -> str:
        return f"<PgCatalog {self.db.where}>"

    def _now(self) -> str:
        return self._clock().isoformat(timespec="seconds")

    @staticmethod
    def _one(c: Any, sql: str, args: tuple[Any, ...]) -> CatalogModel | None:
        row = c.execute(f"SELECT {COLUMNS} FROM catalog_models {sql}", args).fetchone()
        return None if row is None else model_of(row)

    def _find(self, c: Any, ref: str, lock: str = "") -> CatalogModel | None:
        if has_nul(ref):  # no model is named so
            return None
        return self._one(c, f"WHERE id = %s {lock}", (ref,)) or self._one(
            c, f"WHERE name = %s {lock}", (ref,)
        )

    @staticmethod
    def _names(c: Any) -> list[str]:
        return [str(r[0]) for r in c.execute("SELECT name FROM catalog_models ORDER BY name")]

    def add(self, model: CatalogModel) -> CatalogModel:
        check_model(model)
        now = self._now()
        stamped = model_of(
            row_of(
                dataclasses.replace(
                    model, tags=check_tags(model.tags), created_at=now, updated_at=now
                )
            )
        )
        marks = ", ".join(["%s"] * 14)
        try:
            with self.db.transaction() as c:
                c.execute(
                    f"INSERT INTO catalog_models ({COLUMNS}) VALUES ({marks})", row_of(stamped)
                )
        except pgerrors.UniqueViolation:
            with self.db.read() as c:
                holder = self._one(c, "WHERE digest = %s", (model.digest,)) or self._one(
                    c, "WHERE name = %s", (model.name,)
                )
            raise conflict(model, holder) from None
        return stamped

    def get(self, ref: str) -> CatalogModel | None:
        with self.db.read() as c:
            return self._find(c, ref)

    def list(
        self, *, state: str | None = None, tag: str | None = None, trust: str | None = None
    ) -> list[CatalogModel]:
        check_find(state, trust)
        if has_nul(tag):
            return []
        with self.db.read() as c:
            rows = c.execute(
                f"SELECT {COLUMNS} FROM catalog_models WHERE (%s::text IS NULL OR state = %s) "
                "AND (%s::text IS NULL OR trust = %s) "
                "AND (%s::text IS NULL OR jsonb_exists(tags::jsonb, %s)) ORDER BY name",
                (state, state, trust, trust, tag, tag),
            ).fetchall()
        return [model_of(r) for r in rows]

    def set_state(self, ref: str, state: str) -> CatalogModel:
        check_state(state)
        now = self._now()
        with self.db.transaction() as c:
            found = self._find(c, ref, "FOR UPDATE")
            if found is None:
                raise unknown(ref, self._names(c))
            if found.state == state:
                return found
            refuse_move(found, state)
            row = c.execute(
                f"UPDATE catalog_models SET state = %s, updated_at = %s WHERE id = %s "
                f"RETURNING {COLUMNS}",
                (state, now, found.id),
            ).fetchone()
        return model_of(row)

    def record_check(
        self, model_id: str, *, trust: str, size_bytes: int, stamp: str
    ) -> CatalogModel:
        check_trust(trust)
        now = self._now()
        with self.db.transaction() as c:
            row = None
            if not has_nul(model_id):
                row = c.execute(
                    "UPDATE catalog_models SET trust = %s, size_bytes = %s, stamp = %s, "
                    "verified_at = CASE WHEN %s = 'verified' THEN %s ELSE verified_at END, "
                    f"updated_at = %s WHERE id = %s RETURNING {COLUMNS}",
                    (trust, size_bytes, stamp, trust, now, now, model_id),
                ).fetchone()
            if row is None:
                raise unknown(model_id, self._names(c))
        return model_of(row)

    def close(self) -> None:
        """Nothing to release: the store owns the pool."""

    def __enter__(self) -> PgCatalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
