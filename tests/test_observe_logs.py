"""Structured logs of runs (``orca.observe.configure_logging``): JSON and human lines that
carry run, thread, correlation, node and task ids; what each level shows; redaction of
secrets; observers that fail are dropped while the run goes on; a library prints nothing
unless asked; and the CLI's ``--log-level`` / ``--log-format`` options."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypedDict

import pytest

from _echo import FLOW, Echo
from orca import END, START, MemoryCheckpointer, RetryPolicy, RunContext, Send, StateGraph, reducers
from orca.errors import InvalidInputError, NodeError
from orca.observe import (
    HumanFormatter,
    JsonFormatter,
    RunInfo,
    add_observer,
    configure_logging,
    correlation,
    current_correlation,
)
from orca.tools import Policy

SECRET = "sk-live-abcdefghijklmnopqrstuvwxyz"
ORCA = Path(sys.executable).parent / "orca"


# -- a model, tools and graphs -------------------------------------------------------------------


class S(TypedDict, total=False):
    x: int
    topic: str
    parts: Annotated[list[str], reducers.append]


def note(text: str) -> str:
    """Keep a note."""
    return text.upper()


def login(user: str, api_key: str) -> str:
    """Log in."""
    return f"hello {user}"


def simple_graph(name: str = "flow") -> Any:
    """START -> inc -> END."""

    def inc(state: S) -> dict[str, Any]:
        return {"x": state.get("x", 0) + 1}

    g = StateGraph(S, name=name)
    g.add_node("inc", inc)
    g.add_edge(START, "inc")
    g.add_edge("inc", END)
    return g.compile()


def failing_graph(message: str) -> Any:
    """START -> boom (raises ``RuntimeError(message)``)."""

    def boom(state: S) -> dict[str, Any]:
        raise RuntimeError(message)

    g = StateGraph(S, name="failing")
    g.add_node("boom", boom)
    g.add_edge(START, "boom")
    g.add_edge("boom", END)
    return g.compile()


def flaky_graph() -> Any:
    """START -> flaky (fails its first attempt, retried at once) -> END."""
    attempts: list[int] = []

    def flaky(state: S) -> dict[str, Any]:
        attempts.append(1)
        if len(attempts) == 1:
            raise ValueError("first attempt fails")
        return {"x": 1}

    g = StateGraph(S, name="flaky")
    g.add_node(
        "flaky",
        flaky,
        retry=RetryPolicy(max_attempts=2, initial_interval=0, jitter=False, retry_on=Exception),
    )
    g.add_edge(START, "flaky")
    g.add_edge("flaky", END)
    return g.compile()


def agent_graph(tool_text: str = "plain") -> Any:
    """Two ``work`` tasks, each calling the worker model once and the ``note`` tool once."""

    async def work(arg: dict[str, str], ctx: Any) -> dict[str, Any]:
        answer = await ctx.worker.acomplete(arg["q"])
        await ctx.tools.acall("note", text=f"{answer.text} {tool_text}")
        return {"parts": [answer.text]}

    g = StateGraph(S, name="agent")
    g.add_node("work", work)
    g.add_conditional_edges(START, lambda s: [Send("work", {"q": f"q{i}"}) for i in range(2)])
    g.add_edge("work", END)
    return g.compile()


def agent_options(**more: Any) -> dict[str, Any]:
    return {
        "models": {"worker": Echo("echo", provider="acme")},
        "tools": [note, login],
        "ledger": False,
        **more,
    }


def pausing_graph() -> Any:
    """START -> ask (interrupts) -> END, on a memory checkpointer."""

    def ask(state: S, ctx: RunContext) -> dict[str, Any]:
        ctx.interrupt({"question": "ship it?"})
        return {"x": 1}

    g = StateGraph(S, name="pausing")
    g.add_node("ask", ask)
    g.add_edge(START, "ask")
    g.add_edge("ask", END)
    return g.compile(checkpointer=MemoryCheckpointer())


# -- capturing the logs --------------------------------------------------------------------------


class Captured:
    """The lines one ``configure_logging(stream=...)`` call wrote."""

    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    @property
    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def of(self, event: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("event") == event]

    @property
    def events(self) -> list[str]:
        return [r["event"] for r in self.records if r.get("logger") == "orca.run"]


@pytest.fixture
def logs() -> Iterator[Callable[..., Captured]]:
    """``logs(level, format, **options)`` sends Orca's logs to a fresh buffer; every
    handler installed is removed afterwards, and the ``orca`` logger restored."""
    logger = logging.getLogger("orca")
    level, propagate = logger.level, logger.propagate
    installed: list[logging.Handler] = []

    def configure(level: str = "debug", format: str = "json", **options: Any) -> Captured:
        stream = io.StringIO()
        options.setdefault("timestamps", False)
        installed.append(configure_logging(level, format, stream=stream, **options))
        return Captured(stream)

    yield configure
    for handler in installed:
        logger.removeHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


@pytest.fixture
def observer() -> Iterator[Callable[[Any], None]]:
    """``observer(factory)`` installs an observer factory until the test ends."""
    removers: list[Callable[[], None]] = []
    yield lambda factory: removers.append(add_observer(factory))
    for remove in removers:
        remove()


def run_events(app: Any, input: Any, **options: Any) -> list[Any]:
    return list(app.stream(input, mode="events", **options))


# -- JSON lines and their ids --------------------------------------------------------------------


def test_json_lines_carry_the_run_thread_and_correlation_ids(logs: Any) -> None:
    captured = logs("info", "json")
    events = run_events(simple_graph(), {"x": 1}, thread_id="t-1", run_id="run-abc")
    records = captured.records
    assert [r["event"] for r in records] == ["run.started", "run.finished"]
    assert events[0].run_id == "run-abc"
    for record in records:
        assert record["logger"] == "orca.run"
        assert record["level"] == "info"
        assert record["run_id"] == "run-abc"
        assert record["thread_id"] == "t-1"
        assert record["correlation_id"] == "run-abc"  # no correlation: the run id
        assert record["graph"] == "flow"
        assert "ts" not in record  # timestamps=False
    started, finished = records
    assert started["message"] == "run started: flow"
    assert (started["resumed"], started["seed"], started["step"]) == (False, 0, 0)
    assert finished["message"] == "run done after 1 step"
    assert (finished["status"], finished["steps"], finished["llm_calls"]) == ("done", 1, 0)


def test_json_lines_have_an_iso_timestamp_when_asked(logs: Any) -> None:
    captured = logs("info", "json", timestamps=True)
    simple_graph().invoke({"x": 1})
    for record in captured.records:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", record["ts"])


def test_the_correlation_id_option_is_carried(logs: Any) -> None:
    captured = logs("info", "json")
    simple_graph().invoke({"x": 1}, correlation_id="job-42")
    records = captured.records
    assert len(records) == 2
    assert {r["correlation_id"] for r in records} == {"job-42"}
    assert all(r["run_id"] != "job-42" for r in records)


def test_an_empty_correlation_id_option_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="correlation_id"):
        simple_graph().invoke({"x": 1}, correlation_id="")


async def test_a_correlation_block_tags_async_runs(logs: Any) -> None:
    captured = logs("info", "json")
    app = simple_graph()
    with correlation("req-1") as cid:
        assert cid == "req-1"
        assert current_correlation() == "req-1"
        await app.ainvoke({"x": 1}, run_id="run-in")
    assert current_correlation() is None
    await app.ainvoke({"x": 1}, run_id="run-out")
    by_run = {r["run_id"]: r["correlation_id"] for r in captured.records}
    assert by_run == {"run-in": "req-1", "run-out": "run-out"}


def test_the_correlation_option_wins_over_a_correlation_block(logs: Any) -> None:
    captured = logs("info", "json")
    with correlation("req-1"):
        simple_graph().invoke({"x": 1}, correlation_id="explicit")
    assert {r["correlation_id"] for r in captured.records} == {"explicit"}


def test_a_correlation_block_tags_sync_runs_after_an_earlier_run(logs: Any) -> None:
    app = simple_graph()
    app.invoke({"x": 1}, run_id="run-before")  # this thread has run a graph before
    captured = logs("info", "json")
    with correlation("req-1"):
        app.invoke({"x": 1}, run_id="run-in")
    assert {r["correlation_id"] for r in captured.records} == {"req-1"}


def test_a_correlation_block_does_not_leak_into_later_sync_runs(logs: Any) -> None:
    captured = logs("info", "json")
    app = simple_graph()

    def in_a_fresh_thread() -> None:
        with correlation("req-1"):
            app.invoke({"x": 1}, run_id="run-in")
        app.invoke({"x": 1}, run_id="run-after")

    worker = threading.Thread(target=in_a_fresh_thread)
    worker.start()
    worker.join()
    by_run = {r["run_id"]: r["correlation_id"] for r in captured.records}
    assert by_run == {"run-in": "req-1", "run-after": "run-after"}


def test_task_events_carry_node_and_task_id(logs: Any) -> None:
    captured = logs("debug", "json")
    events = run_events(agent_graph(), {"topic": "t"}, **agent_options())
    task_ids = {e.task_id for e in events if e.type == "task.started"}
    assert len(task_ids) == 2
    finished = captured.of("task.finished")
    assert len(finished) == 2
    assert {r["task_id"] for r in finished} == task_ids
    for record in finished:
        assert record["node"] == "work"
        assert record["level"] == "debug"
        assert record["message"] == "task work finished"
        assert record["wrote"] == ["parts"]
    for kind in ("llm.response", "tool.call"):
        assert {r["task_id"] for r in captured.of(kind)} == task_ids
    # run-wide events have no node
    for kind in ("run.started", "step.started", "run.finished"):
        [record] = captured.of(kind)
        assert "node" not in record
        assert "task_id" not in record


# -- levels -------------------------------------------------------------------------------------


def test_debug_shows_steps_tasks_llm_and_tool_calls(logs: Any) -> None:
    captured = logs("debug", "json")
    agent_graph().invoke({"topic": "t"}, **agent_options())
    events = captured.events
    assert events[0] == "run.started"
    assert events[-1] == "run.finished"
    assert events.count("step.started") == 1
    assert events.count("task.finished") == 2
    assert events.count("llm.response") == 2
    assert events.count("tool.call") == 2
    # the unpriced echo model warns once
    assert events.count("warning") == 1
    # tokens, values, usage and task.started are not logged
    assert not {"token", "values", "usage", "task.started"} & set(events)
    [step] = captured.of("step.started")
    assert (step["message"], step["tasks"], step["level"]) == ("step 1: 2 tasks", 2, "debug")
    llm = captured.of("llm.response")[0]
    assert llm["message"] == "LLM call acme/echo"
    assert (llm["provider"], llm["model"], llm["role"]) == ("acme", "echo", "worker")
    assert (llm["input_tokens"], llm["output_tokens"]) == (7, 3)
    tool = captured.of("tool.call")[0]
    assert tool["message"] == "tool note ok"
    assert (tool["tool"], tool["status"]) == ("note", "ok")
    assert tool["arguments"] == {"text": "abc plain"}
    [finished] = captured.of("run.finished")
    assert (finished["llm_calls"], finished["input_tokens"], finished["output_tokens"]) == (
        2,
        14,
        6,
    )
    [warning] = captured.of("warning")
    assert warning["level"] == "warning"
    assert warning["code"] == "unpriced_model"


def test_info_shows_the_run_but_not_debug_events(logs: Any) -> None:
    captured = logs("info", "json")
    agent_graph().invoke({"topic": "t"}, **agent_options())
    # the unpriced-model warning is above info, so it shows too
    assert captured.events == ["run.started", "warning", "run.finished"]
    assert {r["level"] for r in captured.of("run.started") + captured.of("run.finished")} == {
        "info"
    }


def test_info_shows_a_pause(logs: Any) -> None:
    captured = logs("info", "json")
    result = pausing_graph().invoke({"x": 0}, thread_id="t")
    assert "__interrupt__" in result
    assert captured.events == ["run.started", "interrupt", "run.finished"]
    [paused] = captured.of("interrupt")
    assert paused["message"] == "run paused at ask"
    assert (paused["interrupts"], paused["level"]) == (1, "info")
    [finished] = captured.of("run.finished")
    assert (finished["status"], finished["level"]) == ("interrupted", "info")


def test_warning_shows_only_retries_failures_and_errors(logs: Any) -> None:
    captured = logs("warning", "json")
    flaky_graph().invoke({})
    simple_graph().invoke({"x": 1})
    agent_graph().invoke({"topic": "t"}, **agent_options())
    with pytest.raises(NodeError):
        failing_graph("it broke").invoke({})
    records = captured.records
    # a failed run's summary is a warning record too; nothing below warning shows
    shown = [r["event"] for r in records if r["event"] != "run.finished"]
    assert shown == ["task.retry", "warning", "task.failed", "error"]
    assert all(r["status"] == "failed" for r in captured.of("run.finished"))
    assert {r["level"] for r in records} <= {"warning", "error"}
    levels = {r["event"]: r["level"] for r in records}
    assert (levels["task.retry"], levels["task.failed"], levels["error"]) == (
        "warning",
        "error",
        "error",
    )
    [retry] = captured.of("task.retry")
    assert retry["node"] == "flaky"
    assert retry["attempt"] == 1
    assert retry["error"] == "ValueError: first attempt fails"
    assert retry["message"].startswith("task flaky attempt 1 failed; retrying in ")
    [failed] = captured.of("task.failed")
    assert failed["node"] == "boom"
    assert failed["attempts"] == 1
    assert failed["error"] == "RuntimeError: it broke"
    assert failed["message"] == "task boom failed after 1 attempt"
    [error] = captured.of("error")
    assert error["message"] == "run failed: NodeError"
    assert "it broke" in error["error"]


def test_info_shows_a_failed_run_as_a_warning(logs: Any) -> None:
    captured = logs("info", "json")
    with pytest.raises(NodeError):
        failing_graph("it broke").invoke({})
    assert captured.events == ["run.started", "task.failed", "error", "run.finished"]
    [finished] = captured.of("run.finished")
    assert (finished["status"], finished["level"]) == ("failed", "warning")
    assert finished["message"] == "run failed after 0 steps"
    assert "RuntimeError: it broke" in finished["error"]


async def cancel_a_run() -> None:
    """Start a run whose only task waits, and cancel it once the task runs."""
    started = asyncio.Event()

    async def slow(state: S) -> dict[str, Any]:
        started.set()
        await asyncio.sleep(60)
        return {"x": 1}

    g = StateGraph(S, name="slow")
    g.add_node("slow", slow)
    g.add_edge(START, "slow")
    g.add_edge("slow", END)
    task = asyncio.ensure_future(g.compile().ainvoke({}, run_id="run-cancel"))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_info_shows_a_cancelled_run_as_a_warning(logs: Any) -> None:
    captured = logs("info", "json")
    await cancel_a_run()
    assert captured.events == ["run.started", "run.finished"]
    [finished] = captured.of("run.finished")
    assert (finished["status"], finished["level"]) == ("cancelled", "warning")


async def test_warning_level_shows_a_cancelled_run(logs: Any) -> None:
    captured = logs("warning", "json")
    await cancel_a_run()
    assert [(r["event"], r["status"], r["level"]) for r in captured.records] == [
        ("run.finished", "cancelled", "warning")
    ]


def test_error_level_shows_failures_but_hides_warnings(logs: Any) -> None:
    captured = logs("error", "json")
    flaky_graph().invoke({})
    with pytest.raises(NodeError):
        failing_graph("it broke").invoke({})
    assert captured.events == ["task.failed", "error"]
    assert {r["level"] for r in captured.records} == {"error"}


def test_a_budget_warning_is_a_warning_record(logs: Any) -> None:
    from decimal import Decimal

    from orca.cost import Budget, Price, PriceBook
    from orca.store import user_store

    with user_store() as store:  # the user database of this test's ORCA_HOME
        store.ledger.budgets.create(
            Budget("team", 10_000_000, enforcement="warn", thresholds=(50,))
        )
    captured = logs("warning", "json")
    options = agent_options(prices=PriceBook([Price("acme", "echo", Decimal(1), Decimal(1000))]))
    del options["ledger"]  # the default ledger: the user database
    agent_graph().invoke({"topic": "t"}, **options)
    [warning] = captured.of("budget.warning")
    # two calls of 7 input tokens at 1000 nano-USD and 3 output tokens at 1e6
    assert warning["message"] == "budget team passed 50%"
    assert warning["level"] == "warning"
    assert (warning["budget"], warning["unit"]) == ("team", "usd")
    assert (warning["spent"], warning["limit"]) == (2 * 3_007_000, 10_000_000)
    assert captured.events == ["budget.warning"]


# -- redaction ----------------------------------------------------------------------------------


def test_a_secret_in_a_tool_argument_never_reaches_the_logs(logs: Any) -> None:
    captured = logs("debug", "json")
    events = run_events(agent_graph(f"key {SECRET}"), {"topic": "t"}, **agent_options())
    run_id = events[0].run_id
    assert SECRET not in captured.text
    tools = captured.of("tool.call")
    assert len(tools) == 2
    assert all(r["arguments"] == {"text": "abc key [REDACTED:api_key]"} for r in tools)
    assert {r["run_id"] for r in captured.records} == {run_id}


def test_tool_arguments_are_redacted_even_when_the_policy_does_not(logs: Any) -> None:
    async def sign_in(state: S, ctx: Any) -> dict[str, Any]:
        await ctx.tools.acall("login", user=f"me {SECRET}", api_key="hunter2-pass")
        return {"x": 1}

    g = StateGraph(S, name="signin")
    g.add_node("sign_in", sign_in)
    g.add_edge(START, "sign_in")
    g.add_edge("sign_in", END)
    captured = logs("debug", "json")
    events = run_events(g.compile(), {}, **agent_options(policy=Policy(redact=False)))
    [call] = [e for e in events if e.type == "tool.call"]
    # credentials are masked in the event itself, whatever the tool policy says
    assert call.arguments == {"user": "me [REDACTED:api_key]", "api_key": "[REDACTED:secret]"}
    assert SECRET not in captured.text
    assert "hunter2-pass" not in captured.text
    [record] = captured.of("tool.call")
    assert record["arguments"] == {
        "user": "me [REDACTED:api_key]",
        "api_key": "[REDACTED:secret]",
    }


@pytest.mark.parametrize("format", ["json", "human"])
def test_a_secret_in_a_failing_node_never_reaches_the_logs(logs: Any, format: str) -> None:
    captured = logs("debug", format)
    app = failing_graph(f"upstream refused key {SECRET}")
    with pytest.raises(NodeError) as info:
        app.invoke({}, thread_id="t-secret", run_id="run-secret")
    assert SECRET in str(info.value)  # the caller still gets the whole error
    assert SECRET not in captured.text
    assert "[REDACTED:api_key]" in captured.text
    # the ids are left as they are
    assert "run-secret" in captured.text
    assert "t-secret" in captured.text
    if format == "json":
        [failed] = captured.of("task.failed")
        assert failed["error"] == "RuntimeError: upstream refused key [REDACTED:api_key]"
        [error] = captured.of("error")
        assert "[REDACTED:api_key]" in error["error"]
        assert (error["run_id"], error["thread_id"]) == ("run-secret", "t-secret")
        [finished] = captured.of("run.finished")
        assert "[REDACTED:api_key]" in finished["error"]


def test_the_formatters_redact_text_but_leave_ids_alone() -> None:
    record = logging.LogRecord(
        "orca.run", logging.WARNING, __file__, 1, "mail %s now", ("jane.doe@example.com",), None
    )
    record.orca = {
        "run_id": "run-jane.doe@example.com",
        "thread_id": "alice@example.com",
        "correlation_id": "sk-live-abcdefghijklmnopqrstuvwxyz",
        "node": "n",
        "task_id": "t1",
        "error": f"Bearer abcdefghijkl and {SECRET}",
        "arguments": {"password": "pw-123456", "note": "call 4111 1111 1111 1111"},
        "count": 3,
    }
    line = json.loads(JsonFormatter(timestamps=False).format(record))
    assert line == {
        "level": "warning",
        "logger": "orca.run",
        "message": "mail [REDACTED:email] now",
        "run_id": "run-jane.doe@example.com",
        "thread_id": "alice@example.com",
        "correlation_id": "sk-live-abcdefghijklmnopqrstuvwxyz",
        "node": "n",
        "task_id": "t1",
        "error": "Bearer [REDACTED:bearer] and [REDACTED:api_key]",
        "arguments": {"password": "[REDACTED:secret]", "note": "call [REDACTED:card]"},
        "count": 3,
    }
    human = HumanFormatter(timestamps=False).format(record)
    assert human.startswith("WARNING mail [REDACTED:email] now  ")
    assert 'thread_id="alice@example.com"' in human
    assert "pw-123456" not in human
    assert "abcdefghijkl and" not in human
    assert "count=3" in human


def test_a_logged_exception_traceback_is_redacted() -> None:
    try:
        raise RuntimeError(f"token leaked: {SECRET}")
    except RuntimeError:
        record = logging.LogRecord("orca", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    for formatter in (JsonFormatter(timestamps=False), HumanFormatter(timestamps=False)):
        text = formatter.format(record)
        assert SECRET not in text
        assert "Traceback" in text
        assert "RuntimeError" in text


# -- human lines --------------------------------------------------------------------------------


def test_human_lines(logs: Any) -> None:
    captured = logs("info", "human")
    simple_graph().invoke({"x": 1}, thread_id="t-h", run_id="run-h", correlation_id="c-h")
    started, finished = captured.lines
    assert started == (
        'INFO    run started: flow  run_id="run-h" thread_id="t-h" correlation_id="c-h" '
        "step=0 resumed=False seed=0"
    )
    assert finished.startswith('INFO    run done after 1 step  run_id="run-h" ')
    assert 'status="done"' in finished
    assert "steps=1" in finished
    assert "graph=" not in finished  # graph and event stay out of human lines
    assert "event=" not in finished
    assert "\x1b[" not in captured.text


def test_human_lines_with_colour_and_timestamps(logs: Any) -> None:
    captured = logs("info", "human", colored=True, timestamps=True)
    with pytest.raises(NodeError):
        failing_graph("broke").invoke({})
    lines = captured.lines
    assert len(lines) == 4  # run.started, task.failed, error, run.finished
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00 "
    assert all(re.match(stamp, line) for line in lines)
    assert "\x1b[36mINFO   \x1b[0m run started: failing" in lines[0]
    assert "\x1b[31mERROR  \x1b[0m task boom failed after 1 attempt" in lines[1]
    assert "\x1b[31mERROR  \x1b[0m run failed: NodeError" in lines[2]
    assert "\x1b[33mWARNING\x1b[0m run failed after 0 steps" in lines[3]


# -- configure_logging --------------------------------------------------------------------------


@pytest.mark.parametrize(("level", "format"), [("nope", "json"), ("info", "xml"), ("INFO", "json")])
def test_a_bad_level_or_format_is_refused(logs: Any, level: str, format: str) -> None:
    captured = logs("info", "json")
    before = list(logging.getLogger("orca").handlers)
    with pytest.raises(InvalidInputError):
        configure_logging(level, format, stream=io.StringIO())
    assert logging.getLogger("orca").handlers == before
    simple_graph().invoke({"x": 1})
    assert captured.events == ["run.started", "run.finished"]  # the old handler still works


def test_configuring_twice_leaves_one_handler(logs: Any) -> None:
    first = logs("info", "json")
    second = logs("debug", "human")
    logger = logging.getLogger("orca")
    # (pytest attaches capture handlers of its own to loggers that do not propagate)
    ours = [h for h in logger.handlers if isinstance(h.formatter, JsonFormatter | HumanFormatter)]
    assert len(ours) == 1
    assert isinstance(ours[0].formatter, HumanFormatter)
    assert logger.level == logging.DEBUG
    assert logger.propagate is False
    simple_graph().invoke({"x": 1})
    assert first.text == ""
    assert second.lines[0].startswith("INFO    run started: flow")
    assert any(line.startswith("DEBUG   step 1: 1 tasks") for line in second.lines)


def test_configure_logging_writes_to_stderr_by_default(
    logs: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    logs("info", "json")  # the fixture's cleanup removes the next one too
    logger = logging.getLogger("orca")
    handler = configure_logging("info", "json", timestamps=False)
    try:
        simple_graph().invoke({"x": 1}, run_id="run-stderr")
    finally:
        logger.removeHandler(handler)
    out, err = capsys.readouterr()
    records = [json.loads(line) for line in err.splitlines()]
    assert [r["event"] for r in records] == ["run.started", "run.finished"]
    assert {r["run_id"] for r in records} == {"run-stderr"}
    assert out == ""


# -- observers ----------------------------------------------------------------------------------


def test_a_failing_observer_is_dropped_and_the_run_goes_on(logs: Any, observer: Any) -> None:
    captured = logs("info", "json")
    calls: list[str] = []
    seen: list[str] = []

    class Raising:
        types = frozenset({"step.started", "task.finished", "run.finished"})

        def __call__(self, event: Any) -> None:
            calls.append(event.type)
            raise RuntimeError(f"observer broke with {SECRET}")

    class Watching:
        types = frozenset({"run.started", "step.started", "run.finished"})

        def __call__(self, event: Any) -> None:
            seen.append(event.type)

    observer(lambda info: Raising())
    observer(lambda info: Watching())
    result = simple_graph().invoke({"x": 1}, run_id="run-obs")
    assert result["x"] == 2
    assert calls == ["step.started"]  # dropped after its first failure
    assert seen == ["run.started", "step.started", "run.finished"]
    dropped = [r for r in captured.records if r["logger"] == "orca"]
    assert len(dropped) == 1
    assert dropped[0]["level"] == "error"
    assert "failed on step.started; dropped for run run-obs" in dropped[0]["message"]
    assert SECRET not in captured.text
    assert captured.events == ["run.started", "run.finished"]


def test_a_failing_observer_factory_is_skipped(logs: Any, observer: Any) -> None:
    captured = logs("info", "json")
    infos: list[RunInfo] = []

    def broken(info: RunInfo) -> None:
        raise ValueError("factory broke")

    def sitting_out(info: RunInfo) -> None:
        infos.append(info)
        return None

    observer(broken)
    observer(sitting_out)
    assert simple_graph().invoke({"x": 1}, run_id="run-f", thread_id="t-f")["x"] == 2
    assert infos == [RunInfo("run-f", "t-f", "flow", "run-f")]
    [failure] = [r for r in captured.records if r["logger"] == "orca"]
    assert failure["level"] == "error"
    assert "run run-f goes on without it" in failure["message"]
    assert "ValueError: factory broke" in failure["message"]


def test_observers_see_root_runs_only_once_with_their_info(observer: Any) -> None:
    infos: list[RunInfo] = []
    observer(lambda info: infos.append(info))
    inner = simple_graph("inner")
    g = StateGraph(S, name="outer")
    g.add_node("sub", inner)
    g.add_edge(START, "sub")
    g.add_edge("sub", END)
    g.compile().invoke({"x": 1}, run_id="run-outer", correlation_id="c-1")
    assert infos == [RunInfo("run-outer", "ephemeral", "outer", "c-1")]


# -- a library prints nothing by default ----------------------------------------------------------

QUIET = """
import json
from typing import TypedDict
from orca import END, START, StateGraph
from orca.errors import NodeError

