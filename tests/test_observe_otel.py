"""Live OpenTelemetry spans of runs: run > superstep > task > chat / execute_tool, with the
GenAI attributes, error statuses, one trace per run, every span ended, runs nested under
the caller's span; nothing at all without an SDK; and ``configure_otlp`` exporting over
OTLP/HTTP to a real (loopback) collector.

In this process the global tracer provider is never set (it can be set only once): the
spans are made by ``_RunSpans`` on a provider of the test's own, installed with
``add_observer``; the global path runs in subprocesses."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any, TypedDict

import opentelemetry.trace as otel_trace
import pytest
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from _echo import FLOW, Echo
from orca import END, START, MemoryCheckpointer, RunContext, Send, StateGraph, reducers
from orca.cost import Price, PriceBook
from orca.errors import AuthenticationError, NodeError
from orca.llm import ChatRequest, Delta, ProviderModel
from orca.observe import RunInfo, add_observer, configure_otlp
from orca.observe._otel import _otel_observer, _RunSpans

ORCA = Path(sys.executable).parent / "orca"
PRICE = Price("acme", "echo", Decimal(1), Decimal(1000))
CALL_COST = 7 * 1000 + 3 * 1_000_000  # Usage(7, 3) at PRICE


# -- a model, tools and graphs -------------------------------------------------------------------


class S(TypedDict, total=False):
    x: int
    parts: Annotated[list[str], reducers.append]


def note(text: str) -> str:
    """Keep a note."""
    return text.upper()


def explode(text: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot {text}")


def agent_graph(fail_tool: bool = False) -> Any:
    """Two ``work`` tasks; each calls the worker once and ``note`` once (and ``explode``,
    which fails, when asked)."""

    async def work(arg: dict[str, str], ctx: Any) -> dict[str, Any]:
        answer = await ctx.worker.acomplete(arg["q"])
        await ctx.tools.acall("note", text=answer.text)
        if fail_tool:
            result = await ctx.tools.arun("explode", text="that")
            assert not result.ok
        return {"parts": [answer.text]}

    g = StateGraph(S, name="agent")
    g.add_node("work", work)
    g.add_conditional_edges(START, lambda s: [Send("work", {"q": f"q{i}"}) for i in range(2)])
    g.add_edge("work", END)
    return g.compile()


def agent_options(**more: Any) -> dict[str, Any]:
    return {
        "models": {"worker": Echo("echo", provider="acme")},
        "tools": [note, explode],
        "prices": PriceBook([PRICE]),
        "ledger": False,
        **more,
    }


def simple_graph(name: str = "flow") -> Any:
    g = StateGraph(S, name=name)
    g.add_node("inc", lambda s: {"x": s.get("x", 0) + 1})
    g.add_edge(START, "inc")
    g.add_edge("inc", END)
    return g.compile()


def failing_graph() -> Any:
    def boom(state: S) -> dict[str, Any]:
        raise RuntimeError("it broke")

    g = StateGraph(S, name="failing")
    g.add_node("ok", lambda s: {"x": 1})
    g.add_node("boom", boom)
    g.add_edge(START, "ok")
    g.add_edge(START, "boom")
    g.add_edge("ok", END)
    g.add_edge("boom", END)
    return g.compile()


# -- spans in memory ----------------------------------------------------------------------------


class Recorder(SpanProcessor):
    """The ids of the spans started and of those ended."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.ended: list[int] = []

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.started.append(span.context.span_id)

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span.context.span_id)


class Spans:
    def __init__(self, provider: TracerProvider) -> None:
        self.provider = provider
        self.exporter = InMemorySpanExporter()
        self.recorder = Recorder()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        provider.add_span_processor(self.recorder)

    @property
    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.all if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        [span] = self.named(name)
        return span

    def children(self, parent: ReadableSpan) -> list[ReadableSpan]:
        return [
            s
            for s in self.all
            if s.parent is not None and s.parent.span_id == parent.context.span_id
        ]


@pytest.fixture
def spans() -> Iterator[Spans]:
    """Spans of every run, on a provider of the test's own (never the global one)."""
    provider = TracerProvider()
    found = Spans(provider)
    tracer = provider.get_tracer("test")
    remove = add_observer(lambda info: _RunSpans(otel_trace, tracer, info, None))
    yield found
    remove()
    provider.shutdown()


