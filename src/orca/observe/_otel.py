"""OpenTelemetry spans of runs, made live from their events: run > superstep > task >
LLM call / tool call, with the GenAI semantic-convention attributes on calls.

Nothing happens unless an OpenTelemetry SDK is configured in the process (a tracer
provider set with ``opentelemetry.trace.set_tracer_provider``): without one, runs do not
even build the events. ``configure_otlp`` sets one up that exports over OTLP/HTTP.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from orca.events import (
    ERROR,
    INTERRUPT,
    LLM_RESPONSE,
    RUN_FINISHED,
    RUN_STARTED,
    STEP_STARTED,
    TASK_FAILED,
    TASK_FINISHED,
    TASK_STARTED,
    TOOL_CALL,
)
from orca.observe._core import RunInfo, add_observer

OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


class _RunSpans:
    """One run's spans, opened and closed as its events arrive."""

    types = frozenset(
        {
            RUN_STARTED,
            STEP_STARTED,
            TASK_STARTED,
            TASK_FINISHED,
            TASK_FAILED,
            LLM_RESPONSE,
            TOOL_CALL,
            INTERRUPT,
            ERROR,
            RUN_FINISHED,
        }
    )

    def __init__(self, trace: Any, tracer: Any, info: RunInfo, parent: Any) -> None:
        self.trace = trace
        self.tracer = tracer
        self.info = info
        self.parent = parent  # the caller's context when the run began
        self.run: Any = None
        self.step: Any = None
        self.tasks: dict[str, Any] = {}

    def _start(self, name: str, parent: Any, ts: float, attributes: dict[str, Any]) -> Any:
        context = self.trace.set_span_in_context(parent) if parent is not None else self.parent
        return self.tracer.start_span(
            name, context=context, start_time=_ns(ts), attributes=attributes
        )

    def _fail(self, span: Any, message: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        from orca._redact import redact_text

        span.set_status(Status(StatusCode.ERROR, redact_text(message)))

    def __call__(self, e: Any) -> None:
        kind, ts = e.type, e.ts
        if kind == RUN_STARTED:
            self.run = self._start(
                f"run {e.graph}",
                None,
                ts,
                {
                    "orca.run_id": e.run_id,
                    "orca.thread_id": e.thread_id,
                    "orca.graph": e.graph,
                    "orca.correlation_id": self.info.correlation_id,
                    "orca.resumed": e.resumed,
                },
            )
        elif kind == STEP_STARTED:
            self._end_step(ts)
            attributes = {"orca.step": e.step, "orca.tasks": len(e.tasks)}
            self.step = self._start(f"superstep {e.step}", self.run, ts, attributes)
        elif kind == TASK_STARTED:
            self.tasks[e.task_id] = self._start(
                e.node, self.step or self.run, ts, {"orca.node": e.node, "orca.task_id": e.task_id}
            )
        elif kind in (TASK_FINISHED, TASK_FAILED):
            span = self.tasks.pop(e.task_id, None)
            if span is not None:
                if kind == TASK_FAILED:
                    self._fail(span, f"{e.error_type}: {e.error}")
                span.end(end_time=_ns(ts))
        elif kind == LLM_RESPONSE:
            span = self._start(
                f"chat {e.model}",
                self.tasks.get(e.task_id, self.run),
                ts - e.duration_ms / 1000,
                {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.system": e.provider,
                    "gen_ai.provider.name": e.provider,
                    "gen_ai.request.model": e.model,
                    "gen_ai.response.model": e.model,
                    "gen_ai.usage.input_tokens": e.usage["input_tokens"],
                    "gen_ai.usage.output_tokens": e.usage["output_tokens"],
                    "gen_ai.response.finish_reasons": [e.stop_reason],
                    "orca.role": e.role,
                    "orca.node": e.node,
                    "orca.cost_nano_usd": e.cost_nano_usd,
                },
            )
            if e.first_token_ms is not None:
                span.set_attribute("orca.first_token_ms", e.first_token_ms)
            if e.error_type is not None:
                self._fail(span, f"{e.error_type}: {e.error}")
            span.end(end_time=_ns(ts))
        elif kind == TOOL_CALL:
            span = self._start(
                f"execute_tool {e.tool}",
                self.tasks.get(e.task_id, self.run),
                ts - e.duration_ms / 1000,
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": e.tool,
                    "orca.tool.status": e.status,
                    "orca.node": e.node,
                },
            )
            if e.status != "ok":
                self._fail(span, f"{e.status}: {e.error or e.result}")
            span.end(end_time=_ns(ts))
        elif kind == "interrupt" and self.run is not None:
            self.run.add_event("interrupt", {"orca.interrupts": len(e.interrupts)}, _ns(ts))
        elif kind == "error" and self.run is not None:
            self._fail(self.run, f"{e.error_type}: {e.message}")
        elif kind == RUN_FINISHED and self.run is not None:
            for span in self.tasks.values():  # tasks cut off by a cancel or a pause
                span.end(end_time=_ns(ts))
            self.tasks.clear()
            self._end_step(ts)
            self.run.set_attributes(
                {
                    "orca.status": e.status,
                    "orca.steps": e.steps,
                    "orca.llm_calls": e.llm_calls,
                    "gen_ai.usage.input_tokens": e.input_tokens,
                    "gen_ai.usage.output_tokens": e.output_tokens,
                    "orca.cost_nano_usd": e.cost_nano_usd,
                }
            )
            self.run.end(end_time=_ns(ts))

    def _end_step(self, ts: float) -> None:
        if self.step is not None:
            self.step.end(end_time=_ns(ts))
            self.step = None


def _otel_observer(info: RunInfo) -> _RunSpans | None:
    """Spans for the run, when an OpenTelemetry SDK is configured (the API alone, or no
    OpenTelemetry at all, costs the run nothing)."""
    trace = sys.modules.get("opentelemetry.trace")
    if trace is None:
        return None
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider | trace.NoOpTracerProvider):
        return None
    from opentelemetry import context

    from orca._version import __version__

    tracer = provider.get_tracer("orca", __version__)
    return _RunSpans(trace, tracer, info, context.get_current())


def configure_otlp(endpoint: str | None = None, *, service_name: str = "orca") -> bool:
    """Export spans over OTLP/HTTP when asked: ``endpoint`` (the full traces URL, such as
    ``http://localhost:4318/v1/traces``) or the standard ``OTEL_EXPORTER_OTLP_ENDPOINT``
    / ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` variables. Installs an SDK tracer provider
    with a batch exporter (flushed when the process exits) and returns True; returns
    False, doing nothing, when no endpoint is given or set.

    Raises:
        ConfigError: an endpoint is set but the OpenTelemetry SDK is not installed.
    """
    if endpoint is None and not any(os.environ.get(v) for v in OTLP_VARIABLES):
        return False
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        from orca.errors import ConfigError

        raise ConfigError(
            f"an OTLP endpoint is set but OpenTelemetry is not installed ({exc.name})",
            key="OTEL_EXPORTER_OTLP_ENDPOINT",
            fix="pip install 'orca[observe]', or unset the variable",
        ) from None
    name = os.environ.get("OTEL_SERVICE_NAME", service_name)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    exporter = OTLPSpanExporter(endpoint=endpoint) if endpoint else OTLPSpanExporter()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True


add_observer(_otel_observer)
