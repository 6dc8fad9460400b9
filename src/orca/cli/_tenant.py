"""``orca tenant create|list|disable|enable``: the registry of tenants (docs/tenants.md).
A tenant's data lives apart from every other's; its tokens (``orca token create
--tenant``) and OIDC callers reach its data only."""

from __future__ import annotations

import typer

from orca.cli._common import (
    JSON_OPTION,
    commands,
    emit_json,
    esc,
    handles_errors,
    out,
    registry_db,
    table,
)

app = commands("Tenants (organizations): each one's runs, budgets and tokens kept apart.")


@app.command("create")
@handles_errors
def create(
    name: str = typer.Argument(..., help="Its id: 1-40 lowercase letters, digits, _ or -."),
    display_name: str = typer.Option("", "--display-name", help="What people call it."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Register a tenant; then make its first token (orca token create NAME --tenant T
    --scope admin) or let the identity provider's tokens name it."""
    with registry_db() as store:
        record = store.tenants.create(name, display_name)
    if as_json:
        emit_json(record.to_dict())
        return
    out.print(
        f"tenant [bold]{esc(name)}[/] registered; its first token: orca token create admin "
        f"--tenant {esc(name)} --scope admin"
    )


@app.command("list")
@handles_errors
def list_tenants(as_json: bool = JSON_OPTION) -> None:
    """The tenants, the default one first."""
    with registry_db() as store:
        records = [r.to_dict() for r in store.tenants.list()]
    if as_json:
        emit_json(records)
        return
    t = table(None, "name", "display name", "created", "disabled")
    for r in records:
        t.add_row(
            esc(str(r["name"])),
            esc(str(r["display_name"])),
            str(r["created_at"]),
            str(r["disabled_at"] or "-"),
        )
    out.print(t)


def _switch(name: str, disabled: bool, as_json: bool) -> None:
    with registry_db() as store:
        record = store.tenants.set_disabled(name, disabled)
    if as_json:
        emit_json(record.to_dict())
    else:
        said = "disabled: its tokens and callers are refused" if disabled else "enabled"
        out.print(f"tenant [bold]{esc(name)}[/] {said}")


@app.command("disable")
@handles_errors
def disable(
    name: str = typer.Argument(..., help="The tenant."), as_json: bool = JSON_OPTION
) -> None:
    """Refuse the tenant's tokens and callers from their next request (its data stays)."""
    _switch(name, True, as_json)


@app.command("enable")
@handles_errors
def enable(
    name: str = typer.Argument(..., help="The tenant."), as_json: bool = JSON_OPTION
) -> None:
    """Serve a disabled tenant again."""
    _switch(name, False, as_json)
