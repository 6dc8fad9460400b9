"""The usage repository's contract, for every backend: reports grouped by each key over
what the ledger settled, time and run filters, one run's breakdown and its charges."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from orca.cost import CallContext, Charge, RunUsage
from orca.errors import InvalidInputError
from orca.store import UserStore

from ._support import START, Clock


def spend(store: UserStore, charge: Charge, context: CallContext) -> None:
    ledger = store.ledger
    ledger.settle(ledger.reserve([], {}), charge, context)


def call(model: str, cost: int, *, inp: int = 10, out: int = 5, **more: Any) -> Charge:
    return Charge("openai", model, input_tokens=inp, output_tokens=out, cost_nano_usd=cost, **more)


@pytest.fixture
def spent(store: UserStore, clock: Clock) -> UserStore:
    spend(store, call("big", 100), CallContext(run_id="r1", node="plan", role="planner"))
    spend(store, call("small", 10), CallContext(run_id="r1", node="work", role="worker"))
    clock.advance(days=1)
    spend(store, call("small", 20), CallContext(run_id="r2", node="work", role="worker"))
    spend(
        store,
        call("free", 0, reasoning_tokens=2, priced=False, estimated=True),
        CallContext(workflow="wf", session="s1"),
    )
    return store


def test_a_report_groups_by_each_key_most_expensive_first(spent: UserStore) -> None:
    report = spent.usage.report
    assert [(r.key, r.calls, r.cost_nano_usd) for r in report("model")] == [
        ("openai/big", 1, 100),
        ("openai/small", 2, 30),
        ("openai/free", 1, 0),
    ]
    assert [(r.key, r.cost_nano_usd) for r in report("node")] == [
        ("plan", 100),
        ("work", 30),
        ("-", 0),
    ]
    assert [(r.key, r.cost_nano_usd) for r in report("role")] == [
        ("planner", 100),
        ("worker", 30),
        ("-", 0),
    ]
    assert [(r.key, r.calls) for r in report("day")] == [("2026-05-13", 2), ("2026-05-14", 2)]
    assert [(r.key, r.cost_nano_usd) for r in report("run")] == [("r1", 110), ("r2", 20), ("-", 0)]
    assert [(r.key, r.calls) for r in report("workflow")] == [("-", 3), ("wf", 1)]
    assert [(r.key, r.calls) for r in report("session")] == [("-", 3), ("s1", 1)]
    [free] = [r for r in report("model") if r.key == "openai/free"]
    assert (free.unpriced_calls, free.estimated_calls, free.reasoning_tokens) == (1, 1, 2)


def test_a_report_filters_by_time_and_run(spent: UserStore) -> None:
    def total(**kwargs: Any) -> int:
        return sum(r.cost_nano_usd for r in spent.usage.report("run", **kwargs))

    next_day = START + dt.timedelta(days=1)
    assert total() == 130
    assert total(since=next_day) == 20  # inclusive
    assert total(until=next_day) == 110  # exclusive
    assert total(run_id="r1") == 110
    assert total(run_id="r1", since=next_day) == 0
    paris = next_day.astimezone(dt.timezone(dt.timedelta(hours=2)))
    assert total(since=paris) == 20  # the same instant in another zone
    assert spent.usage.report("run", run_id="x'); DROP TABLE usage; --") == []
    assert total() == 130


def test_a_series_groups_by_time_bucket_then_key(spent: UserStore, clock: Clock) -> None:
    clock.advance(hours=1, minutes=30)  # one more call, in a later hour of the second day
    spend(spent, call("small", 5), CallContext(run_id="r3", node="work", workflow="wf"))
    report = spent.usage.report
    hourly = report("model", bucket="hour")
    assert [(r.bucket, r.key, r.calls, r.cost_nano_usd) for r in hourly] == [
        ("2026-05-13T09:00:00+00:00", "openai/big", 1, 100),
        ("2026-05-13T09:00:00+00:00", "openai/small", 1, 10),
        ("2026-05-14T09:00:00+00:00", "openai/small", 1, 20),
        ("2026-05-14T09:00:00+00:00", "openai/free", 1, 0),
        ("2026-05-14T10:00:00+00:00", "openai/small", 1, 5),
    ]
    daily = report("node", bucket="day", since=START + dt.timedelta(days=1))
    assert [(r.bucket, r.key, r.cost_nano_usd) for r in daily] == [
        ("2026-05-14T00:00:00+00:00", "work", 25),
        ("2026-05-14T00:00:00+00:00", "-", 0),
    ]
    assert daily[0].as_dict()["bucket"] == "2026-05-14T00:00:00+00:00"
    assert "bucket" not in report("node")[0].as_dict()  # a plain report keeps its shape
    # one workflow's calls, with or without buckets
    assert [(r.key, r.calls) for r in report("node", workflow="wf")] == [("work", 1), ("-", 1)]
    assert [r.bucket for r in report("node", workflow="wf", bucket="day")] == [
        "2026-05-14T00:00:00+00:00"
    ] * 2
    assert report("node", workflow="x' OR 1=1 --") == []
    # a workflow named without a version takes its saved versions' calls too
    spend(spent, call("small", 3), CallContext(node="work", workflow="wf@1.0.0"))
    spend(spent, call("small", 4), CallContext(node="work", workflow="wfA"))
    assert [(r.key, r.cost_nano_usd) for r in report("node", workflow="wf")] == [
        ("work", 8),
        ("-", 0),
    ]
    assert [(r.key, r.cost_nano_usd) for r in report("node", workflow="wf@1.0.0")] == [("work", 3)]
    with pytest.raises(InvalidInputError, match="cannot bucket usage by 'minute'"):
        report("model", bucket="minute")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="cannot bucket"):
        report("model", bucket="strftime('%s', 'now')")  # type: ignore[arg-type]


def test_a_report_refuses_a_bad_grouping_and_naive_times(store: UserStore) -> None:
    with pytest.raises(InvalidInputError, match="cannot group usage by 'colour'"):
        store.usage.report("colour")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="cannot group"):
        store.usage.report("model; DROP TABLE usage")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="time zone"):
        store.usage.report("day", since=dt.datetime(2026, 1, 1))
    with pytest.raises(InvalidInputError, match="time zone"):
        store.usage.report("day", until=dt.datetime(2026, 1, 1))
    assert store.usage.report("day") == []


def test_one_runs_usage_by_node_role_and_model(spent: UserStore) -> None:
    assert spent.usage.of_run("r1") == [
        RunUsage("plan", "planner", "openai/big", 1, 10, 5, 100),
        RunUsage("work", "worker", "openai/small", 1, 10, 5, 10),
    ]
    assert spent.usage.of_run("nope") == []


def test_one_runs_charges_are_its_calls(spent: UserStore) -> None:
    charges = spent.usage.charges("r1")
    assert sorted((c.model, c.cost_nano_usd, c.input_tokens, c.output_tokens) for c in charges) == [
        ("big", 100, 10, 5),
        ("small", 10, 10, 5),
    ]
    assert all(c.priced and not c.estimated for c in charges)
    assert spent.usage.charges("nope") == []
