"""Budgets as ``orca budget`` and ``/v1/budgets`` manage them: amounts parsed and
checked once, created, listed, raised, made active, deleted, and where they stand."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from orca.cost import Budget, BudgetStatus
from orca.cost._budgets import MAX_AMOUNT
from orca.cost._money import parse_usd, to_nano
from orca.errors import InvalidFieldError
from orca.manage._plain import in_unit

if TYPE_CHECKING:
    from orca.store import UserStore

MAX_USD = 1_000_000_000  # nano-USD fit SQLite's 64-bit integers up to about 9.2 billion

Spell = Callable[[str], str]
"""How a face spells a field: ``--amount`` on the command line, ``amount`` in a body."""


def _same(field: str) -> str:
    return field


def parse_amount(text: str, unit: str, field: str) -> int:
    """A budget amount as written (dollars, or a whole number of tokens) in ``unit``'s
    integers: nano-USD or tokens.

    Raises:
        InvalidFieldError: not a number, not above zero, too large, or tokens that are
            not whole.
    """
    value = parse_usd(text, field)
    if unit == "usd":
        if value > MAX_USD:
            raise InvalidFieldError(
                f"{field} {text} is more than Orca counts (at most ${MAX_USD:,})",
                field=field,
                fix=f"give {field} an amount up to {MAX_USD:,}",
            )
        amount = to_nano(value)
        if amount == 0:
            raise InvalidFieldError(
                f"{field} {text} is less than a nano-dollar", field=field, fix=f"{field} 0.01"
            )
        return amount
    if value != value.to_integral_value() or value > MAX_AMOUNT:
        raise InvalidFieldError(
            f"{field} {text} is not a whole number of tokens up to {MAX_AMOUNT:,}",
            field=field,
            fix=f"write {field} 20000",
        )
    return int(value)


def new_budget(
    name: str,
    amount: str,
    *,
    unit: str = "usd",
    kind: str = "credit",
    period: str | None = None,
    enforcement: str = "block",
    thresholds: Sequence[int] = (),
    timezone: str = "UTC",
    workflow: str | None = None,
    session: str | None = None,
    run: str | None = None,
    spell: Spell = _same,
) -> Budget:
    """A budget from what a person gave (``amount`` in dollars or tokens, at most one
    scope of ``workflow``, ``session`` and ``run``).

    Raises:
        InvalidFieldError: two scopes, an unknown unit, a bad amount.
        InvalidBudgetError: a setting ``Budget`` refuses (name, period, enforcement,
            time zone, thresholds).
    """
    scopes = [(s, r) for s, r in (("workflow", workflow), ("session", session), ("run", run)) if r]
    if len(scopes) > 1:
        names = [spell(s) for s in ("workflow", "session", "run")]
        raise InvalidFieldError(
            f"give at most one of {names[0]}, {names[1]} and {names[2]}",
            field=spell(scopes[1][0]),
            fix="scope the budget to one of them (none: every call)",
        )
    if unit not in ("usd", "tokens"):
        option = spell("unit")
        raise InvalidFieldError(
            f"{option} {unit!r} is not usd or tokens", field=option, fix=f"{option} usd (or tokens)"
        )
    scope, ref = scopes[0] if scopes else ("global", None)
    fields: dict[str, Any] = {
        "kind": kind,
        "period": period,
        "enforcement": enforcement,
        "timezone": timezone,
        "scope": scope,
        "scope_ref": ref,
    }
    if thresholds:
        fields["thresholds"] = tuple(thresholds)
    return Budget(name, parse_amount(amount, unit, spell("amount")), unit, **fields)  # type: ignore[arg-type]


def create(store: UserStore, budget: Budget, *, activate: bool = False) -> BudgetStatus:
    """Store ``budget`` (the first global one becomes active) and say where it stands."""
    made = store.ledger.budgets.create(budget, activate=activate)
    return store.ledger.budgets.status(made.name)


def statuses(store: UserStore, *, every: bool = False) -> list[BudgetStatus]:
    """Every budget and where it stands; those made for one run only with ``every``."""
    budgets = store.ledger.budgets
    return [budgets.status(b.name) for b in budgets.all() if every or b.scope != "run"]


def status(store: UserStore, name: str) -> BudgetStatus:
    """Where budget ``name`` stands in its current period.

    Raises:
        UnknownBudgetError: no budget ``name``.
    """
    return store.ledger.budgets.status(name)


def detail(s: BudgetStatus) -> dict[str, Any]:
    """A budget's settings and where it stands (``orca budget show --json``)."""
    return {**s.as_dict(), "thresholds": list(s.budget.thresholds), "timezone": s.budget.timezone}


def current(store: UserStore, name: str | None = None) -> BudgetStatus | None:
    """Where ``name`` (default: the active budget; None when there is none) stands now,
    expired holds released first."""
    ledger = store.ledger
    ledger.sweep()
    chosen = ledger.budgets.get(name) if name else ledger.budgets.active()
    if chosen is None:
        return None
    [s] = ledger.status([chosen])
    return s


def raise_(
    store: UserStore,
    name: str,
    *,
    by: str | None = None,
    to: str | None = None,
    spell: Spell = _same,
) -> BudgetStatus:
    """Add ``by`` to budget ``name``'s limit, or set it ``to`` (never below what is
    spent and held: that would hide an overdraft).

    Raises:
        InvalidFieldError: neither or both of ``by`` and ``to``, a bad amount, or ``to``
            below what the budget has used.
        UnknownBudgetError: no budget ``name``.
    """
    if (by is None) == (to is None):
        raise InvalidFieldError(
            f"give exactly one of {spell('by')} and {spell('to')}",
            field=spell("by"),
            fix=f"{spell('by')} 5.00 adds to the limit, {spell('to')} 20.00 sets it",
        )
    budgets = store.ledger.budgets
    it = budgets.get(name)
    if by is not None:
        budgets.raise_(name, by=parse_amount(by, it.unit, spell("by")))
        return budgets.status(name)
    option = spell("to")
    target = parse_amount(to or "", it.unit, option)
    now = budgets.status(name)
    used = now.spent + now.reserved
    if target < used:
        raise InvalidFieldError(
            f"{option} {in_unit(it, target)} is below what budget {name!r} has used: "
            f"{in_unit(it, now.spent)} spent, {in_unit(it, now.reserved)} held by calls running",
            field=option,
            fix=f"raise it to at least {in_unit(it, used)}, or lower it with a new budget",
        )
    budgets.raise_(name, to=target)
    return budgets.status(name)


def use(store: UserStore, name: str) -> Budget:
    """Make budget ``name`` the active one."""
    return store.ledger.budgets.use(name)


def delete(store: UserStore, name: str) -> None:
    """Delete budget ``name`` and its periods (the usage ledger keeps its rows).

    Raises:
        UnknownBudgetError: no budget ``name``.
    """
    store.ledger.budgets.get(name)
    store.ledger.budgets.delete(name)
