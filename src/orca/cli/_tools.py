"""``orca tools list|log``."""

from __future__ import annotations

import json

import typer

from orca.cli._common import (
    JSON_OPTION,
    commands,
    config,
    emit_json,
    handles_errors,
    out,
    project_db,
    table,
)

app = commands("Tools: what the policy allows, and the audit log of executions.")


@app.command("list")
@handles_errors
def list_(as_json: bool = JSON_OPTION) -> None:
    """The built-in tools and whether the policy ([tools] in orca.toml) allows them."""
    from orca.tools import builtin_tools

    policy = config().tools.policy()
    rows = [
        {"tool": t.name, "allowed": policy.allows(t.name), "description": t.description}
        for t in builtin_tools()
    ]
    if as_json:
        emit_json({"tools": rows, "domains": list(policy.domains)})
        return
    t = table("Built-in tools", "tool", "allowed", "description")
    for r in rows:
        t.add_row(r["tool"], "yes" if r["allowed"] else "no", r["description"])
    out.print(t)
    out.print(f"http_fetch domains: {', '.join(policy.domains) or 'none'}")


@app.command("log")
@handles_errors
def log(
    run: str | None = typer.Option(None, "--run", help="Only this run."),
    tool: str | None = typer.Option(None, "--tool", help="Only this tool."),
    status: str | None = typer.Option(
        None, "--status", help="ok, error, invalid, denied, timeout."
    ),
    limit: int = typer.Option(50, "--limit", min=1, help="How many, newest first."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Tool executions recorded in this project (arguments and results redacted)."""
    if run is not None:
        from orca.cli._ids import run_id

        run = run_id(run)
    from orca.manage import usage

    with project_db() as store:
        data = usage.tool_log(store.audit, run_id=run, tool=tool, status=status, limit=limit)
    if as_json:
        emit_json(data)
        return
    if not data:
        out.print("no tool executions recorded")
        return
    t = table(
        "Tool executions", "when", "run", "node", "tool", "status", "ms", "arguments", "result"
    )
    for d in data:
        t.add_row(
            d["created_at"][:19],
            d["run_id"] or "-",
            d["node"] or "-",
            d["tool"],
            d["status"],
            f"{d['duration_ms']:.1f}",
            json.dumps(d["arguments"])[:60],
            d["result"][:60],
        )
    out.print(t)
