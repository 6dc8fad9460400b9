"""Budgets in SQLite: the ``budgets`` table, and each budget's periods read for status."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import uuid
from collections.abc import Sequence
from typing import Any

from orca.cost import Budget, BudgetStatus
from orca.errors import InvalidBudgetError, UnknownBudgetError
from orca.store._user import Scope
from orca.store.sqlite._db import json_column
from orca.store.sqlite._user_db import UserDb

CREDIT_PERIOD = ""
"""The ``period_start`` of a credit budget's single, open-ended period."""

COLUMNS = (
    "id, name, kind, period, timezone, unit, amount, enforcement, thresholds, scope, "
    "scope_ref, active"
)


def period_key(budget: Budget, at: dt.datetime) -> tuple[str, str | None]:
    """``(period_start, period_end)`` as stored for ``budget`` at the instant ``at``."""
    start, end = budget.bounds(at)
    return (start.isoformat() if start else CREDIT_PERIOD), (end.isoformat() if end else None)


def budget_of(row: Sequence[Any]) -> Budget:
    bid, name, kind, period, tz, unit, amount, enforcement, marks, scope, ref, active = row
    return Budget(
        name,
        amount,
        unit,
        kind,
        period,
        enforcement,
        tuple(json_column(marks, f"the row of budget {name!r} (thresholds)")),
        tz,
        scope,
        ref,
        bool(active),
        bid,
    )


def status_of(conn: sqlite3.Connection, budget: Budget, at: dt.datetime) -> BudgetStatus:
    """``budget``'s status in the period holding ``at``, read in one query."""
    start, end = period_key(budget, at)
    row = conn.execute(
        "SELECT amount, spent, reserved, overdrawn_at IS NOT NULL, overdraft "
        "FROM budget_periods WHERE budget_id = ? AND period_start = ?",
        (budget.id, start),
    ).fetchone()
    limit, spent, reserved, overdrawn, overdraft = row if row else (budget.amount, 0, 0, 0, 0)
    return BudgetStatus(
        budget,
        dt.datetime.fromisoformat(start) if start else None,
        dt.datetime.fromisoformat(end) if end else None,
        limit,
        spent,
        reserved,
        bool(overdrawn),
        overdraft,
    )


class SqliteBudgets:
    """Budget CRUD over the user tables (``orca.store.BudgetRepository``)."""

    def __init__(self, db: UserDb) -> None:
        self._db = db

    def create(self, budget: Budget, *, activate: bool = False) -> Budget:
        if activate:
            budget.require_global()
        now = self._db.clock().isoformat()
        with self._db.write() as conn:
            if self._row(conn, budget.name) is not None:
                raise InvalidBudgetError(
                    f"budget {budget.name!r} already exists",
                    key="name",
                    fix="pick another name, or change it with raise / delete",
                )
            first = (
                budget.scope == "global"
                and conn.execute("SELECT 1 FROM budgets WHERE active = 1").fetchone() is None
            )
            conn.execute(
                f"INSERT INTO budgets ({COLUMNS}, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,0,?,?)",
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

    def get(self, name: str) -> Budget:
        with self._db.lock:
            return self._get(self._db.conn, name)

    def all(self) -> list[Budget]:
        return [budget_of(r) for r in self._db.read(f"SELECT {COLUMNS} FROM budgets ORDER BY name")]

    def names(self) -> list[str]:
        return [r[0] for r in self._db.read("SELECT name FROM budgets ORDER BY name")]

    def active(self) -> Budget | None:
        rows = self._db.read(f"SELECT {COLUMNS} FROM budgets WHERE active = 1")
        return budget_of(rows[0]) if rows else None

    def use(self, name: str) -> Budget:
        with self._db.write() as conn:
            self._get(conn, name).require_global("name")
            _activate(conn, name)
            return self._get(conn, name)

    def scoped(self, scope: Scope, ref: str) -> list[Budget]:
        rows = self._db.read(
            f"SELECT {COLUMNS} FROM budgets WHERE scope = ? AND scope_ref = ? ORDER BY name",
            (scope, ref),
        )
        return [budget_of(r) for r in rows]

    def raise_(self, name: str, *, by: int | None = None, to: int | None = None) -> Budget:
        with self._db.write() as conn:
            new = self._get(conn, name).raised(by=by, to=to)
            conn.execute(
                "UPDATE budgets SET amount = ?, updated_at = ? WHERE id = ?",
                (new.amount, self._db.clock().isoformat(), new.id),
            )
            # the period in force (and a credit budget's only one) takes the new amount;
            # an overdrawn one is cleared once the amount covers what is spent and held
            start, _ = period_key(new, self._db.clock())
            conn.execute(
                "UPDATE budget_periods SET amount = ?, overdrawn_at = CASE "
                "WHEN spent + reserved <= ? THEN NULL ELSE overdrawn_at END "
                "WHERE budget_id = ? AND period_start = ?",
                (new.amount, new.amount, new.id, start),
            )
            return self._get(conn, name)

    def delete(self, name: str) -> None:
        with self._db.write() as conn:
            budget = self._get(conn, name)
            conn.execute("DELETE FROM budgets WHERE id = ?", (budget.id,))

    def status(self, name: str, *, at: dt.datetime | None = None) -> BudgetStatus:
        with self._db.lock:
            conn = self._db.conn
            return status_of(conn, self._get(conn, name), at or self._db.clock())

    def _get(self, conn: sqlite3.Connection, name: str) -> Budget:
        row = self._row(conn, name)
        if row is None:
            known = [r[0] for r in conn.execute("SELECT name FROM budgets ORDER BY name")]
            raise UnknownBudgetError(name, known)
        return budget_of(row)

    @staticmethod
    def _row(conn: sqlite3.Connection, name: str) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = conn.execute(
            f"SELECT {COLUMNS} FROM budgets WHERE name = ?", (name,)
        ).fetchone()
        return row


def _activate(conn: sqlite3.Connection, name: str) -> None:
    conn.execute("UPDATE budgets SET active = 0 WHERE active = 1")
    conn.execute("UPDATE budgets SET active = 1 WHERE name = ?", (name,))
