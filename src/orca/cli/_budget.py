"""``orca budget create|list|show|use|raise|delete|status``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from orca.cli._common import (
    JSON_OPTION,
    USAGE,
    commands,
    delete_named,
    emit_json,
    fail,
    handles_errors,
    in_unit,
    out,
    table,
    user_db,
)

if TYPE_CHECKING:
    from orca.cost import BudgetStatus


app = commands("Create budgets, pick the active one, raise them, see where they stand.")


def _amount(text: str, unit: str, option: str) -> int:
    from orca.cli._common import money
    from orca.cost import to_nano
    from orca.cost._budgets import MAX_AMOUNT

    value = money(text, option)
    if unit == "usd":
        if value > MAX_USD:
            fail(
                f"{option} {text} is more than Orca counts (at most ${MAX_USD:,})",
                USAGE,
                fix=f"give {option} an amount up to {MAX_USD:,}",
            )
        amount = to_nano(value)
        if amount == 0:
            fail(f"{option} {text} is less than a nano-dollar", USAGE, fix=f"{option} 0.01")
        return amount
    if value != value.to_integral_value() or value > MAX_AMOUNT:
        fail(
            f"{option} {text} is not a whole number of tokens up to {MAX_AMOUNT:,}",
            USAGE,
            fix=f"write {option} 20000",
        )
    return int(value)


MAX_USD = 1_000_000_000  # nano-USD fit SQLite's 64-bit integers up to about 9.2 billion


def _row(s: BudgetStatus) -> list[str]:
    b = s.budget
    scope = b.scope if b.scope_ref is None else f"{b.scope}:{b.scope_ref}"
    kind = b.kind if b.period is None else f"{b.period}"
    return [
        ("* " if b.active else "  ") + b.name,
        kind,
        b.enforcement,
        scope,
        in_unit(b, s.limit),
        in_unit(b, s.spent),
        in_unit(b, s.reserved),
        in_unit(b, s.remaining),
        f"{s.used_pct}%" + (" overdrawn" if s.overdrawn else ""),
    ]


def _show(statuses: list[BudgetStatus], title: str) -> None:
    t = table(
        title, "budget", "kind", "mode", "scope", "limit", "spent", "reserved", "left", "used"
    )
    for s in statuses:
        t.add_row(*_row(s))
    out.print(t)


@app.command("create")
@handles_errors
def create(
    name: str = typer.Argument(..., help="A name for the budget."),
    amount: str = typer.Option(..., "--amount", help="Dollars (or tokens with --unit tokens)."),
    unit: str = typer.Option("usd", "--unit", help="usd or tokens."),
    kind: str = typer.Option("credit", "--type", help="credit (once) or recurring."),
    period: str | None = typer.Option(None, "--period", help="daily, weekly or monthly."),
    enforcement: str = typer.Option("block", "--enforcement", help="block or warn."),
    threshold: list[int] = typer.Option(
        [], "--threshold", help="Warn at this percent (repeatable; default 80 and 100)."
    ),
    timezone: str = typer.Option("UTC", "--timezone", help="Where periods start at midnight."),
    workflow: str | None = typer.Option(None, "--workflow", help="Cover one workflow's calls."),
    session: str | None = typer.Option(None, "--session", help="Cover one session's calls."),
    run: str | None = typer.Option(None, "--run", help="Cover one run's calls."),
    activate: bool = typer.Option(False, "--activate", help="Make it the active budget."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a budget (the first global budget becomes the active one)."""
    from orca.cost import Budget

    scopes = [(s, r) for s, r in (("workflow", workflow), ("session", session), ("run", run)) if r]
    if len(scopes) > 1:
        fail(
            "give at most one of --workflow, --session and --run",
            USAGE,
            fix="scope the budget to one of them (none: every call)",
        )
    if unit not in ("usd", "tokens"):
        fail(f"--unit {unit!r} is not usd or tokens", USAGE, fix="--unit usd (or tokens)")
    scope, ref = scopes[0] if scopes else ("global", None)
    fields: dict[str, Any] = {
        "kind": kind,
        "period": period,
        "enforcement": enforcement,
        "timezone": timezone,
        "scope": scope,
        "scope_ref": ref,
    }
    if threshold:
        fields["thresholds"] = tuple(threshold)
    budget = Budget(name, _amount(amount, unit, "--amount"), unit, **fields)  # type: ignore[arg-type]
    with user_db() as store:
        made = store.ledger.budgets.create(budget, activate=activate)
        status = store.ledger.budgets.status(made.name)
    if as_json:
        emit_json(status.as_dict())
    else:
        out.print(
            f"created budget [bold]{made.name}[/]: {in_unit(made, made.amount)}, {made.enforcement}"
            + (" (active)" if made.active else "")
        )


