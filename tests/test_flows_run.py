"""Flows run for real: every node kind compiles into a graph that calls the run's models,
tools and interrupts through ``ctx``. The models are answer-scripting providers (they
stand in for a remote API) and, for one test, the tiny llama.cpp model."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from orca import Command, MemoryCheckpointer
from orca.errors import ConfigError, FlowError, MalformedResponseError
from orca.flows import compile_flow, file_resolver
from orca.llm import ChatRequest, Delta, ProviderModel, Usage
from orca.tools import tool


class Answers(ProviderModel):
    """Answers each call with the next of ``replies``: a text, or ``(tool, args)`` for a
    tool call. Records the prompts it got."""

    def __init__(self, *replies: Any) -> None:
        super().__init__("scripted", provider="acme")
        self.replies = list(replies)
        self.prompts: list[str] = []
        self.requests: list[ChatRequest] = []

    async def _stream(self, request: ChatRequest, state: Any) -> Any:
        self.requests.append(request)
        self.prompts.append(request.messages[-1].text)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, tuple):
            call = state.tool_call(0)
            call.id, call.name = f"call-{len(self.prompts)}", reply[0]
            call.arguments.append(json.dumps(reply[1]))
            state.stop_reason = "tool_calls"
        else:
            state.text.append(reply)
            yield Delta(text=reply)
            state.stop_reason = "stop"
        state.usage = Usage(5, 2)


def flow(nodes: list[dict[str, Any]], edges: list[tuple[str, str]], **state: str) -> dict[str, Any]:
    keys = []
    for key, spec in state.items():
        kind, _, reducer = spec.partition(":")
        keys.append({"key": key, "type": kind, "reducer": reducer or "overwrite"})
    return {
        "format": "orca.flow/v1",
        "name": "t",
        "state": keys,
        "nodes": nodes,
        "edges": [{"from": a, "to": b} for a, b in edges],
    }


def run(doc: Any, given: Any, **options: Any) -> dict[str, Any]:
    graph = compile_flow(doc, **options.pop("compile", {})).compile()
    out: dict[str, Any] = graph.invoke(given, **options)
    return out


@tool
def lookup(city: str, days: int = 1) -> dict[str, Any]:
    """The weather.

    Args:
        city: the city.
        days: how many days.
    """
    return {"city": city, "days": days, "sky": "clear"}


def test_an_llm_node_renders_its_prompt_and_writes_the_answer() -> None:
    model = Answers("bug")
    doc = flow(
        [
            {
                "id": "classify",
                "kind": "llm",
                "prompt": "Ticket {{ticket.title}} by {{ticket.tags.0}}: {{missing}}",
                "system": "You sort tickets about {{product}}.",
                "output": "category",
                "max_tokens": 4,
                "temperature": 0,
            }
        ],
        [("__start__", "classify"), ("classify", "__end__")],
        ticket="object",
        product="string",
        category="string",
        missing="string",
    )
    out = run(
        doc,
        {"ticket": {"title": "fire", "tags": ["ann"]}, "product": "printers"},
        models={"worker": model},
    )
    assert out["category"] == "bug"
    assert model.prompts == ["Ticket fire by ann: "]
    request = model.requests[0]
    assert request.messages[0].text == "You sort tickets about printers."
    assert (request.max_tokens, request.temperature) == (4, 0)


def test_an_llm_node_with_a_schema_asks_for_it_and_parses_the_object() -> None:
    schema = {
        "type": "object",
        "properties": {"score": {"type": "number"}},
        "required": ["score"],
    }
    model = Answers('```json\n{"score": 0.75}\n```')
    doc = flow(
        [
            {
                "id": "s",
                "kind": "llm",
                "role": "planner",
                "prompt": "Score",
                "output": "r",
                "schema": schema,
            }
        ],
        [("__start__", "s"), ("s", "__end__")],
        r="object",
    )
    assert run(doc, {}, models={"planner": model})["r"] == {"score": 0.75}
    assert model.requests[0].response_format == schema
    with pytest.raises(
        MalformedResponseError, match="lacks what the node's schema requires: score"
    ):
        run(doc, {}, models={"planner": Answers('{"other": 1}')})
    with pytest.raises(MalformedResponseError, match="not the JSON"):
        run(doc, {}, models={"planner": Answers("no json here")})


def test_a_tool_node_passes_templated_arguments_and_keeps_the_value() -> None:
    doc = flow(
        [
            {
                "id": "weather",
                "kind": "tool",
                "tool": "lookup",
                "args": {"city": "{{place.name}}", "days": "{{days}}"},
                "output": "forecast",
            }
        ],
        [("__start__", "weather"), ("weather", "__end__")],
        place="object",
        days="integer",
        forecast="object",
    )
    out = run(
        doc, {"place": {"name": "Oslo"}, "days": 3}, tools=[lookup], compile={"tools": [lookup]}
    )
    # "{{days}}" alone passes the value itself: an int, not the text "3"
    assert out["forecast"] == {"city": "Oslo", "days": 3, "sky": "clear"}


def test_an_agent_node_loops_over_tool_calls_until_it_answers() -> None:
    model = Answers(("lookup", {"city": "Paris"}), "Clear in Paris.")
    doc = flow(
        [
            {
                "id": "agent",
                "kind": "agent",
                "prompt": "Weather in {{city}}?",
                "tools": ["lookup"],
                "max_turns": 3,
                "output": "answer",
            }
        ],
        [("__start__", "agent"), ("agent", "__end__")],
        city="string",
        answer="string",
    )
    out = run(doc, {"city": "Paris"}, models={"worker": model}, tools=[lookup])
    assert out["answer"] == "Clear in Paris."
    assert model.prompts[0] == "Weather in Paris?"
    assert '"sky": "clear"' in model.prompts[1]  # the tool's result went back to the model


def test_a_router_takes_the_first_route_that_holds_else_the_default() -> None:
    doc = flow(
        [
            {
                "id": "route",
                "kind": "router",
                "routes": [
                    {"when": {"key": "score", "op": ">=", "value": 0.5}, "to": "high"},
                    {"when": {"key": "tags", "op": "contains", "value": "vip"}, "to": "high"},
                    {"when": {"key": "meta.tier", "op": "in", "value": ["gold"]}, "to": "high"},
                ],
                "default": "low",
            },
            {"id": "high", "kind": "llm", "prompt": "hi", "output": "verdict"},
            {"id": "low", "kind": "llm", "prompt": "lo", "output": "verdict"},
        ],
        [("__start__", "route"), ("high", "__end__"), ("low", "__end__")],
        score="number",
        tags="list",
        meta="object",
        verdict="string",
    )
    graph = compile_flow(doc).compile()

    def verdict(given: dict[str, Any]) -> str:
        model = Answers("x")
        graph.invoke(given, models={"worker": model})
        return model.prompts[0]

    assert verdict({"score": 0.9}) == "hi"
    assert verdict({"score": 0.1}) == "lo"
    assert verdict({"score": "0.9"}) == "lo"  # a text does not compare with a number
    assert verdict({"tags": ["vip"]}) == "hi"
    assert verdict({"meta": {"tier": "gold"}}) == "hi"
    assert verdict({}) == "lo"


def test_a_map_fans_out_one_task_per_item_and_appends_their_answers() -> None:
    model = Answers("done")
    doc = flow(
        [
            {"id": "fan", "kind": "map", "over": "topics", "to": "work", "as": "topic"},
            {
                "id": "work",
                "kind": "llm",
                "prompt": "Study {{topic}} for {{who}}",
                "output": "notes",
            },
        ],
        [("__start__", "fan"), ("work", "__end__")],
        topics="list",
        who="string",
        notes="list:append",
    )
    out = run(doc, {"topics": ["a", "b", "c"], "who": "me"}, models={"worker": model})
    assert out["notes"] == ["done", "done", "done"]
    assert sorted(model.prompts) == ["Study a for me", "Study b for me", "Study c for me"]


def test_a_human_node_pauses_and_the_answer_is_written_on_resume() -> None:
    doc = flow(
        [
            {
                "id": "ask",
                "kind": "human",
                "prompt": "Ship {{thing}}?",
                "output": "approved",
                "choices": ["yes", "no"],
            }
        ],
        [("__start__", "ask"), ("ask", "__end__")],
        thing="string",
        approved="string",
    )
    graph = compile_flow(doc).compile(checkpointer=MemoryCheckpointer())
    paused = graph.invoke({"thing": "v2"}, thread_id="t")
    (pause,) = paused["__interrupt__"]
    assert pause.node == "ask"
    assert pause.value == {
        "prompt": "Ship v2?",
        "node": "ask",
        "output": "approved",
        "choices": ["yes", "no"],
    }
    assert graph.invoke(Command(resume="yes"), thread_id="t")["approved"] == "yes"


def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> str:
    name = f"flownodes_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_a_python_node_runs_the_function_its_ref_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = module(
        tmp_path,
        monkeypatch,
        "def shout(state):\n    return {'loud': state['text'].upper()}\n\n"
        "async def tag(state, ctx):\n    return {'loud': state['loud'] + '!' + ctx.node}\n",
    )
    doc = flow(
        [
            {"id": "a", "kind": "python", "ref": f"{name}:shout"},
            {"id": "b", "kind": "python", "ref": f"{name}:tag"},
        ],
        [("__start__", "a"), ("a", "b"), ("b", "__end__")],
        text="string",
        loud="string",
    )
    assert run(doc, {"text": "hey"})["loud"] == "HEY!b"
    # a server allows only its listed modules: nothing else is even imported
    with pytest.raises(FlowError, match="not on the allowlist"):
        compile_flow(doc, python_modules=["mypkg"])
    assert compile_flow(doc, python_modules=[name]) is not None


def test_a_subflow_runs_its_flow_file_and_maps_its_outputs_back(tmp_path: Path) -> None:
    inner = flow(
        [{"id": "say", "kind": "llm", "prompt": "Say {{word}}", "output": "said"}],
        [("__start__", "say"), ("say", "__end__")],
        word="string",
        said="string",
    )
    (tmp_path / "inner.yaml").write_text(json.dumps(inner))  # JSON is YAML too
    outer = flow(
        [
            {
                "id": "sub",
                "kind": "subflow",
                "flow": "inner.yaml",
                "input": {"word": "{{topic}}!"},
                "output": {"result": "said"},
            }
        ],
        [("__start__", "sub"), ("sub", "__end__")],
        topic="string",
        result="string",
    )
    model = Answers("ok")
    out = run(
        outer,
        {"topic": "cats"},
        models={"worker": model},
        compile={"resolve_flow": file_resolver(tmp_path)},
    )
    assert out["result"] == "ok"
    assert model.prompts == ["Say cats!"]
    with pytest.raises(FlowError, match="nothing resolves flows"):
        compile_flow(outer)


def test_state_defaults_and_reducers_apply() -> None:
    doc = flow(
        [{"id": "a", "kind": "llm", "prompt": "{{greeting}} {{count}}", "output": "log"}],
        [("__start__", "a"), ("a", "__end__")],
        log="list:append",
    )
    doc["state"] += [
        {"key": "greeting", "type": "string", "default": "hello"},
        {"key": "count", "type": "integer", "reducer": "sum", "default": 40},
    ]
    model = Answers("x")
    out = run(doc, {"count": 2, "log": ["first"]}, models={"worker": model})
    assert model.prompts == ["hello 42"]
    assert out["log"] == ["first", "x"]


def test_an_llm_node_runs_on_the_tiny_model_with_its_tokens_streamed(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from orca.llm import ModelSpec
    from orca.llm.tiny import ensure_tiny_model

    path = ensure_tiny_model(seed=0, path=tmp_path / "tiny.gguf")
    doc = flow(
        [
            {
                "id": "write",
                "kind": "llm",
                "model": "llamacpp/tiny",
                "prompt": "Write about {{topic}}",
                "output": "text",
                "max_tokens": 6,
            }
        ],
        [("__start__", "write"), ("write", "__end__")],
        topic="string",
        text="string",
    )
    graph = compile_flow(doc).compile()
    # a local engine is the run's to name (a flow never loads a file by itself)
    models = {"llamacpp/tiny": ModelSpec("llamacpp", str(path), {"n_ctx": 256})}
    events = list(graph.stream({"topic": "owls"}, mode="events", seed=1, models=models))
    tokens = [e for e in events if getattr(e, "type", None) == "token"]
    assert tokens
    assert all(t.node == "write" for t in tokens)
    final = graph.invoke({"topic": "owls"}, seed=1, models=models)
    assert final["text"] == "".join(t.text for t in tokens)
    with pytest.raises(ConfigError, match="no model called 'llamacpp/tiny'"):
        graph.invoke({"topic": "owls"})


def test_an_llm_node_names_a_remote_model_by_provider_and_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.syspath_prepend(str(Path(__file__).parent / "llm"))
    from wire import WireServer

    wire = WireServer()
    try:
        monkeypatch.setenv("ORCA_OPENAI_BASE_URL", f"{wire.url}/v1")
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        doc = flow(
            [
                {
                    "id": "ask",
                    "kind": "llm",
                    "model": "openai/gpt-sim",
                    "prompt": "Say {{word}}",
                    "output": "said",
                    "max_tokens": 5,
                }
            ],
            [("__start__", "ask"), ("ask", "__end__")],
            word="string",
            said="string",
        )
        out = compile_flow(doc).compile().invoke({"word": "hi"})
        assert isinstance(out["said"], str)
        assert out["said"]
        (body,) = wire.bodies
        assert body["model"] == "gpt-sim"
        assert body["messages"][-1]["content"] == "Say hi"
    finally:
        wire.close()
