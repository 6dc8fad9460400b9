"""Run control: retries, timeouts, deadlines, cancellation, concurrency, and run options."""

import asyncio
import threading
import time
from typing import Annotated, Any, TypedDict

import pytest

from orca import START, RetryPolicy, RunContext, Send, SqliteCheckpointer, StateGraph, reducers
from orca.errors import (
    InvalidInputError,
    InvalidUpdateError,
    NodeError,
    RunTimeoutError,
    TaskTimeoutError,
)
from orca.events import TaskRetry

PROMPT = 2.0  # seconds within which a cancelled or timed-out run must return
LONG = 30.0  # how long the blocked nodes below would otherwise take
WAIT = 5.0


class State(TypedDict):
    log: Annotated[list[Any], reducers.append]


def single(fn: Any, **node_options: Any) -> Any:
    g = StateGraph(State)
    g.add_node("node", fn, **node_options)
    g.add_edge(START, "node")
    return g.compile()


def tiny(**overrides: Any) -> RetryPolicy:
    options: dict[str, Any] = {"initial_interval": 0.001, "max_interval": 0.01, "jitter": False}
    return RetryPolicy(**{**options, **overrides})


# -- retries -------------------------------------------------------------------------------------


def test_node_that_fails_twice_then_succeeds_is_retried_with_increasing_attempts() -> None:
    attempts: list[int] = []

    def flaky(state: State, ctx: RunContext) -> dict[str, Any]:
        attempts.append(ctx.attempt)
        if ctx.attempt < 3:
            raise ConnectionError(f"transient failure {ctx.attempt}")
        return {"log": ["ok"]}

    result = single(flaky, retry=tiny(max_attempts=3)).invoke({})

    assert attempts == [1, 2, 3]
    assert result["log"] == ["ok"]


def test_node_that_keeps_failing_reports_its_attempts() -> None:
    calls = 0

    def broken(state: State) -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("still down")

    with pytest.raises(NodeError) as exc:
        single(broken, retry=tiny(max_attempts=4)).invoke({})

    assert calls == 4
    assert exc.value.attempts == 4
    assert "after 4 attempts" in str(exc.value)
    assert isinstance(exc.value.__cause__, ConnectionError)


def test_nodes_are_not_retried_without_a_policy() -> None:
    calls = 0

    def broken(state: State) -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("down")

    with pytest.raises(NodeError):
        single(broken).invoke({})
    assert calls == 1


async def test_async_nodes_are_retried_too() -> None:
    attempts: list[int] = []

    async def flaky(state: State, ctx: RunContext) -> dict[str, Any]:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            raise ConnectionError("first try fails")
        return {"log": [ctx.attempt]}

    result = await single(flaky, retry=tiny()).ainvoke({})
    assert attempts == [1, 2]
    assert result["log"] == [2]


def retry_events(app: Any, **options: Any) -> list[TaskRetry]:
    """The task.retry events of a run that fails in the end."""
    events: list[Any] = []
    stream = app.stream({}, mode="events", **options)
    with pytest.raises(NodeError):
        events.extend(stream)
    return [e for e in events if isinstance(e, TaskRetry)]


def always_failing(state: State) -> None:
    raise ConnectionError("down")


def test_retry_backoff_is_exponential_and_capped() -> None:
    policy = RetryPolicy(
        max_attempts=6,
        initial_interval=0.001,
        backoff_factor=2.0,
        max_interval=0.005,
        jitter=False,
    )
    retries = retry_events(single(always_failing, retry=policy))
    assert [e.delay_s for e in retries] == [0.001, 0.002, 0.004, 0.005, 0.005]
    assert [e.attempt for e in retries] == [1, 2, 3, 4, 5]
    assert all(e.node == "node" and "ConnectionError: down" in e.error for e in retries)


def test_retry_jitter_is_drawn_from_the_seed() -> None:
    policy = RetryPolicy(max_attempts=3, initial_interval=0.001, max_interval=1.0, jitter=True)
    app = single(always_failing, retry=policy)

    def delays(seed: int) -> list[float]:
        return [e.delay_s for e in retry_events(app, seed=seed)]

    first, again, other = delays(7), delays(7), delays(8)

    assert len(first) == 2
    assert first == again
    assert first != other
    for attempt, delay in enumerate(first, start=1):
        base = 0.001 * 2 ** (attempt - 1)
        assert base <= delay < base + 1  # up to one second of jitter, as in LangGraph


