"""Traces from the event log: spans nest (run > superstep > task > LLM/tool call), carry
the GenAI attributes, and come out as Chrome trace JSON and OTLP JSON."""

from __future__ import annotations

import json
from typing import Annotated, Any, TypedDict

import pytest

from _echo import Echo
from orca import END, START, MemoryCheckpointer, Send, StateGraph, reducers
from orca.trace import chrome_trace, otlp_json, spans_of


class S(TypedDict, total=False):
    topic: str
    parts: Annotated[list[str], reducers.append]


def note(text: str) -> str:
    """Keep a note."""
    return text.upper()


@pytest.fixture
def logged() -> list[dict[str, Any]]:
    async def work(arg: dict[str, str], ctx: Any) -> dict[str, Any]:
        answer = await ctx.worker.acomplete(arg["q"])
        await ctx.tools.acall("note", text=answer.text)
        return {"parts": [answer.text]}

    g = StateGraph(S, name="traced")
    g.add_node("work", work)
    g.add_conditional_edges(START, lambda s: [Send("work", {"q": f"q{i}"}) for i in range(2)])
    g.add_edge("work", END)
    store = MemoryCheckpointer()
    app = g.compile(checkpointer=store)
    model = Echo("echo", provider="llamacpp")
    app.invoke({"topic": "t"}, thread_id="t", models={"worker": model}, tools=[note], ledger=False)
    run_id = app.get_history("t")[0].metadata["run_id"]
    return store.read_events(run_id)


def test_spans_nest_run_step_task_and_calls(logged: list[dict[str, Any]]) -> None:
    spans = spans_of(logged)
    by_key = {s.key: s for s in spans}
    kinds = [s.kind for s in spans]
    assert kinds.count("run") == 1
    assert kinds.count("task") == 2
    assert kinds.count("llm") == 2
    assert kinds.count("tool") == 2
    for span in spans:
        assert span.start <= span.end
        if span.parent is not None:
            parent = by_key[span.parent]
            assert parent.start <= span.start + 1e-6
            assert span.end <= parent.end + 1e-6
    llm = next(s for s in spans if s.kind == "llm")
    assert llm.attributes["gen_ai.request.model"] == "echo"
    assert llm.attributes["gen_ai.usage.input_tokens"] == 7
    assert llm.attributes["gen_ai.usage.output_tokens"] == 3
    assert by_key[llm.parent or ""].kind == "task"
    assert by_key["run"].attributes["orca.status"] == "done"


def test_otlp_json_is_one_trace_with_valid_parents(logged: list[dict[str, Any]]) -> None:
    doc = otlp_json(logged)
    json.dumps(doc)  # plain JSON
    spans = doc["resourceSpans"][0]["scopeSpans"][0]["spans"]
    ids = {s["spanId"] for s in spans}
    assert len({s["traceId"] for s in spans}) == 1
    assert len(ids) == len(spans)
    assert all(len(s["spanId"]) == 16 and len(s["traceId"]) == 32 for s in spans)
    roots = [s for s in spans if "parentSpanId" not in s]
    assert len(roots) == 1
    assert all(s["parentSpanId"] in ids for s in spans if "parentSpanId" in s)
    assert all(int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]) for s in spans)
    llm = next(s for s in spans if s["name"].startswith("chat"))
    attributes = {a["key"]: a["value"] for a in llm["attributes"]}
    assert attributes["gen_ai.usage.input_tokens"] == {"intValue": "7"}
    assert attributes["gen_ai.system"] == {"stringValue": "llamacpp"}
    assert otlp_json(logged) == doc  # ids derive from the run: the same file every time


def test_chrome_trace_has_a_track_per_task(logged: list[dict[str, Any]]) -> None:
    doc = chrome_trace(logged)
    complete = [e for e in doc["traceEvents"] if e["ph"] == "X"]
    lanes = [e for e in doc["traceEvents"] if e["ph"] == "M" and e["name"] == "thread_name"]
    assert len(lanes) == 2
    assert {e["cat"] for e in complete} == {"run", "step", "task", "llm", "tool"}
    assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in complete)
    task_lanes = {e["tid"] for e in complete if e["cat"] == "task"}
    assert task_lanes == {e["tid"] for e in lanes}
    # each task's calls are drawn on its own track
    assert {e["tid"] for e in complete if e["cat"] in ("llm", "tool")} == task_lanes


def test_a_failed_task_and_run_carry_their_error() -> None:
    from orca.errors import NodeError

    def boom(state: S) -> dict[str, Any]:
        raise RuntimeError("nope")

    g = StateGraph(S)
    g.add_node("boom", boom)
    g.add_edge(START, "boom")
    store = MemoryCheckpointer()
    app = g.compile(checkpointer=store)
    with pytest.raises(NodeError):
        app.invoke({"topic": "t"}, thread_id="t")
    [head] = app.get_history("t", limit=1)
    logged = store.read_events(head.metadata["run_id"])
    spans = spans_of(logged)
    task = next(s for s in spans if s.kind == "task")
    assert task.error == "RuntimeError: nope"
    assert spans[0].error is not None
    assert spans[0].attributes["orca.status"] == "failed"
    otlp = otlp_json(logged)["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert {"code": 2, "message": "RuntimeError: nope"} in [s["status"] for s in otlp]


def test_no_events_give_an_empty_trace() -> None:
    assert spans_of([]) == []
    assert chrome_trace([]) == {"traceEvents": []}
    assert otlp_json([]) == {"resourceSpans": []}
