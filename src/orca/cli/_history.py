"""``orca runs events`` and ``orca runs inspect``: a run explained from its event log."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

import typer

from orca.cli._common import (
    CONFIG,
    JSON_OPTION,
    count,
    emit_json,
    esc,
    fail,
    handles_errors,
    out,
    since,
    table,
    usd,
)

if TYPE_CHECKING:
    pass


FOLLOW_POLL_S = 0.5


def _run_id(run: str) -> str:
    """A run id from the project's records (a unique prefix is enough)."""
    from orca.cli._ids import run_id

    return run_id(run)


def _logged(run: str) -> tuple[str, list[dict[str, Any]]]:
    """The run's id and its logged events, from this project or the server named
    (``--server``): ``orca runs inspect`` and ``trace`` work the same on either."""
    from orca.cli._where import source

    where = source()
    run_id = where.resolve_run(run)
    logged = where.read_events(run_id)
    if not logged:
        fail(f"no events logged for run {run!r}", CONFIG, fix="list runs with orca runs list")
    return run_id, logged


def _line(e: dict[str, Any]) -> str:
    from orca.events import (
        BUDGET_WARNING,
        ERROR,
        LLM_RESPONSE,
        RUN_FINISHED,
        STEP_STARTED,
        TASK_FAILED,
        TASK_FINISHED,
        TOOL_CALL,
    )

    kind = e["type"]
    where = f" {e['node']}" if e.get("node") else ""
    detail = ""
    if kind == STEP_STARTED:
        detail = ", ".join(t["node"] for t in e["tasks"])
    elif kind == TASK_FINISHED:
        detail = f"{e['duration_ms']:.1f} ms, wrote {', '.join(e['update'])}"
    elif kind in (TASK_FAILED, ERROR):
        detail = e.get("error") or e.get("message", "")
    elif kind == "usage":
        detail = (
            f"{e['provider']}/{e['model']} {e['input_tokens']}+{e['output_tokens']} tokens "
            f"{usd(e['cost_nano_usd'])}"
        )
    elif kind == LLM_RESPONSE:
        detail = f"{e['provider']}/{e['model']} {e['stop_reason']} {e['duration_ms']:.1f} ms"
        if e.get("error"):
            detail += f" {e['error_type']}: {e['error']}"
    elif kind == TOOL_CALL:
        detail = f"{e['tool']} {e['status']} {e['duration_ms']:.1f} ms"
    elif kind == RUN_FINISHED:
        detail = f"{e['status']} after {e['steps']} steps"
    elif kind == BUDGET_WARNING:
        detail = f"{e['budget']} passed {e['threshold_pct']}%"
    return f"{e['seq']:>5}  step {e['step']:<3} {kind}{where}  {detail}".rstrip()


