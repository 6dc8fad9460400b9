"""``orca flows validate|export``: declarative workflows (docs/workflows.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from orca.cli._common import (
    JSON_OPTION,
    USAGE,
    commands,
    config,
    emit_json,
    err,
    esc,
    handles_errors,
    out,
)

app = commands("Declarative workflows (orca.flow/v1): validate a flow file, export a graph.")


@app.command("validate")
@handles_errors
def validate(
    file: Path = typer.Argument(..., help="The flow file (.json, .yaml or .yml)."),
    allowlist: bool = typer.Option(
        False,
        "--allowlist",
        help="Check python refs against [flows] python_modules, as a server checks a saved "
        "flow (default: any module, as orca run does).",
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Check a flow as `orca run` would: every problem, each with its fix (exit 2)."""
    from orca.flows import content_hash, file_resolver, validate_flow
    from orca.flows._read import issue
    from orca.tools import builtin_tools

    modules = list(config().flows.python_modules) if allowlist else None
    if file.is_file() and modules is None:
        sys.path.insert(0, str(file.resolve().parent))  # python nodes' modules next to it
    if file.is_file():
        issues = validate_flow(
            file,
            tools=builtin_tools(),
            python_modules=modules,
            resolve_flow=file_resolver(file.parent),
        )
    else:
        issues = [issue(f"flow file {file} does not exist", "give the path of a flow file")]
    digest = None if issues else content_hash(file)
    if as_json:
        emit_json({"ok": not issues, "errors": [i.to_dict() for i in issues], "hash": digest})
    elif not issues:
        out.print(f"ok: {esc(file)} is a valid flow ({esc(digest)})")
    for found in [] if as_json else issues:
        where = found.path or "the document"
        err.print(f"[bold red]error:[/] {esc(where)}: {esc(found.message)}")
        err.print(f"[dim]fix:[/] {esc(found.fix)}")
    if issues:
        raise typer.Exit(USAGE)


@app.command("export")
@handles_errors
def export(
    source: str = typer.Argument(..., help="PATH.py[:graph], package.module[:graph] or a flow."),
    as_yaml: bool = typer.Option(False, "--yaml", help="Print YAML instead of JSON."),
) -> None:
    """Print a workflow as a flow document (python nodes reference their functions)."""
    from orca.cli._load import load_graph
    from orca.flows import export_graph

    graph, _ = load_graph(source, None)
    doc = export_graph(graph)
    if as_yaml:
        import yaml

        sys.stdout.write(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
