"""``orca token create|list|revoke``: the server's bearer tokens (docs/server.md#auth)."""

from __future__ import annotations

import typer

from orca.cli._common import (
    JSON_OPTION,
    commands,
    emit_json,
    err,
    esc,
    handles_errors,
    out,
    registry_db,
    table,
)

TENANT_HELP = "The tenant whose token it is (default: --tenant, else the default tenant)."


def _tenant(given: str | None) -> str:
    from orca.store import check_tenant, current_tenant

    return current_tenant() if given is None else check_tenant(given, field="--tenant")


app = commands(
    "Bearer tokens for `orca serve`: scopes read < run < admin; only their hashes are kept."
)


@app.command("create")
@handles_errors
def create(
    name: str = typer.Argument(..., help="Who uses it (letters, digits, . _ -), e.g. ci-bot."),
    scope: str = typer.Option(
        "read", "--scope", help="read (GET only), run (start and cancel runs too) or admin."
    ),
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
    as_json: bool = JSON_OPTION,
) -> None:
    """Make a token and print it once: it is never stored, so it cannot be shown again.
    It reaches its tenant's data only."""
    from orca.manage import tokens

    with registry_db() as store:
        made = tokens.create(store.tokens, name, scope, _tenant(tenant))
    if as_json:
        emit_json(made)
        return
    out.print(made["token"], markup=False)
    err.print(
        f"token [bold]{esc(name)}[/] ({esc(scope)}, tenant {esc(made['tenant'])}): shown "
        "once, keep it now; clients send it as Authorization: Bearer TOKEN (orca serve "
        "requires tokens once one exists)"
    )


@app.command("list")
@handles_errors
def list_tokens(
    all_: bool = typer.Option(False, "--all", help="Show revoked tokens too."),
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
    every_tenant: bool = typer.Option(False, "--all-tenants", help="Every tenant's tokens."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The tokens: name, scope, tenant, when made and last used (never the tokens
    themselves)."""
    from orca.manage import tokens

    with registry_db() as store:
        whose = None if every_tenant else _tenant(tenant)
        records = tokens.list_(store.tokens, revoked=all_, tenant=whose)
    if as_json:
        emit_json(records)
        return
    if not records:
        out.print("no tokens (orca token create NAME --scope run makes one)")
        return
    t = table(None, "name", "scope", "tenant", "id", "created", "last used", "revoked")
    for r in records:
        t.add_row(
            esc(r["name"]),
            r["scope"],
            esc(r["tenant"]),
            r["id"],
            r["created_at"],
            r["last_used_at"] or "never",
            r["revoked_at"] or "-",
        )
    out.print(t)


@app.command("revoke")
@handles_errors
def revoke(
    name: str = typer.Argument(..., help="The token's name."),
    tenant: str | None = typer.Option(None, "--tenant", help=TENANT_HELP),
    as_json: bool = JSON_OPTION,
) -> None:
    """Revoke a token now: a running server refuses it from its next request."""
    from orca.manage import tokens

    with registry_db() as store:
        record = tokens.revoke(store.tokens, name, _tenant(tenant))
    if as_json:
        emit_json(record)
    else:
        out.print(f"revoked token [bold]{esc(name)}[/] ({record['id']})")
