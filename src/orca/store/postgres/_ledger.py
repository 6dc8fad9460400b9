"""The budget ledger in PostgreSQL: reserve -> call -> record -> settle, holds that their
holder renews and that expire when it dies; any number of processes on any number of
hosts share it.

Every step is one transaction, and every transaction that moves money takes row locks
in one fixed order: the ``holds`` rows it touches (by id), then the ``budget_periods``
rows (by id), each with ``SELECT ... ORDER BY id FOR UPDATE``. ``reserve`` locks the
periods of the call's budgets, checks ``spent + reserved + asked <= amount`` (and that
the period is not overdrawn) for each block budget on the locked rows, and writes the
reservation and the hold before it commits: no interleaving of clients can take a block
budget past its amount. ``settle`` locks its hold and its periods, writes the usage row
(``usage.hold_id`` is unique: a second settle finds the first one and returns it) and
the charges. ``sweep`` locks the expired holds (``SKIP LOCKED``: a hold some client is
settling is not waited for), then their periods, and releases or settles each.

A transaction that loses a deadlock or serialization race is run again
(``PgDb.retrying``); one cut off by a lost connection raises ``StoreUnavailableError``
with nothing written, and settling again after the server is back is safe: settle is
idempotent by hold id, and a commit whose answer was lost is found by the retry.

Settling never caps a charge, as in the SQLite ledger: a charge above what its hold
still holds must fit the budget by the test a reservation passes, in the same
transaction; the part past the limit is recorded as the period's overdraft and the
period is overdrawn, refusing every reservation until the budget is raised.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import psycopg

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
from orca.store._clock import Clock
from orca.store.postgres._budgets import PgBudgets, period_key, status_of
from orca.store.postgres._db import PgDb
from orca.store.postgres._user_db import has_nul, json_value, label

Conn = psycopg.Connection[Any]

NOWHERE = CallContext()
"""The context of a charge that says nothing of where it comes from."""


@dataclass
class _Period:
    """One locked ``budget_periods`` row, as the transaction holding it sees it."""

    id: int
    amount: int
    spent: int
    reserved: int
    overdrawn: bool


class PgLedger:
    """Budgets' money and the usage ledger over the user tables
    (``orca.store.LedgerRepository``). Safe to share between threads: each operation
    takes its own pooled connection.

    Args:
        db: the store's database.
        clock: the current time for what it stamps and for when holds expire.
        hold_ttl_s: how long a hold lives unless renewed before ``sweep`` may release
            it; a live call's holder renews it well within that time.
    """

    def __init__(self, db: PgDb, *, clock: Clock, hold_ttl_s: float = 600.0) -> None:
        if not hold_ttl_s > 0:
            raise ValueError(f"hold_ttl_s must be above zero (got {hold_ttl_s!r})")
        self._db = db
        self._clock = clock
        self._budgets = PgBudgets(db, clock=clock)
        self.hold_ttl = dt.timedelta(seconds=hold_ttl_s)
        self.hold_ttl_s = float(hold_ttl_s)

    @property
    def budgets(self) -> PgBudgets:
        return self._budgets

    @property
    def db(self) -> PgDb:
        """The database the ledger's tables are in (a checkpointer in the same one keeps
        a paid call's record and its hold's answer in one transaction)."""
        return self._db

    # -- which budgets ---------------------------------------------------------------------

    def applicable(
        self,
        *,
        budget: str | None = None,
        workflow: str | None = None,
        run: str | None = None,
        session: str | None = None,
    ) -> list[Budget]:
        with self._db.read() as conn:
            chosen = self._budgets.get_in(conn, budget) if budget else self._budgets.active_in(conn)
            found = [chosen] if chosen is not None else []
            for scope, ref in (("workflow", workflow), ("run", run), ("session", session)):
                if ref:
                    found += self._budgets.scoped_in(conn, scope, ref)  # type: ignore[arg-type]
        return list({b.id: b for b in found}.values())

    def status(self, budgets: Sequence[Budget]) -> list[BudgetStatus]:
        now = self._clock()
        with self._db.read() as conn:
            return [status_of(conn, b, now) for b in budgets]

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
        wanted = []
        for budget in budgets:
            ask = asks.get(budget.unit, 0) if budget.enforcement == "block" else 0
            if ask < 0:
                raise ValueError(f"a reservation cannot be negative ({ask})")
            wanted.append((budget, ask))
        now = self._clock()
        keys = [(b, *period_key(b, now)) for b in budgets]

        def work(conn: Conn) -> Hold:
            periods = _lock_periods(conn, keys)
            parts = []
            for budget, ask in wanted:
                period = periods[budget.id]
                if budget.enforcement == "block" and (
                    period.overdrawn or period.spent + period.reserved + ask > period.amount
                ):
                    raise BudgetExceeded(
                        budget.name,
                        unit=budget.unit,
                        limit=period.amount,
                        spent=period.spent,
                        reserved=period.reserved,
                        asked=ask,
                        overdrawn=period.overdrawn,
                    )
                period.reserved += ask
                parts.append((period.id, ask))
            ids = [p for p, _ in parts]
            amounts = [a for _, a in parts]
            conn.execute(
                "WITH held AS (UPDATE budget_periods AS p SET reserved = p.reserved + v.ask "
                "FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, ask) "
                "WHERE p.id = v.id AND v.ask > 0), "
                "hold AS (INSERT INTO holds (id, state, created_at, expires_at, context, holder) "
                "VALUES (%s, 'held', %s, %s, %s, %s)) "
                "INSERT INTO hold_parts (hold_id, period_id, amount) "
                "SELECT %s, v.id, v.ask FROM unnest(%s::bigint[], %s::bigint[]) AS v(id, ask)",
                (
                    ids,
                    amounts,
                    hold_id,
                    now.isoformat(),
                    (now + self.hold_ttl).isoformat(),
                    _json(context),
                    _holder(),
                    hold_id,
                    ids,
                    amounts,
                ),
            )
            return Hold(hold_id, tuple(parts))

        return self._db.retrying(work)

    def record(self, hold: Hold, charge: Charge) -> None:
        found = recording(hold, charge)
        if found is not None:
            with self._db.transaction() as conn:
                conn.execute(*found)

    def settle(self, hold: Hold, charge: Charge, context: CallContext = NOWHERE) -> Settlement:
        return self._db.retrying(lambda conn: self._settle(conn, hold.id, charge, context))

    def release(self, hold: Hold) -> None:
        if not hold.parts or has_nul(hold.id):
            return

        def work(conn: Conn) -> None:
            row = conn.execute(
                "SELECT state FROM holds WHERE id = %s FOR UPDATE", (hold.id,)
            ).fetchone()
            if row is not None and row[0] in ("held", "recorded"):
                _lock_parts(conn, [hold.id])
                _release(conn, hold.id, "released")

        self._db.retrying(work)

    def renew(self, holds: Sequence[Hold]) -> list[str]:
        ids = [h.id for h in holds if h.parts and not has_nul(h.id)]
        if not ids:
            return []
        now = self._clock()
        until = (now + self.hold_ttl).isoformat()

        def work(conn: Conn) -> list[str]:
            rows = conn.execute(
                "SELECT id, state, recorded IS NOT NULL FROM holds WHERE id = ANY(%s) "
                "ORDER BY id FOR UPDATE",
                (ids,),
            ).fetchall()
            found = {str(r[0]): (str(r[1]), bool(r[2])) for r in rows}
            # the periods of holds that may be taken again, locked before any is
            lapsed = [i for i, (state, done) in found.items() if state == "expired" and not done]
            periods = _lock_parts(conn, lapsed) if lapsed else {}
            live = []
            for hold_id in ids:
                state, answered = found.get(hold_id, ("", False))
                if state == "expired" and not answered and _retake(conn, hold_id, periods):
                    # swept while its holder was away (a suspended machine): taken again,
                    # under the same test as a reservation, when the budgets still allow
                    state = "held"
                    found[hold_id] = (state, answered)
                if state in ("held", "recorded"):
                    conn.execute(
                        "UPDATE holds SET state = %s, expires_at = %s WHERE id = %s",
                        (state, until, hold_id),
                    )
                    live.append(hold_id)
            return live

        return self._db.retrying(work)

    def sweep(self) -> SweepResult:
        now = self._clock().isoformat()

        def work(conn: Conn) -> SweepResult:
            result = SweepResult()
            # open holds past their time, and answers recorded after their hold expired
            # whose holder died before settling; a hold another client has locked (it is
            # settling or renewing it) is left to that client
            rows = conn.execute(
                "SELECT id, recorded, context FROM holds "
                "WHERE (state IN ('held', 'recorded') AND expires_at <= %s) "
                "OR (state = 'expired' AND recorded IS NOT NULL) "
                "ORDER BY id FOR UPDATE SKIP LOCKED",
                (now,),
            ).fetchall()
            if not rows:
                return result
            _lock_parts(conn, [str(r[0]) for r in rows])
            for hold_id, recorded, context in rows:
                if recorded is not None:
                    charge = Charge(**json_value(recorded, f"hold {hold_id}", self._db.where))
                    where = CallContext(**json_value(context, f"hold {hold_id}", self._db.where))
                    self._settle(conn, hold_id, charge, where)
                    result.settled.append(hold_id)
                else:
                    _release(conn, hold_id, "expired")
                    result.expired.append(hold_id)
            return result

        return self._db.retrying(work)

    # -- the same, off the event loop ------------------------------------------------------

    async def aapplicable(
        self,
        *,
        budget: str | None = None,
        workflow: str | None = None,
        run: str | None = None,
        session: str | None = None,
    ) -> list[Budget]:
        return await self._db.submit(
            lambda: self.applicable(budget=budget, workflow=workflow, run=run, session=session)
        )

    async def astatus(self, budgets: Sequence[Budget]) -> list[BudgetStatus]:
        return await self._db.submit(lambda: self.status(budgets))

    async def areserve(
        self,
        budgets: Sequence[Budget],
        asks: Mapping[str, int],
        context: CallContext = NOWHERE,
    ) -> Hold:
        return await self._db.submit(lambda: self.reserve(budgets, asks, context))

    async def arecord(self, hold: Hold, charge: Charge) -> None:
        await self._db.submit(lambda: self.record(hold, charge))

    async def asettle(
        self, hold: Hold, charge: Charge, context: CallContext = NOWHERE
    ) -> Settlement:
        return await self._db.submit(lambda: self._record_and_settle(hold, charge, context))

    async def arelease(self, hold: Hold) -> None:
        await self._db.submit(lambda: self.release(hold))

    async def arenew(self, holds: Sequence[Hold]) -> list[str]:
        return await self._db.submit(lambda: self.renew(holds))

    async def asweep(self) -> SweepResult:
        return await self._db.submit(self.sweep)

    def _record_and_settle(self, hold: Hold, charge: Charge, context: CallContext) -> Settlement:
        # recorded first: a process killed before the settle is settled from it by sweep
        self.record(hold, charge)
        return self.settle(hold, charge, context)

    # -- inside a transaction ---------------------------------------------------------------

    def _settle(self, conn: Conn, hold_id: str, charge: Charge, context: CallContext) -> Settlement:
        if has_nul(hold_id):  # no hold has such an id: it settles nothing but its usage
            hold_id = str(label(hold_id))
        # the hold's row, then its periods' rows in id order: the lock order of every
        # transaction that moves money
        parts = conn.execute(
            "SELECT h.state, p.id, hp.amount, b.name, b.unit, b.enforcement, b.thresholds, "
            "p.amount, p.spent, p.reserved, p.fired FROM holds AS h "
            "JOIN hold_parts AS hp ON hp.hold_id = h.id "
            "JOIN budget_periods AS p ON p.id = hp.period_id "
            "JOIN budgets AS b ON b.id = p.budget_id "
            "WHERE h.id = %s ORDER BY p.id FOR UPDATE OF h, p",
            (hold_id,),
        ).fetchall()
        # what it still holds is released; a hold that already expired holds nothing
        holding = bool(parts) and parts[0][0] in ("held", "recorded")
        over_bound = charge.over_bound or any(
            enforcement == "block" and charge.amount(unit) > held
            for _, _, held, _, unit, enforcement, *_ in parts
        )
        now = self._clock().isoformat()
        usage_id = str(uuid.uuid4())
        inserted = conn.execute(
            "INSERT INTO usage (id, hold_id, created_at, run_id, thread_id, workflow, session, "
            "node, task_id, role, provider, model, input_tokens, cache_read_tokens, "
            "cache_write_tokens, output_tokens, reasoning_tokens, cost_nano_usd, priced, "
            "estimated, over_bound) "
            "VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s) "
            "ON CONFLICT (hold_id) DO NOTHING RETURNING id",
            (
                usage_id,
                hold_id,
                now,
                label(context.run_id),
                label(context.thread_id),
                label(context.workflow),
                label(context.session),
                label(context.node),
                label(context.task_id),
                label(context.role),
                label(charge.provider),
                label(charge.model),
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
        ).fetchone()
        if inserted is None:  # settled before: the first settlement stands
            row = conn.execute("SELECT id FROM usage WHERE hold_id = %s", (hold_id,)).fetchone()
            assert row is not None  # the conflicting row is committed, or ours
            return Settlement(str(row[0]), repeated=True)
        alerts = []
        overdrafts = []
        changes: list[tuple[int, int, int, int, str | None]] = []
        for _, period, held, name, unit, enforcement, marks, limit, spent, reserved, fired in parts:
            amount = charge.amount(unit)
            still = held if holding else 0
            over = 0
            if enforcement == "block":
                # the part of the charge its hold does not cover must fit what the period
                # has free, the test a reservation passes (this transaction holds the
                # period's lock); whatever does not fit is overdraft, recorded, never capped
                need = amount - still
                free = max(limit - spent - reserved, 0)
                over = min(max(need - free, 0), max(need, 0))
            if over:
                overdrafts.append(Overdraft(name, unit, over, spent + amount, limit))
            already = json_value(fired, f"budget {name!r}'s period (fired)", self._db.where)
            thresholds = json_value(marks, f"budget {name!r} (thresholds)", self._db.where)
            crossed = crossed_thresholds(thresholds, already, spent + amount, limit)
            alerts += [Alert(name, unit, t, spent + amount, limit) for t in crossed]
            now_fired = json.dumps(sorted(already + crossed)) if crossed else None
            changes.append((period, amount, still, over, now_fired))
        conn.execute(
            "WITH charged AS (UPDATE budget_periods AS p SET spent = p.spent + v.amount, "
            "reserved = p.reserved - v.still, overdraft = p.overdraft + v.over, "
            "overdrawn_at = CASE WHEN v.over > 0 THEN COALESCE(p.overdrawn_at, %s) "
            "ELSE p.overdrawn_at END, fired = COALESCE(v.fired, p.fired) "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::text[]) "
            "AS v(id, amount, still, over, fired) WHERE p.id = v.id), "
            "rows AS (INSERT INTO usage_charges (usage_id, period_id, amount, overdraft) "
            "SELECT %s, v.id, v.amount, v.over "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[]) AS v(id, amount, over)) "
            "UPDATE holds SET state = 'settled' WHERE id = %s",
            (
                now,
                [c[0] for c in changes],
                [c[1] for c in changes],
                [c[2] for c in changes],
                [c[3] for c in changes],
                [c[4] for c in changes],
                usage_id,
                [c[0] for c in changes],
                [c[1] for c in changes],
                [c[3] for c in changes],
                hold_id,
            ),
        )
        return Settlement(usage_id, tuple(alerts), False, tuple(overdrafts), over_bound)


def recording(hold: Hold, charge: Charge) -> tuple[str, tuple[str, str]] | None:
    """The statement that records ``charge`` on ``hold`` and its parameters (``record``;
    a checkpointer in the ledger's database runs it with a call's record, as one
    statement); None for a hold with nothing held, which no row keeps."""
    if not hold.parts or has_nul(hold.id):  # (no hold has such an id)
        return None
    # an expired hold keeps the answer too (its state stays): a process killed before
    # the settle is then settled from it by sweep, not forgotten
    return (
        "UPDATE holds SET recorded = %s, state = CASE state WHEN 'held' THEN 'recorded' "
        "ELSE state END WHERE id = %s AND state IN ('held', 'expired')",
        (json.dumps(asdict(charge)), hold.id),
    )


def _lock_periods(
    conn: Conn, keys: Sequence[tuple[Budget, str, str | None]]
) -> dict[str | None, _Period]:
    """Lock the periods ``keys`` name (``(budget, period_start, period_end)``), in id
    order, creating those not yet used; each by its budget's id."""
    budget_ids = [b.id for b, _, _ in keys]
    starts = [s for _, s, _ in keys]
    query = (
        "SELECT p.id, p.budget_id, p.amount, p.spent, p.reserved, p.overdrawn_at IS NOT NULL "
        "FROM budget_periods AS p "
        "JOIN unnest(%s::text[], %s::text[]) AS k(budget_id, period_start) "
        "ON p.budget_id = k.budget_id AND p.period_start = k.period_start "
        "ORDER BY p.id FOR UPDATE OF p"
    )
    rows = conn.execute(query, (budget_ids, starts)).fetchall()
    if len({r[1] for r in rows}) < len(set(budget_ids)):
        # a budget's first call in this period: its row is made (in budget order, so
        # that two clients making the same rows wait on each other, never deadlock)
        conn.execute(
            "INSERT INTO budget_periods (budget_id, period_start, period_end, amount) "
            "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[]) "
            "ORDER BY 1 ON CONFLICT (budget_id, period_start) DO NOTHING",
            (budget_ids, starts, [e for _, _, e in keys], [b.amount for b, _, _ in keys]),
        )
        rows = conn.execute(query, (budget_ids, starts)).fetchall()
    return {
        str(r[1]): _Period(int(r[0]), int(r[2]), int(r[3]), int(r[4]), bool(r[5])) for r in rows
    }