def test_retry_policy_delay_formula() -> None:
    policy = RetryPolicy(initial_interval=1.0, backoff_factor=3.0, max_interval=20.0)
    assert policy.delay(1, 0.0) == 1.0
    assert policy.delay(2, 0.0) == 3.0
    assert policy.delay(3, 0.0) == 9.0
    assert policy.delay(4, 0.0) == 20.0
    assert policy.delay(1, 0.5) == pytest.approx(1.5)
    assert RetryPolicy(initial_interval=1.0, jitter=False).delay(1, 0.9) == 1.0


@pytest.mark.parametrize(
    "bad",
    [
        {"max_attempts": 0},
        {"initial_interval": -1},
        {"max_interval": -1},
        {"backoff_factor": 0.5},
    ],
)
def test_retry_policy_rejects_bad_settings(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**bad)


def test_retry_on_exception_type_filters_what_is_retried() -> None:
    calls: list[str] = []

    def node(state: State, ctx: RunContext) -> dict[str, Any]:
        calls.append(f"attempt {ctx.attempt}")
        if ctx.attempt == 1:
            raise TimeoutError("retry me")
        if ctx.attempt == 2:
            raise KeyError("do not retry me")
        return {"log": ["unreachable"]}

    policy = tiny(max_attempts=5, retry_on=(TimeoutError, ConnectionError))
    with pytest.raises(NodeError) as exc:
        single(node, retry=policy).invoke({})

    assert calls == ["attempt 1", "attempt 2"]
    assert isinstance(exc.value.__cause__, KeyError)
    assert exc.value.attempts == 2


def test_retry_on_predicate_filters_what_is_retried() -> None:
    calls = 0

    def node(state: State) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("permanent" if calls >= 2 else "transient")

    policy = tiny(max_attempts=5, retry_on=lambda e: "transient" in str(e))
    with pytest.raises(NodeError) as exc:
        single(node, retry=policy).invoke({})

    assert calls == 2
    assert "permanent" in str(exc.value)


def test_non_matching_error_is_not_retried() -> None:
    calls = 0

    def node(state: State) -> None:
        nonlocal calls
        calls += 1
        raise KeyError("not a connection problem")

    with pytest.raises(NodeError) as exc:
        single(node, retry=tiny(retry_on=ConnectionError)).invoke({})
    assert calls == 1
    assert exc.value.attempts == 1


def test_bad_node_output_is_not_retried() -> None:
    calls = 0

    def node(state: State) -> Any:
        nonlocal calls
        calls += 1
        return "not a dict"

    with pytest.raises(InvalidUpdateError):
        single(node, retry=tiny(max_attempts=5)).invoke({})
    assert calls == 1


def test_one_failing_task_is_retried_without_rerunning_its_parallel_siblings() -> None:
    calls = {"steady": 0, "flaky": 0}

    def steady(state: State) -> dict[str, Any]:
        calls["steady"] += 1
        return {"log": ["steady"]}

    def flaky(state: State, ctx: RunContext) -> dict[str, Any]:
        calls["flaky"] += 1
        if ctx.attempt < 3:
            raise ConnectionError("flaky")
        return {"log": ["flaky"]}

    g = StateGraph(State)
    g.add_node("steady", steady)
    g.add_node("flaky", flaky, retry=tiny())
    g.add_edge(START, "steady")
    g.add_edge(START, "flaky")

    assert g.compile().invoke({})["log"] == ["flaky", "steady"]  # by name
    assert calls == {"steady": 1, "flaky": 3}


# -- per-task timeout ----------------------------------------------------------------------------


def test_async_node_past_its_timeout_fails_with_task_timeout_error() -> None:
    async def slow(state: State) -> None:
        await asyncio.sleep(LONG)

    started = time.monotonic()
    with pytest.raises(TaskTimeoutError) as exc:
        single(slow, timeout=0.05).invoke({})

    assert time.monotonic() - started < PROMPT
    assert exc.value.node == "node"
    assert exc.value.timeout == 0.05
    assert "timeout of 0.05s" in str(exc.value)
    assert "add_node('node', ..., timeout=...)" in str(exc.value)
    assert isinstance(exc.value, TimeoutError)


def test_sync_node_past_its_timeout_fails_with_task_timeout_error() -> None:
    release = threading.Event()

    def slow(state: State) -> None:
        release.wait(LONG)

    started = time.monotonic()
    try:
        with pytest.raises(TaskTimeoutError) as exc:
            single(slow, timeout=0.05).invoke({})
        assert time.monotonic() - started < PROMPT
    finally:
        release.set()  # let the abandoned worker thread finish
    assert exc.value.node == "node"


def test_timed_out_attempt_is_retried() -> None:
    attempts: list[int] = []

    async def sometimes_slow(state: State, ctx: RunContext) -> dict[str, Any]:
        attempts.append(ctx.attempt)
        if ctx.attempt == 1:
            await asyncio.sleep(LONG)
        return {"log": ["done"]}

    result = single(sometimes_slow, timeout=0.05, retry=tiny()).invoke({})
    assert attempts == [1, 2]
    assert result["log"] == ["done"]


