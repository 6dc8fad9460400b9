"""The model catalog (``catalog_models``) in the default tenant's project database."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from typing import Any

from orca.errors import CatalogConflictError, InvalidTransitionError, UnknownCatalogModelError
from orca.store._catalog import (
    TRANSITIONS,
    CatalogModel,
    check_find,
    check_model,
    check_state,
    check_tags,
    check_trust,
)
from orca.store.sqlite import _db
from orca.store.sqlite._schema import CATALOG_COMPONENT, CATALOG_MIGRATIONS
from orca.store.sqlite._tables import SqliteTables

COLUMNS = (
    "id, name, path, digest, size_bytes, format, metadata, tags, state, trust, verified_at, "
    "created_at, updated_at, stamp"
)


def model_of(row: Any) -> CatalogModel:
    """A model from its row (``COLUMNS``; JSON text in ``metadata`` and ``tags``)."""
    values = list(row)
    values[6] = json.loads(values[6])
    values[7] = tuple(json.loads(values[7]))
    return CatalogModel(*values)


def row_of(model: CatalogModel) -> tuple[Any, ...]:
    """``model`` as the values of ``COLUMNS``."""
    return (
        model.id,
        model.name,
        model.path,
        model.digest,
        model.size_bytes,
        model.format,
        json.dumps(model.metadata, sort_keys=True),
        json.dumps(list(model.tags)),
        model.state,
        model.trust,
        model.verified_at,
        model.created_at,
        model.updated_at,
        model.stamp,
    )


def conflict(model: CatalogModel, holder: CatalogModel | None) -> CatalogConflictError:
    """The error of adding ``model`` where ``holder`` (the model with its digest, else
    its name) is catalogued."""
    if holder is not None and holder.digest == model.digest:
        return CatalogConflictError(
            f"the file's digest {model.digest} is catalogued already, as model "
            f"{holder.name!r} ({holder.id}, {holder.state}, at {holder.path})",
            existing=holder.id,
            fix=f"use that model (orca model show {holder.id}); a retired one stays retired"
            if holder.state == "retired"
            else f"use that model (orca model show {holder.id}), or change its state",
        )
    existing = holder.id if holder is not None else ""
    return CatalogConflictError(
        f"a model is named {model.name!r} already ({existing})",
        existing=existing,
        fix="give this one another name (--name)",
    )


def unknown(ref: str, names: list[str]) -> UnknownCatalogModelError:
    return UnknownCatalogModelError(ref, names)


def refuse_move(model: CatalogModel, state: str) -> None:
    """Raise ``InvalidTransitionError`` unless ``model`` may move to ``state``."""
    if state != model.state and state not in TRANSITIONS[model.state]:
        raise InvalidTransitionError(model.name, model.state, state, TRANSITIONS[model.state])


class SqliteCatalog(SqliteTables):
    """``CatalogRepository`` over the project database at ``path`` (its table created,
    or migrated, when opened).

    Raises:
        CorruptDatabaseError: the file is not an Orca database, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """

    COMPONENTS = ((CATALOG_COMPONENT, CATALOG_MIGRATIONS),)

    def _one(self, sql: str, args: tuple[Any, ...]) -> CatalogModel | None:
        row = self._conn.execute(f"SELECT {COLUMNS} FROM catalog_models {sql}", args).fetchone()
        return None if row is None else model_of(row)

    def _find(self, ref: str) -> CatalogModel | None:
        return self._one("WHERE id = ?", (ref,)) or self._one("WHERE name = ?", (ref,))

    def _names(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT name FROM catalog_models ORDER BY name")]

    def add(self, model: CatalogModel) -> CatalogModel:
        check_model(model)
        now = self._now()
        # as a read gives it back (its metadata through JSON)
        stamped = model_of(
            row_of(
                dataclasses.replace(
                    model, tags=check_tags(model.tags), created_at=now, updated_at=now
                )
            )
        )
        marks = ", ".join("?" * 14)
        with self._lock, self._errors():
            try:
                with _db.transaction(self._conn):
                    self._conn.execute(
                        f"INSERT INTO catalog_models ({COLUMNS}) VALUES ({marks})",
                        row_of(stamped),
                    )
            except sqlite3.IntegrityError:
                holder = self._one("WHERE digest = ?", (model.digest,)) or self._one(
                    "WHERE name = ?", (model.name,)
                )
                raise conflict(model, holder) from None
        return stamped

    def get(self, ref: str) -> CatalogModel | None:
        with self._lock, self._errors():
            return self._find(ref)

    def list(
        self, *, state: str | None = None, tag: str | None = None, trust: str | None = None
    ) -> list[CatalogModel]:
        check_find(state, trust)
        sql = (
            f"SELECT {COLUMNS} FROM catalog_models WHERE (? IS NULL OR state = ?) "
            "AND (? IS NULL OR trust = ?) AND (? IS NULL OR EXISTS "
            "(SELECT 1 FROM json_each(catalog_models.tags) WHERE value = ?)) ORDER BY name"
        )
        with self._lock, self._errors():
            rows = self._conn.execute(sql, (state, state, trust, trust, tag, tag)).fetchall()
        return [model_of(r) for r in rows]

    def set_state(self, ref: str, state: str) -> CatalogModel:
        check_state(state)
        now = self._now()
        with self._lock, self._errors(), _db.transaction(self._conn):
            found = self._find(ref)
            if found is None:
                raise unknown(ref, self._names())
            if found.state == state:
                return found
            refuse_move(found, state)
            row = self._conn.execute(
                f"UPDATE catalog_models SET state = ?, updated_at = ? WHERE id = ? "
                f"RETURNING {COLUMNS}",
                (state, now, found.id),
            ).fetchone()
        return model_of(row)

    def record_check(
        self, model_id: str, *, trust: str, size_bytes: int, stamp: str
    ) -> CatalogModel:
        check_trust(trust)
        now = self._now()
        with self._lock, self._errors(), _db.transaction(self._conn):
            row = self._conn.execute(
                "UPDATE catalog_models SET trust = ?, size_bytes = ?, stamp = ?, "
                "verified_at = CASE WHEN ? = 'verified' THEN ? ELSE verified_at END, "
                f"updated_at = ? WHERE id = ? RETURNING {COLUMNS}",
                (trust, size_bytes, stamp, trust, now, now, model_id),
            ).fetchone()
            if row is None:
                raise unknown(model_id, self._names())
        return model_of(row)
