"""``orca run`` and ``orca runs list|show|resume|fork|history``."""

from __future__ import annotations

import typer

from orca.cli import _history
from orca.cli._common import (
    JSON_OPTION,
    USAGE,
    commands,
    count,
    emit_json,
    esc,
    fail,
    handles_errors,
    json_arg,
    out,
    table,
    usd,
)
from orca.cli._source import ForkRequest, ResumeRequest, RunRequest
from orca.cli._where import source

app = commands("Past runs: list them, inspect them, resume, fork, read history.")
app.command("events")(_history.events)
app.command("inspect")(_history.inspect)
app.command("prune")(_history.prune)
app.command("trace")(_history.trace)
app.command("replay")(_history.replay)

INPUT = "The input: JSON, or @file.json."
THREAD = "The thread to run on (default: a new one)."
PROFILE = "The LLM profile (default: [llm] in orca.toml, else the active one)."
BUDGET = "The budget to charge (default: [budget] in orca.toml, else the active one)."
ON_EXCEEDED = "When a block budget is out: fail (default) or pause, to resume after a raise."


def run_command(
    workflow: str | None = typer.Argument(
        None, help="PATH.py[:graph] or a flow file (.json, .yaml) (default: [workflow] default)."
    ),
    input: str | None = typer.Option(None, "--input", "-i", help=INPUT),
    thread: str | None = typer.Option(None, "--thread", help=THREAD),
    profile: str | None = typer.Option(None, "--profile", help=PROFILE),
    budget: str | None = typer.Option(None, "--budget", help=BUDGET),
    on_exceeded: str | None = typer.Option(None, "--on-budget-exceeded", help=ON_EXCEEDED),
    session: str | None = typer.Option(None, "--session", help="Group this run in a session."),
    cost_limit: str | None = typer.Option(
        None, "--cost-limit", help="Cap this run's cost in dollars (a block budget for it)."
    ),
    token_limit: int | None = typer.Option(
        None, "--token-limit", min=1, help="Cap this run's input + output tokens."
    ),
    time_limit: float | None = typer.Option(
        None, "--time-limit", min=0.001, help="Cap this run's wall time, in seconds."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run a workflow with live progress and a cost summary at the end."""
    limits = (cost_limit, token_limit, time_limit)
    _run(workflow, input, thread, profile, budget, on_exceeded, session, limits, as_json)


@handles_errors
def _run(
    workflow: str | None,
    input: str | None,
    thread: str | None,
    profile: str | None,
    budget: str | None,
    on_exceeded: str | None,
    session: str | None,
    limits: tuple[str | None, int | None, float | None],
    as_json: bool,
) -> None:
    values = json_arg(input, "--input")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        fail(
            "--input must be a JSON object of state keys",
            USAGE,
            fix="""--input '{"topic": "cats"}'""",
        )
    request = RunRequest(workflow, values, thread, profile, budget, on_exceeded, session, *limits)
    raise typer.Exit(source().run(request, as_json=as_json))


@app.command("list")
@handles_errors
def list_(
    limit: int = typer.Option(20, "--limit", min=1, help="How many, newest first."),
    status: str | None = typer.Option(
        None, "--status", help="queued, running, interrupted, done, failed or cancelled."
    ),
    workflow: str | None = typer.Option(None, "--workflow", help="Runs of this workflow."),
    thread: str | None = typer.Option(None, "--thread", help="Runs on this thread."),
    since: str | None = typer.Option(
        None, "--since", help="Started at or after: 7d, 12h, 2w or an ISO date/time."
    ),
    until: str | None = typer.Option(None, "--until", help="Started before: as --since."),
    search: str | None = typer.Option(
        None, "--search", help="Text found (any case) in the run's logged events."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """This project's runs, newest first."""
    from typing import get_args

    from orca.checkpoint import RunStatus

    statuses: tuple[RunStatus, ...] = get_args(RunStatus)
    if status is not None and status not in statuses:
        fail(
            f"--status {status!r} is not a run status",
            USAGE,
            fix=f"use one of {', '.join(statuses)}",
        )
    given = {"workflow": workflow, "thread_id": thread, "since": since, "until": until,
             "q": search}  # fmt: skip
    filters = {k: v for k, v in given.items() if v is not None}
    data = source().list_runs(limit=limit, status=status, filters=filters)
    if as_json:
        emit_json(data)
        return
    if not data:
        out.print("no runs yet: orca run path/to/flow.py")
        return
    t = table("Runs", "run", "workflow", "thread", "status", "started", "steps", "cost")
    for r in data:
        t.add_row(
            r["run_id"],
            r["workflow"] or "-",
            r["thread_id"],
            r["status"],
            r["started_at"][:19],
            str(r["steps"]),
            usd(r["cost_nano_usd"]),
        )
    out.print(t)


@app.command("show")
@handles_errors
def show(run: str, as_json: bool = JSON_OPTION) -> None:
    """One run: its record, tasks, and cost by node, role and model."""
    record = source().show_run(run)
    if as_json:
        emit_json(record)
        return
    tasks, usage = record["tasks"], record["usage"]
    out.print(
        f"run [bold]{record['run_id']}[/] ({record['workflow']}, {record['source']}) on thread "
        f"{record['thread_id']}: [bold]{record['status']}[/], {count(record['steps'], 'step')}, "
        f"{usd(record['cost_nano_usd'])}"
    )
    if record["error"]:
        out.print(f"[red]error:[/] {esc(record['error'])}")
    for task in tasks:
        if task["traceback"]:
            out.print(f"[dim]traceback of {esc(task['node'])} (step {task['step']}):[/]")
            out.print(esc(task["traceback"]))
    t = table("Tasks", "step", "node", "status", "ms")
    for task in tasks:
        ms = task["duration_ms"]
        t.add_row(
            str(task["step"]), task["node"], task["status"], f"{ms:.1f}" if ms is not None else "-"
        )
    out.print(t)
    if usage:
        u = table("Cost", "node", "role", "model", "calls", "in", "out", "cost")
        for r in usage:
            u.add_row(
                r["node"] or "-",
                r["role"] or "-",
                r["model"],
                str(r["llm_calls"]),
                f"{r['input_tokens']:,}",
                f"{r['output_tokens']:,}",
                usd(r["cost_nano_usd"]),
            )
        out.print(u)


@app.command("resume")
@handles_errors
def resume(
    run: str,
    value: str | None = typer.Option(None, "--value", help="The answer to the interrupt (JSON)."),
    profile: str | None = typer.Option(None, "--profile", help=PROFILE),
    budget: str | None = typer.Option(None, "--budget", help=BUDGET),
    on_exceeded: str | None = typer.Option(None, "--on-budget-exceeded", help=ON_EXCEEDED),
    as_json: bool = JSON_OPTION,
) -> None:
    """Continue a run's thread: answer its interrupt, or carry on after a failure or a
    budget stop (only what did not finish runs again)."""
    request = ResumeRequest(run, value, profile, budget, on_exceeded)
    raise typer.Exit(source().resume(request, as_json=as_json))


@app.command("fork")
@handles_errors
def fork(
    run: str,
    checkpoint: str = typer.Option(
        ..., "--checkpoint", help="The checkpoint to branch from (orca runs history)."
    ),
    thread: str | None = typer.Option(
        None, "--thread", help="Branch onto a new thread (default: a new one)."
    ),
    update: str | None = typer.Option(
        None, "--update", help="State changes for the branch (JSON)."
    ),
    as_node: str | None = typer.Option(
        None,
        "--as-node",
        help="Apply --update as if this node wrote it: the branch runs what follows it.",
    ),
    profile: str | None = typer.Option(None, "--profile", help=PROFILE),
    budget: str | None = typer.Option(None, "--budget", help=BUDGET),
    as_json: bool = JSON_OPTION,
) -> None:
    """Branch a run from one of its checkpoints (time travel) and run the branch. The
    run and the checkpoint may be given by a unique prefix of their ids."""
    changes = json_arg(update, "--update")
    if changes is not None and not isinstance(changes, dict):
        fail(
            "--update must be a JSON object of state keys",
            USAGE,
            fix="""--update '{"topic": "cats"}'""",
        )
    request = ForkRequest(run, checkpoint, thread, changes, as_node, profile, budget)
    raise typer.Exit(source().fork(request, as_json=as_json))


@app.command("history")
@handles_errors
def history(
    run: str,
    limit: int = typer.Option(50, "--limit", min=1),
    as_json: bool = JSON_OPTION,
) -> None:
    """The checkpoints of a run's thread, newest first."""
    thread_id, data = source().history(run, limit=limit)
    if as_json:
        emit_json(data)
        return
    t = table(
        f"History of thread {thread_id}",
        "checkpoint",
        "step",
        "source",
        "next",
        "created",
    )
    for d in data:
        t.add_row(
            d["checkpoint_id"],
            str(d["step"]),
            d["source"] or "-",
            ", ".join(d["next"]) or "-",
            d["created_at"][:19],
        )
    out.print(t)