@app.command("list")
@handles_errors
def list_(
    every: bool = typer.Option(False, "--all", help="Include budgets of single runs."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Every budget, with where it stands in its current period (* = active). Budgets
    made for one run (orca run --cost-limit) show with --all."""
    with user_db() as store:
        budgets = store.ledger.budgets
        statuses = [budgets.status(b.name) for b in budgets.all() if every or b.scope != "run"]
    if as_json:
        emit_json([s.as_dict() for s in statuses])
    elif not statuses:
        out.print("no budgets yet: orca budget create NAME --amount 5.00")
    else:
        _show(statuses, "Budgets")


@app.command("show")
@handles_errors
def show(name: str, as_json: bool = JSON_OPTION) -> None:
    """One budget: its settings and current period."""
    with user_db() as store:
        s = store.ledger.budgets.status(name)
    if as_json:
        emit_json(
            {**s.as_dict(), "thresholds": list(s.budget.thresholds), "timezone": s.budget.timezone}
        )
        return
    b = s.budget
    _show([s], f"Budget {b.name}")
    period = (
        "for good"
        if s.period_start is None
        else f"{s.period_start:%Y-%m-%d %H:%M} to {s.period_end:%Y-%m-%d %H:%M} UTC"
    )
    out.print(
        f"period: {period}; thresholds: {', '.join(f'{t}%' for t in b.thresholds)}; "
        f"time zone: {b.timezone}"
    )
    if s.overdrawn:
        out.print(
            f"overdrawn by {in_unit(b, s.overdraft)}: every call is refused until it is raised "
            f"to cover what is spent and held ({in_unit(b, s.spent + s.reserved)}). Fix: orca "
            f"budget raise {b.name} --to ..."
        )


@app.command("use")
@handles_errors
def use(name: str, as_json: bool = JSON_OPTION) -> None:
    """Make NAME the active budget (the one runs are charged to by default)."""
    with user_db() as store:
        budget = store.ledger.budgets.use(name)
    if as_json:
        emit_json({"active": budget.name})
    else:
        out.print(f"active budget: [bold]{budget.name}[/]")


@app.command("raise")
@handles_errors
def raise_(
    name: str,
    by: str | None = typer.Option(None, "--by", help="Add this much."),
    to: str | None = typer.Option(None, "--to", help="Set the limit to this."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Raise a budget's limit (its current and future periods)."""
    if (by is None) == (to is None):
        fail("give exactly one of --by and --to", USAGE, fix="orca budget raise NAME --by 5.00")
    with user_db() as store:
        budgets = store.ledger.budgets
        unit = budgets.get(name).unit
        if by is not None:
            budget = budgets.raise_(name, by=_amount(by, unit, "--by"))
        else:
            target = _amount(to or "", unit, "--to")
            now = budgets.status(name)
            used = now.spent + now.reserved
            if target < used:  # a limit below what is gone would hide an overdraft
                it = budgets.get(name)
                fail(
                    f"--to {in_unit(it, target)} is below what budget {name!r} has used: "
                    f"{in_unit(it, now.spent)} spent, {in_unit(it, now.reserved)} held by "
                    "calls running",
                    USAGE,
                    fix=f"raise it to at least {in_unit(it, used)}, or lower it with a new budget",
                )
            budget = budgets.raise_(name, to=target)
        status = budgets.status(name)
    if as_json:
        emit_json(status.as_dict())
    else:
        out.print(
            f"budget [bold]{name}[/] is now {in_unit(budget, budget.amount)} "
            f"({in_unit(budget, status.remaining)} left)"
        )


@app.command("delete")
@handles_errors
def delete(
    name: str,
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete a budget and its periods (the usage ledger keeps its rows)."""
    with user_db() as store:
        delete_named("budget", name, store.ledger.budgets, yes=yes, as_json=as_json)


@app.command("status")
@handles_errors
def status(
    name: str | None = typer.Argument(None, help="A budget (default: the active one)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Where the active budget (or NAME) stands now; expired holds are released first."""
    with user_db() as store:
        ledger = store.ledger
        ledger.sweep()
        chosen = ledger.budgets.get(name) if name else ledger.budgets.active()
        if chosen is None:
            fail(
                "no active budget",
                fix="orca budget create NAME --amount 5.00, or orca budget use NAME",
            )
        [s] = ledger.status([chosen])
    if as_json:
        emit_json(s.as_dict())
    else:
        _show([s], None)  # type: ignore[arg-type]
