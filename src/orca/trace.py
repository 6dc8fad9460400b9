"""Traces of a run from its logged events: the run, its supersteps, their tasks, and the
LLM and tool calls inside them, as a Chrome trace (Perfetto, chrome://tracing) or as OTLP
JSON (Jaeger and other OpenTelemetry backends), with the GenAI semantic-convention
attributes on LLM calls."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orca.events import (
    LLM_RESPONSE,
    RUN_FINISHED,
    RUN_STARTED,
    STEP_STARTED,
    TASK_FAILED,
    TASK_FINISHED,
    TASK_STARTED,
    TOOL_CALL,
)

__all__ = ["Span", "chrome_trace", "otlp_json", "spans_of"]


@dataclass
class Span:
    """One timed piece of a run. Times are Unix seconds."""

    key: str
    name: str
    kind: str  # run, step, task, llm, tool
    start: float
    end: float
    parent: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def spans_of(events: Sequence[dict[str, Any]]) -> list[Span]:
    """The spans of one run's events (``Event.to_dict()`` forms, in seq order)."""
    if not events:
        return []
    first, last = events[0], events[-1]
    run = Span(
        "run",
        f"run {first.get('graph', '')}".strip(),
        "run",
        first["ts"],
        last["ts"],
        attributes={"orca.run_id": first["run_id"], "orca.thread_id": first["thread_id"]},
    )
    spans = [run]
    steps: dict[int, Span] = {}
    tasks: dict[str, Span] = {}
    answers = any(e["type"] == LLM_RESPONSE for e in events)
    for e in events:
        kind, ts = e["type"], e["ts"]
        if kind == RUN_STARTED:
            run.attributes["orca.graph"] = e["graph"]
            run.attributes["orca.resumed"] = e["resumed"]
        elif kind == STEP_STARTED:
            if steps:  # the previous step ends where this one starts
                previous = steps[max(steps)]
                previous.end = max(previous.end, ts)
            step = steps[e["step"]] = Span(
                f"step/{e['step']}", f"superstep {e['step']}", "step", ts, ts, "run",
                {"orca.step": e["step"], "orca.tasks": len(e["tasks"])},
            )  # fmt: skip
            spans.append(step)
        elif kind == TASK_STARTED:
            task = tasks[e["task_id"]] = Span(
                f"task/{e['task_id']}", e["node"], "task", ts, ts, f"step/{e['step']}",
                {"orca.node": e["node"], "orca.task_id": e["task_id"]},
            )  # fmt: skip
            spans.append(task)
        elif kind in (TASK_FINISHED, TASK_FAILED) and e["task_id"] in tasks:
            task = tasks[e["task_id"]]
            task.end = max(ts, task.start)
            if kind == TASK_FAILED:
                task.error = f"{e['error_type']}: {e['error']}"
        elif kind == LLM_RESPONSE or (kind == "usage" and not answers):
            # a log with answers times each call exactly from its llm.response; an older
            # one has only the usage events, which mark when calls ended
            timed = kind == LLM_RESPONSE
            usage = e["usage"] if timed else e
            llm = Span(
                f"llm/{e['seq']}",
                f"chat {e['model']}",
                "llm",
                ts - e["duration_ms"] / 1000 if timed else ts,
                ts,
                f"task/{e['task_id']}" if e["task_id"] in tasks else "run",
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.system": e["provider"],
                    "gen_ai.request.model": e["model"],
                    "gen_ai.usage.input_tokens": usage["input_tokens"],
                    "gen_ai.usage.output_tokens": usage["output_tokens"],
                    "orca.role": e["role"],
                    "orca.cost_nano_usd": e["cost_nano_usd"],
                    "orca.usage_estimated": usage["estimated"],
                },
            )
            if timed:
                llm.attributes["gen_ai.response.finish_reasons"] = [e["stop_reason"]]
                if e["first_token_ms"] is not None:
                    llm.attributes["orca.first_token_ms"] = e["first_token_ms"]
                if e.get("error_type"):
                    llm.error = f"{e['error_type']}: {e['error']}"
                llm.attributes["orca.timed"] = True
            spans.append(llm)
        elif kind == TOOL_CALL:
            spans.append(
                Span(
                    f"tool/{e['seq']}",
                    f"tool {e['tool']}",
                    "tool",
                    ts - e["duration_ms"] / 1000,
                    ts,
                    f"task/{e['task_id']}" if e["task_id"] in tasks else "run",
                    {"gen_ai.tool.name": e["tool"], "orca.tool.status": e["status"]},
                    None if e["status"] == "ok" else f"{e['status']}: {e['result']}",
                )
            )
        elif kind == "error":
            run.error = f"{e['error_type']}: {e['message']}"
        elif kind == RUN_FINISHED:
            run.attributes["orca.status"] = e["status"]
            run.end = ts
    for step in steps.values():  # a step lasts at least as long as its tasks
        inner = [t.end for t in tasks.values() if t.parent == step.key]
        step.end = max([step.end, *inner])
    if steps:  # the last step runs on to the run's end
        last_step = steps[max(steps)]
        last_step.end = max(last_step.end, run.end)
    _llm_start_at_task(spans, tasks)
    return spans


