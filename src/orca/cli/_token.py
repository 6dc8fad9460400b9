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
    project_db,
    table,
)

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
    as_json: bool = JSON_OPTION,
) -> None:
    """Make a token and print it once: it is never stored, so it cannot be shown again."""
    from orca.manage import tokens

    with project_db() as store:
        made = tokens.create(store.tokens, name, scope)
    if as_json:
        emit_json(made)
        return
    out.print(made["token"], markup=False)
    err.print(
        f"token [bold]{esc(name)}[/] ({esc(scope)}): shown once, keep it now; clients send "
        "it as Authorization: Bearer TOKEN (orca serve requires tokens once one exists)"
    )


@app.command("list")
@handles_errors
def list_tokens(
    all_: bool = typer.Option(False, "--all", help="Show revoked tokens too."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The tokens: name, scope, when made and last used (never the tokens themselves)."""
    from orca.manage import tokens

    with project_db() as store:
        records = tokens.list_(store.tokens, revoked=all_)
    if as_json:
        emit_json(records)
        return
    if not records:
        out.print("no tokens (orca token create NAME --scope run makes one)")
        return
    t = table(None, "name", "scope", "id", "created", "last used", "revoked")
    for r in records:
        t.add_row(
            esc(r["name"]),
            r["scope"],
            r["id"],
            r["created_at"],
            r["last_used_at"] or "never",
            r["revoked_at"] or "-",
        )
    out.print(t)


@app.command("revoke")
@handles_errors
def revoke(
    name: str = typer.Argument(..., help="The token's name."), as_json: bool = JSON_OPTION
) -> None:
    """Revoke a token now: a running server refuses it from its next request."""
    from orca.manage import tokens

    with project_db() as store:
        record = tokens.revoke(store.tokens, name)
    if as_json:
        emit_json(record)
    else:
        out.print(f"revoked token [bold]{esc(name)}[/] ({record['id']})")
