"""Prometheus metrics of runs (``orca.observe.enable_metrics``): runs by outcome, steps,
tasks, retries, LLM calls with their exact tokens and cost, tool calls, budget gauges,
and labels that never carry a run, thread or task id."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Annotated, Any, TypedDict

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from orca import END, START, MemoryCheckpointer, RetryPolicy, RunContext, Send, StateGraph, reducers
from orca.cost import Budget, Price, PriceBook
from orca.errors import NodeError
from orca.llm import ChatRequest, Delta, ProviderModel, Usage
from orca.observe import Metrics, disable_metrics, enable_metrics
from orca.store import LedgerRepository, user_store

# USD per 1M tokens: 1000 nano-USD an input token, 500 a cached one, 2000 a cache write,
# 1e6 an output token, 2e6 a reasoning one
PRICE = Price(
    "acme",
    "echo",
    Decimal(1),
    Decimal(1000),
    cached_input=Decimal("0.5"),
    cache_write=Decimal(2),
    reasoning=Decimal(2000),
)
# Usage(10, 4, cache_read=3, cache_write=2, reasoning=1): 5 fresh input * 1000 + 3 * 500
# + 2 * 2000 + 3 plain output * 1e6 + 1 reasoning * 2e6
CALL_COST = 5 * 1000 + 3 * 500 + 2 * 2000 + 3 * 1_000_000 + 1 * 2_000_000
assert CALL_COST == 5_010_500


# -- a model, tools and graphs -------------------------------------------------------------------


class Echo(ProviderModel):
    """A model answering from memory: three pieces and exact usage of every kind."""

    def __init__(self, model: str, usage: Usage) -> None:
        super().__init__(model, provider="acme")
        self.usage = usage

    async def _stream(self, request: ChatRequest, state: Any) -> Any:
        for piece in ("a", "b", "c"):
            state.text.append(piece)
            yield Delta(text=piece)
        state.stop_reason = "stop"
        state.usage = self.usage


FULL_USAGE = Usage(10, 4, 3, 2, 1)


class S(TypedDict, total=False):
    mode: str
    x: int
    parts: Annotated[list[str], reducers.append]


def note(text: str) -> str:
    """Keep a note."""
    return text.upper()


def explode(text: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot {text}")


def outcome_graph() -> Any:
    """START -> work -> END; ``work`` finishes, fails or pauses as ``mode`` says."""

    def work(state: S, ctx: RunContext) -> dict[str, Any]:
        if state["mode"] == "fail":
            raise RuntimeError("failed on purpose")
        if state["mode"] == "pause":
            ctx.interrupt({"question": "go on?"})
        return {"x": 1}

    g = StateGraph(S, name="flow")
    g.add_node("work", work)
    g.add_edge(START, "work")
    g.add_edge("work", END)
    return g.compile(checkpointer=MemoryCheckpointer())


def flaky_graph() -> Any:
    attempts: list[int] = []

    def flaky(state: S) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) < 3:
            raise ValueError("not yet")
        return {"x": 1}

    g = StateGraph(S, name="flaky")
    g.add_node(
        "flaky",
        flaky,
        retry=RetryPolicy(max_attempts=3, initial_interval=0, jitter=False, retry_on=Exception),
    )
    g.add_node("after", lambda s: {"x": 2})
    g.add_edge(START, "flaky")
    g.add_edge("flaky", "after")
    g.add_edge("after", END)
    return g.compile()


def agent_graph() -> Any:
    """Two ``work`` tasks; each calls the worker once, ``note`` once and ``explode`` once."""

    async def work(arg: dict[str, str], ctx: Any) -> dict[str, Any]:
        answer = await ctx.worker.acomplete(arg["q"])
        await ctx.tools.acall("note", text=answer.text)
        failed = await ctx.tools.arun("explode", text="that")
        assert not failed.ok
        return {"parts": [answer.text]}

    g = StateGraph(S, name="agent")
    g.add_node("work", work)
    g.add_conditional_edges(START, lambda s: [Send("work", {"q": f"q{i}"}) for i in range(2)])
    g.add_edge("work", END)
    return g.compile()


def agent_options(usage: Usage = FULL_USAGE, **more: Any) -> dict[str, Any]:
    return {
        "models": {"worker": Echo("echo", usage)},
        "tools": [note, explode],
        "prices": PriceBook([PRICE]),
        "ledger": False,
        **more,
    }


# -- reading the registry -----------------------------------------------------------------------


def samples(metrics: Metrics) -> list[Any]:
    return [s for f in text_string_to_metric_families(metrics.text()) for s in f.samples]


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    """The sample ``name`` with exactly ``labels``, or None when there is none."""
    found = [s.value for s in samples(metrics) if s.name == name and s.labels == labels]
    assert len(found) <= 1
    return found[0] if found else None


def label_values(metrics: Metrics) -> set[str]:
    return {v for s in samples(metrics) for k, v in s.labels.items() if k != "le"}


@pytest.fixture
def metrics() -> Iterator[Metrics]:
    enabled = enable_metrics()
    yield enabled
    disable_metrics()


def stream(app: Any, input: Any, **options: Any) -> list[Any]:
    """The run's events (those before the error, when it fails)."""
    events: list[Any] = []
    try:
        for event in app.stream(input, mode="events", **options):
            events.append(event)
    except NodeError:
        assert events[-1].type == "run.finished"
    return events


