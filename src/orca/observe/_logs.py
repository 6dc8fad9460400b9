"""Structured logs of runs: one record per thing worth reading later (a run starting,
finishing, failing or pausing; a retry; a budget warning; at debug level every step,
task, LLM call and tool call), carrying run, thread, node, task and correlation ids, as
JSON lines or human lines, with secrets and personal data redacted."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any, TextIO

import orjson

from orca.events import (
    BUDGET_WARNING,
    ERROR,
    INTERRUPT,
    LLM_RESPONSE,
    RUN_FINISHED,
    RUN_STARTED,
    STEP_STARTED,
    TASK_FAILED,
    TASK_FINISHED,
    TASK_RETRY,
    TOOL_CALL,
    WARNING,
    Event,
)
from orca.observe._core import RunInfo, add_observer

RUN_LOG = logging.getLogger("orca.run")

_ERROR_TYPES = frozenset({TASK_FAILED, ERROR})
# run.finished: a failed or cancelled run is a warning
_WARNING_TYPES = _ERROR_TYPES | {TASK_RETRY, BUDGET_WARNING, WARNING, RUN_FINISHED}
_INFO_TYPES = _WARNING_TYPES | {RUN_STARTED, INTERRUPT}
_DEBUG_TYPES = _INFO_TYPES | {STEP_STARTED, TASK_FINISHED, LLM_RESPONSE, TOOL_CALL}
# the fields a log record shows as written; everything else is scrubbed
_IDS = ("run_id", "thread_id", "correlation_id", "node", "task_id", "step", "event")


class _RunLog:
    """Turns one run's events into log records on ``orca.run``."""

    def __init__(self, info: RunInfo, types: frozenset[str]) -> None:
        self.info = info
        self.types = types
        self.refused_steps: set[int] = set()

    def __call__(self, event: Event) -> None:
        if event.type == TASK_FAILED and event.error_type == "BudgetExceeded":  # type: ignore[attr-defined]
            # parallel tasks refused by one budget in one step: one record says it
            if event.step in self.refused_steps:
                return
            self.refused_steps.add(event.step)
        level, message, fields = _describe(event)
        if not RUN_LOG.isEnabledFor(level):
            return
        context = {
            "run_id": event.run_id,
            "thread_id": event.thread_id,
            "correlation_id": self.info.correlation_id,
            "graph": self.info.graph,
            "step": event.step,
            "event": event.type,
        }
        node = getattr(event, "node", None)
        if node is not None:
            context["node"] = node
            context["task_id"] = getattr(event, "task_id", None)
        context.update(fields)
        RUN_LOG.log(level, message, extra={"orca": context})


def _log_observer(info: RunInfo) -> _RunLog | None:
    """Records for the run at the levels someone both enables and handles: a process
    that configured no logging costs its runs nothing."""
    floor = _handled_level()
    for level, types in (
        (logging.DEBUG, _DEBUG_TYPES),
        (logging.INFO, _INFO_TYPES),
        (logging.WARNING, _WARNING_TYPES),
        (logging.ERROR, _ERROR_TYPES),
    ):
        if level >= floor and RUN_LOG.isEnabledFor(level):
            return _RunLog(info, types)
    return None


def _handled_level() -> int:
    """The lowest level a handler of ``orca.run`` (or of a logger it propagates to)
    takes; above CRITICAL when there is none but null handlers."""
    lowest = logging.CRITICAL + 1
    logger: logging.Logger | None = RUN_LOG
    while logger is not None:
        for handler in logger.handlers:
            if not isinstance(handler, logging.NullHandler):
                lowest = min(lowest, handler.level)
        if not logger.propagate:
            break
        logger = logger.parent
    return lowest


def _describe(e: Any) -> tuple[int, str, dict[str, Any]]:
    """Level, message and fields of one event's record."""
    kind = e.type
    if kind == RUN_STARTED:
        return logging.INFO, f"run started: {e.graph}", {"resumed": e.resumed, "seed": e.seed}
    if kind == RUN_FINISHED:
        level = logging.INFO if e.status in ("done", "interrupted") else logging.WARNING
        fields = {
            "status": e.status,
            "steps": e.steps,
            "duration_ms": round(e.duration_ms, 3),
            "llm_calls": e.llm_calls,
            "input_tokens": e.input_tokens,
            "output_tokens": e.output_tokens,
            "cost_nano_usd": e.cost_nano_usd,
        }
        if e.error:
            fields["error"] = e.error
        return level, f"run {e.status} after {_count(e.steps, 'step')}", fields
    if kind == "interrupt":
        nodes = sorted({i["node"] for i in e.interrupts})
        return logging.INFO, f"run paused at {', '.join(nodes)}", {"interrupts": len(e.interrupts)}
    if kind == TASK_RETRY:
        return (
            logging.WARNING,
            f"task {e.node} attempt {e.attempt} failed; retrying in {e.delay_s}s",
            {"attempt": e.attempt, "error": e.error},
        )
    if kind == TASK_FAILED:
        return (
            logging.ERROR,
            f"task {e.node} failed after {_count(e.attempts, 'attempt')}",
            {"error": f"{e.error_type}: {e.error}", "attempts": e.attempts},
        )
    if kind == "error":
        return logging.ERROR, f"run failed: {e.error_type}", {"error": e.message}
    if kind == BUDGET_WARNING:
        return (
            logging.WARNING,
            f"budget {e.budget} passed {e.threshold_pct}%",
            {"budget": e.budget, "unit": e.unit, "spent": e.spent, "limit": e.limit},
        )
    if kind == "warning":
        return logging.WARNING, e.message, {"code": e.code}
    if kind == STEP_STARTED:
        return logging.DEBUG, f"step {e.step}: {len(e.tasks)} tasks", {"tasks": len(e.tasks)}
    if kind == TASK_FINISHED:
        return (
            logging.DEBUG,
            f"task {e.node} finished",
            {"duration_ms": round(e.duration_ms, 3), "wrote": sorted(e.update)},
        )
    if kind == LLM_RESPONSE:
        return (
            logging.DEBUG,
            f"LLM call {e.provider}/{e.model}",
            {
                "role": e.role,
                "provider": e.provider,
                "model": e.model,
                "input_tokens": e.usage["input_tokens"],
                "output_tokens": e.usage["output_tokens"],
                "first_token_ms": e.first_token_ms,
                "duration_ms": e.duration_ms,
            },
        )
    if kind == TOOL_CALL:
        return (
            logging.DEBUG,
            f"tool {e.tool} {e.status}",
            {"tool": e.tool, "status": e.status, "arguments": e.arguments,
             "duration_ms": e.duration_ms},
        )  # fmt: skip
    return logging.DEBUG, kind, {}


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


