"""Streaming: ``stream``/``astream`` yield typed events, filtered by mode.

Every event has ``run_id``, ``thread_id``, ``step``, ``seq`` (0, 1, 2, ... within a run) and
``ts``; ``to_dict()`` is the stable JSON form with ``"schema": 1`` and ``"type"``.
"""

import json
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from orca import START, RetryPolicy, RunContext, SqliteCheckpointer, StateGraph, reducers
from orca.errors import InvalidInputError, NodeError
from orca.events import (
    EVENT_SCHEMA_VERSION,
    EVENT_TYPES,
    Custom,
    ErrorEvent,
    Event,
    InterruptEvent,
    RunFinished,
    RunStarted,
    StepStarted,
    TaskFinished,
    Values,
)


class State(TypedDict):
    count: int
    log: Annotated[list[str], reducers.append]


def sync_talker(state: State, ctx: RunContext) -> dict[str, Any]:
    ctx.write({"from": "sync", "step": ctx.step})
    return {"log": ["sync"]}


async def async_talker(state: State, ctx: RunContext) -> dict[str, Any]:
    ctx.write({"from": "async", "step": ctx.step})
    return {"log": ["async"], "count": state["count"] + 1}


def two_step_app(**compile_options: Any) -> Any:
    """Step 1: async_talker and sync_talker in parallel (name order). Step 2: finish."""
    g = StateGraph(State)
    g.add_node("sync_talker", sync_talker)
    g.add_node("async_talker", async_talker)
    g.add_node("finish", lambda s: {"log": ["finish"]})
    g.add_edge(START, "sync_talker")
    g.add_edge(START, "async_talker")
    g.add_edge("sync_talker", "finish")
    return g.compile(**compile_options)


def failing_app() -> Any:
    def explode(state: State) -> None:
        raise ValueError("kaboom")

    g = StateGraph(State)
    g.add_node("ok", lambda s: {"log": ["ok"]})
    g.add_node("explode", explode)
    g.add_edge(START, "ok")
    g.add_edge("ok", "explode")
    return g.compile()


def collect_until_error(events: Any) -> tuple[list[Event], BaseException | None]:
    seen: list[Event] = []
    try:
        for event in events:
            seen.append(event)
    except Exception as exc:
        return seen, exc
    return seen, None


# -- modes ---------------------------------------------------------------------------------------


def test_values_mode_yields_the_full_state_after_the_input_and_each_step() -> None:
    app = two_step_app()

    events = list(app.stream({"count": 0}, mode="values"))

    assert all(isinstance(e, Values) for e in events)
    assert [e.values for e in events] == [
        {"count": 0, "log": []},
        {"count": 1, "log": ["async", "sync"]},
        {"count": 1, "log": ["async", "sync", "finish"]},
    ]
    assert [e.step for e in events] == [0, 1, 2]
    assert events[-1].values == app.invoke({"count": 0})


def test_updates_mode_yields_each_tasks_writes_in_task_order() -> None:
    events = list(two_step_app().stream({"count": 0}, mode="updates"))

    assert all(isinstance(e, TaskFinished) for e in events)
    assert [(e.step, e.node, e.update) for e in events] == [
        (1, "async_talker", {"log": ["async"], "count": 1}),
        (1, "sync_talker", {"log": ["sync"]}),
        (2, "finish", {"log": ["finish"]}),
    ]
    assert events[1].goto == [{"node": "finish"}]
    assert all(e.task_id for e in events)


def test_custom_mode_yields_what_sync_and_async_nodes_write() -> None:
    events = list(two_step_app().stream({"count": 0}, mode="custom"))

    assert all(isinstance(e, Custom) for e in events)
    assert sorted((e.node, e.data["from"]) for e in events) == [
        ("async_talker", "async"),
        ("sync_talker", "sync"),
    ]
    assert all(e.step == 1 and e.data["step"] == 1 for e in events)


def test_custom_mode_from_a_sync_node_running_alone_on_the_loop_thread() -> None:
    def chatty(state: State, ctx: RunContext) -> None:
        for i in range(3):
            ctx.write(i)

    g = StateGraph(State)
    g.add_node("chatty", chatty)
    g.add_edge(START, "chatty")

    assert [e.data for e in g.compile().stream({}, mode="custom")] == [0, 1, 2]


def test_ctx_write_without_a_listener_is_a_no_op() -> None:
    assert two_step_app().invoke({"count": 0})["log"] == ["async", "sync", "finish"]


