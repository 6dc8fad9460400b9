"""The budget ledger in SQLite: reserve -> call -> record -> settle, holds that their
holder renews and that expire when it dies.

Before a call, ``reserve`` puts the call's worst case on hold in every budget that covers
it, in one ``BEGIN IMMEDIATE`` transaction: one conditional ``UPDATE ... WHERE spent +
reserved + asked <= amount`` per block budget, so no interleaving of threads or
processes can take a block budget past its amount. While the call runs its holder
``renew``s the hold; the hold of a holder that died is no longer renewed, expires, and
``sweep`` releases it (or settles it, when its answer was recorded). When the answer is
in, ``record`` keeps its usage on the hold (a process killed now is settled from it on
recovery), and ``settle`` turns the hold into a usage row and charges, idempotently by
hold id.

Settling never caps a charge: what a call cost is recorded. A charge above what its
hold still holds (the hold expired, or the provider reported more than the bound) must
fit the budget by the same test as a reservation, in the same transaction; when it does
not, the part past the limit is recorded as the period's overdraft and the period is
overdrawn: every reservation is refused until the budget is raised to cover it.

Durability: every step survives the process being killed. Settle and sweep also fsync
(synchronous=FULL), and that fsync of the shared write-ahead log carries the reserve and
record before them, which skip their own: a reservation lost to a power cut held money
for a call that died with the machine, so losing it overspends nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import TypeVar

from orca.cost import (
    Alert,
    Budget,
    BudgetStatus,
    CallContext,
    Charge,
    Hold,
    Overdraft,
    Settlement,
    SweepResult,
    crossed_thresholds,
)
from orca.errors import BudgetExceeded
from orca.store.sqlite import _db
from orca.store.sqlite._budgets import SqliteBudgets, period_key, status_of
from orca.store.sqlite._user_db import UserDb

T = TypeVar("T")

NOWHERE = CallContext()
"""The context of a charge that says nothing of where it comes from."""


class SqliteLedger:
    """Budgets' money and the usage ledger over the user tables
    (``orca.store.LedgerRepository``). One ledger may serve several threads: its
    store's lock serialises them.

    Args:
        db: the store's user tables.
        hold_ttl_s: how long a hold lives unless renewed before ``sweep`` may release
            it; a live call's holder renews it well within that time.
    """

    def __init__(self, db: UserDb, *, hold_ttl_s: float = 600.0) -> None:
        if not hold_ttl_s > 0:
            raise ValueError(f"hold_ttl_s must be above zero (got {hold_ttl_s!r})")
        self._db = db
        self._budgets = SqliteBudgets(db)
        self.hold_ttl = dt.timedelta(seconds=hold_ttl_s)
        self.hold_ttl_s = float(hold_ttl_s)

    @property
    def budgets(self) -> SqliteBudgets:
        return self._budgets

    # -- which budgets ---------------------------------------------------------------------

    def applicable(
        self,
        *,
        budget: str | None = None,
        workflow: str | None = None,
        run: str | None = None,
        session: str | None = None,
    ) -> list[Budget]:
        with self._db.lock:
            chosen = self._budgets.get(budget) if budget else self._budgets.active()
            found = [chosen] if chosen is not None else []
            for scope, ref in (("workflow", workflow), ("run", run), ("session", session)):
                if ref:
                    found += self._budgets.scoped(scope, ref)  # type: ignore[arg-type]
            return list({b.id: b for b in found}.values())

    def status(self, budgets: Sequence[Budget]) -> list[BudgetStatus]:
        now = self._db.clock()
        with self._db.lock:
            return [status_of(self._db.conn, b, now) for b in budgets]

    # -- reserve -> record -> settle --------------------------------------------------------

    def reserve(
        self,
        budgets: Sequence[Budget],
        asks: Mapping[str, int],
        context: CallContext = NOWHERE,
    ) -> Hold:
        hold_id = str(uuid.uuid4())
        if not budgets:
            return Hold(hold_id)
        now = self._db.clock()
        with self._tx(durable=False) as conn:
            parts = []
            for budget in budgets:
                period = _period(conn, budget, now)
                ask = asks.get(budget.unit, 0) if budget.enforcement == "block" else 0
                if ask < 0:
                    raise ValueError(f"a reservation cannot be negative ({ask})")
                if budget.enforcement == "block":
                    done = conn.execute(
                        "UPDATE budget_periods SET reserved = reserved + ? "
                        "WHERE id = ? AND overdrawn_at IS NULL AND spent + reserved + ? <= amount",
                        (ask, period, ask),
                    ).rowcount
                    if not done:
                        limit, spent, reserved, overdrawn = conn.execute(
                            "SELECT amount, spent, reserved, overdrawn_at FROM budget_periods "
                            "WHERE id = ?",
                            (period,),
                        ).fetchone()
                        raise BudgetExceeded(
                            budget.name,
                            unit=budget.unit,
                            limit=limit,
                            spent=spent,
                            reserved=reserved,
                            asked=ask,
                            overdrawn=overdrawn is not None,
                        )
                parts.append((period, ask))
            conn.execute(
                "INSERT INTO holds (id, state, created_at, expires_at, context, holder) "
                "VALUES (?, 'held', ?, ?, ?, ?)",
                (
                    hold_id,
                    now.isoformat(),
                    (now + self.hold_ttl).isoformat(),
                    _json(context),
                    _holder(),
                ),
            )
            conn.executemany(
                "INSERT INTO hold_parts (hold_id, period_id, amount) VALUES (?, ?, ?)",
                [(hold_id, p, a) for p, a in parts],
            )
        return Hold(hold_id, tuple(parts))

    def record(self, hold: Hold, charge: Charge) -> None:
        if not hold.parts:
            return
        with self._tx(durable=False) as conn:
            # an expired hold keeps the answer too (its state stays): a process killed
            # before the settle is then settled from it by sweep, not forgotten
            conn.execute(
                "UPDATE holds SET recorded = ?, state = CASE state WHEN 'held' THEN 'recorded' "
                "ELSE state END WHERE id = ? AND state IN ('held', 'expired')",
                (json.dumps(asdict(charge)), hold.id),
            )

    def settle(self, hold: Hold, charge: Charge, context: CallContext = NOWHERE) -> Settlement:
        with self._tx(durable=True) as conn:
            return self._settle(conn, hold.id, charge, context)

    def release(self, hold: Hold) -> None:
        if not hold.parts:
            return
        with self._tx(durable=False) as conn:
            _release(conn, hold.id, "released")

    def renew(self, holds: Sequence[Hold]) -> list[str]:
        ids = [h.id for h in holds if h.parts]
        if not ids:
            return []
        now = self._db.clock()
        until = (now + self.hold_ttl).isoformat()
        live = []
        with self._tx(durable=False) as conn:
            for hold_id in ids:
                state, answered = conn.execute(
                    "SELECT state, recorded IS NOT NULL FROM holds WHERE id = ?", (hold_id,)
                ).fetchone() or (None, False)
                if state == "expired" and not answered and _retake(conn, hold_id):
                    # swept while its holder was away (a suspended machine): taken again,
                    # under the same test as a reservation, when the budgets still allow
                    state = "held"
                if state in ("held", "recorded"):
                    conn.execute(
                        "UPDATE holds SET state = ?, expires_at = ? WHERE id = ?",
                        (state, until, hold_id),
                    )
                    live.append(hold_id)
        return live

    def sweep(self) -> SweepResult:
        now = self._db.clock().isoformat()
        result = SweepResult()
        with self._tx(durable=True) as conn:
            rows = conn.execute(
                "SELECT id, recorded, context FROM holds "
                "WHERE state IN ('held', 'recorded') AND expires_at <= ?",
                (now,),
            ).fetchall()
            # answers recorded after their hold expired, whose holder died before settling
            rows += conn.execute(
                "SELECT id, recorded, context FROM holds "
                "WHERE state = 'expired' AND recorded IS NOT NULL"
            ).fetchall()
            for hold_id, recorded, context in rows:
                if recorded is not None:
                    charge = Charge(**json.loads(recorded))
                    self._settle(conn, hold_id, charge, CallContext(**json.loads(context)))
                    result.settled.append(hold_id)
                else:
                    _release(conn, hold_id, "expired")
                    result.expired.append(hold_id)
        return result

    # -- the same, off the event loop ------------------------------------------------------

    async def aapplicable(
        self,
        *,
        budget: str | None = None,
        workflow: str | None = None,
        run: str | None = None,
        session: str | None = None,
    ) -> list[Budget]:
        return await self._db.call(
            self.applicable, budget=budget, workflow=workflow, run=run, session=session
        )

    async def astatus(self, budgets: Sequence[Budget]) -> list[BudgetStatus]:
        return await self._db.call(self.status, budgets)

    async def areserve(
        self,
        budgets: Sequence[Budget],
        asks: Mapping[str, int],
        context: CallContext = NOWHERE,
    ) -> Hold:
        return await self._db.call(self.reserve, budgets, asks, context)

    async def arecord(self, hold: Hold, charge: Charge) -> None:
        await self._db.call(self.record, hold, charge)

    async def asettle(
        self, hold: Hold, charge: Charge, context: CallContext = NOWHERE
    ) -> Settlement:
        return await self._db.call(self._record_and_settle, hold, charge, context)

    async def arelease(self, hold: Hold) -> None:
        await self._db.call(self.release, hold)

    async def arenew(self, holds: Sequence[Hold]) -> list[str]:
        return await self._db.call(self.renew, holds)

    async def asweep(self) -> SweepResult:
        return await self._db.call(self.sweep)

    def _record_and_settle(self, hold: Hold, charge: Charge, context: CallContext) -> Settlement:
        # recorded first: a process killed before the settle is settled from it by sweep
        self.record(hold, charge)
        return self.settle(hold, charge, context)

    # -- inside a transaction ---------------------------------------------------------------

    @contextmanager
    def _tx(self, *, durable: bool) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction under the store's lock. Not ``durable``:
        committed with synchronous=NORMAL (no fsync: it survives the process being
        killed, and the next durable commit's fsync of the shared log makes it survive
        power loss too). Reserve, record and release are written so; settle and sweep,
        which move money for good, fsync."""
        with self._db.lock:
            conn = self._db.conn
            if not durable:
                # skip this commit's fsync (see above); restored below for everyone else
                conn.execute("PRAGMA synchronous=NORMAL")
            try:
                with _db.transaction(conn):
                    yield conn
            finally:
                if not durable:
                    conn.execute("PRAGMA synchronous=FULL")

    def _settle(
        self, conn: sqlite3.Connection, hold_id: str, charge: Charge, context: CallContext
    ) -> Settlement:
        done = conn.execute("SELECT id FROM usage WHERE hold_id = ?", (hold_id,)).fetchone()
        if done is not None:
            return Settlement(done[0], repeated=True)
        now = self._db.clock().isoformat()
        # what it still holds is released; a hold that already expired holds nothing
        holding = _state(conn, hold_id) in ("held", "recorded")
        parts = conn.execute(
            "SELECT hp.period_id, hp.amount, b.name, b.unit, b.enforcement, b.thresholds, "
            "p.amount, p.spent, p.reserved, p.fired FROM hold_parts hp "
            "JOIN budget_periods p ON p.id = hp.period_id "
            "JOIN budgets b ON b.id = p.budget_id WHERE hp.hold_id = ?",
            (hold_id,),
        ).fetchall()
        over_bound = charge.over_bound or any(
            enforcement == "block" and charge.amount(unit) > held
            for _, held, _, unit, enforcement, *_ in parts
        )
        usage_id = str(uuid.uuid4())
        conn.execute(
            "INSERT INTO usage (id, hold_id, created_at, run_id, thread_id, workflow, session, "
            "node, task_id, role, provider, model, input_tokens, cache_read_tokens, "
            "cache_write_tokens, output_tokens, reasoning_tokens, cost_nano_usd, priced, "
            "estimated, over_bound) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                usage_id,
                hold_id,
                now,
                context.run_id,
                context.thread_id,
                context.workflow,
                context.session,
                context.node,
                context.task_id,
                context.role,
                charge.provider,
                charge.model,
                charge.input_tokens,
                charge.cache_read_tokens,
                charge.cache_write_tokens,
                charge.output_tokens,
                charge.reasoning_tokens,
                charge.cost_nano_usd,
                int(charge.priced),
                int(charge.estimated),
                int(over_bound),
            ),
        )
        alerts = []
        overdrafts = []
        for period, held, name, unit, enforcement, marks, limit, spent, reserved, fired in parts:
            amount = charge.amount(unit)
            still = held if holding else 0
            over = 0
            if enforcement == "block":
                # the part of the charge its hold does not cover must fit what the period
                # has free, the test a reservation passes (this transaction holds the
                # write lock); whatever does not fit is overdraft, recorded, never capped
                need = amount - still
                free = max(limit - spent - reserved, 0)
                over = min(max(need - free, 0), max(need, 0))
            conn.execute(
                "UPDATE budget_periods SET spent = spent + ?, reserved = reserved - ?, "
                "overdraft = overdraft + ?, overdrawn_at = CASE WHEN ? > 0 "
                "THEN COALESCE(overdrawn_at, ?) ELSE overdrawn_at END WHERE id = ?",
                (amount, still, over, over, now, period),
            )
            conn.execute(
                "INSERT INTO usage_charges (usage_id, period_id, amount, overdraft) "
                "VALUES (?, ?, ?, ?)",
                (usage_id, period, amount, over),
            )
            if over:
                overdrafts.append(Overdraft(name, unit, over, spent + amount, limit))
            already = json.loads(fired)
            crossed = crossed_thresholds(json.loads(marks), already, spent + amount, limit)
            if crossed:
                conn.execute(
                    "UPDATE budget_periods SET fired = ? WHERE id = ?",
                    (json.dumps(sorted(already + crossed)), period),
                )
                alerts += [Alert(name, unit, t, spent + amount, limit) for t in crossed]
        conn.execute("UPDATE holds SET state = 'settled' WHERE id = ?", (hold_id,))
        return Settlement(usage_id, tuple(alerts), False, tuple(overdrafts), over_bound)


