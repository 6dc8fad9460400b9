"""Watching runs as they happen. Every root run hands its events, live, to the observers
installed in the process: structured logs (``configure_logging``), OpenTelemetry spans
(whenever an OpenTelemetry SDK is configured; ``configure_otlp`` sets one up from the
standard ``OTEL_*`` variables) and Prometheus metrics (``enable_metrics``). An observer
only receives the event types it asks for, and events nobody asked for are not built.
"""

from __future__ import annotations

from orca.observe._core import (
    Observer,
    RunInfo,
    add_observer,
    correlation,
    current_correlation,
    observers_for,
)
from orca.observe._logs import HumanFormatter, JsonFormatter, configure_logging
from orca.observe._metrics import Metrics, disable_metrics, enable_metrics
from orca.observe._otel import configure_otlp

__all__ = [
    "HumanFormatter",
    "JsonFormatter",
    "Metrics",
    "Observer",
    "RunInfo",
    "add_observer",
    "configure_logging",
    "configure_otlp",
    "correlation",
    "current_correlation",
    "disable_metrics",
    "enable_metrics",
    "observers_for",
]