def test_events_mode_yields_the_whole_run_in_order() -> None:
    events = list(two_step_app().stream({"count": 0}, mode="events", thread_id="t"))
    types = [e.type for e in events]

    assert types[0] == "run.started"
    assert types[-1] == "run.finished"
    assert isinstance(events[-1], RunFinished)
    assert events[-1].status == "done"
    assert events[-1].steps == 2
    assert {"step.started", "task.started", "task.finished", "custom", "values"} <= set(types)
    steps = [e for e in events if isinstance(e, StepStarted)]
    assert [[t["node"] for t in s.tasks] for s in steps] == [
        ["async_talker", "sync_talker"],  # by name
        ["finish"],
    ]
    assert [s.step for s in steps] == [1, 2]
    started = events[0]
    assert isinstance(started, RunStarted)
    assert started.graph == "State"
    assert started.resumed is False


def test_events_mode_includes_checkpoints_when_a_checkpointer_is_set(tmp_path: Path) -> None:
    app = two_step_app(checkpointer=SqliteCheckpointer(tmp_path / "x.db"))
    events = list(app.stream({"count": 0}, mode="events", thread_id="t"))
    saved = [e.checkpoint_id for e in events if e.type == "checkpoint.saved"]
    assert len(saved) == 3  # the input, then each step
    assert saved[-1] == app.get_state("t").checkpoint_id
    assert events[-1].checkpoint_id == saved[-1]


def test_a_list_of_modes_yields_the_union_of_their_events() -> None:
    events = list(two_step_app().stream({"count": 0}, mode=["values", "custom"]))
    assert {type(e) for e in events} == {Values, Custom}
    assert sum(isinstance(e, Values) for e in events) == 3
    assert sum(isinstance(e, Custom) for e in events) == 2


def test_default_mode_is_events() -> None:
    types = [e.type for e in two_step_app().stream({"count": 0})]
    assert types[0] == "run.started"
    assert types[-1] == "run.finished"


@pytest.mark.parametrize("mode", ["value", "everything", ["values", "tokenz"]])
def test_an_invalid_mode_is_rejected(mode: Any) -> None:
    with pytest.raises(InvalidInputError) as exc:
        list(two_step_app().stream({"count": 0}, mode=mode))
    assert "stream mode" in str(exc.value)
    assert "values" in str(exc.value)


# -- the event envelope --------------------------------------------------------------------------


def test_events_are_numbered_from_zero_without_gaps_and_share_run_and_thread() -> None:
    events = list(two_step_app().stream({"count": 0}, mode="events", thread_id="t"))

    assert [e.seq for e in events] == list(range(len(events)))
    assert len({e.run_id for e in events}) == 1
    assert events[0].run_id
    assert {e.thread_id for e in events} == {"t"}
    steps = [e.step for e in events]
    assert steps == sorted(steps)
    assert all(isinstance(e.ts, float) for e in events)


def test_filtered_modes_keep_the_seq_each_event_has_in_the_whole_run() -> None:
    # one numbering whoever listens: a filtered stream shows gaps, never other numbers
    everything = list(two_step_app().stream({"count": 0}, mode="events"))
    assert [e.seq for e in everything] == list(range(len(everything)))
    values = list(two_step_app().stream({"count": 0}, mode="values"))
    assert [e.seq for e in values] == [e.seq for e in everything if e.type == "values"]
    assert [e.seq for e in values] != [0, 1, 2]  # the run's other events hold their places


def test_event_dict_has_schema_version_type_and_every_field() -> None:
    for event in two_step_app().stream({"count": 0}, mode="events"):
        data = event.to_dict()
        assert data["schema"] == EVENT_SCHEMA_VERSION == 1
        assert data["type"] == event.type
        assert EVENT_TYPES[data["type"]] is type(event)
        for key in ("run_id", "thread_id", "step", "seq", "ts"):
            assert key in data


def test_every_event_round_trips_through_json() -> None:
    events = list(two_step_app().stream({"count": 0}, mode="events"))
    for event in events:
        assert json.loads(event.to_json()) == event.to_dict()


def test_event_json_has_sorted_keys() -> None:
    event = next(iter(two_step_app().stream({"count": 0}, mode="events")))
    keys = list(json.loads(event.to_json()))
    assert keys == sorted(keys)


def test_events_without_timing_are_identical_across_runs_with_the_same_seed() -> None:
    app = two_step_app()

    def run() -> list[dict[str, Any]]:
        events = app.stream({"count": 0}, mode=["values", "updates"], thread_id="t", seed=3)
        return [e.to_dict(timing=False) for e in events]

    first, second = run(), run()
    assert first == second
    assert all("ts" not in d and "duration_ms" not in d for d in first)


# -- failures and pauses -------------------------------------------------------------------------


