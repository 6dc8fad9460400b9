"""Budgets in PostgreSQL: the ``budgets`` table, and each budget's periods read for status.

The one active budget is kept by a partial unique index; the transactions that change
which one it is take a transaction-scoped advisory lock first, so two of them never race
into that index."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import errors as pgerrors

from orca.cost import Budget, BudgetStatus
from orca.errors import InvalidBudgetError, UnknownBudgetError
from orca.store._clock import Clock
from orca.store._user import Scope
from orca.store.postgres._db import PgDb
from orca.store.postgres._user_db import has_nul, json_value, prepare_user, refuse_nul

CREDIT_PERIOD = ""
"""The ``period_start`` of a credit budget's single, open-ended period."""

COLUMNS = (
    "id, name, kind, period, timezone, unit, amount, enforcement, thresholds, scope, "
    "scope_ref, active"
)

_ACTIVE_LOCK = 0x0_0C_A5_B0_D6  # pg_advisory_xact_lock's key: which budget is active


def period_key(budget: Budget, at: dt.datetime) -> tuple[str, str | None]:
    """``(period_start, period_end)`` as stored for ``budget`` at the instant ``at``."""
    start, end = budget.bounds(at)
    return (start.isoformat() if start else CREDIT_PERIOD), (end.isoformat() if end else None)


def budget_of(row: Sequence[Any], where: str) -> Budget:
    bid, name, kind, period, tz, unit, amount, enforcement, marks, scope, ref, active = row
    return Budget(
        name,
        amount,
        unit,
        kind,
        period,
        enforcement,
        tuple(json_value(marks, f"the row of budget {name!r} (thresholds)", where)),
        tz,
        scope,
        ref,
        bool(active),
        bid,
    )


def status_of(conn: psycopg.Connection[Any], budget: Budget, at: dt.datetime) -> BudgetStatus:
    """``budget``'s status in the period holding ``at``, read in one query."""
    start, end = period_key(budget, at)
    row = conn.execute(
        "SELECT amount, spent, reserved, overdrawn_at IS NOT NULL, overdraft "
        "FROM budget_periods WHERE budget_id = %s AND period_start = %s",
        (budget.id, start),
    ).fetchone()
    limit, spent, reserved, overdrawn, overdraft = row if row else (budget.amount, 0, 0, 0, 0)
    return BudgetStatus(
        budget,
        dt.datetime.fromisoformat(start) if start else None,
        dt.datetime.fromisoformat(end) if end else None,
        int(limit),
        int(spent),
        int(reserved),
        bool(overdrawn),
        int(overdraft),
    )


