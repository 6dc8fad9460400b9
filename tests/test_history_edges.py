"""Edge cases of what a run leaves behind and who hears about it: logs that cost nothing
without a handler, observer factories that return odd things, the metric label of
invalid tool calls, replays of runs with builtin errors, schema inputs, redacted tool
values and redacted checkpoints, ``seq`` numbering of events sent from helper threads,
sync nodes that outlive their run, offline spans of calls that finished out of order,
redacted OpenTelemetry statuses, and the event log of two runs under one ``run_id``.

Every run is real (test models and tools, no mocks of Orca). Each test removes the
observers and metrics it installs; logging is configured only in a subprocess."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict

import pytest
from pydantic import BaseModel

from _echo import Echo
from orca import END, START, Command, SqliteCheckpointer, StateGraph
from orca.errors import AuthenticationError, NodeError, TaskTimeoutError
from orca.llm import ChatRequest, Delta, ProviderModel, Usage
from orca.observe import RunInfo, add_observer
from orca.replay import replay
from orca.tools import Policy, create_agent
from orca.trace import spans_of

SECRET = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcd"
OTHER_SECRET = "sk-proj-ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210dcba"
EMAIL = "alice@example.com"


# -- shared helpers -----------------------------------------------------------------------------


class State(TypedDict, total=False):
    q: str
    a: str
    b: str


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteCheckpointer]:
    s = SqliteCheckpointer(tmp_path / "runs.db")
    yield s
    s.close()


def last_run(app: Any, thread: str) -> str:
    return str(app.get_history(thread)[0].metadata["run_id"])


def one_node(name: str, fn: Any, state: Any = State, **node_options: Any) -> StateGraph:
    """START -> fn -> END."""
    g = StateGraph(state, name=name)
    g.add_node("work", fn, **node_options)
    g.add_edge(START, "work")
    g.add_edge("work", END)
    return g


class ScriptedAgentModel(ProviderModel):
    """First turn: asks for the scripted tool calls; once it has read the tools' results
    it answers with them quoted (so anything a tool said reaches the answer)."""

    def __init__(self, calls: list[tuple[str, dict[str, Any]]]) -> None:
        super().__init__("scripted", provider="llamacpp")
        self.script = calls

    async def _stream(self, request: ChatRequest, state: Any) -> Any:
        if request.messages[-1].role != "tool":
            for i, (name, arguments) in enumerate(self.script):
                part = state.tool_call(i)
                part.id = f"call_{i}"
                part.name = name
                part.arguments.append(json.dumps(arguments))
            state.stop_reason = "tool_calls"
            state.usage = Usage(11, 5)
            return
        results = " | ".join(m.text for m in request.messages if m.role == "tool")
        text = f"the tools said: {results}"
        state.text.append(text)
        yield Delta(text=text)
        state.stop_reason = "stop"
        state.usage = Usage(13, 2)

    def _map_errors(self, exc: Exception) -> Any:
        return None


def note(text: str) -> str:
    """Keep a note."""
    return text.upper()


# -- 1. logs cost nothing without a handler -----------------------------------------------------

_LOG_SCRIPT = textwrap.dedent(
    """
    import json, logging
    from orca.observe import RunInfo, configure_logging
    from orca.observe._logs import _log_observer

    info = RunInfo("r", "t", "g", "c")
    out = {"bare": _log_observer(info) is None}
    logging.basicConfig(level=logging.WARNING)
    observer = _log_observer(info)
    out["basic"] = None if observer is None else sorted(observer.types)
    configure_logging("error")
    observer = _log_observer(info)
    out["error"] = None if observer is None else sorted(observer.types)
    print(json.dumps(out))
    """
)


def test_logs_cost_nothing_without_a_handler_and_follow_the_handled_level() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _LOG_SCRIPT], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # no logging configured: no observer at all (the run builds no events for logs)
    assert out["bare"] is True
    # basicConfig at WARNING: the warning-level types, not the debug ones
    basic = out["basic"]
    assert basic is not None
    assert "task.failed" in basic
    assert "run.finished" in basic
    assert "step.started" not in basic
    assert "run.started" not in basic  # an info record
    # configure_logging("error"): errors only
    assert out["error"] is not None
    assert set(out["error"]) == {"task.failed", "error"}


# -- 2. an observer factory returning an object without ``types`` ------------------------------


def test_an_observer_without_types_does_not_fail_the_run() -> None:
    def plain(event: Any) -> None:  # a plain function: no ``types``
        raise AssertionError("an observer without types must never be called")

    seen: list[RunInfo] = []

    def factory(info: RunInfo) -> Any:
        seen.append(info)
        return plain

    remove = add_observer(factory)
    try:
        app = one_node("plain", lambda s: {"a": s["q"] + "!"}).compile()
        out = app.invoke({"q": "hi"})
    finally:
        remove()
    assert out == {"q": "hi", "a": "hi!"}
    assert len(seen) == 1  # the factory was asked, and the run went on without it
    assert seen[0].graph == "plain"


# -- 3. metrics: invalid tool calls are not labelled with made-up names -------------------------


@pytest.fixture
def metrics() -> Iterator[Any]:
    from orca.observe import disable_metrics, enable_metrics

    enabled = enable_metrics()
    yield enabled
    disable_metrics()


def _samples(metrics: Any) -> list[Any]:
    from prometheus_client.parser import text_string_to_metric_families

    return [s for f in text_string_to_metric_families(metrics.text()) for s in f.samples]


def _tool_calls(metrics: Any) -> dict[tuple[str, str], float]:
    return {
        (s.labels["tool"], s.labels["status"]): s.value
        for s in _samples(metrics)
        if s.name == "orca_tool_calls_total"
    }


def _label_values(metrics: Any) -> set[str]:
    return {v for s in _samples(metrics) for k, v in s.labels.items() if k != "le"}


def test_a_node_calling_an_unknown_tool_is_counted_as_invalid(metrics: Any) -> None:
    statuses: list[str] = []

    async def work(state: State, ctx: Any) -> dict[str, Any]:
        result = await ctx.tools.arun("made_up_name", text="x")
        statuses.append(result.status)
        await ctx.tools.acall("note", text="ok")
        return {"a": result.status}

    app = one_node("unknown_tool", work).compile()
    app.invoke({"q": "hi"}, tools=[note])
    assert statuses == ["invalid"]
    calls = _tool_calls(metrics)
    assert calls[("(invalid)", "invalid")] == 1
    assert calls[("note", "ok")] == 1
    assert not any(tool == "made_up_name" for tool, _ in calls)
    assert "made_up_name" not in _label_values(metrics)


def test_an_agent_asking_for_an_unknown_tool_is_counted_as_invalid(metrics: Any) -> None:
    model = ScriptedAgentModel([("hallucinated_tool", {"x": 1}), ("note", {"text": "hi"})])
    app = create_agent(name="lost_agent")
    out = app.invoke({"task": "go"}, models={"worker": model}, tools=[note], ledger=False)
    assert out["tool_errors"] == 1
    calls = _tool_calls(metrics)
    assert calls[("(invalid)", "invalid")] == 1
    assert calls[("note", "ok")] == 1
    assert "hallucinated_tool" not in _label_values(metrics)


# -- 4. replays ---------------------------------------------------------------------------------


class ValueErrorModel:
    """A chat model (no provider base) whose every call raises a builtin ``ValueError``."""

    provider = "llamacpp"
    model = "raiser"

    def __init__(self) -> None:
        self.calls = 0

    async def complete(self, request: ChatRequest) -> Any:
        self.calls += 1
        raise ValueError("the model cannot answer that")

    def stream(self, request: ChatRequest) -> Any:
        return self._pieces()

    async def _pieces(self) -> Any:
        self.calls += 1
        raise ValueError("the model cannot answer that")
        yield Delta(text="never")  # pragma: no cover


def test_a_builtin_value_error_the_node_catches_replays_identical(
    store: SqliteCheckpointer,
) -> None:
    def build() -> StateGraph:
        async def ask(state: State, ctx: Any) -> dict[str, Any]:
            try:
                text = (await ctx.worker.acomplete(state["q"])).text
            except ValueError as exc:
                text = f"caught {type(exc).__name__}: {exc}"
            return {"a": text}

        return one_node("raises", ask)

    model = ValueErrorModel()
    app = build().compile(checkpointer=store)
    out = app.invoke({"q": "hi"}, thread_id="v", models={"worker": model}, ledger=False)
    assert out["a"] == "caught ValueError: the model cannot answer that"
    run_id = last_run(app, "v")
    [logged] = store.read_events(run_id, types=["llm.response"])
    assert logged["error_type"] == "ValueError"

    report = replay(build().compile(), run_id, store=store)
    assert report.divergence is None
    assert report.identical is True
    assert report.llm_calls == 1
    assert model.calls == 1  # answered from the log


class PS(BaseModel):
    q: str = ""
    tag: str = "plain"
    out: str = ""


def test_a_pydantic_instance_input_with_an_unset_default_replays_identical(
    store: SqliteCheckpointer,
) -> None:
    def build() -> StateGraph:
        def use(state: PS) -> dict[str, Any]:
            return {"out": f"{state.q}/{state.tag}"}

        return one_node("pyd", use, state=PS)

    app = build().compile(checkpointer=store)
    app.invoke(PS(q="a", tag="special"), thread_id="p")
    second = app.invoke(PS(q="b"), thread_id="p")
    assert (second["out"] if isinstance(second, dict) else second.out) == "b/special"
    run_id = last_run(app, "p")

    report = replay(build().compile(), run_id, store=store)
    assert report.divergence is None
    assert report.identical is True


@dataclasses.dataclass
class Inner:
    n: int
    label: str


@dataclasses.dataclass
class DS:
    inner: Inner | None = None
    out: str = ""


def test_a_dataclass_input_with_a_nested_dataclass_replays_identical(
    store: SqliteCheckpointer,
) -> None:
    def build() -> StateGraph:
        def use(state: DS) -> dict[str, Any]:
            assert state.inner is not None
            return {"out": f"{state.inner.label}={state.inner.n}"}

        return one_node("nested", use, state=DS)

    app = build().compile(checkpointer=store)
    result = app.invoke(DS(inner=Inner(3, "three")), thread_id="d")
    assert (result["out"] if isinstance(result, dict) else result.out) == "three=3"
    run_id = last_run(app, "d")

    report = replay(build().compile(), run_id, store=store)
    assert report.divergence is None
    assert report.identical is True


def whois() -> str:
    """Who is on call."""
    return EMAIL


def _email_graph(got: list[str]) -> StateGraph:
    async def look(state: State, ctx: Any) -> dict[str, Any]:
        email = await ctx.tools.acall("whois")
        got.append(email)
        return {"a": email}

    return one_node("emails", look)


def test_a_tool_returning_an_email_replays_identical_with_the_default_policy(
    store: SqliteCheckpointer,
) -> None:
    got: list[str] = []
    app = _email_graph(got).compile(checkpointer=store)
    streamed = list(app.stream({"q": "hi"}, mode="events", thread_id="e", tools=[whois]))
    [call] = [e for e in streamed if e.type == "tool.call"]
    # listeners see the value redacted ...
    assert EMAIL not in json.dumps(call.value)
    assert "[REDACTED:email]" in json.dumps(call.value)
    # ... while the node got the real one, and the state holds it
    run_id = last_run(app, "e")
    assert got == [EMAIL]
    assert app.get_state("e").values["a"] == EMAIL

    report = replay(_email_graph(got).compile(), run_id, store=store, tools=[whois])
    assert report.divergence is None
    assert report.identical is True
    assert report.tool_calls == 1
    assert got == [EMAIL, EMAIL]  # the replay fed the node the real email too


def test_a_run_without_redaction_replays_identical_given_its_policy(
    store: SqliteCheckpointer,
) -> None:
    got: list[str] = []
    policy = Policy(redact=False)
    app = _email_graph(got).compile(checkpointer=store)
    streamed = list(
        app.stream({"q": "hi"}, mode="events", thread_id="n", tools=[whois], policy=policy)
    )
    [call] = [e for e in streamed if e.type == "tool.call"]
    assert call.value == EMAIL  # nothing redacted
    run_id = last_run(app, "n")

    report = replay(
        _email_graph(got).compile(), run_id, store=store, tools=[whois], policy=Policy(redact=False)
    )
    assert report.divergence is None
    assert report.identical is True
    assert got == [EMAIL, EMAIL]


def fetch_creds(user: str) -> str:
    """The credentials of a user."""
    return f"user={user} password=hunter2"


def test_redacted_checkpoints_leave_no_secret_in_the_event_log(store: SqliteCheckpointer) -> None:
    model = ScriptedAgentModel([("fetch_creds", {"user": "bob"})])
    app = create_agent(name="creds", checkpointer=store)
    out = app.invoke(
        {"task": "log bob in"},
        thread_id="a",
        models={"worker": model},
        tools=[fetch_creds],
        policy=Policy(redact_checkpoints=True),
        ledger=False,
    )
    assert out["stopped"] == "answered"
    run_id = last_run(app, "a")
    logged = store.read_events(run_id)
    kinds = {e["type"] for e in logged}
    assert {"llm.response", "tool.call"} <= kinds
    # the model saw the secret (its answer quotes the tool), and the calls were logged
    responses = [e for e in logged if e["type"] == "llm.response"]
    assert len(responses) == 2
    assert "password=" in responses[1]["prompt"]
    assert "password=" in responses[1]["text"]
    [call] = [e for e in logged if e["type"] == "tool.call"]
    assert call["tool"] == "fetch_creds"
    # but nowhere in the log is the secret itself
    for e in logged:
        assert "hunter2" not in json.dumps(e, default=str), e["type"]


# -- 5. the logged prompt is redacted, the request digest is not --------------------------------


def test_the_logged_prompt_is_redacted_but_the_request_digest_is_not(
    store: SqliteCheckpointer,
) -> None:
    def build() -> StateGraph:
        async def ask(state: State, ctx: Any) -> dict[str, Any]:
            return {"a": (await ctx.worker.acomplete(f"use the key {state['q']}")).text}

        return one_node("keys", ask)

    app = build().compile(checkpointer=store)
    digests = []
    for i, secret in enumerate((SECRET, OTHER_SECRET)):
        app.invoke(
            {"q": secret},
            thread_id=f"k{i}",
            models={"worker": Echo("echo", provider="acme")},
            ledger=False,
        )
        [response] = store.read_events(last_run(app, f"k{i}"), types=["llm.response"])
        assert secret not in response["prompt"]
        assert "[REDACTED" in response["prompt"]
        assert response["prompt"].startswith("use the key ")
        digests.append(response["request"])
    assert digests[0] != digests[1]  # the digest is of the real request


# -- 6. seq of events sent from a helper thread -------------------------------------------------


def _threaded_writer() -> Any:
    def work(state: State, ctx: Any) -> dict[str, Any]:
        def helper() -> None:
            for i in range(3):
                ctx.write({"i": i})

        t = threading.Thread(target=helper)
        t.start()
        t.join()
        return {"a": "done"}

    return one_node("threaded", work).compile()


def test_seq_is_the_same_whoever_listens_for_events_from_a_helper_thread() -> None:
    app = _threaded_writer()

    def finished_seq(mode: Any) -> tuple[int, list[Any]]:
        events = list(app.stream({"q": "hi"}, mode=mode))
        [done] = [e for e in events if e.type == "task.finished"]
        return done.seq, events

    updates, _ = finished_seq("updates")
    both, both_events = finished_seq(["updates", "custom"])
    everything, all_events = finished_seq("events")
    customs = [e for e in all_events if e.type == "custom"]
    assert [e.data for e in customs] == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert all(e.seq < everything for e in customs)  # written before the task finished
    assert [e.seq for e in both_events if e.type == "custom"] == [e.seq for e in customs]
    assert updates == both == everything


# -- 7. a sync node that outlives its run -------------------------------------------------------


@pytest.mark.parametrize("how", ["invoke", "asyncio.run"])
def test_a_timed_out_sync_node_writing_after_its_run_raises_nothing(how: str) -> None:
    run_over = threading.Event()
    node_done = threading.Event()
    errors: list[BaseException] = []
    wrote: list[bool] = []

    def slow(state: State, ctx: Any) -> dict[str, Any]:
        try:
            run_over.wait(30)  # until the caller has seen the run end
            ctx.write({"late": True})
            wrote.append(True)
        except BaseException as exc:  # collected: the test reads them
            errors.append(exc)
        finally:
            node_done.set()
        return {"a": "late"}

    app = one_node("outlives", slow, timeout=0.05).compile()

    def run() -> Any:
        if how == "invoke":
            return app.invoke({"q": "hi"})
        # asyncio.run: the run's event loop is closed by the time the node writes
        return asyncio.run(app.ainvoke({"q": "hi"}))

    with pytest.raises(TaskTimeoutError):
        run()
    run_over.set()
    assert node_done.wait(30)  # the node's thread has finished
    assert errors == []
    assert wrote == [True]


# -- 8. offline spans of calls that finished out of order ---------------------------------------


def _base(kind: str, seq: int, ts: float, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "run_id": "r1", "thread_id": "t1", "step": 1, "seq": seq, "ts": ts,
            **fields}  # fmt: skip


def _usage(seq: int, ts: float, tokens: int) -> dict[str, Any]:
    return _base(
        "usage", seq, ts, task_id="task1", node="work", provider="acme", model="m",
        role="worker", input_tokens=tokens, cache_read_tokens=0, cache_write_tokens=0,
        output_tokens=1, reasoning_tokens=0, cost_nano_usd=0, priced=False, estimated=False,
    )  # fmt: skip


def _response(seq: int, ts: float, tokens: int, duration_ms: float) -> dict[str, Any]:
    return _base(
        "llm.response", seq, ts, task_id="task1", node="work", role="worker", provider="acme",
        model="m", request=f"digest{tokens}", prompt="p", text="t", thinking="",
        tool_calls=[], stop_reason="stop",
        usage={"input_tokens": tokens, "output_tokens": 1, "cache_read_tokens": 0,
               "cache_write_tokens": 0, "reasoning_tokens": 0, "estimated": False},
        first_token_ms=None, duration_ms=duration_ms, cost_nano_usd=0,
        error_type=None, error=None,
    )  # fmt: skip


def _frame(middle: list[dict[str, Any]], end_seq: int) -> list[dict[str, Any]]:
    return [
        _base("run.started", 0, 100.0, graph="g", resumed=False),
        _base("step.started", 1, 100.0, tasks=[{"node": "work", "task_id": "task1"}]),
        _base("task.started", 2, 100.0, node="work", task_id="task1"),
        *middle,
        _base(
            "task.finished",
            end_seq,
            101.0,
            node="work",
            task_id="task1",
            update={},
            goto=[],
            duration_ms=1000.0,
        ),
        _base("run.finished", end_seq + 1, 101.0, status="done"),
    ]


def test_spans_of_calls_that_finished_out_of_order_keep_their_own_tokens_and_time() -> None:
    events = _frame(
        [
            _usage(10, 100.50, 10),
            _usage(11, 100.51, 20),
            _response(12, 100.60, 20, 5.0),  # the 20-token call, 5 ms
            _response(13, 100.70, 10, 80.0),  # the 10-token call, 80 ms
        ],
        14,
    )
    chats = [s for s in spans_of(events) if s.kind == "llm"]
    assert len(chats) == 2
    by_tokens = {s.attributes["gen_ai.usage.input_tokens"]: s for s in chats}
    assert set(by_tokens) == {10, 20}
    assert by_tokens[20].end == pytest.approx(100.60)
    assert by_tokens[20].end - by_tokens[20].start == pytest.approx(0.005)
    assert by_tokens[10].end == pytest.approx(100.70)
    assert by_tokens[10].end - by_tokens[10].start == pytest.approx(0.080)
    assert all(s.parent == "task/task1" for s in chats)


def test_spans_of_a_log_without_answers_have_one_span_per_usage_event() -> None:
    events = _frame([_usage(10, 100.50, 10), _usage(11, 100.51, 20)], 12)
    chats = [s for s in spans_of(events) if s.kind == "llm"]
    assert sorted(s.attributes["gen_ai.usage.input_tokens"] for s in chats) == [10, 20]
    assert all(s.parent == "task/task1" for s in chats)


# -- 9. OpenTelemetry statuses are redacted -----------------------------------------------------


@pytest.fixture
def otel_spans() -> Iterator[Any]:
    import opentelemetry.trace as otel_trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from orca.observe._otel import _RunSpans

    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")
    remove = add_observer(lambda info: _RunSpans(otel_trace, tracer, info, None))
    yield exporter
    remove()
    provider.shutdown()


def test_span_statuses_of_a_failed_node_are_redacted(otel_spans: Any) -> None:
    from opentelemetry.trace import StatusCode

    def boom(state: State) -> dict[str, Any]:
        raise RuntimeError(f"key {SECRET}")

    app = one_node("leaky", boom).compile()
    with pytest.raises(NodeError):
        app.invoke({"q": "hi"})
    spans = list(otel_spans.get_finished_spans())
    failed = [s for s in spans if s.status.status_code == StatusCode.ERROR]
    assert {s.name for s in failed} >= {"work", "run leaky"}
    for span in spans:
        assert SECRET not in (span.status.description or "")
    for span in failed:
        assert "[REDACTED" in (span.status.description or "")


class DeniedModel(ProviderModel):
    """Every call fails as a provider's authentication error."""

    async def _stream(self, request: ChatRequest, state: Any) -> Any:
        raise AuthenticationError("bad key", provider=self.provider, model=self.model)
        yield Delta(text="never")  # pragma: no cover

    def _map_errors(self, exc: Exception) -> Any:
        return None