def run_events(app: Any, input: Any, **options: Any) -> list[Any]:
    events: list[Any] = []
    try:
        for event in app.stream(input, mode="events", **options):
            events.append(event)
    except NodeError:
        assert events[-1].type == "run.finished"
    return events


# -- nesting and attributes ---------------------------------------------------------------------


def test_spans_nest_run_step_task_and_calls(spans: Spans) -> None:
    events = run_events(agent_graph(), {}, **agent_options())
    task_ids = {e.task_id for e in events if e.type == "task.started"}
    names = sorted(s.name for s in spans.all)
    assert names == sorted(
        ["run agent", "superstep 1"] + ["work"] * 2 + ["chat echo"] * 2 + ["execute_tool note"] * 2
    )
    run = spans.one("run agent")
    assert run.parent is None
    step = spans.one("superstep 1")
    assert spans.children(run) == [step]
    tasks = spans.named("work")
    assert sorted(t.context.span_id for t in spans.children(step)) == sorted(
        t.context.span_id for t in tasks
    )
    assert {t.attributes["orca.task_id"] for t in tasks} == task_ids
    for task in tasks:
        assert task.attributes["orca.node"] == "work"
        assert sorted(c.name for c in spans.children(task)) == ["chat echo", "execute_tool note"]
    assert len({s.context.trace_id for s in spans.all}) == 1


def test_chat_and_tool_spans_carry_the_genai_attributes(spans: Spans) -> None:
    run_events(agent_graph(), {}, **agent_options())
    chats = spans.named("chat echo")
    assert len(chats) == 2
    for chat in chats:
        attributes = dict(chat.attributes)
        assert attributes["gen_ai.operation.name"] == "chat"
        assert attributes["gen_ai.request.model"] == "echo"
        assert attributes["gen_ai.response.model"] == "echo"
        assert attributes["gen_ai.system"] == "acme"
        assert attributes["gen_ai.provider.name"] == "acme"
        assert attributes["gen_ai.usage.input_tokens"] == 7
        assert attributes["gen_ai.usage.output_tokens"] == 3
        assert tuple(attributes["gen_ai.response.finish_reasons"]) == ("stop",)
        assert attributes["orca.role"] == "worker"
        assert attributes["orca.node"] == "work"
        assert attributes["orca.cost_nano_usd"] == CALL_COST
        assert "orca.first_token_ms" in attributes
        assert chat.status.status_code == StatusCode.UNSET
    tools = spans.named("execute_tool note")
    assert len(tools) == 2
    for tool in tools:
        assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
        assert tool.attributes["gen_ai.tool.name"] == "note"
        assert tool.attributes["orca.tool.status"] == "ok"
        assert tool.attributes["orca.node"] == "work"
        assert tool.status.status_code == StatusCode.UNSET


def test_the_run_span_carries_the_run(spans: Spans) -> None:
    events = run_events(agent_graph(), {}, **agent_options(thread_id="t-1"))
    run_id = events[0].run_id
    attributes = dict(spans.one("run agent").attributes)
    assert attributes == {
        "orca.run_id": run_id,
        "orca.thread_id": "t-1",
        "orca.graph": "agent",
        "orca.correlation_id": run_id,  # none given: the run id
        "orca.resumed": False,
        "orca.status": "done",
        "orca.steps": 1,
        "orca.llm_calls": 2,
        "gen_ai.usage.input_tokens": 14,
        "gen_ai.usage.output_tokens": 6,
        "orca.cost_nano_usd": 2 * CALL_COST,
    }
    step = dict(spans.one("superstep 1").attributes)
    assert step == {"orca.step": 1, "orca.tasks": 2}


def test_the_correlation_id_option_is_on_the_run_span(spans: Spans) -> None:
    simple_graph().invoke({}, correlation_id="req-7")
    assert spans.one("run flow").attributes["orca.correlation_id"] == "req-7"


def test_a_failing_task_and_its_run_are_errors(spans: Spans) -> None:
    with pytest.raises(NodeError):
        failing_graph().invoke({})
    boom = spans.one("boom")
    assert boom.status.status_code == StatusCode.ERROR
    assert boom.status.description == "RuntimeError: it broke"
    run = spans.one("run failing")
    assert run.status.status_code == StatusCode.ERROR
    assert "NodeError" in (run.status.description or "")
    assert run.attributes["orca.status"] == "failed"
    # the sibling that finished is no error
    for ok in spans.named("ok"):
        assert ok.status.status_code == StatusCode.UNSET
    assert set(spans.recorder.started) == set(spans.recorder.ended)