def test_fast_node_within_its_timeout_succeeds() -> None:
    def quick(state: State) -> dict[str, Any]:
        return {"log": ["quick"]}

    assert single(quick, timeout=5).invoke({})["log"] == ["quick"]


# -- run deadline --------------------------------------------------------------------------------


def test_run_past_its_deadline_fails_with_run_timeout_error() -> None:
    async def slow(state: State) -> None:
        await asyncio.sleep(LONG)

    started = time.monotonic()
    with pytest.raises(RunTimeoutError) as exc:
        single(slow).invoke({}, deadline=0.1)

    assert time.monotonic() - started < PROMPT
    assert exc.value.deadline == 0.1
    assert "deadline of 0.1s" in str(exc.value)
    assert "invoke(..., deadline=...)" in str(exc.value)
    assert isinstance(exc.value, TimeoutError)


def test_deadline_covers_the_whole_run_not_one_step() -> None:
    async def step(state: State) -> dict[str, Any]:
        await asyncio.sleep(0.03)
        return {"log": ["step"]}

    g = StateGraph(State)
    g.add_node("step", step)
    g.add_edge(START, "step")
    g.add_edge("step", "step")  # loops until the deadline stops it

    with pytest.raises(RunTimeoutError):
        g.compile().invoke({}, deadline=0.2, max_steps=1000)


def test_sync_node_sees_cancelled_when_the_deadline_passes() -> None:
    saw_cancel = threading.Event()

    def cooperative(state: State, ctx: RunContext) -> None:
        stop = time.monotonic() + PROMPT + 0.5  # bounded, so a missed cancel fails fast
        while time.monotonic() < stop:
            if ctx.cancelled:
                saw_cancel.set()
                return
            time.sleep(0.005)

    started = time.monotonic()
    with pytest.raises(RunTimeoutError):
        single(cooperative).invoke({}, deadline=0.1)

    assert time.monotonic() - started < PROMPT
    assert saw_cancel.wait(PROMPT)


def test_run_within_its_deadline_finishes() -> None:
    assert single(lambda s: {"log": ["ok"]}).invoke({}, deadline=5)["log"] == ["ok"]


# -- cancellation --------------------------------------------------------------------------------


async def test_cancelling_ainvoke_returns_promptly() -> None:
    started = asyncio.Event()

    async def slow(state: State) -> None:
        started.set()
        await asyncio.sleep(LONG)

    run = asyncio.create_task(single(slow).ainvoke({}))
    await asyncio.wait_for(started.wait(), WAIT)

    t0 = time.monotonic()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, PROMPT)
    assert time.monotonic() - t0 < PROMPT
    assert run.cancelled()


async def test_cancelling_ainvoke_sets_ctx_cancelled_for_a_running_sync_node() -> None:
    started = threading.Event()
    saw_cancel = threading.Event()

    def cooperative(state: State, ctx: RunContext) -> None:
        started.set()
        stop = time.monotonic() + LONG
        while time.monotonic() < stop:
            if ctx.cancelled:
                saw_cancel.set()
                return
            time.sleep(0.005)

    run = asyncio.create_task(single(cooperative).ainvoke({}))
    assert await asyncio.to_thread(started.wait, WAIT)

    t0 = time.monotonic()
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, PROMPT)
    assert time.monotonic() - t0 < PROMPT
    assert await asyncio.to_thread(saw_cancel.wait, PROMPT)


async def test_cancelling_a_parallel_step_cancels_every_task() -> None:
    started = 0
    all_started = asyncio.Event()
    finished: list[int] = []

    async def slow(arg: int) -> dict[str, Any]:
        nonlocal started
        started += 1
        if started == 3:
            all_started.set()
        await asyncio.sleep(LONG)
        finished.append(arg)
        return {"log": [arg]}

    g = StateGraph(State)
    g.add_node("slow", slow)
    g.add_conditional_edges(START, lambda s: [Send("slow", i) for i in range(3)])

    run = asyncio.create_task(g.compile().ainvoke({}))
    await asyncio.wait_for(all_started.wait(), WAIT)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, PROMPT)
    assert finished == []


async def test_cancelled_run_keeps_its_last_checkpoint(tmp_path: Any) -> None:
    started = asyncio.Event()

    async def first(state: State) -> dict[str, Any]:
        return {"log": ["first"]}

    async def second(state: State) -> None:
        started.set()
        await asyncio.sleep(LONG)

    g = StateGraph(State)
    g.add_node("first", first)
    g.add_node("second", second)
    g.add_edge(START, "first")
    g.add_edge("first", "second")
    app = g.compile(SqliteCheckpointer(tmp_path / "x.db"))

    run = asyncio.create_task(app.ainvoke({}, thread_id="t"))
    await asyncio.wait_for(started.wait(), WAIT)
    run.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(run, PROMPT)

    snapshot = app.get_state("t")
    assert snapshot.values["log"] == ["first"]
    assert snapshot.next == ("second",)