def count(events: list[Any], kind: str, **fields: Any) -> int:
    return sum(
        1 for e in events if e.type == kind and all(getattr(e, k) == v for k, v in fields.items())
    )


# -- runs, steps and tasks ----------------------------------------------------------------------


def test_runs_by_outcome_steps_and_tasks(metrics: Metrics) -> None:
    app = outcome_graph()
    events = []
    for i, mode in enumerate(["ok", "ok", "fail", "pause"]):
        events += stream(app, {"mode": mode}, thread_id=f"t{i}")
    assert count(events, "run.finished", status="done") == 2
    assert count(events, "run.finished", status="failed") == 1
    assert count(events, "run.finished", status="interrupted") == 1

    assert value(metrics, "orca_runs_started_total", graph="flow") == 4
    assert value(metrics, "orca_runs_finished_total", graph="flow", status="done") == 2
    assert value(metrics, "orca_runs_finished_total", graph="flow", status="failed") == 1
    assert value(metrics, "orca_runs_finished_total", graph="flow", status="interrupted") == 1
    assert value(metrics, "orca_runs_finished_total", graph="flow", status="cancelled") is None
    assert value(metrics, "orca_runs_in_progress", graph="flow") == 0
    assert count(events, "step.started") == 4
    assert value(metrics, "orca_supersteps_total", graph="flow") == 4
    assert value(metrics, "orca_tasks_total", graph="flow", node="work", status="done") == 2
    assert value(metrics, "orca_tasks_total", graph="flow", node="work", status="failed") == 1
    assert (
        value(metrics, "orca_task_duration_seconds_count", graph="flow", node="work")
        == count(events, "task.finished")
        == 2
    )
    assert value(metrics, "orca_task_retries_total", graph="flow", node="work") is None


def test_resuming_a_paused_run_counts_a_second_run(metrics: Metrics) -> None:
    from orca import Command

    app = outcome_graph()
    app.invoke({"mode": "pause"}, thread_id="t")
    assert value(metrics, "orca_runs_finished_total", graph="flow", status="interrupted") == 1
    app.invoke(Command(resume="yes"), thread_id="t")
    assert value(metrics, "orca_runs_started_total", graph="flow") == 2
    assert value(metrics, "orca_runs_finished_total", graph="flow", status="done") == 1
    assert value(metrics, "orca_tasks_total", graph="flow", node="work", status="done") == 1
    assert value(metrics, "orca_runs_in_progress", graph="flow") == 0


def test_in_progress_counts_a_running_run(metrics: Metrics) -> None:
    seen: list[float | None] = []

    def look(state: S) -> dict[str, Any]:
        seen.append(value(metrics, "orca_runs_in_progress", graph="looking"))
        return {"x": 1}

    g = StateGraph(S, name="looking")
    g.add_node("look", look)
    g.add_edge(START, "look")
    g.add_edge("look", END)
    g.compile().invoke({})
    assert seen == [1]
    assert value(metrics, "orca_runs_in_progress", graph="looking") == 0