def test_a_failed_llm_call_gives_an_error_chat_span(otel_spans: Any) -> None:
    from opentelemetry.trace import StatusCode

    async def ask(state: State, ctx: Any) -> dict[str, Any]:
        try:
            await ctx.worker.acomplete("hi")
        except AuthenticationError:
            return {"a": "denied"}
        return {"a": "answered"}

    app = one_node("denied", ask).compile()
    out = app.invoke({"q": "hi"}, models={"worker": DeniedModel("nope", provider="acme")})
    assert out["a"] == "denied"
    spans = list(otel_spans.get_finished_spans())
    [chat] = [s for s in spans if s.name == "chat nope"]
    assert chat.status.status_code == StatusCode.ERROR
    assert "AuthenticationError" in (chat.status.description or "")
    [task] = [s for s in spans if s.name == "work"]
    assert task.status.status_code != StatusCode.ERROR  # the node caught it


# -- 10. two runs logged under one run_id -------------------------------------------------------


def test_two_runs_under_one_run_id_are_read_back_run_after_run(store: SqliteCheckpointer) -> None:
    def ask(state: State, ctx: Any) -> dict[str, Any]:
        return {"b": f"{state['a']} {ctx.interrupt('ok?')}"}

    g = StateGraph(State, name="paused")
    g.add_node("first", lambda s: {"a": s["q"] + "!"})
    g.add_node("ask", ask)
    g.add_node("last", lambda s: {"q": s["b"]})
    g.add_edge(START, "first")
    g.add_edge("first", "ask")
    g.add_edge("ask", "last")
    g.add_edge("last", END)
    app = g.compile(checkpointer=store)

    paused = app.invoke({"q": "hi"}, thread_id="t", run_id="mine")
    assert paused["__interrupt__"]
    done = app.invoke(Command(resume="yes"), thread_id="t", run_id="mine")
    assert done["b"] == "hi! yes"

    events = store.read_events("mine")
    starts = [i for i, e in enumerate(events) if e["type"] == "run.started"]
    assert len(starts) == 2
    assert starts[0] == 0
    first, second = events[: starts[1]], events[starts[1] :]
    assert [e["type"] for e in first].count("run.finished") == 1
    assert first[-1]["type"] == "run.finished"
    assert first[-1]["status"] == "interrupted"
    assert second[0]["resumed"] is True
    assert second[-1]["type"] == "run.finished"
    assert second[-1]["status"] == "done"
    for run in (first, second):
        seqs = [e["seq"] for e in run]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == len(seqs)
    # the second run under the id numbers its events after the first's: one log, in order
    assert second[0]["seq"] > first[-1]["seq"]