def _lock_parts(conn: Conn, hold_ids: Sequence[str]) -> dict[int, tuple[int, int, int, bool]]:
    """Lock, in id order, every period the holds ``hold_ids`` touch (their hold rows are
    locked already); ``{id: (amount, spent, reserved, overdrawn)}``."""
    rows = conn.execute(
        "SELECT id, amount, spent, reserved, overdrawn_at IS NOT NULL FROM budget_periods "
        "WHERE id IN (SELECT period_id FROM hold_parts WHERE hold_id = ANY(%s)) "
        "ORDER BY id FOR UPDATE",
        (list(hold_ids),),
    ).fetchall()
    return {int(r[0]): (int(r[1]), int(r[2]), int(r[3]), bool(r[4])) for r in rows}


def _release(conn: Conn, hold_id: str, state: str) -> None:
    """Give back what a live hold holds (its hold and period rows are locked)."""
    conn.execute(
        "WITH back AS (UPDATE budget_periods AS p SET reserved = p.reserved - hp.amount "
        "FROM hold_parts AS hp WHERE hp.hold_id = %s AND hp.period_id = p.id) "
        "UPDATE holds SET state = %s WHERE id = %s AND state IN ('held', 'recorded')",
        (hold_id, state, hold_id),
    )


def _retake(conn: Conn, hold_id: str, periods: dict[int, tuple[int, int, int, bool]]) -> bool:
    """Reserve an expired hold's parts again, all or nothing, by the test ``reserve``
    uses (its periods are locked; ``periods`` is what this transaction has made of
    them); whether it was taken."""
    parts = conn.execute(
        "SELECT hp.period_id, hp.amount, b.enforcement FROM hold_parts AS hp "
        "JOIN budget_periods AS p ON p.id = hp.period_id JOIN budgets AS b ON b.id = p.budget_id "
        "WHERE hp.hold_id = %s ORDER BY hp.period_id",
        (hold_id,),
    ).fetchall()
    for period, amount, enforcement in parts:
        # only a block budget refuses; a warn budget may run past its limit (as in reserve)
        limit, spent, reserved, overdrawn = periods[int(period)]
        if enforcement == "block" and (overdrawn or spent + reserved + amount > limit):
            return False
    for period, amount, _ in parts:
        limit, spent, reserved, overdrawn = periods[int(period)]
        periods[int(period)] = (limit, spent, reserved + int(amount), overdrawn)
    conn.execute(
        "UPDATE budget_periods AS p SET reserved = p.reserved + hp.amount "
        "FROM hold_parts AS hp WHERE hp.hold_id = %s AND hp.period_id = p.id",
        (hold_id,),
    )
    return True


def _holder() -> str:
    """Who takes a hold: this process on this machine (for people reading the rows)."""
    return f"{os.getpid()}@{_HOST}"


_HOST = socket.gethostname()


def _json(context: CallContext) -> str:
    return json.dumps({k: v for k, v in asdict(context).items() if v is not None})