def test_a_failed_tool_call_is_an_error_but_its_task_is_not(spans: Spans) -> None:
    run_events(agent_graph(fail_tool=True), {}, **agent_options())
    failed = spans.named("execute_tool explode")
    assert len(failed) == 2
    for span in failed:
        assert span.status.status_code == StatusCode.ERROR
        assert span.attributes["orca.tool.status"] == "error"
        assert "ValueError: cannot that" in (span.status.description or "")
    for task in spans.named("work"):
        assert task.status.status_code == StatusCode.UNSET
    assert spans.one("run agent").status.status_code == StatusCode.UNSET


def test_each_run_is_one_trace(spans: Spans) -> None:
    app = agent_graph()
    first = run_events(app, {}, **agent_options())[0].run_id
    second = run_events(app, {}, **agent_options(thread_id="other"))[0].run_id
    assert first != second
    by_trace: dict[int, list[ReadableSpan]] = {}
    for span in spans.all:
        by_trace.setdefault(span.context.trace_id, []).append(span)
    assert len(by_trace) == 2
    for members in by_trace.values():
        assert len(members) == 8
        [root] = [s for s in members if s.parent is None]
        assert root.name == "run agent"
    roots = {s.attributes["orca.run_id"] for s in spans.named("run agent")}
    assert roots == {first, second}


def test_every_span_ends_also_when_a_run_pauses(spans: Spans) -> None:
    def ask(state: S, ctx: RunContext) -> dict[str, Any]:
        ctx.interrupt({"question": "ship it?"})
        return {"x": 1}

    g = StateGraph(S, name="pausing")
    g.add_node("ask", ask)
    g.add_node("other", lambda s: {"x": 2})
    g.add_edge(START, "ask")
    g.add_edge(START, "other")
    g.add_edge("ask", END)
    g.add_edge("other", END)
    result = g.compile(checkpointer=MemoryCheckpointer()).invoke({}, thread_id="t")
    assert "__interrupt__" in result
    assert spans.recorder.started
    assert sorted(spans.recorder.started) == sorted(spans.recorder.ended)
    run = spans.one("run pausing")
    assert run.attributes["orca.status"] == "interrupted"
    [paused] = [e for e in run.events if e.name == "interrupt"]
    assert paused.attributes["orca.interrupts"] == 1
    assert [s.name for s in spans.named("ask")] == ["ask"]


async def test_every_span_ends_also_when_a_run_is_cancelled(spans: Spans) -> None:
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
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sorted(spans.recorder.started) == sorted(spans.recorder.ended)
    assert sorted(s.name for s in spans.all) == ["run slow", "slow", "superstep 1"]
    assert spans.one("run slow").attributes["orca.status"] == "cancelled"


class Refusing(ProviderModel):
    """A model whose every call fails before its first piece."""

    async def _stream(self, request: ChatRequest, state: Any) -> Any:
        raise AuthenticationError("key refused", provider=self.provider, model=self.model)
        yield Delta(text="never")


def calls_graph() -> Any:
    """One task: a worker call it stops reading after the first piece, then a call to a
    model that fails."""

    async def calls(state: S, ctx: Any) -> dict[str, Any]:
        async with contextlib.aclosing(aiter(ctx.worker.astream("hello"))) as pieces:
            async for _ in pieces:
                break
        with pytest.raises(AuthenticationError):
            await ctx.llm("refusing").acomplete("again")
        return {"x": 1}

    g = StateGraph(S, name="calls")
    g.add_node("calls", calls)
    g.add_edge(START, "calls")
    g.add_edge("calls", END)
    return g.compile()


def calls_options() -> dict[str, Any]:
    return agent_options(
        models={
            "worker": Echo("echo", provider="acme"),
            "refusing": Refusing("refusing", provider="acme", max_retries=0),
        }
    )


def test_each_chat_span_carries_its_own_calls_cost(spans: Spans) -> None:
    events = run_events(calls_graph(), {}, **calls_options())
    [usage] = [e for e in events if e.type == "usage"]
    assert usage.model == "echo"
    assert usage.cost_nano_usd > 0
    assert [e.stop_reason for e in events if e.type == "llm.response"] == ["cancelled", "error"]
    assert spans.one("chat refusing").attributes["orca.cost_nano_usd"] == 0
    assert spans.one("chat echo").attributes["orca.cost_nano_usd"] == usage.cost_nano_usd