async def test_a_cancelled_run_is_counted(metrics: Metrics) -> None:
    started = asyncio.Event()

    async def slow(state: S) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(60)
        return {"x": 1}

    g = StateGraph(S, name="slow")
    g.add_node("slow", slow)
    g.add_edge(START, "slow")
    g.add_edge("slow", END)
    task = asyncio.ensure_future(g.compile().ainvoke({}))
    await started.wait()
    assert value(metrics, "orca_runs_in_progress", graph="slow") == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert value(metrics, "orca_runs_finished_total", graph="slow", status="cancelled") == 1
    assert value(metrics, "orca_runs_in_progress", graph="slow") == 0
    assert value(metrics, "orca_tasks_total", graph="slow", node="slow", status="done") is None


def test_retries_are_counted_by_node(metrics: Metrics) -> None:
    events = stream(flaky_graph(), {})
    assert count(events, "task.retry") == 2
    assert value(metrics, "orca_task_retries_total", graph="flaky", node="flaky") == 2
    assert value(metrics, "orca_task_retries_total", graph="flaky", node="after") is None
    assert value(metrics, "orca_tasks_total", graph="flaky", node="flaky", status="done") == 1
    assert value(metrics, "orca_tasks_total", graph="flaky", node="after", status="done") == 1
    assert value(metrics, "orca_tasks_total", graph="flaky", node="flaky", status="failed") is None
    assert value(metrics, "orca_supersteps_total", graph="flaky") == 2


# -- LLM and tool calls -------------------------------------------------------------------------


def test_llm_calls_tokens_and_cost_are_exact(metrics: Metrics) -> None:
    app = agent_graph()
    events = stream(app, {}, **agent_options()) + stream(app, {}, **agent_options())
    usage = [e for e in events if e.type == "usage"]
    assert len(usage) == 4
    assert {e.cost_nano_usd for e in usage} == {CALL_COST}
    labels = {"provider": "acme", "model": "echo"}
    assert value(metrics, "orca_llm_calls_total", **labels) == 4
    tokens = {
        kind: value(metrics, "orca_llm_tokens_total", **labels, kind=kind)
        for kind in ("input", "output", "cache_read", "cache_write", "reasoning")
    }
    assert tokens == {
        "input": 40,
        "output": 16,
        "cache_read": 12,
        "cache_write": 8,
        "reasoning": 4,
    }
    assert value(metrics, "orca_llm_cost_nano_usd_total", **labels) == 4 * CALL_COST
    assert value(metrics, "orca_llm_cost_nano_usd_total", **labels) == sum(
        e.cost_nano_usd for e in usage
    )
    assert value(metrics, "orca_llm_first_token_seconds_count", **labels) == 4
    assert value(metrics, "orca_llm_duration_seconds_count", **labels) == 4
    # every observation lands in some bucket: the +Inf bucket holds them all
    assert value(metrics, "orca_llm_duration_seconds_bucket", **labels, le="+Inf") == 4


def test_token_kinds_a_model_never_used_get_no_series(metrics: Metrics) -> None:
    stream(agent_graph(), {}, **agent_options(Usage(7, 3)))
    labels = {"provider": "acme", "model": "echo"}
    assert value(metrics, "orca_llm_tokens_total", **labels, kind="input") == 14
    assert value(metrics, "orca_llm_tokens_total", **labels, kind="output") == 6
    for kind in ("cache_read", "cache_write", "reasoning"):
        assert value(metrics, "orca_llm_tokens_total", **labels, kind=kind) is None
    # 7 input * 1000 + 3 output * 1e6, twice
    assert value(metrics, "orca_llm_cost_nano_usd_total", **labels) == 2 * 3_007_000


def test_an_unpriced_model_counts_calls_but_no_cost(metrics: Metrics) -> None:
    stream(agent_graph(), {}, **agent_options(prices=PriceBook()))
    labels = {"provider": "acme", "model": "echo"}
    assert value(metrics, "orca_llm_calls_total", **labels) == 2
    assert value(metrics, "orca_llm_tokens_total", **labels, kind="input") == 20
    assert value(metrics, "orca_llm_cost_nano_usd_total", **labels) in (None, 0)