def _period(conn: sqlite3.Connection, budget: Budget, at: dt.datetime) -> int:
    """The id of ``budget``'s period holding ``at``, created on first use."""
    start, end = period_key(budget, at)
    conn.execute(
        "INSERT OR IGNORE INTO budget_periods (budget_id, period_start, period_end, amount) "
        "VALUES (?, ?, ?, ?)",
        (budget.id, start, end, budget.amount),
    )
    row = conn.execute(
        "SELECT id FROM budget_periods WHERE budget_id = ? AND period_start = ?",
        (budget.id, start),
    ).fetchone()
    return int(row[0])


def _release(conn: sqlite3.Connection, hold_id: str, state: str) -> None:
    if _state(conn, hold_id) not in ("held", "recorded"):
        return
    conn.execute(
        "UPDATE budget_periods SET reserved = reserved - "
        "(SELECT amount FROM hold_parts WHERE hold_id = ? AND period_id = budget_periods.id) "
        "WHERE id IN (SELECT period_id FROM hold_parts WHERE hold_id = ?)",
        (hold_id, hold_id),
    )
    conn.execute("UPDATE holds SET state = ? WHERE id = ?", (state, hold_id))


def _retake(conn: sqlite3.Connection, hold_id: str) -> bool:
    """Reserve an expired hold's parts again, all or nothing, by the test ``reserve``
    uses; whether it was taken."""
    parts = conn.execute(
        "SELECT hp.period_id, hp.amount, b.enforcement FROM hold_parts AS hp "
        "JOIN budget_periods AS p ON p.id = hp.period_id JOIN budgets AS b ON b.id = p.budget_id "
        "WHERE hp.hold_id = ?",
        (hold_id,),
    ).fetchall()
    taken: list[tuple[int, int]] = []
    for period, amount, enforcement in parts:
        # only a block budget refuses; a warn budget may run past its limit (as in reserve)
        refuses = " AND overdrawn_at IS NULL AND spent + reserved + ? <= amount"
        block = enforcement == "block"
        done = conn.execute(
            "UPDATE budget_periods SET reserved = reserved + ? WHERE id = ?"
            + (refuses if block else ""),
            (amount, period, amount) if block else (amount, period),
        ).rowcount
        if not done:
            for back, took in taken:
                conn.execute(
                    "UPDATE budget_periods SET reserved = reserved - ? WHERE id = ?", (took, back)
                )
            return False
        taken.append((period, amount))
    return True


def _holder() -> str:
    """Who takes a hold: this process on this machine (for people reading the rows)."""
    return f"{os.getpid()}@{_HOST}"


_HOST = socket.gethostname()


def _state(conn: sqlite3.Connection, hold_id: str) -> str | None:
    row = conn.execute("SELECT state FROM holds WHERE id = ?", (hold_id,)).fetchone()
    return str(row[0]) if row else None


def _json(context: CallContext) -> str:
    return json.dumps({k: v for k, v in asdict(context).items() if v is not None})