# -- formatting ---------------------------------------------------------------------------


def _scrub(fields: dict[str, Any]) -> dict[str, Any]:
    """Ids as they are; text redacted; tool arguments redacted with secret-named keys
    masked whole."""
    from orca._redact import redact, redact_text

    out: dict[str, Any] = {}
    for key, value in fields.items():
        if key in _IDS or not isinstance(value, str | dict | list):
            out[key] = value
        elif key == "arguments":
            out[key] = redact(value)
        elif isinstance(value, str):
            out[key] = redact_text(value)
        else:
            out[key] = redact(value)
    return out


def _record_fields(record: logging.LogRecord) -> dict[str, Any]:
    context = getattr(record, "orca", None)
    return _scrub(context) if isinstance(context, dict) else {}


def _message(formatter: logging.Formatter, record: logging.LogRecord) -> str:
    from orca._redact import redact_text

    text = record.getMessage()
    if record.exc_info:
        text += "\n" + formatter.formatException(record.exc_info)
    return redact_text(text)


def _timestamp(record: logging.LogRecord) -> str:
    return dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, then the
    record's run fields (``run_id``, ``thread_id``, ``correlation_id``, ``node``, ...)."""

    def __init__(self, *, timestamps: bool = True) -> None:
        super().__init__()
        self.timestamps = timestamps

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {}
        if self.timestamps:
            out["ts"] = _timestamp(record)
        out["level"] = record.levelname.lower()
        out["logger"] = record.name
        out["message"] = _message(self, record)
        out.update(_record_fields(record))
        return orjson.dumps(out, default=repr).decode()


_COLOURS = {"DEBUG": "\x1b[2m", "INFO": "\x1b[36m", "WARNING": "\x1b[33m", "ERROR": "\x1b[31m"}


class HumanFormatter(logging.Formatter):
    """``<ts> LEVEL message  key=value ...`` (colored on request)."""

    def __init__(self, *, timestamps: bool = True, colored: bool = False) -> None:
        super().__init__()
        self.timestamps = timestamps
        self.colored = colored

    def format(self, record: logging.LogRecord) -> str:
        level = record.levelname
        shown = f"{level:<7}"
        if self.colored and level in _COLOURS:
            shown = f"{_COLOURS[level]}{shown}\x1b[0m"
        parts = [_timestamp(record)] if self.timestamps else []
        parts += [shown, _message(self, record)]
        fields = _record_fields(record)
        tail = " ".join(
            f"{k}={v if isinstance(v, int | float) else orjson.dumps(v, default=repr).decode()}"
            for k, v in fields.items()
            if v is not None and k not in ("graph", "event")
        )
        return " ".join(parts) + (f"  {tail}" if tail else "")


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (a live display may wrap it)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


_handler: logging.Handler | None = None


def configure_logging(
    level: str = "info",
    format: str = "human",
    *,
    stream: TextIO | None = None,
    colored: bool = False,
    timestamps: bool = True,
) -> logging.Handler:
    """Send Orca's logs (logger ``orca``) to ``stream`` (default: standard error) at
    ``level`` (debug, info, warning, error) as ``json`` or ``human`` lines. Calling it
    again replaces the handler it installed before.

    Raises:
        InvalidInputError: an unknown level or format.
    """
    from orca.errors import InvalidInputError

    levels = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
              "error": logging.ERROR}  # fmt: skip
    if level not in levels:
        raise InvalidInputError(f"log level {level!r} is not one of {', '.join(levels)}")
    if format not in ("json", "human"):
        raise InvalidInputError(f"log format {format!r} is not json or human")
    global _handler
    logger = logging.getLogger("orca")
    if _handler is not None:
        logger.removeHandler(_handler)
    handler: logging.Handler = (
        logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    )
    handler.setFormatter(
        JsonFormatter(timestamps=timestamps)
        if format == "json"
        else HumanFormatter(timestamps=timestamps, colored=colored)
    )
    logger.addHandler(handler)
    logger.setLevel(levels[level])
    logger.propagate = False
    _handler = handler
    return handler


add_observer(_log_observer)