def test_tool_calls_by_tool_and_status(metrics: Metrics) -> None:
    events = stream(agent_graph(), {}, **agent_options())
    assert count(events, "tool.call", tool="note", status="ok") == 2
    assert count(events, "tool.call", tool="explode", status="error") == 2
    assert value(metrics, "orca_tool_calls_total", tool="note", status="ok") == 2
    assert value(metrics, "orca_tool_calls_total", tool="explode", status="error") == 2
    assert value(metrics, "orca_tool_calls_total", tool="note", status="error") is None
    assert value(metrics, "orca_tool_duration_seconds_count", tool="note") == 2
    assert value(metrics, "orca_tool_duration_seconds_count", tool="explode") == 2


# -- budgets ------------------------------------------------------------------------------------


@pytest.fixture
def ledger() -> Iterator[LedgerRepository]:
    """The user database of this test's ORCA_HOME, where runs keep their budgets."""
    with user_store() as store:
        yield store.ledger


def test_budget_gauges_after_a_run(metrics: Metrics, ledger: LedgerRepository) -> None:
    team = ledger.budgets.create(Budget("team", 1_000_000_000, thresholds=(1, 90)))
    tokens = ledger.budgets.create(
        Budget("agent-tokens", 10_000, unit="tokens", scope="workflow", scope_ref="agent")
    )
    options = agent_options(max_tokens=8)
    del options["ledger"]  # the default: the user database under ORCA_HOME
    events = stream(agent_graph(), {}, **options)
    assert events[-1].status == "done"
    statuses = [e for e in events if e.type == "budget.status"]
    assert [s.when for s in statuses] == ["before", "after"]
    warnings = [e for e in events if e.type == "budget.warning"]
    assert [(w.budget, w.threshold_pct) for w in warnings] == [("team", 1)]

    spent = 2 * CALL_COST
    [team_now, tokens_now] = ledger.status([team, tokens])
    assert team_now.spent == spent
    assert team_now.reserved == 0
    assert value(metrics, "orca_budget_spent", budget="team", unit="usd") == spent
    assert value(metrics, "orca_budget_limit", budget="team", unit="usd") == 1_000_000_000
    assert value(metrics, "orca_budget_utilization_ratio", budget="team") == pytest.approx(
        spent / 1_000_000_000
    )
    assert value(metrics, "orca_budget_warnings_total", budget="team") == 1
    assert tokens_now.spent > 0
    assert value(metrics, "orca_budget_spent", budget="agent-tokens", unit="tokens") == (
        tokens_now.spent
    )
    assert value(metrics, "orca_budget_limit", budget="agent-tokens", unit="tokens") == 10_000
    assert value(metrics, "orca_budget_utilization_ratio", budget="agent-tokens") == (
        pytest.approx(tokens_now.spent / 10_000)
    )
    assert value(metrics, "orca_budget_warnings_total", budget="agent-tokens") is None


def test_a_run_scoped_budget_is_not_a_label(metrics: Metrics, ledger: LedgerRepository) -> None:
    ledger.budgets.create(Budget("team", 10**12, enforcement="warn"))
    ledger.budgets.create(
        Budget(
            "per-run",
            100_000_000,
            enforcement="warn",
            thresholds=(1,),
            scope="run",
            scope_ref="run-budgeted",
        )
    )
    options = agent_options(run_id="run-budgeted")
    del options["ledger"]
    events = stream(agent_graph(), {}, **options)
    [before, _after] = [e for e in events if e.type == "budget.status"]
    assert {b["name"] for b in before.budgets} == {"team", "per-run"}
    assert [w.budget for w in events if w.type == "budget.warning"] == ["per-run"]
    assert value(metrics, "orca_budget_spent", budget="team", unit="usd") == 2 * CALL_COST
    values = label_values(metrics)
    assert "per-run" not in values
    assert "run-budgeted" not in values
    assert value(metrics, "orca_budget_warnings_total", budget="per-run") is None


