"""One run explained, as ``orca runs show|inspect|events|trace|replay`` and
``/v1/runs/{id}/inspect|timeline|events|trace|replay`` give it: its record with its
tasks and cost, its timeline, its logged events, its trace, and its replay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from orca.errors import InvalidFieldError
from orca.manage._plain import llm_calls

if TYPE_CHECKING:
    from orca.checkpoint import Checkpointer, RunRecord
    from orca.replay import ReplayReport
    from orca.store import UserStore
    from orca.tools import Policy

TRACE_FORMATS = ("chrome", "otlp-json")
"""The trace formats: ``chrome`` (Perfetto opens it), ``otlp-json`` (Jaeger's upload)."""
_ALIASES = {"perfetto": "chrome", "otlp": "otlp-json"}


def row(r: RunRecord) -> dict[str, Any]:
    """A run's record as ``orca runs show`` gives it."""
    meta = r.metadata
    return {
        "run_id": r.run_id,
        "thread_id": r.thread_id,
        "workflow": r.graph or None,
        "source": meta.get("source"),
        "status": r.status,
        "started_at": r.started_at,
        "ended_at": r.ended_at,
        "steps": r.steps,
        "llm_calls": r.llm_calls,
        "input_tokens": r.input_tokens,
        "output_tokens": r.output_tokens,
        "cost_nano_usd": r.cost_nano_usd,
        "checkpoint_id": r.checkpoint_id,
        "budget": meta.get("budget"),
        "profile": meta.get("profile"),
        "error": r.error,
        "parent_run_id": meta.get("parent_run"),
        "session_id": meta.get("session"),
        "on_budget_exceeded": meta.get("on_budget_exceeded"),
    }


def detail(store: Checkpointer, users: UserStore, r: RunRecord) -> dict[str, Any]:
    """A run's record, its tasks (with the traceback of each that failed) and its cost
    by node, role and model from the usage ledger (``orca runs show --json``)."""
    from orca.events import TASK_FAILED

    tasks = list(store.run_tasks(r.run_id))
    failures = store.read_events(r.run_id, types=[TASK_FAILED])
    tracebacks = {e["task_id"]: e.get("traceback") or None for e in failures}
    usage = users.usage.of_run(r.run_id)
    return {
        **row(r),
        "tasks": [
            {
                "step": t.step,
                "node": t.node,
                "status": t.status,
                "duration_ms": t.duration_ms,
                "error": t.error,
                "traceback": tracebacks.get(t.task_id),
            }
            for t in tasks
        ],
        "usage": [llm_calls(u.as_dict()) for u in usage],
    }


def check_types(kinds: Sequence[str], field: str = "type") -> None:
    """Raise ``InvalidFieldError`` unless each of ``kinds`` is an event type."""
    from orca.events import EVENT_TYPES

    unknown = [k for k in kinds if k not in EVENT_TYPES]
    if unknown:
        raise InvalidFieldError(
            f"{field} {unknown[0]!r} is not an event type",
            field=field,
            fix=f"use one of {', '.join(sorted(EVENT_TYPES))}",
        )


def events(
    store: Checkpointer,
    run_id: str,
    *,
    start: int = 0,
    stop: int | None = None,
    types: Sequence[str] = (),
    since: dt.datetime | None = None,
    most: int | None = None,
) -> list[dict[str, Any]]:
    """A run's logged events from seq ``start`` to before ``stop``, only of ``types``
    (none: every type), at or after ``since``, at most ``most`` (``orca runs events
    --json``)."""
    # the store reads what is asked for, no more: --max and --type are pushed down
    batch = store.read_events(
        run_id,
        start=start,
        stop=stop,
        types=list(types) or None,
        limit=None if most is None or since is not None else most,
    )
    found = [e for e in batch if since is None or e["ts"] >= since.timestamp()]
    return found if most is None else found[:most]


def logged(store: Checkpointer, run_id: str) -> bool:
    """Whether ``store`` logged any event of run ``run_id``."""
    return bool(store.read_events(run_id, limit=1))


def timeline(logged: list[dict[str, Any]]) -> dict[str, Any]:
    """A run's supersteps and tasks, with what each cost, from its events (``orca runs
    inspect --json``)."""
    from orca.events import (
        RUN_FINISHED,
        RUN_STARTED,
        STEP_STARTED,
        TASK_FAILED,
        TASK_FINISHED,
        TOOL_CALL,
    )

    run: dict[str, Any] = {
        "run_id": logged[0]["run_id"],
        "thread_id": logged[0]["thread_id"],
        "workflow": "",
        "status": "running",
        "error": None,
        "llm_calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cost_nano_usd": 0,
        "steps": [],
    }
    tasks: dict[str, dict[str, Any]] = {}
    for e in logged:
        kind = e["type"]
        if kind == RUN_STARTED:
            run["workflow"] = e["graph"]
        elif kind == STEP_STARTED:
            step = {"step": e["step"], "tasks": []}
            run["steps"].append(step)
            for t in e["tasks"]:
                task = tasks[t["id"]] = {
                    "task_id": t["id"],
                    "node": t["node"],
                    "status": "running",
                    "duration_ms": None,
                    "llm_calls": 0,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cost_nano_usd": 0,
                    "tools": 0,
                    "error": None,
                }
                step["tasks"].append(task)
        elif kind == TASK_FINISHED and e["task_id"] in tasks:
            tasks[e["task_id"]].update(status="done", duration_ms=e["duration_ms"])
        elif kind == TASK_FAILED and e["task_id"] in tasks:
            tasks[e["task_id"]].update(status="failed", error=f"{e['error_type']}: {e['error']}")
        elif kind == "usage":
            for target in (tasks.get(e["task_id"]), run):
                if target is not None:
                    target["llm_calls"] += 1
                    target["input_tokens"] += e["input_tokens"]
                    target["output_tokens"] += e["output_tokens"]
                    target["cost_nano_usd"] += e["cost_nano_usd"]
        elif kind == TOOL_CALL and e["task_id"] in tasks:
            tasks[e["task_id"]]["tools"] += 1
        elif kind == "interrupt":
            for i in e["interrupts"]:
                if i["task_id"] in tasks:
                    tasks[i["task_id"]]["status"] = "interrupted"
        elif kind == "error":
            run["error"] = f"{e['error_type']}: {e['message']}"
        elif kind == RUN_FINISHED:
            run["status"] = e["status"]
    return run


def trace_format(fmt: str, field: str = "format") -> str:
    """The trace format ``fmt`` names (``perfetto`` is ``chrome``, ``otlp`` is
    ``otlp-json``).

    Raises:
        InvalidFieldError: no such format.
    """
    chosen = _ALIASES.get(fmt, fmt)
    if chosen not in TRACE_FORMATS:
        raise InvalidFieldError(
            f"{field} {fmt!r} is not chrome or otlp-json", field=field, fix=f"{field} chrome"
        )
    return chosen


def trace(logged: list[dict[str, Any]], fmt: str) -> dict[str, Any]:
    """A run's trace document in ``fmt`` (see ``trace_format``) from its events."""
    from orca.trace import chrome_trace, otlp_json

    return chrome_trace(logged) if trace_format(fmt) == "chrome" else otlp_json(logged)


def spans(document: dict[str, Any], fmt: str) -> int:
    """How many spans a trace document of ``fmt`` holds."""
    if trace_format(fmt) == "chrome":
        return sum(1 for e in document["traceEvents"] if e["ph"] == "X")
    return len(document["resourceSpans"][0]["scopeSpans"][0]["spans"])


def recorded_source(store: Checkpointer, run_id: str) -> str | None:
    """The workflow source run ``run_id``'s record names (what a replay runs again)."""
    record = store.get_run(run_id)
    source = record.metadata.get("source") if record is not None else None
    return source if isinstance(source, str) and source else None


def replay(
    store: Checkpointer,
    run_id: str,
    source: str,
    *,
    policy: Policy | None = None,
    root: Any = None,
) -> ReplayReport:
    """Run the code of ``source`` again as run ``run_id`` ran, its LLM and tool calls
    answered from the log (no network, no budget), and report ``identical`` or the
    first divergence (``orca runs replay --json``: ``report.to_dict()``).

    Raises:
        WorkflowLoadError: ``source`` cannot be loaded.
        InvalidInputError: no run ``run_id`` is logged, or the graph is not the one
            that ran.
    """
    from orca.flows import load_workflow
    from orca.replay import replay as replay_run

    workflow = load_workflow(source, None, root=root)
    return replay_run(
        workflow.graph, run_id, store=store, tools=workflow.tools or (), policy=policy
    )


def prune(
    store: Checkpointer, cutoff: dt.datetime, *, dry_run: bool, busy: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """``orca runs prune --json``: remove the threads whose last run finished (done,
    failed or cancelled) before ``cutoff``, with their checkpoints, events and run
    records; a thread paused at an interrupt, one whose run is still going (or died), and
    those in ``busy`` (runs a server holds or has queued there) stay, with the reason."""
    from orca.engine._compiled import own_threads

    removed: list[str] = []
    kept: list[dict[str, Any]] = []
    threads = own_threads(store)  # a paused subgraph's goes with its parent
    for thread_id in threads:
        verdict = "busy" if thread_id in busy else _prunable(store, thread_id, cutoff)
        if verdict is None:
            removed.append(thread_id)
        else:
            kept.append({"thread_id": thread_id, "reason": verdict})
    if not dry_run:
        for thread_id in removed:  # its run records and tasks go with it
            for sub in threads[thread_id]:
                store.delete_thread(sub)
            store.delete_thread(thread_id)
    return {"removed": removed, "kept": kept, "dry_run": dry_run}


def _prunable(store: Checkpointer, thread_id: str, cutoff: dt.datetime) -> str | None:
    """None if the thread may go, else why it stays."""
    from orca.events import RUN_FINISHED

    head = store.get(thread_id)
    if head is None:
        return "empty"
    if head.pending and any(w.kind == "interrupt" for w in head.pending):
        return "interrupted"
    run_id = head.metadata.get("run_id")
    ends = store.read_events(run_id, types=[RUN_FINISHED]) if run_id else []
    if not ends:
        return "no finished run (still running, or died)"
    end = ends[-1]
    if end["status"] == "interrupted":
        return "interrupted"
    if end["ts"] >= cutoff.timestamp():
        return "recent"
    return None