def events(
    run: str = typer.Argument(..., help="A run id (orca runs list)."),
    start: int = typer.Option(0, "--from", min=0, help="From this seq on."),
    stop: int | None = typer.Option(None, "--to", min=0, help="Before this seq."),
    since_: str | None = typer.Option(None, "--since", help="Only events at or after (7d, ISO)."),
    kind: list[str] = typer.Option([], "--type", help="Only this event type (repeatable)."),
    most: int | None = typer.Option(None, "--max", min=1, help="At most this many."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Wait for new events."),
    as_json: bool = JSON_OPTION,
) -> None:
    """A run's logged events, in order (every type but tokens and values)."""
    _events(run, start, stop, since_, kind, most, follow, as_json)


@handles_errors
def _events(
    run: str,
    start: int,
    stop: int | None,
    since_text: str | None,
    kinds: list[str],
    most: int | None,
    follow: bool,
    as_json: bool,
) -> None:
    from orca.cli._where import source
    from orca.events import RUN_FINISHED
    from orca.manage import runs

    runs.check_types(kinds, "--type")
    after = since(since_text)
    events_of = source()  # this project, or the server named
    run_id = events_of.resolve_run(run)
    if not follow:
        found = events_of.events(
            run_id, start=start, stop=stop, types=kinds, since=since_text, most=most
        )
        if found is None:
            fail(f"no events logged for run {run!r}", CONFIG, fix="list runs with orca runs list")
        if as_json:
            emit_json(found)
        elif not found:
            out.print("no events match")
        else:
            for e in found:
                out.print(esc(_line(e)))
        return
    shown = 0
    finished = False
    while True:
        # following reads every type: it must see run.finished to stop
        batch = events_of.read_events(run_id, start=start, stop=stop)
        for e in batch:
            start = e["seq"] + 1
            finished = finished or e["type"] == RUN_FINISHED
            if kinds and e["type"] not in kinds:
                continue
            if after is not None and e["ts"] < after.timestamp():
                continue
            if most is not None and shown >= most:
                break
            shown += 1
            if as_json:
                sys.stdout.write(json.dumps(e) + "\n")
                sys.stdout.flush()
            else:
                out.print(esc(_line(e)))
        if finished or (most is not None and shown >= most):
            break
        time.sleep(FOLLOW_POLL_S)
    if not events_of.read_events(run_id, limit=1):
        fail(f"no events logged for run {run!r}", CONFIG, fix="list runs with orca runs list")
    if shown == 0 and not as_json:
        out.print("no events match")


def inspect(
    run: str = typer.Argument(..., help="A run id (orca runs list)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """A run's timeline: each superstep's tasks with duration, tokens, cost and errors."""
    _inspect(run, as_json)


@handles_errors
def _inspect(run: str, as_json: bool) -> None:

    run_id, logged = _logged(run)
    from orca.manage import runs

    timeline = runs.timeline(logged)
    if as_json:
        emit_json(timeline)
        return
    head = timeline
    out.print(
        f"run [bold]{esc(run_id)}[/] ({esc(head['workflow'])}) on thread {esc(head['thread_id'])}: "
        f"[bold]{head['status']}[/], {count(len(head['steps']), 'step')}, "
        f"{count(head['llm_calls'], 'call')}, "
        f"{head['input_tokens']:,}+{count(head['output_tokens'], 'token')}, "
        f"{usd(head['cost_nano_usd'])}"
    )
    t = table("Timeline", "step", "node", "status", "ms", "calls", "tokens", "cost", "error")
    for step in head["steps"]:
        for task in step["tasks"]:
            t.add_row(
                str(step["step"]),
                task["node"],
                task["status"],
                "-" if task["duration_ms"] is None else f"{task['duration_ms']:.1f}",
                str(task["llm_calls"]),
                f"{task['input_tokens']}+{task['output_tokens']}",
                usd(task["cost_nano_usd"]),
                (task["error"] or "")[:80],
            )
    out.print(t)
    if head["error"]:
        out.print(f"[red]error:[/] {esc(head['error'])}")


def prune(
    older_than: str = typer.Option(..., "--older-than", help="7d, 12h, 2w or an ISO date."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would go."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Remove the checkpoints, events and run records of threads whose last run finished
    (done, failed or cancelled) before the cutoff. Threads paused at an interrupt, and runs
    still going (or that died without finishing), are never touched."""
    _prune(older_than, dry_run, as_json)


@handles_errors
def _prune(older_than: str, dry_run: bool, as_json: bool) -> None:
    from orca.cli._where import source

    cutoff = since(older_than, "--older-than")
    assert cutoff is not None
    result = source().prune(cutoff, dry_run=dry_run)  # here, or on the server named
    if as_json:
        emit_json(result)
        return
    verb = "would remove" if dry_run else "removed"
    out.print(f"{verb} {count(len(result['removed']), 'thread')}; kept {len(result['kept'])}")
    for thread_id in result["removed"]:
        out.print(f"  - {esc(thread_id)}")


def trace(
    run: str = typer.Argument(..., help="A run id (orca runs list)."),
    fmt: str = typer.Option("chrome", "--format", help="chrome (Perfetto) or otlp-json (Jaeger)."),
    output: str | None = typer.Option(
        None, "--output", "-o", help="The file to write (default RUN.trace.json; - for stdout)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Write a run's trace: Perfetto (ui.perfetto.dev) opens the chrome format, Jaeger the
    OTLP JSON (Search > Upload)."""
    _trace(run, fmt, output, as_json)


@handles_errors
def _trace(run: str, fmt: str, output: str | None, as_json: bool) -> None:
    from pathlib import Path

    from orca.manage import runs

    fmt = runs.trace_format(fmt, "--format")
    run_id, logged = _logged(run)
    document = runs.trace(logged, fmt)
    text = json.dumps(document, indent=1)
    if output == "-":
        sys.stdout.write(text + "\n")
        return
    path = Path(output or f"{run_id}.trace.json")
    path.write_text(text)
    spans = runs.spans(document, fmt)
    if as_json:
        emit_json({"path": str(path), "format": fmt, "spans": spans})
    else:
        opener = "ui.perfetto.dev" if fmt == "chrome" else "Jaeger (Search > Upload JSON)"
        out.print(f"wrote {spans} spans to [bold]{esc(path)}[/]; open it in {opener}")


def replay(
    run: str = typer.Argument(..., help="A run id (orca runs list)."),
    graph: str | None = typer.Option(
        None, "--graph", help="PATH.py[:graph] to replay with (default: the run's workflow)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Run a run's graph code again, answering its LLM and tool calls from the event log
    (no network, no budget), and report "identical" or the first divergence."""
    _replay(run, graph, as_json)


@handles_errors
def _replay(run: str, source: str | None, as_json: bool) -> None:
    from orca.cli._common import FAILED
    from orca.cli._where import source as where

    origin = where()
    run_id = origin.resolve_run(run)
    report = origin.replay(run_id, source)  # here, or on the server named
    if as_json:
        emit_json(report)
    elif report["divergence"] is None:
        out.print(
            f"[green]identical[/]: run {esc(run_id)} replayed "
            f"{count(report['steps'], 'step')}, {count(report['llm_calls'], 'LLM call')} and "
            f"{count(report['tool_calls'], 'tool call')} from its log"
        )
    else:
        d = report["divergence"]
        out.print(f"[red]diverged[/] from run {esc(run_id)} at step {d['step']}")
        t = table("First divergence", "step", "node", "field", "recorded", "now")
        t.add_row(str(d["step"]), d["node"] or "-", d["field"], _shown(d["recorded"]),
                  _shown(d["now"]))  # fmt: skip
        out.print(t)
    if report["divergence"] is not None:
        raise typer.Exit(FAILED)


def _shown(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=repr)
    return esc(text if len(text) <= 200 else text[:199] + "…")