# -- label cardinality --------------------------------------------------------------------------


def test_no_label_is_a_run_thread_or_task_id(metrics: Metrics, ledger: LedgerRepository) -> None:
    ledger.budgets.create(Budget("team", 10**12, enforcement="warn"))
    events: list[Any] = []
    app = outcome_graph()
    for i, mode in enumerate(["ok", "fail", "pause"]):
        events += stream(app, {"mode": mode}, thread_id=f"thread-{mode}-{i}")
    events += stream(flaky_graph(), {}, thread_id="thread-flaky")
    options = agent_options(thread_id="thread-agent")
    del options["ledger"]
    events += stream(agent_graph(), {}, **options)
    ids = (
        {e.run_id for e in events}
        | {e.thread_id for e in events}
        | {e.task_id for e in events if hasattr(e, "task_id")}
        | {e.checkpoint_id for e in events if getattr(e, "checkpoint_id", None)}
    )
    assert len({e.run_id for e in events}) == 5
    assert len({e.task_id for e in events if e.type == "task.started"}) >= 6
    values = label_values(metrics)
    assert values  # the runs were counted
    assert not ids & values
    assert not any(v.startswith(("run-", "thread-")) for v in values)
    names = {k for s in samples(metrics) for k in s.labels}
    assert names <= {"graph", "node", "status", "provider", "model", "tool", "budget", "unit",
                     "kind", "le"}  # fmt: skip


# -- enabling and disabling ---------------------------------------------------------------------


def test_enable_metrics_twice_is_the_same_collector(metrics: Metrics) -> None:
    assert enable_metrics() is metrics
    outcome_graph().invoke({"mode": "ok"}, thread_id="t")
    assert value(metrics, "orca_runs_started_total", graph="flow") == 1  # counted once


def test_disable_metrics_stops_collecting() -> None:
    first = enable_metrics()
    try:
        outcome_graph().invoke({"mode": "ok"}, thread_id="t")
        assert value(first, "orca_runs_started_total", graph="flow") == 1
        disable_metrics()
        outcome_graph().invoke({"mode": "ok"}, thread_id="t")
        assert value(first, "orca_runs_started_total", graph="flow") == 1
        second = enable_metrics()
        assert second is not first
        assert value(second, "orca_runs_started_total", graph="flow") is None
        outcome_graph().invoke({"mode": "ok"}, thread_id="t")
        assert value(second, "orca_runs_started_total", graph="flow") == 1
        assert value(first, "orca_runs_started_total", graph="flow") == 1
    finally:
        disable_metrics()


def test_disabling_twice_then_enabling_counts_each_run_once() -> None:
    enable_metrics()
    disable_metrics()
    disable_metrics()
    try:
        again = enable_metrics()
        outcome_graph().invoke({"mode": "ok"}, thread_id="t")
        assert value(again, "orca_runs_started_total", graph="flow") == 1
    finally:
        disable_metrics()


def test_enable_metrics_uses_the_given_registry() -> None:
    registry = CollectorRegistry()
    try:
        enabled = enable_metrics(registry)
        assert enabled.registry is registry
        outcome_graph().invoke({"mode": "ok"}, thread_id="t")
    finally:
        disable_metrics()
    text = generate_latest(registry).decode()
    assert text == enabled.text()
    assert "# TYPE orca_runs_started_total counter" in text
    assert 'orca_runs_started_total{graph="flow"} 1.0' in text
    assert 'orca_runs_finished_total{graph="flow",status="done"} 1.0' in text
    assert "# TYPE orca_task_duration_seconds histogram" in text


def test_a_metrics_object_on_its_own_collects_nothing_until_observing() -> None:
    mine = Metrics()
    outcome_graph().invoke({"mode": "ok"}, thread_id="t")
    assert value(mine, "orca_runs_started_total", graph="flow") is None
    from orca.observe import add_observer

    remove = add_observer(mine.observe)
    try:
        outcome_graph().invoke({"mode": "ok"}, thread_id="t")
    finally:
        remove()
    outcome_graph().invoke({"mode": "ok"}, thread_id="t")
    assert value(mine, "orca_runs_started_total", graph="flow") == 1