# -- max_concurrency -----------------------------------------------------------------------------


def concurrency_probe(n: int) -> tuple[Any, list[int]]:
    active = 0
    peaks: list[int] = []

    async def work(arg: int) -> dict[str, Any]:
        nonlocal active
        active += 1
        peaks.append(active)
        await asyncio.sleep(0.01)  # gives other tasks the chance to overlap
        active -= 1
        return {"log": [arg]}

    g = StateGraph(State)
    g.add_node("work", work)
    g.add_conditional_edges(START, lambda s: [Send("work", i) for i in range(n)])
    return g.compile(), peaks


def test_max_concurrency_bounds_the_tasks_running_at_once() -> None:
    app, peaks = concurrency_probe(6)
    result = app.invoke({}, max_concurrency=2)
    assert result["log"] == [0, 1, 2, 3, 4, 5]
    assert max(peaks) == 2
    assert len(peaks) == 6


def test_without_max_concurrency_all_tasks_of_a_step_run_at_once() -> None:
    app, peaks = concurrency_probe(6)
    app.invoke({})
    assert max(peaks) == 6


def test_max_concurrency_bounds_sync_nodes_too() -> None:
    lock = threading.Lock()
    pair = threading.Barrier(2, timeout=WAIT)  # two tasks must be in at once to pass
    active = 0
    peak = 0

    def work(arg: int) -> dict[str, Any]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        pair.wait()
        with lock:
            active -= 1
        return {"log": [arg]}

    g = StateGraph(State)
    g.add_node("work", work)
    g.add_conditional_edges(START, lambda s: [Send("work", i) for i in range(6)])
    assert g.compile().invoke({}, max_concurrency=2)["log"] == [0, 1, 2, 3, 4, 5]
    assert peak == 2


# -- run options ---------------------------------------------------------------------------------


def ok_app(**compile_options: Any) -> Any:
    g = StateGraph(State)
    g.add_node("node", lambda s: {"log": ["ok"]})
    g.add_edge(START, "node")
    return g.compile(**compile_options)


def test_unknown_run_option_is_rejected_with_a_suggestion() -> None:
    with pytest.raises(InvalidInputError) as exc:
        ok_app().invoke({}, max_step=3)
    assert "unknown run option 'max_step'" in str(exc.value)
    assert "did you mean 'max_steps'?" in str(exc.value)
    assert "Fix:" in str(exc.value)


def test_unknown_run_option_is_rejected_by_stream_too() -> None:
    with pytest.raises(InvalidInputError, match="'thread'"):
        list(ok_app().stream({}, thread="t"))


def test_thread_id_is_required_with_a_checkpointer(tmp_path: Any) -> None:
    app = ok_app(checkpointer=SqliteCheckpointer(tmp_path / "x.db"))
    with pytest.raises(InvalidInputError) as exc:
        app.invoke({})
    assert "thread_id" in str(exc.value)
    assert "Fix:" in str(exc.value)
    assert app.invoke({}, thread_id="t")["log"] == ["ok"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("durability", "eventually"),
        ("max_steps", 0),
        ("max_steps", -3),
        ("max_steps", "10"),
        ("max_steps", 2.5),
        ("max_concurrency", 0),
        ("max_concurrency", "2"),
        ("deadline", 0),
        ("deadline", -1.0),
        ("deadline", "soon"),
        ("seed", "abc"),
        ("seed", 1.5),
        ("thread_id", ""),
        ("thread_id", 42),
    ],
)
def test_bad_run_option_values_are_rejected(option: str, value: Any) -> None:
    with pytest.raises(InvalidInputError) as exc:
        ok_app().invoke({}, **{option: value})
    assert option in str(exc.value)
    assert repr(value) in str(exc.value)


@pytest.mark.parametrize("durability", ["sync", "async", "exit"])
def test_every_durability_mode_is_accepted(durability: str, tmp_path: Any) -> None:
    app = ok_app(checkpointer=SqliteCheckpointer(tmp_path / "x.db"))
    assert app.invoke({}, thread_id="t", durability=durability)["log"] == ["ok"]
    assert app.get_state("t").values["log"] == ["ok"]


async def test_sync_invoke_inside_an_event_loop_points_to_ainvoke() -> None:
    with pytest.raises(RuntimeError, match="ainvoke"):
        ok_app().invoke({})
