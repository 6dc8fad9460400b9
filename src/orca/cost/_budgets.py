"""Budgets as values: what they are, their checks, their calendar periods and the
thresholds a charge crosses.

A budget limits spending in one ``unit`` (``usd`` as nano-USD, or ``tokens``). A
``credit`` budget is one amount for good; a ``recurring`` one is an amount per calendar
period (daily, weekly from Monday, monthly) in its time zone, and each period is kept
apart by the ledger, created when first charged: no reset job. ``block`` budgets
reserve before each call (see the ledger repository in ``orca.store``); ``warn``
budgets only report.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orca.cost._money import format_usd, to_nano
from orca.errors import InvalidBudgetError

Unit = Literal["usd", "tokens"]
Kind = Literal["credit", "recurring"]
Period = Literal["daily", "weekly", "monthly"]
Enforcement = Literal["warn", "block"]
Scope = Literal["global", "workflow", "run", "session"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


MAX_AMOUNT = 2**63 - 1
"""The largest amount SQLite stores (about 9.2 billion dollars in nano-USD)."""


def _storable(amount: Any) -> bool:
    return not isinstance(amount, bool) and isinstance(amount, int) and 0 < amount <= MAX_AMOUNT


def _bad(message: str, key: str, fix: str) -> InvalidBudgetError:
    return InvalidBudgetError(message, key=key, fix=fix)


def _choice(value: Any, allowed: Any, key: str) -> None:
    options = get_args(allowed)
    if value not in options:
        raise _bad(f"{key} {value!r} is not one of {', '.join(options)}", key, f"use {options[0]}")


@dataclass(frozen=True, slots=True)
class Budget:
    """A spending limit. ``amount`` is in ``unit``: nano-USD for ``usd`` (build one from
    dollars with ``Budget.usd``), a count for ``tokens``.

    ``scope`` says which calls it covers: ``global`` (the active budget, or the one a run
    names), or every call of one ``workflow``, ``run`` or ``session`` (``scope_ref``).
    ``thresholds`` are percentages of the amount at which a ``budget.warning`` event
    fires, once per period.
    """

    name: str
    amount: int
    unit: Unit = "usd"
    kind: Kind = "credit"
    period: Period | None = None
    enforcement: Enforcement = "block"
    thresholds: tuple[int, ...] = (80, 100)
    timezone: str = "UTC"
    scope: Scope = "global"
    scope_ref: str | None = None
    active: bool = False
    id: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise _bad(
                f"budget name {self.name!r} is not valid",
                "name",
                "use 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
            )
        if not _storable(self.amount):
            raise _bad(
                f"budget amount {self.amount!r} must be a whole number of "
                f"{'nano-USD' if self.unit == 'usd' else self.unit} from 1 to {MAX_AMOUNT}",
                "amount",
                "give an amount above zero (Budget.usd('my-budget', '5.00') for dollars)",
            )
        _choice(self.unit, Unit, "unit")
        _choice(self.kind, Kind, "kind")
        _choice(self.enforcement, Enforcement, "enforcement")
        _choice(self.scope, Scope, "scope")
        if self.kind == "recurring":
            if self.period is None:
                raise _bad("a recurring budget needs a period", "period", "add period='monthly'")
            _choice(self.period, Period, "period")
        elif self.period is not None:
            raise _bad(
                f"a credit budget has no period (got {self.period!r})",
                "period",
                "drop the period, or make the budget kind='recurring'",
            )
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise _bad(
                f"unknown time zone {self.timezone!r}",
                "timezone",
                "use an IANA name such as 'UTC' or 'Europe/Paris'",
            ) from None
        marks = tuple(self.thresholds)
        if any(isinstance(t, bool) or not isinstance(t, int) or not 0 < t <= 100 for t in marks):
            raise _bad(
                f"thresholds {list(marks)!r} must be whole percentages from 1 to 100",
                "thresholds",
                "use for example [80, 100]",
            )
        object.__setattr__(self, "thresholds", tuple(sorted(set(marks))))
        if (self.scope == "global") != (self.scope_ref is None):
            raise _bad(
                f"scope {self.scope!r} with scope_ref {self.scope_ref!r}",
                "scope_ref",
                "a global budget has no scope_ref; a workflow, run or session budget names one",
            )

    @classmethod
    def usd(cls, name: str, dollars: Decimal | int | str, **fields: Any) -> Budget:
        """A budget of ``dollars`` (a Decimal, int or decimal string; never a float)."""
        if isinstance(dollars, bool) or "unit" in fields:
            raise _bad(
                f"Budget.usd takes dollars as a Decimal, int or decimal string (got {dollars!r}"
                + (f", unit={fields['unit']!r}" if "unit" in fields else "")
                + ")",
                "amount",
                "give dollars such as '5.00'; for a tokens budget use Budget(name, n, 'tokens')",
            )
        try:
            amount = to_nano(dollars)
        except (TypeError, ValueError) as exc:
            raise _bad(
                f"budget amount {dollars!r}: {exc}",
                "amount",
                "give dollars as a decimal string such as '5.00'",
            ) from None
        return cls(name, amount, "usd", **fields)

    def show(self, amount: int) -> str:
        """``amount`` (in this budget's unit) for people."""
        return format_usd(amount) if self.unit == "usd" else f"{amount:,} tokens"

    def bounds(self, at: dt.datetime) -> tuple[dt.datetime | None, dt.datetime | None]:
        """``[start, end)`` of the period holding the instant ``at``; ``(None, None)``
        for a credit budget, whose one period never ends."""
        if self.kind == "credit" or self.period is None:
            return None, None
        return period_bounds(self.period, self.timezone, at)

    def raised(self, *, by: int | None = None, to: int | None = None) -> Budget:
        """This budget with its amount raised (or lowered) ``by`` an amount or ``to`` a
        total, in its unit.

        Raises:
            InvalidBudgetError: neither or both of ``by`` and ``to``, not an int, or a
                result outside 1..``MAX_AMOUNT``.
        """
        if (by is None) == (to is None):
            raise _bad("give exactly one of by and to", "amount", "pass by=... or to=...")
        step = by if by is not None else to
        if isinstance(step, bool) or not isinstance(step, int):
            raise _bad(
                f"budget amounts are whole numbers in the budget's unit (got {step!r})",
                "amount",
                "pass an int (nano-USD for a usd budget: to_nano('5.00'))",
            )
        new = self.amount + step if by is not None else step
        if not _storable(new):
            raise _bad(
                f"budget {self.name!r} would be {new!r}, and an amount must be from 1 to "
                f"{MAX_AMOUNT}",
                "amount",
                "raise by a positive amount, or to a positive total",
            )
        return replace(self, amount=new)

    def require_global(self, key: str = "active") -> None:
        """Raise ``InvalidBudgetError`` unless this budget may be the active one (only a
        global budget can; scoped ones apply by themselves)."""
        if self.scope != "global":
            raise _bad(
                f"budget {self.name!r} is a {self.scope} budget and cannot be the active one",
                key,
                "activate a global budget; a scoped one applies by itself",
            )


@dataclass(frozen=True, slots=True)
class BudgetStatus:
    """Where a budget stands in its current period."""

    budget: Budget
    period_start: dt.datetime | None
    period_end: dt.datetime | None
    limit: int
    spent: int
    reserved: int
    overdrawn: bool = False
    """A charge went past the limit of this block budget: every reservation is refused
    until the budget is raised to cover what is spent and held."""
    overdraft: int = 0
    """How much, in all, charges went past the limit in this period."""

    @property
    def remaining(self) -> int:
        return max(self.limit - self.spent - self.reserved, 0)

    @property
    def used_pct(self) -> Decimal:
        """Spent as a percentage of the limit (may pass 100 for a warn budget)."""
        return (Decimal(self.spent) * 100 / Decimal(self.limit)).quantize(Decimal("0.01"))

    def as_dict(self) -> dict[str, Any]:
        b = self.budget
        return {
            "name": b.name,
            "unit": b.unit,
            "kind": b.kind,
            "period": b.period,
            "enforcement": b.enforcement,
            "scope": b.scope,
            "scope_ref": b.scope_ref,
            "active": b.active,
            "limit": self.limit,
            "spent": self.spent,
            "reserved": self.reserved,
            "remaining": self.remaining,
            "used_pct": str(self.used_pct),
            "overdrawn": self.overdrawn,
            "overdraft": self.overdraft,
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
        }


def period_bounds(
    period: Period, timezone: str, at: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The calendar period (daily, weekly from Monday, monthly) in ``timezone`` that
    holds the instant ``at``, as aware UTC datetimes ``[start, end)``. Periods start at
    local midnight, so across a DST change a day lasts 23 or 25 hours."""
    if at.tzinfo is None:
        raise ValueError("at must be an aware datetime")
    zone = ZoneInfo(timezone)
    day = at.astimezone(zone).date()
    if period == "daily":
        first, after = day, day + dt.timedelta(days=1)
    elif period == "weekly":
        first = day - dt.timedelta(days=day.weekday())
        after = first + dt.timedelta(days=7)
    else:
        first = day.replace(day=1)
        after = (first + dt.timedelta(days=32)).replace(day=1)

    def midnight(d: dt.date) -> dt.datetime:
        return dt.datetime.combine(d, dt.time(0), tzinfo=zone).astimezone(dt.UTC)

    return midnight(first), midnight(after)


def crossed_thresholds(
    thresholds: Iterable[int], fired: Iterable[int], spent: int, limit: int
) -> list[int]:
    """The thresholds (percent of ``limit``) that ``spent`` reaches and that have not
    fired yet in this period, in order."""
    done = set(fired)
    return [t for t in sorted(thresholds) if t not in done and spent * 100 >= t * limit]