class PgBudgets:
    """Budget CRUD over the user tables (``orca.store.BudgetRepository``)."""

    def __init__(self, db: PgDb, *, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        prepare_user(db)

    def create(self, budget: Budget, *, activate: bool = False) -> Budget:
        if activate:
            budget.require_global()
        refuse_nul(InvalidBudgetError, {"scope_ref": budget.scope_ref})
        now = self._clock().isoformat()

        def work(conn: psycopg.Connection[Any]) -> Budget:
            if budget.scope == "global":
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ACTIVE_LOCK,))
            if self._row(conn, budget.name) is not None:
                raise _taken(budget.name)
            first = (
                budget.scope == "global"
                and conn.execute("SELECT 1 FROM budgets WHERE active = 1").fetchone() is None
            )
            conn.execute(
                f"INSERT INTO budgets ({COLUMNS}, created_at, updated_at) "
                "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,0,%s,%s)",
                (
                    str(uuid.uuid4()),
                    budget.name,
                    budget.kind,
                    budget.period,
                    budget.timezone,
                    budget.unit,
                    budget.amount,
                    budget.enforcement,
                    json.dumps(list(budget.thresholds)),
                    budget.scope,
                    budget.scope_ref,
                    now,
                    now,
                ),
            )
            if activate or first:
                _activate(conn, budget.name)
            return self._get(conn, budget.name)

        try:
            return self._db.retrying(work)
        except pgerrors.UniqueViolation:  # another client created the name meanwhile
            raise _taken(budget.name) from None

    def get(self, name: str) -> Budget:
        with self._db.read() as conn:
            return self._get(conn, name)

    def all(self) -> list[Budget]:
        with self._db.read() as conn:
            rows = conn.execute(f"SELECT {COLUMNS} FROM budgets ORDER BY name").fetchall()
        return [budget_of(r, self._db.where) for r in rows]

    def names(self) -> list[str]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT name FROM budgets ORDER BY name").fetchall()
        return [str(r[0]) for r in rows]

    def active(self) -> Budget | None:
        with self._db.read() as conn:
            row = conn.execute(f"SELECT {COLUMNS} FROM budgets WHERE active = 1").fetchone()
        return budget_of(row, self._db.where) if row else None

    def use(self, name: str) -> Budget:
        def work(conn: psycopg.Connection[Any]) -> Budget:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ACTIVE_LOCK,))
            self._get(conn, name).require_global("name")
            _activate(conn, name)
            return self._get(conn, name)

        return self._db.retrying(work)

    def scoped(self, scope: Scope, ref: str) -> list[Budget]:
        with self._db.read() as conn:
            return self.scoped_in(conn, scope, ref)

    def scoped_in(self, conn: psycopg.Connection[Any], scope: Scope, ref: str) -> list[Budget]:
        if has_nul(ref):
            return []
        rows = conn.execute(
            f"SELECT {COLUMNS} FROM budgets WHERE scope = %s AND scope_ref = %s ORDER BY name",
            (scope, ref),
        ).fetchall()
        return [budget_of(r, self._db.where) for r in rows]

    def raise_(self, name: str, *, by: int | None = None, to: int | None = None) -> Budget:
        def work(conn: psycopg.Connection[Any]) -> Budget:
            row = (
                None
                if has_nul(name)
                else conn.execute(
                    f"SELECT {COLUMNS} FROM budgets WHERE name = %s FOR UPDATE", (name,)
                ).fetchone()
            )
            if row is None:
                raise self._unknown(conn, name)
            new = budget_of(row, self._db.where).raised(by=by, to=to)
            now = self._clock()
            conn.execute(
                "UPDATE budgets SET amount = %s, updated_at = %s WHERE id = %s",
                (new.amount, now.isoformat(), new.id),
            )
            # the period in force (and a credit budget's only one) takes the new amount;
            # an overdrawn one is cleared once the amount covers what is spent and held
            start, _ = period_key(new, now)
            conn.execute(
                "UPDATE budget_periods SET amount = %s, overdrawn_at = CASE "
                "WHEN spent + reserved <= %s THEN NULL ELSE overdrawn_at END "
                "WHERE budget_id = %s AND period_start = %s",
                (new.amount, new.amount, new.id, start),
            )
            return self._get(conn, name)

        return self._db.retrying(work)

    def delete(self, name: str) -> None:
        def work(conn: psycopg.Connection[Any]) -> None:
            budget = self._get(conn, name)
            conn.execute("DELETE FROM budgets WHERE id = %s", (budget.id,))

        self._db.retrying(work)

    def status(self, name: str, *, at: dt.datetime | None = None) -> BudgetStatus:
        with self._db.read() as conn:
            return status_of(conn, self._get(conn, name), at or self._clock())

    def get_in(self, conn: psycopg.Connection[Any], name: str) -> Budget:
        """``get`` on a connection the caller holds."""
        return self._get(conn, name)

    def active_in(self, conn: psycopg.Connection[Any]) -> Budget | None:
        """``active`` on a connection the caller holds."""
        row = conn.execute(f"SELECT {COLUMNS} FROM budgets WHERE active = 1").fetchone()
        return budget_of(row, self._db.where) if row else None

    def _get(self, conn: psycopg.Connection[Any], name: str) -> Budget:
        row = self._row(conn, name)
        if row is None:
            raise self._unknown(conn, name)
        return budget_of(row, self._db.where)

    @staticmethod
    def _unknown(conn: psycopg.Connection[Any], name: str) -> UnknownBudgetError:
        known = [str(r[0]) for r in conn.execute("SELECT name FROM budgets ORDER BY name")]
        return UnknownBudgetError(name, known)

    @staticmethod
    def _row(conn: psycopg.Connection[Any], name: str) -> tuple[Any, ...] | None:
        if has_nul(name):
            return None
        row: tuple[Any, ...] | None = conn.execute(
            f"SELECT {COLUMNS} FROM budgets WHERE name = %s", (name,)
        ).fetchone()
        return row


def _taken(name: str) -> InvalidBudgetError:
    return InvalidBudgetError(
        f"budget {name!r} already exists",
        key="name",
        fix="pick another name, or change it with raise / delete",
    )


def _activate(conn: psycopg.Connection[Any], name: str) -> None:
    conn.execute("UPDATE budgets SET active = 0 WHERE active = 1 AND name <> %s", (name,))
    conn.execute("UPDATE budgets SET active = 1 WHERE name = %s", (name,))