def test_failing_run_streams_an_error_and_a_failed_finish_then_raises() -> None:
    events, error = collect_until_error(failing_app().stream({}, mode="events"))

    assert isinstance(error, NodeError)
    assert isinstance(error.__cause__, ValueError)
    assert [e.type for e in events[-3:]] == ["task.failed", "error", "run.finished"]
    failed_event, error_event, finished = events[-3:]
    assert failed_event.node == "explode"
    assert isinstance(error_event, ErrorEvent)
    assert error_event.error_type == "NodeError"
    assert error_event.node == "explode"
    assert "kaboom" in error_event.message
    assert isinstance(finished, RunFinished)
    assert finished.status == "failed"
    assert [e.seq for e in events] == list(range(len(events)))


def test_failing_run_streams_only_what_the_mode_asks_for_then_raises() -> None:
    events, error = collect_until_error(failing_app().stream({}, mode="values"))
    assert isinstance(error, NodeError)
    # the input {} wrote nothing: no values event for it (as in LangGraph)
    assert [e.values["log"] for e in events] == [["ok"]]


def test_retries_are_streamed_as_task_retry_events() -> None:
    def flaky(state: State, ctx: RunContext) -> dict[str, Any]:
        if ctx.attempt == 1:
            raise ConnectionError("blip")
        return {"log": ["ok"]}

    g = StateGraph(State)
    g.add_node("flaky", flaky, retry=RetryPolicy(initial_interval=0.001, jitter=False))
    g.add_edge(START, "flaky")

    retries = [e for e in g.compile().stream({}, mode="events") if e.type == "task.retry"]
    assert len(retries) == 1
    assert retries[0].node == "flaky"
    assert retries[0].attempt == 1
    assert retries[0].delay_s == 0.001
    assert "ConnectionError: blip" in retries[0].error


def test_interrupted_run_streams_an_interrupt_and_an_interrupted_finish(tmp_path: Path) -> None:
    def ask(state: State, ctx: RunContext) -> dict[str, Any]:
        return {"log": [ctx.interrupt("ok?")]}

    g = StateGraph(State)
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    app = g.compile(SqliteCheckpointer(tmp_path / "x.db"))

    events = list(app.stream({}, mode="events", thread_id="t"))

    interrupt = next(e for e in events if isinstance(e, InterruptEvent))
    assert [(i["node"], i["value"], i["when"]) for i in interrupt.interrupts] == [
        ("ask", "ok?", "during")
    ]
    assert events[-1].type == "run.finished"
    assert events[-1].status == "interrupted"
    for event in events:
        assert json.loads(event.to_json()) == event.to_dict()


def test_a_consumer_that_stops_early_does_not_hang_or_leak_the_run() -> None:
    app = two_step_app()
    stream = app.stream({"count": 0}, mode="events")
    first = next(iter(stream))
    stream.close()
    assert first.type == "run.started"
    assert app.invoke({"count": 0})["count"] == 1  # the thread's loop is usable again


# -- astream -------------------------------------------------------------------------------------


async def test_astream_yields_the_same_events_as_stream() -> None:
    app = two_step_app()
    events = [e async for e in app.astream({"count": 0}, mode=["values", "updates"])]

    assert [e.type for e in events] == [
        "values",
        "task.finished",
        "task.finished",
        "values",
        "task.finished",
        "values",
    ]
    assert events[-1].values == {"count": 1, "log": ["async", "sync", "finish"]}
    seqs = [e.seq for e in events]
    assert seqs == sorted(set(seqs))
    everything = [e async for e in app.astream({"count": 0}, mode="events")]
    assert seqs == [e.seq for e in everything if e.type in ("values", "task.finished")]


async def test_astream_custom_mode_from_sync_and_async_nodes() -> None:
    events = [e async for e in two_step_app().astream({"count": 0}, mode="custom")]
    assert sorted(e.data["from"] for e in events) == ["async", "sync"]


async def test_astream_failing_run_yields_error_then_raises() -> None:
    seen: list[Event] = []

    async def consume() -> None:
        async for event in failing_app().astream({}, mode="events"):
            seen.append(event)

    with pytest.raises(NodeError):
        await consume()
    assert [e.type for e in seen[-2:]] == ["error", "run.finished"]
    assert seen[-1].status == "failed"


async def test_astream_rejects_an_invalid_mode() -> None:
    with pytest.raises(InvalidInputError):
        async for _ in two_step_app().astream({"count": 0}, mode="nope"):
            pass


async def test_stream_inside_an_event_loop_points_to_astream() -> None:
    with pytest.raises(RuntimeError, match="astream"):
        list(two_step_app().stream({"count": 0}))


def test_tokens_mode_yields_nothing_for_a_graph_without_llm_calls() -> None:
    assert list(two_step_app().stream({"count": 0}, mode="tokens")) == []
