"""The budget ledger: reserve -> call -> record -> settle, with holds that expire.

Before a call, ``reserve`` puts the call's worst case on hold in every budget that covers
it, in one ``BEGIN IMMEDIATE`` transaction: one conditional ``UPDATE ... WHERE spent +
reserved + asked <= amount`` per block budget, so no interleaving of threads or
processes can take a block budget past its amount. When the answer is in, ``record``
keeps its usage on the hold (a process killed now is settled from it on recovery), and
``settle`` turns the hold into a usage row and charges, idempotently by hold id. Holds
of crashed calls expire; ``sweep`` releases them (or settles them, when recorded).

Durability: every step survives the process being killed. Settle and sweep also fsync
(synchronous=FULL), and that fsync of the shared write-ahead log carries the reserve and
record before them, which skip their own: a reservation lost to a power cut held money
for a call that died with the machine, so losing it overspends nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from orca.cost._budgets import Budget, Budgets, BudgetStatus, period_key, status_of
from orca.errors import BudgetExceeded, DatabaseLockedError
from orca.store.sqlite._db import BUSY_TIMEOUT_MS, transaction

T = TypeVar("T")


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True, slots=True)
class CallContext:
    """Where a charge comes from (every field optional)."""

    run_id: str | None = None
    thread_id: str | None = None
    workflow: str | None = None
    session: str | None = None
    node: str | None = None
    task_id: str | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Charge:
    """What one call used and cost."""

    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_nano: int = 0
    priced: bool = True
    estimated: bool = False

    def amount(self, unit: str) -> int:
        """What this charge counts against a budget in ``unit``."""
        return self.cost_nano if unit == "usd" else self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class Hold:
    """A reservation; ``parts`` are ``(period id, amount)`` per budget it touches (none
    when no budget covers the call, and then nothing was written)."""

    id: str
    parts: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Alert:
    """A budget crossed one of its thresholds (once per period)."""

    budget: str
    unit: str
    threshold_pct: int
    spent: int
    limit: int


@dataclass(frozen=True, slots=True)
class Settlement:
    usage_id: str
    alerts: tuple[Alert, ...] = ()
    repeated: bool = False
    """True when the hold was settled before (settle is idempotent)."""


@dataclass(slots=True)
class SweepResult:
    expired: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)


class Ledger:
    """Budgets' money and the usage ledger, over the user database.

    Args:
        conn: a connection from ``orca.store.open_user_db()``. The ledger serialises its
            own use of it, so one ledger may serve several threads.
        clock: the current time (tests move it to expire holds).
        hold_ttl_s: how long a hold lives before ``sweep`` may release it; longer than
            any call should take.
    """

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        hold_ttl_s: float = 600.0,
    ) -> None:
        self.conn = conn
        self.budgets = Budgets(conn)
        self.clock = clock
        self.hold_ttl = dt.timedelta(seconds=hold_ttl_s)
        self._lock = threading.RLock()

    # -- which budgets ---------------------------------------------------------------------

    def applicable(
        self,
        *,
        budget: str | None = None,
        workflow: str | None = None,
        run: str | None = None,
        session: str | None = None,
    ) -> list[Budget]:
        """The budgets covering a call: ``budget`` (by name) or else the active one, plus
        every budget scoped to this workflow, run or session.

        Raises:
            UnknownBudgetError: ``budget`` names no budget.
        """
        with self._lock:
            chosen = self.budgets.get(budget) if budget else self.budgets.active()
            found = [chosen] if chosen is not None else []
            for scope, ref in (("workflow", workflow), ("run", run), ("session", session)):
                if ref:
                    found += self.budgets.scoped(scope, ref)  # type: ignore[arg-type]
            unique = {b.id: b for b in found}
            return list(unique.values())

    def status(self, budgets: Sequence[Budget]) -> list[BudgetStatus]:
        now = self.clock()
        with self._lock:
            return [status_of(self.conn, b, now) for b in budgets]

    # -- reserve -> record -> settle --------------------------------------------------------

    def reserve(
        self,
        budgets: Sequence[Budget],
        asks: Mapping[str, int],
        context: CallContext = CallContext(),
    ) -> Hold:
        """Put ``asks[unit]`` on hold in every block budget of ``budgets`` (warn budgets
        take part with 0), all or nothing.

        Raises:
            BudgetExceeded: a block budget cannot afford its ask; nothing was held.
        """
        hold_id = str(uuid.uuid4())
        if not budgets:
            return Hold(hold_id)
        now = self.clock()
        with self._tx(durable=False):
            parts = []
            for budget in budgets:
                period = self._period(budget, now)
                ask = asks.get(budget.unit, 0) if budget.enforcement == "block" else 0
                if ask < 0:
                    raise ValueError(f"a reservation cannot be negative ({ask})")
                if budget.enforcement == "block":
                    done = self.conn.execute(
                        "UPDATE budget_periods SET reserved = reserved + ? "
                        "WHERE id = ? AND spent + reserved + ? <= amount",
                        (ask, period, ask),
                    ).rowcount
                    if not done:
                        limit, spent, reserved = self.conn.execute(
                            "SELECT amount, spent, reserved FROM budget_periods WHERE id = ?",
                            (period,),
                        ).fetchone()
                        raise BudgetExceeded(
                            budget.name,
                            unit=budget.unit,
                            limit=limit,
                            spent=spent,
                            reserved=reserved,
                            asked=ask,
                        )
                parts.append((period, ask))
            self.conn.execute(
                "INSERT INTO holds (id, state, created_at, expires_at, context) "
                "VALUES (?, 'held', ?, ?, ?)",
                (hold_id, now.isoformat(), (now + self.hold_ttl).isoformat(), _json(context)),
            )
            self.conn.executemany(
                "INSERT INTO hold_parts (hold_id, period_id, amount) VALUES (?, ?, ?)",
                [(hold_id, p, a) for p, a in parts],
            )
        return Hold(hold_id, tuple(parts))

    def record(self, hold: Hold, charge: Charge) -> None:
        """Keep the answer's usage on the hold, durably, before settling: a process that
        dies now is settled from it by ``sweep``."""
        if not hold.parts:
            return
        with self._tx(durable=False):
            self.conn.execute(
                "UPDATE holds SET state = 'recorded', recorded = ? WHERE id = ? AND state = 'held'",
                (json.dumps(asdict(charge)), hold.id),
            )

    def settle(
        self, hold: Hold, charge: Charge, context: CallContext = CallContext()
    ) -> Settlement:
        """Write the usage row and charge every budget the hold touches, releasing what it
        reserved. Idempotent: settling a hold again returns the first settlement."""
        with self._tx(durable=True):
            return self._settle(hold.id, charge, context)

    def release(self, hold: Hold) -> None:
        """Give back what an unanswered call reserved (the call failed before any token)."""
        if not hold.parts:
            return
        with self._tx(durable=False):
            self._release(hold.id, "released")

    def sweep(self) -> SweepResult:
        """Release expired holds of calls that never answered, and settle expired holds
        whose answer was recorded (their process died before settling)."""
        now = self.clock().isoformat()
        result = SweepResult()
        with self._tx(durable=True):
            rows = self.conn.execute(
                "SELECT id, state, recorded, context FROM holds "
                "WHERE state IN ('held', 'recorded') AND expires_at <= ?",
                (now,),
            ).fetchall()
            for hold_id, state, recorded, context in rows:
                if state == "recorded":
                    charge = Charge(**json.loads(recorded))
                    self._settle(hold_id, charge, CallContext(**json.loads(context)))
                    result.settled.append(hold_id)
                else:
                    self._release(hold_id, "expired")
                    result.expired.append(hold_id)
        return result

    def try_now(self, fn: Callable[..., T], *args: Any) -> tuple[bool, T | None]:
        """Run ``fn(*args)`` (one of this ledger's methods) only if it can start at once:
        no other thread of this process holds the ledger and no other process holds the
        database's write lock. Returns ``(True, result)``, or ``(False, None)`` having
        done nothing, so that async callers run it inline when that costs nothing and
        hand it to a thread when it would wait."""
        if not self._lock.acquire(blocking=False):
            return False, None
        try:
            self.conn.execute("PRAGMA busy_timeout=0")
            try:
                return True, fn(*args)
            except DatabaseLockedError:
                return False, None
            finally:
                self.conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        finally:
            self._lock.release()

    # -- inside a transaction ---------------------------------------------------------------

    @contextmanager
    def _tx(self, *, durable: bool) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction under the ledger's lock. Not ``durable``:
        committed with synchronous=NORMAL (no fsync: it survives the process being
        killed, and the next durable commit's fsync of the shared log makes it survive
        power loss too). Reserve, record and release are written so; settle and sweep,
        which move money for good, fsync."""
        with self._lock:
            if not durable:
                self.conn.execute("PRAGMA synchronous=NORMAL")
            try:
                with transaction(self.conn):
                    yield
            finally:
                if not durable:
                    self.conn.execute("PRAGMA synchronous=FULL")

    def _period(self, budget: Budget, at: dt.datetime) -> int:
        start, end = period_key(budget, at)
        self.conn.execute(
            "INSERT OR IGNORE INTO budget_periods (budget_id, period_start, period_end, amount) "
            "VALUES (?, ?, ?, ?)",
            (budget.id, start, end, budget.amount),
        )
        row = self.conn.execute(
            "SELECT id FROM budget_periods WHERE budget_id = ? AND period_start = ?",
            (budget.id, start),
        ).fetchone()
        return int(row[0])

    def _release(self, hold_id: str, state: str) -> None:
        if self._state(hold_id) not in ("held", "recorded"):
            return
        self.conn.execute(
            "UPDATE budget_periods SET reserved = reserved - "
            "(SELECT amount FROM hold_parts WHERE hold_id = ? AND period_id = budget_periods.id) "
            "WHERE id IN (SELECT period_id FROM hold_parts WHERE hold_id = ?)",
            (hold_id, hold_id),
        )
        self.conn.execute("UPDATE holds SET state = ? WHERE id = ?", (state, hold_id))

    def _state(self, hold_id: str) -> str | None:
        row = self.conn.execute("SELECT state FROM holds WHERE id = ?", (hold_id,)).fetchone()
        return str(row[0]) if row else None

    def _settle(self, hold_id: str, charge: Charge, context: CallContext) -> Settlement:
        done = self.conn.execute("SELECT id FROM usage WHERE hold_id = ?", (hold_id,)).fetchone()
        if done is not None:
            return Settlement(done[0], repeated=True)
        usage_id = str(uuid.uuid4())
        self.conn.execute(
            "INSERT INTO usage (id, hold_id, created_at, run_id, thread_id, workflow, session, "
            "node, task_id, role, provider, model, input_tokens, cache_read_tokens, "
            "cache_write_tokens, output_tokens, reasoning_tokens, cost_nano, priced, estimated) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                usage_id,
                hold_id,
                self.clock().isoformat(),
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
                charge.cost_nano,
                int(charge.priced),
                int(charge.estimated),
            ),
        )
        # what it still holds is released; a hold that already expired holds nothing
        holding = self._state(hold_id) in ("held", "recorded")
        parts = self.conn.execute(
            "SELECT hp.period_id, hp.amount, b.name, b.unit, b.thresholds, p.amount, p.spent, "
            "p.fired FROM hold_parts hp JOIN budget_periods p ON p.id = hp.period_id "
            "JOIN budgets b ON b.id = p.budget_id WHERE hp.hold_id = ?",
            (hold_id,),
        ).fetchall()
        alerts = []
        for period, held, name, unit, marks, limit, spent, fired in parts:
            amount = charge.amount(unit)
            self.conn.execute(
                "UPDATE budget_periods SET spent = spent + ?, reserved = reserved - ? WHERE id = ?",
                (amount, held if holding else 0, period),
            )
            self.conn.execute(
                "INSERT INTO usage_charges (usage_id, period_id, amount) VALUES (?, ?, ?)",
                (usage_id, period, amount),
            )
            crossed = _crossed(json.loads(marks), json.loads(fired), spent + amount, limit)
            if crossed:
                self.conn.execute(
                    "UPDATE budget_periods SET fired = ? WHERE id = ?",
                    (json.dumps(sorted(json.loads(fired) + crossed)), period),
                )
                alerts += [Alert(name, unit, t, spent + amount, limit) for t in crossed]
        self.conn.execute("UPDATE holds SET state = 'settled' WHERE id = ?", (hold_id,))
        return Settlement(usage_id, tuple(alerts))


def _crossed(marks: list[int], fired: list[int], spent: int, limit: int) -> list[int]:
    """Thresholds (percent) that ``spent`` reaches for the first time."""
    return [t for t in marks if t not in fired and spent * 100 >= t * limit]


def _json(context: CallContext) -> str:
    return json.dumps({k: v for k, v in asdict(context).items() if v is not None})
