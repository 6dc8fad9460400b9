"""``orca run`` and ``orca runs list|show|resume|fork|history``."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import typer

from orca.cli import _history
from orca.cli._common import (
    CONFIG,
    JSON_OPTION,
    USAGE,
    commands,
    config,
    count,
    emit_json,
    esc,
    fail,
    handles_errors,
    json_arg,
    out,
    project_store,
    table,
    usd,
)

if TYPE_CHECKING:
    from orca.store import SqliteCheckpointer

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


def _checkpointer() -> SqliteCheckpointer:
    """The project's checkpointer, for a graph and its run's record (it stays open for
    the command's life)."""
    from orca.cli._common import project_root
    from orca.store import project_store

    return project_store(project_root()).checkpoints


def _project() -> Any:
    from orca.cli._common import State

    return State.project


def _settings(
    profile: str | None, budget: str | None, on_exceeded: str | None
) -> tuple[Any, dict[str, Any], str | None, str | None]:
    """The run's profile, engine options, profile name and budget name from the config
    and the flags (flags win)."""
    from orca.llm import Profiles
    from orca.store import user_store

    if on_exceeded is not None and on_exceeded not in ("fail", "pause"):
        fail(
            f"--on-budget-exceeded {on_exceeded!r} is not fail or pause",
            USAGE,
            fix="--on-budget-exceeded pause (or fail, the default)",
        )
    cfg = config(**{"budget.on_exceeded": on_exceeded})
    chosen = cfg.profile(profile)
    budget_name = budget
    # the active profile and budget are named now, so that the run's record (and a
    # resume) keeps what it used even if another becomes active later
    with user_store() as store:
        if chosen is None:
            chosen = Profiles(store.profiles).active()
        if budget_name is None:
            budgets = store.ledger.budgets
            made = cfg.ensure_budget(budgets) or budgets.active()
            budget_name = made.name if made is not None else None
    chosen = _with_timeout(chosen, float(cfg.llm.request_timeout_s))
    ex = cfg.execution
    options: dict[str, Any] = {
        "on_budget_exceeded": cfg.budget.on_exceeded,
        "max_tokens": cfg.llm.max_tokens,
        "max_steps": ex.max_steps,
        "durability": ex.durability,
    }
    if ex.max_concurrent_tasks:
        options["max_concurrency"] = ex.max_concurrent_tasks
    return chosen, options, (chosen.name if chosen else profile), budget_name


def _with_timeout(profile: Any, seconds: float) -> Any:
    """``profile`` with ``[llm] request_timeout_s`` as the ``timeout`` of each remote
    model whose parameters set none."""
    if profile is None:
        return None
    from dataclasses import replace

    def spec(s: Any) -> Any:
        if s.provider == "llamacpp" or "timeout" in s.params:
            return s
        return replace(s, params={**s.params, "timeout": seconds})

    return replace(profile, planner=spec(profile.planner), worker=spec(profile.worker))


def _run_row(store: SqliteCheckpointer, run: str) -> dict[str, Any]:
    """The run ``run`` (a unique prefix of its id is enough) as ``runs show`` prints it."""
    from orca.cli._ids import find_run
    from orca.manage import runs

    return runs.row(find_run(store, run))


def run_command(
    workflow: str | None = typer.Argument(
        None, help="PATH.py[:graph] (default: [workflow] default)."
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
    from orca.cli._execute import Plan, execute
    from orca.cli._load import load_graph

    source = workflow or config().workflow.default
    if not source:
        fail(
            "no workflow given",
            USAGE,
            fix="orca run path/to/flow.py[:graph], or set [workflow] default",
        )
    values = json_arg(input, "--input")
    if values is None:
        values = {}
    if not isinstance(values, dict):
        fail(
            "--input must be a JSON object of state keys",
            USAGE,
            fix="""--input '{"topic": "cats"}'""",
        )
    chosen, options, profile_name, budget_name = _settings(profile, budget, on_exceeded)
    store = _checkpointer()
    graph, tools = load_graph(source, store)
    _check_input(graph, values)
    options.update(_run_limits(*limits), **_tool_options(tools))
    plan = Plan(
        graph,
        source,
        values,
        thread or f"t-{uuid.uuid4().hex[:12]}",
        chosen,
        profile_name,
        budget_name,
        session or f"s-{uuid.uuid4().hex[:12]}",
        options=options,
    )
    raise typer.Exit(execute(plan, store, as_json=as_json))


def _check_input(graph: Any, values: dict[str, Any]) -> None:
    """``--input`` against the graph's state schema, before a run is recorded: an
    unknown key or a value of the wrong type is a usage error (exit 2)."""
    from orca.errors import OrcaError

    try:
        graph.spec.state.input_writes(values)
    except OrcaError as exc:
        fail(f"--input: {exc}", USAGE)


def _tool_options(tools: list[Any] | None) -> dict[str, Any]:
    """Run options for a workflow's ``tools``: the workspace and policy from the
    configuration, every execution audited in the project database."""
    if tools is None:
        return {}
    from orca.store import find_project, project_db_path

    cfg = config()
    workspace = cfg.execution.workspace_root or find_project(_project())
    return {
        "tools": tools,
        "workspace": workspace,
        "policy": cfg.tools.policy(),
        "audit": project_db_path(_project()),
    }


def _run_limits(cost: str | None, tokens: int | None, seconds: float | None) -> dict[str, Any]:
    """Run options for ``--cost-limit``/``--token-limit`` (block budgets scoped to the
    run, made under its id on its first call) and ``--time-limit`` (the run's
    deadline)."""
    from orca.cli._common import money

    options: dict[str, Any] = {}
    if seconds is not None:
        options["deadline"] = seconds
    if cost is not None:
        options["cost_limit"] = money(cost, "--cost-limit")
    if tokens is not None:
        options["token_limit"] = tokens
    return options


@app.command("list")
@handles_errors
def list_(
    limit: int = typer.Option(20, "--limit", min=1, help="How many, newest first."),
    status: str | None = typer.Option(
        None, "--status", help="queued, running, interrupted, done, failed or cancelled."
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
    with project_store() as store:
        runs = store.list_runs(limit=limit, status=status)
    data: list[dict[str, Any]] = [
        {
            "run_id": r.run_id,
            "workflow": r.graph or None,
            "thread_id": r.thread_id,
            "status": r.status,
            "started_at": r.started_at,
            "steps": r.steps,
            "cost_nano_usd": r.cost_nano_usd,
        }
        for r in runs
    ]
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
    from orca.cli._common import user_db
    from orca.cli._ids import find_run
    from orca.manage import runs

    with project_store() as store, user_db() as users:
        record = runs.detail(store, users, find_run(store, run))
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
    from orca import Command
    from orca.cli._execute import Plan, execute
    from orca.cli._load import load_graph

    with project_store() as records:
        record = _run_row(records, run)
    if not record["source"]:
        fail(
            f"run {record['run_id']} has no workflow source",
            CONFIG,
            fix="run its workflow again: orca run PATH.py[:graph] --thread THREAD",
        )
    stored = record["profile"] if record["profile"] != "config" else None  # "config": [llm]
    chosen, options, profile_name, budget_name = _settings(
        profile or stored, budget or record["budget"], on_exceeded or record["on_budget_exceeded"]
    )
    store = _checkpointer()
    graph, tools = load_graph(record["source"], store)
    options.update(_tool_options(tools))
    state = graph.get_state(record["thread_id"])
    if value is not None:
        answer: Any = Command(resume=json_arg(value, "--value"))
    elif state.interrupts:
        answer = Command(resume=None)
    else:
        answer = None
    if not state.next and not state.interrupts:
        fail(
            f"run {record['run_id']} finished: its thread has nothing left to run",
            CONFIG,
            fix="start a new run, or fork it: orca runs fork RUN --checkpoint ID",
        )
    plan = Plan(
        graph,
        record["source"],
        answer,
        record["thread_id"],
        chosen,
        profile_name,
        budget_name,
        record["session_id"] or f"s-{uuid.uuid4().hex[:12]}",
        parent_run=record["run_id"],
        options=options,
    )
    raise typer.Exit(execute(plan, store, as_json=as_json))


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
    from orca.cli._execute import Plan, execute
    from orca.cli._ids import checkpoint_id
    from orca.cli._load import load_graph

    with project_store() as records:
        record = _run_row(records, run)
    changes = json_arg(update, "--update")
    if changes is not None and not isinstance(changes, dict):
        fail(
            "--update must be a JSON object of state keys",
            USAGE,
            fix="""--update '{"topic": "cats"}'""",
        )
    chosen, options, profile_name, budget_name = _settings(
        profile, budget or record["budget"], None
    )
    store = _checkpointer()
    graph, tools = load_graph(record["source"], store)
    options.update(_tool_options(tools))
    if as_node is not None and as_node not in graph.spec.nodes:
        from orca.errors import closest

        nodes = list(graph.spec.nodes)
        fail(
            f"--as-node {as_node!r} is not a node of {graph.name}{closest(as_node, nodes)}",
            USAGE,
            fix=f"name one of {', '.join(nodes)}",
        )
    with project_store() as records:
        checkpoint = checkpoint_id(records, record["thread_id"], checkpoint)
    target = thread or f"t-{uuid.uuid4().hex[:12]}"
    if as_node is None:
        graph.fork(record["thread_id"], checkpoint, to_thread=target, update=changes)
    else:  # the branch, then the update as the node's own write (routing from it)
        graph.fork(record["thread_id"], checkpoint, to_thread=target)
        graph.update_state(target, changes or {}, as_node=as_node)
    plan = Plan(
        graph,
        record["source"],
        None,
        target,
        chosen,
        profile_name,
        budget_name,
        f"s-{uuid.uuid4().hex[:12]}",
        parent_run=record["run_id"],
        options=options,
    )
    raise typer.Exit(execute(plan, store, as_json=as_json))


@app.command("history")
@handles_errors
def history(
    run: str,
    limit: int = typer.Option(50, "--limit", min=1),
    as_json: bool = JSON_OPTION,
) -> None:
    """The checkpoints of a run's thread, newest first."""
    with project_store() as records:
        record = _run_row(records, run)
    with project_store() as store:
        infos = store.history(record["thread_id"], limit=limit)
    data: list[dict[str, Any]] = [
        {
            "checkpoint_id": i.checkpoint_id,
            "parent_id": i.parent_id,
            "step": i.step,
            "next": [n["node"] for n in i.next],
            "source": i.metadata.get("source"),
            "created_at": i.created_at,
        }
        for i in infos
    ]
    if as_json:
        emit_json(data)
        return
    t = table(
        f"History of thread {record['thread_id']}",
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