def test_a_failed_llm_call_is_an_error_span(spans: Spans) -> None:
    run_events(calls_graph(), {}, **calls_options())
    failed = spans.one("chat refusing")
    assert failed.status.status_code == StatusCode.ERROR
    assert "AuthenticationError" in (failed.status.description or "")
    assert spans.one("chat echo").status.status_code == StatusCode.UNSET


# -- the caller's span --------------------------------------------------------------------------


async def test_an_async_run_inside_a_callers_span_is_its_child(spans: Spans) -> None:
    tracer = spans.provider.get_tracer("caller")
    with tracer.start_as_current_span("request") as request:
        await simple_graph().ainvoke({})
    run = spans.one("run flow")
    assert run.parent is not None
    assert run.parent.span_id == request.get_span_context().span_id
    assert run.context.trace_id == request.get_span_context().trace_id
    assert {s.context.trace_id for s in spans.all} == {request.get_span_context().trace_id}


def test_the_captured_parent_context_is_the_run_spans_parent() -> None:
    provider = TracerProvider()
    found = Spans(provider)
    request = provider.get_tracer("caller").start_span("request")
    parent = otel_trace.set_span_in_context(request)  # captured, never made current
    remove = add_observer(
        lambda info: _RunSpans(otel_trace, provider.get_tracer("t"), info, parent)
    )
    try:
        simple_graph().invoke({})
    finally:
        remove()
    request.end()
    run = found.one("run flow")
    assert run.parent is not None
    assert run.parent.span_id == request.get_span_context().span_id
    step = found.one("superstep 1")
    assert step.parent is not None
    assert step.parent.span_id == run.context.span_id
    provider.shutdown()


# -- no SDK, no spans ---------------------------------------------------------------------------


def test_no_sdk_provider_means_no_observer() -> None:
    # no test sets the global provider in this process (those that do run apart)
    assert isinstance(otel_trace.get_tracer_provider(), otel_trace.ProxyTracerProvider)
    info = RunInfo("run-1", "t", "g", "run-1")
    assert _otel_observer(info) is None


NO_OTEL = """
import sys
from typing import TypedDict
from orca import END, START, StateGraph

class S(TypedDict, total=False):
    x: int

g = StateGraph(S, name="g")
g.add_node("a", lambda s: {"x": 1})
g.add_edge(START, "a")
g.add_edge("a", END)
assert g.compile().invoke({}) == {"x": 1}
print(sorted(m for m in sys.modules if m.startswith("opentelemetry")))
"""


def test_runs_never_import_opentelemetry() -> None:
    done = run_script(NO_OTEL)
    assert done.stdout.strip() == "[]"


# -- the global provider, in subprocesses -------------------------------------------------------

GLOBAL_HEAD = """
import asyncio, json, sys
from typing import Annotated, Any, TypedDict
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from orca import END, START, Send, StateGraph, reducers
from orca.errors import NodeError
from orca.llm import Delta, ProviderModel, Usage

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)

class Echo(ProviderModel):
    async def _stream(self, request, state):
        for piece in ("a", "b", "c"):
            state.text.append(piece)
            yield Delta(text=piece)
        state.stop_reason = "stop"
        state.usage = Usage(7, 3)

class S(TypedDict, total=False):
    x: int
    parts: Annotated[list[str], reducers.append]

def note(text: str) -> str:
    \"\"\"Keep a note.\"\"\"
    return text.upper()

async def work(arg, ctx):
    answer = await ctx.worker.acomplete(arg["q"])
    await ctx.tools.acall("note", text=answer.text)
    return {"parts": [answer.text]}

g = StateGraph(S, name="agent")
g.add_node("work", work)
g.add_conditional_edges(START, lambda s: [Send("work", {"q": f"q{i}"}) for i in range(2)])
g.add_edge("work", END)
app = g.compile()
OPTIONS = dict(models={"worker": Echo("echo", provider="acme")}, tools=[note], ledger=False)

def dump():
    out = []
    for s in exporter.get_finished_spans():
        out.append({
            "name": s.name,
            "id": s.context.span_id,
            "trace": s.context.trace_id,
            "parent": s.parent.span_id if s.parent else None,
            "scope": [s.instrumentation_scope.name, s.instrumentation_scope.version],
            "status": s.status.status_code.name,
            "attributes": {k: (list(v) if isinstance(v, tuple) else v)
                           for k, v in s.attributes.items()},
        })
    print(json.dumps(out))
"""