def _llm_start_at_task(spans: list[Span], tasks: dict[str, Span]) -> None:
    """A usage event alone marks when a call ended: such a call began when the task's
    previous call (or the task itself) did."""
    starts = {t.key: t.start for t in tasks.values()}
    cursor: dict[str, float] = {}
    for span in spans:
        timed = span.attributes.pop("orca.timed", False)
        if span.kind in ("llm", "tool") and span.parent in starts:
            parent = span.parent
            if span.kind == "llm" and not timed:
                span.start = min(cursor.get(parent, starts[parent]), span.end)
            cursor[parent] = span.end


def _id(run_id: str, key: str, size: int) -> str:
    return hashlib.blake2b(f"{run_id}/{key}".encode(), digest_size=size).hexdigest()


def chrome_trace(events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A Chrome/Perfetto trace (``{"traceEvents": [...]}``): one track per task."""
    spans = spans_of(events)
    if not spans:
        return {"traceEvents": []}
    origin = spans[0].start
    lanes: dict[str, int] = {"run": 0}
    out: list[dict[str, Any]] = [
        {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": spans[0].name}}
    ]
    for span in spans:
        if span.kind == "task":
            lanes[span.key] = len(lanes)
            out.append(
                {"ph": "M", "name": "thread_name", "pid": 1, "tid": lanes[span.key],
                 "args": {"name": f"{span.name} ({span.attributes['orca.task_id'][-6:]})"}}
            )  # fmt: skip
        lane = lanes.get(span.key) or lanes.get(span.parent or "", 0)
        args = dict(span.attributes)
        if span.error:
            args["error"] = span.error
        out.append(
            {
                "ph": "X",
                "name": span.name,
                "cat": span.kind,
                "pid": 1,
                "tid": lane,
                "ts": round((span.start - origin) * 1e6, 3),
                "dur": round(max(span.end - span.start, 0) * 1e6, 3),
                "args": args,
            }
        )
    return {"traceEvents": out, "displayTimeUnit": "ms"}


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list | tuple):
        return {"arrayValue": {"values": [_value(x) for x in v]}}
    return {"stringValue": str(v)}


def otlp_json(events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """An OTLP/JSON ``ExportTraceServiceRequest`` (what an OpenTelemetry collector or
    Jaeger takes): one trace per run, ids derived from the run id."""
    spans = spans_of(events)
    if not spans:
        return {"resourceSpans": []}
    run_id = events[0]["run_id"]
    trace_id = _id(run_id, "trace", 16)
    otlp_spans = []
    for span in spans:
        item: dict[str, Any] = {
            "traceId": trace_id,
            "spanId": _id(run_id, span.key, 8),
            "name": span.name,
            "kind": 3 if span.kind == "llm" else 1,  # CLIENT for calls out, else INTERNAL
            "startTimeUnixNano": str(int(span.start * 1e9)),
            "endTimeUnixNano": str(int(max(span.end, span.start) * 1e9)),
            "attributes": [
                {"key": k, "value": _value(v)}
                for k, v in {"orca.span.kind": span.kind, **span.attributes}.items()
            ],
            "status": {"code": 2, "message": span.error} if span.error else {"code": 1},
        }
        if span.parent is not None:
            item["parentSpanId"] = _id(run_id, span.parent, 8)
        otlp_spans.append(item)
    return {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "orca"}}]
                },
                "scopeSpans": [{"scope": {"name": "orca"}, "spans": otlp_spans}],
            }
        ]
    }
