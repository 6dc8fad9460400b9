"""Prometheus metrics of runs, fed live by every run's events, in a registry of their own
that the server exposes (``prometheus_client.generate_latest(metrics.registry)``).

Labels stay few: graph, node, status, provider, model, tool, budget, unit, kind; never a
run, thread or task id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from orca.events import (
    BUDGET_STATUS,
    BUDGET_WARNING,
    LLM_RESPONSE,
    RUN_FINISHED,
    RUN_STARTED,
    STEP_STARTED,
    TASK_FAILED,
    TASK_FINISHED,
    TASK_RETRY,
    TOOL_CALL,
    USAGE,
)
from orca.observe._core import RunInfo, add_observer

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

# seconds: from a millisecond task to a ten-minute agent
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
FIRST_TOKEN_BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 30)
TOKEN_KINDS = ("input", "output", "cache_read", "cache_write", "reasoning")
INVALID_TOOL = "(invalid)"
"""The ``tool`` label of invalid calls (an unknown name, or arguments that do not fit)."""


class Metrics:
    """The metrics of runs in this process. ``observe(info)`` is the observer factory
    ``enable_metrics`` installs.

    Series (all prefixed ``orca_``): ``runs_started_total{graph}``,
    ``runs_finished_total{graph,status}``, ``runs_in_progress{graph}``,
    ``supersteps_total{graph}``, ``tasks_total{graph,node,status}``,
    ``task_duration_seconds{graph,node}``, ``task_retries_total{graph,node}``,
    ``llm_calls_total{provider,model}``, ``llm_first_token_seconds{provider,model}``,
    ``llm_duration_seconds{provider,model}``, ``llm_tokens_total{provider,model,kind}``,
    ``llm_cost_nano_usd_total{provider,model}``, ``tool_calls_total{tool,status}``,
    ``tool_duration_seconds{tool}``, ``budget_spent{budget,unit}``,
    ``budget_limit{budget,unit}``, ``budget_utilization_ratio{budget}``,
    ``budget_warnings_total{budget}`` (budgets scoped to one run are left out: a run is
    not a label).
    """

    TYPES = frozenset(
        {
            RUN_STARTED,
            RUN_FINISHED,
            STEP_STARTED,
            TASK_FINISHED,
            TASK_FAILED,
            TASK_RETRY,
            LLM_RESPONSE,
            USAGE,
            TOOL_CALL,
            BUDGET_STATUS,
            BUDGET_WARNING,
        }
    )

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry

        def counter(name: str, doc: str, *labels: str) -> Any:
            return Counter(f"orca_{name}", doc, labels, registry=r)

        def gauge(name: str, doc: str, *labels: str) -> Any:
            return Gauge(f"orca_{name}", doc, labels, registry=r)

        def histogram(name: str, doc: str, buckets: tuple[float, ...], *labels: str) -> Any:
            return Histogram(f"orca_{name}", doc, labels, buckets=buckets, registry=r)

        self.runs_started = counter("runs_started", "Runs started.", "graph")
        self.runs_finished = counter(
            "runs_finished", "Runs finished, by outcome (done, interrupted, failed, cancelled).",
            "graph", "status",
        )  # fmt: skip
        self.runs_in_progress = gauge("runs_in_progress", "Runs running now.", "graph")
        self.supersteps = counter("supersteps", "Supersteps started.", "graph")
        self.tasks = counter("tasks", "Tasks ended, by status (done, failed).",
                             "graph", "node", "status")  # fmt: skip
        self.task_duration = histogram(
            "task_duration_seconds", "Wall time of finished tasks.", DURATION_BUCKETS,
            "graph", "node",
        )  # fmt: skip
        self.task_retries = counter("task_retries", "Task attempts retried.", "graph", "node")
        self.llm_calls = counter("llm_calls", "LLM calls answered.", "provider", "model")
        self.llm_first_token = histogram(
            "llm_first_token_seconds", "Time from an LLM request to its first piece.",
            FIRST_TOKEN_BUCKETS, "provider", "model",
        )  # fmt: skip
        self.llm_duration = histogram(
            "llm_duration_seconds", "Time from an LLM request to the end of its answer.",
            DURATION_BUCKETS, "provider", "model",
        )  # fmt: skip
        self.llm_tokens = counter(
            "llm_tokens", "Tokens used by LLM calls, by kind (input counts cached ones, "
            "output counts reasoning ones).", "provider", "model", "kind",
        )  # fmt: skip
        self.llm_cost = counter(
            "llm_cost_nano_usd", "Cost of LLM calls in nano-USD (1e-9 USD).", "provider", "model"
        )
        self.tool_calls = counter("tool_calls", "Tool executions, by status.", "tool", "status")
        self.tool_duration = histogram(
            "tool_duration_seconds", "Wall time of tool executions.", DURATION_BUCKETS, "tool"
        )
        self.budget_spent = gauge(
            "budget_spent", "Spent in the budget's current period (nano-USD or tokens).",
            "budget", "unit",
        )  # fmt: skip
        self.budget_limit = gauge("budget_limit", "The budget's limit per period.",
                                  "budget", "unit")  # fmt: skip
        self.budget_utilization = gauge(
            "budget_utilization_ratio", "(spent + reserved) / limit of the budget.", "budget"
        )
        self.budget_warnings = counter("budget_warnings", "Budget thresholds crossed.", "budget")

    def observe(self, info: RunInfo) -> _RunMetrics:
        return _RunMetrics(self, info.graph)

    def text(self) -> str:
        """The exposition text a Prometheus scrape would get."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry).decode()