def run_script(script: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OTEL_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**base, "NO_PROXY": "127.0.0.1,localhost", **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def global_spans(body: str) -> list[dict[str, Any]]:
    done = run_script(GLOBAL_HEAD + body + "\ndump()\n")
    spans: list[dict[str, Any]] = json.loads(done.stdout.strip().splitlines()[-1])
    return spans


def test_a_global_sdk_provider_gets_the_spans() -> None:
    from orca._version import __version__

    spans = global_spans('app.invoke({}, run_id="run-global", **OPTIONS)')
    by_id = {s["id"]: s for s in spans}
    names = sorted(s["name"] for s in spans)
    assert names == sorted(
        ["run agent", "superstep 1"] + ["work"] * 2 + ["chat echo"] * 2 + ["execute_tool note"] * 2
    )
    assert {tuple(s["scope"]) for s in spans} == {("orca", __version__)}
    assert len({s["trace"] for s in spans}) == 1
    [run] = [s for s in spans if s["name"] == "run agent"]
    assert run["parent"] is None
    assert run["attributes"]["orca.run_id"] == "run-global"
    assert run["attributes"]["orca.correlation_id"] == "run-global"
    assert run["attributes"]["orca.status"] == "done"
    parent_name = {s["name"]: by_id[s["parent"]]["name"] for s in spans if s["parent"]}
    assert parent_name == {
        "superstep 1": "run agent",
        "work": "superstep 1",
        "chat echo": "work",
        "execute_tool note": "work",
    }
    for chat in (s for s in spans if s["name"] == "chat echo"):
        assert chat["attributes"]["gen_ai.usage.input_tokens"] == 7
        assert chat["attributes"]["gen_ai.usage.output_tokens"] == 3
        assert chat["attributes"]["gen_ai.request.model"] == "echo"


def test_a_global_run_inside_a_callers_async_span_is_its_child() -> None:
    spans = global_spans(
        """
async def main():
    with trace.get_tracer("caller").start_as_current_span("request"):
        await app.ainvoke({}, **OPTIONS)
asyncio.run(main())
"""
    )
    [request] = [s for s in spans if s["name"] == "request"]
    [run] = [s for s in spans if s["name"] == "run agent"]
    assert run["parent"] == request["id"]
    assert {s["trace"] for s in spans} == {request["trace"]}


def test_a_global_first_sync_run_inside_a_callers_span_is_its_child() -> None:
    spans = global_spans(
        """
with trace.get_tracer("caller").start_as_current_span("request"):
    app.invoke({}, **OPTIONS)
"""
    )
    [request] = [s for s in spans if s["name"] == "request"]
    [run] = [s for s in spans if s["name"] == "run agent"]
    assert run["parent"] == request["id"]


def test_a_global_later_sync_run_follows_the_callers_span() -> None:
    spans = global_spans(
        """
app.invoke({}, run_id="run-before", **OPTIONS)
with trace.get_tracer("caller").start_as_current_span("request"):
    app.invoke({}, run_id="run-inside", **OPTIONS)
"""
    )
    [request] = [s for s in spans if s["name"] == "request"]
    runs = {s["attributes"]["orca.run_id"]: s for s in spans if s["name"] == "run agent"}
    assert runs["run-before"]["parent"] is None
    assert runs["run-inside"]["parent"] == request["id"]


def test_a_global_failing_run_is_an_error() -> None:
    spans = global_spans(
        """
def boom(state):
    raise RuntimeError("it broke")
f = StateGraph(S, name="failing")
f.add_node("boom", boom)
f.add_edge(START, "boom")
f.add_edge("boom", END)
try:
    f.compile().invoke({})
except NodeError:
    pass
"""
    )
    status = {s["name"]: s["status"] for s in spans}
    assert status == {"run failing": "ERROR", "superstep 1": "UNSET", "boom": "ERROR"}


# -- configure_otlp -----------------------------------------------------------------------------


def test_configure_otlp_does_nothing_without_an_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    before = otel_trace.get_tracer_provider()
    assert configure_otlp() is False
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
    assert configure_otlp() is False
    assert otel_trace.get_tracer_provider() is before


class Collector:
    """An OTLP/HTTP receiver on loopback that keeps every request it gets."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                    ExportTraceServiceResponse,
                )

                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                received.append((self.path, self.headers.get("Content-Type", ""), body))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/traces"

    def spans(self) -> list[tuple[dict[str, Any], Any]]:
        """(resource attributes, span) of every span received."""
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        out = []
        for path, content_type, body in self.requests:
            assert path == "/v1/traces"
            assert content_type == "application/x-protobuf"
            request = ExportTraceServiceRequest.FromString(body)
            for resource_spans in request.resource_spans:
                resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    out += [(resource, span) for span in scope_spans.spans]
        return out

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def collector() -> Iterator[Collector]:
    found = Collector()
    yield found
    found.close()


def attributes(span: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in span.attributes:
        kind = a.value.WhichOneof("value")
        out[a.key] = getattr(a.value, kind) if kind else None
    return out


OTLP = """
from typing import TypedDict
from orca import END, START, StateGraph
from orca.observe import configure_otlp

class S(TypedDict, total=False):
    x: int

g = StateGraph(S, name="exported")
g.add_node("first", lambda s: {"x": 1})
g.add_node("second", lambda s: {"x": 2})
g.add_edge(START, "first")
g.add_edge("first", "second")
g.add_edge("second", END)
print(configure_otlp(ENDPOINT))
g.compile().invoke({}, run_id="run-otlp", correlation_id="corr-otlp")
"""


def test_configure_otlp_exports_the_run_over_http(collector: Collector) -> None:
    done = run_script(
        OTLP.replace("ENDPOINT", ""),
        env={"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector.url},
    )
    assert done.stdout.strip() == "True"
    received = collector.spans()
    names = sorted(span.name for _, span in received)
    assert names == ["first", "run exported", "second", "superstep 1", "superstep 2"]
    assert {r.get("service.name") for r, _ in received} == {"orca"}
    by_id = {span.span_id: span for _, span in received}
    [run] = [span for _, span in received if span.name == "run exported"]
    assert run.parent_span_id == b""
    assert attributes(run)["orca.run_id"] == "run-otlp"
    assert attributes(run)["orca.correlation_id"] == "corr-otlp"
    assert attributes(run)["orca.status"] == "done"
    for _, span in received:
        assert span.trace_id == run.trace_id
        if span.name.startswith("superstep"):
            assert span.parent_span_id == run.span_id
        elif span.name in ("first", "second"):
            assert by_id[span.parent_span_id].name.startswith("superstep")


def test_configure_otlp_takes_an_endpoint_and_a_service_name(collector: Collector) -> None:
    done = run_script(
        OTLP.replace("ENDPOINT", repr(collector.url)), env={"OTEL_SERVICE_NAME": "svc-test"}
    )
    assert done.stdout.strip() == "True"
    received = collector.spans()
    assert "run exported" in {span.name for _, span in received}
    assert {r.get("service.name") for r, _ in received} == {"svc-test"}


def test_configure_otlp_without_the_sdk_is_a_config_error() -> None:
    script = """
import sys
sys.modules["opentelemetry.exporter.otlp.proto.http.trace_exporter"] = None
from orca.errors import ConfigError
from orca.observe import configure_otlp
try:
    configure_otlp("http://127.0.0.1:9/v1/traces")
except ConfigError as exc:
    print("ConfigError", exc.key)
"""
    done = run_script(script)
    assert done.stdout.strip() == "ConfigError OTEL_EXPORTER_OTLP_ENDPOINT"


def test_the_cli_exports_spans_when_otel_variables_are_set(
    collector: Collector, tmp_path: Path
) -> None:
    assert ORCA.is_file(), f"no orca script at {ORCA}: run the tests with make test"
    project = tmp_path / "proj"
    (project / ".orca").mkdir(parents=True)  # a project (only orca init makes one)
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OTEL_") and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    done = subprocess.run(
        [str(ORCA), "-C", str(project), "--log-level", "warning", "run", f"{flow}:graph",
         "--input", '{"x": 1}', "--json"],
        env={**base, "NO_PROXY": "127.0.0.1,localhost", "ORCA_CORRELATION_ID": "cli-corr",
             "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": collector.url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    received = collector.spans()
    [run] = [span for _, span in received if span.name == "run flow"]
    assert attributes(run)["orca.run_id"] == report["run_id"]
    assert attributes(run)["orca.correlation_id"] == "cli-corr"
    assert "inc" in {span.name for _, span in received}
