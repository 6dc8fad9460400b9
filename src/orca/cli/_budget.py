"""``orca budget create|list|show|use|raise|delete|status``."""

from __future__ import annotations

from typing import TYPE_CHECKING

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


def _option(field: str) -> str:
    """A budget field as its option is spelled (``--amount``)."""
    return "--" + field.replace("_", "-")


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
    from orca.manage import budgets

    budget = budgets.new_budget(
        name,
        amount,
        unit=unit,
        kind=kind,
        period=period,
        enforcement=enforcement,
        thresholds=threshold,
        timezone=timezone,
        workflow=workflow,
        session=session,
        run=run,
        spell=_option,
    )
    with user_db() as store:
        status = budgets.create(store, budget, activate=activate)
    made = status.budget
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
    from orca.manage import budgets

    with user_db() as store:
        statuses = budgets.statuses(store, every=every)
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
    from orca.manage import budgets

    with user_db() as store:
        s = budgets.status(store, name)
    if as_json:
        emit_json(budgets.detail(s))
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
    from orca.manage import budgets

    with user_db() as store:
        budget = budgets.use(store, name)
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
    from orca.manage import budgets

    with user_db() as store:
        status = budgets.raise_(store, name, by=by, to=to, spell=_option)
    budget = status.budget
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
    from orca.manage import budgets

    with user_db() as store:
        s = budgets.current(store, name)
    if s is None:
        fail(
            "no active budget",
            fix="orca budget create NAME --amount 5.00, or orca budget use NAME",
        )
    if as_json:
        emit_json(s.as_dict())
    else:
        _show([s], None)  # type: ignore[arg-type]