class _RunMetrics:
    def __init__(self, metrics: Metrics, graph: str) -> None:
        self.m = metrics
        self.graph = graph
        self.types = Metrics.TYPES
        self.run_budgets: set[str] = set()

    def __call__(self, e: Any) -> None:
        m, graph, kind = self.m, self.graph, e.type
        if kind == RUN_STARTED:
            m.runs_started.labels(graph).inc()
            m.runs_in_progress.labels(graph).inc()
        elif kind == RUN_FINISHED:
            m.runs_finished.labels(graph, e.status).inc()
            m.runs_in_progress.labels(graph).dec()
        elif kind == STEP_STARTED:
            m.supersteps.labels(graph).inc()
        elif kind == TASK_FINISHED:
            m.tasks.labels(graph, e.node, "done").inc()
            m.task_duration.labels(graph, e.node).observe(e.duration_ms / 1000)
        elif kind == TASK_FAILED:
            m.tasks.labels(graph, e.node, "failed").inc()
        elif kind == TASK_RETRY:
            m.task_retries.labels(graph, e.node).inc()
        elif kind == "usage":  # every call, cut short ones too
            m.llm_calls.labels(e.provider, e.model).inc()
            for name in TOKEN_KINDS:
                count = getattr(e, f"{name}_tokens")
                if count:
                    m.llm_tokens.labels(e.provider, e.model, name).inc(count)
            if e.cost_nano_usd:
                m.llm_cost.labels(e.provider, e.model).inc(e.cost_nano_usd)
        elif kind == LLM_RESPONSE:
            if e.first_token_ms is not None:
                m.llm_first_token.labels(e.provider, e.model).observe(e.first_token_ms / 1000)
            m.llm_duration.labels(e.provider, e.model).observe(e.duration_ms / 1000)
        elif kind == TOOL_CALL:
            # an invalid call may name any tool a model made up: not a label
            tool = INVALID_TOOL if e.status == "invalid" else e.tool
            m.tool_calls.labels(tool, e.status).inc()
            m.tool_duration.labels(tool).observe(e.duration_ms / 1000)
        elif kind == BUDGET_STATUS:
            for b in e.budgets:
                if b["scope"] == "run":  # one per run: not a label
                    self.run_budgets.add(b["name"])
                    continue
                m.budget_spent.labels(b["name"], b["unit"]).set(b["spent"])
                m.budget_limit.labels(b["name"], b["unit"]).set(b["limit"])
                if b["limit"]:
                    used = (b["spent"] + b["reserved"]) / b["limit"]
                    m.budget_utilization.labels(b["name"]).set(used)
        elif kind == BUDGET_WARNING and e.budget not in self.run_budgets:
            m.budget_warnings.labels(e.budget).inc()
            m.budget_spent.labels(e.budget, e.unit).set(e.spent)
            m.budget_limit.labels(e.budget, e.unit).set(e.limit)
            if e.limit:
                m.budget_utilization.labels(e.budget).set(e.spent / e.limit)


_enabled: Metrics | None = None
_remove: Any = None


def enable_metrics(registry: CollectorRegistry | None = None) -> Metrics:
    """Collect metrics of every run from now on (once per process: a second call returns
    the same ``Metrics``). Needs ``prometheus-client`` (the ``observe`` extra)."""
    global _enabled, _remove
    if _enabled is None:
        _enabled = Metrics(registry)
        _remove = add_observer(_enabled.observe)
    return _enabled


T = TypeVar("T")
_more: dict[str, tuple[Any, Any]] = {}  # name -> (registry, its series)


def more_series(name: str, build: Callable[[CollectorRegistry], T]) -> T:
    """Series of another part of Orca (the server's requests, its queues, its LLM tasks),
    made by ``build`` in the registry of the runs' metrics: once per registry, so that
    apps made again in one process (as tests do) share them."""
    registry = enable_metrics().registry
    made = _more.get(name)
    if made is None or made[0] is not registry:
        made = (registry, build(registry))
        _more[name] = made
    series: T = made[1]
    return series


def disable_metrics() -> None:
    """Stop collecting (the next ``enable_metrics`` starts a fresh registry)."""
    global _enabled, _remove
    if _remove is not None:
        _remove()
    _enabled = _remove = None