class S(TypedDict, total=False):
    x: int

def boom(state):
    raise RuntimeError("it broke")

g = StateGraph(S, name="quiet")
g.add_node("boom", boom)
g.add_edge(START, "boom")
g.add_edge("boom", END)
try:
    g.compile().invoke({}, run_id="run-quiet")
except NodeError:
    print("failed as expected")
"""


def test_the_library_prints_nothing_unless_configured(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", QUIET],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "failed as expected\n"
    assert done.stderr == ""


# -- the command line ---------------------------------------------------------------------------


def orca_cli(
    project: Path, *args: Any, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``orca -C project ARGS`` as a process of its own (no OTEL_* variables)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "ORCA_CORR"))}
    return subprocess.run(
        [str(ORCA), "-C", str(project), *map(str, args)],
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def flow(tmp_path: Path) -> tuple[Path, Path]:
    assert ORCA.is_file(), f"no orca script at {ORCA}: run the tests with make test"
    project = tmp_path / "proj"
    (project / ".orca").mkdir(parents=True)  # a project (only orca init makes one)
    path = tmp_path / "flow.py"
    path.write_text(FLOW)
    return project, path


def test_cli_json_debug_logs_go_to_stderr_with_the_reported_run_id(
    flow: tuple[Path, Path],
) -> None:
    project, path = flow
    done = orca_cli(
        project, "--log-format", "json", "--log-level", "debug", "run", f"{path}:graph",
        "--input", '{"x": 1}', "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["status"] == "done"
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [r["event"] for r in records] == [
        "run.started",
        "step.started",
        "task.finished",
        "run.finished",
    ]
    assert {r["run_id"] for r in records} == {report["run_id"]}
    assert {r["thread_id"] for r in records} == {report["thread_id"]}
    [correlation_id] = {r["correlation_id"] for r in records}
    assert correlation_id.startswith("cli-")
    assert correlation_id != report["run_id"]
    assert [r["level"] for r in records] == ["info", "debug", "debug", "info"]
    assert records[2]["node"] == "inc"


def test_cli_correlation_id_from_the_environment(flow: tuple[Path, Path]) -> None:
    project, path = flow
    done = orca_cli(
        project, "--log-format", "json", "run", f"{path}:graph", "--input", '{"x": 1}', "--json",
        env={"ORCA_CORRELATION_ID": "abc"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [r["event"] for r in records] == ["run.started", "run.finished"]  # info: the default
    assert {r["correlation_id"] for r in records} == {"abc"}
    assert {r["run_id"] for r in records} == {report["run_id"]}


def test_cli_human_logs_by_default(flow: tuple[Path, Path]) -> None:
    project, path = flow
    done = orca_cli(project, "run", f"{path}:graph", "--input", '{"x": 1}', "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    logged = [line for line in done.stderr.splitlines() if " run started: flow" in line]
    assert len(logged) == 1
    assert f'run_id="{report["run_id"]}"' in logged[0]
    assert " INFO " in logged[0]


def test_cli_warning_level_hides_the_run_lines(flow: tuple[Path, Path]) -> None:
    project, path = flow
    done = orca_cli(
        project, "--log-level", "warning", "run", f"{path}:graph", "--input", '{"x": 1}', "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "run started" not in done.stderr
    assert json.loads(done.stdout)["status"] == "done"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--log-level", "nope", "--log-level 'nope' is not debug, info, warning or error"),
        ("--log-format", "xml", "--log-format 'xml' is not json or human"),
    ],
)
def test_cli_bad_log_options_exit_2(
    flow: tuple[Path, Path], option: str, value: str, message: str
) -> None:
    project, path = flow
    done = orca_cli(project, option, value, "run", f"{path}:graph", "--input", '{"x": 1}')
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
