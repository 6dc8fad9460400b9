"""One behaviour suite that every provider passes.

``openai`` and ``anthropic`` run through their official SDKs against the wire server's
simulated model; ``llamacpp-server`` against a real ``llama_cpp.server`` running the tiny
GGUF model; ``llamacpp`` runs that model in-process. The last two skip without
llama-cpp-python.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest
from wire import WireServer

from orca.llm import ChatModel, ChatRequest, Message, make_model
from orca.llm.providers.anthropic import AnthropicModel
from orca.llm.providers.openai import OpenAIModel

PROVIDERS = ["openai", "anthropic", "llamacpp-server", "llamacpp"]
WIRE = ("openai", "anthropic")
# llama-cpp-python sends no usage while streaming (its server ignores include_usage), so
# Orca estimates it; the hosted APIs report it.
STREAM_USAGE_ESTIMATED = {
    "openai": False,
    "anthropic": False,
    "llamacpp-server": True,
    "llamacpp": True,
}


@dataclass
class Subject:
    name: str
    model: ChatModel
    server: WireServer | None = None


@pytest.fixture(params=PROVIDERS)
def subject(request: pytest.FixtureRequest, wire: WireServer) -> Subject:
    name = request.param
    if name in WIRE:
        return Subject(name, _wire_model(name, wire), wire)
    if name == "llamacpp-server":
        url = request.getfixturevalue("llama_server")
        return Subject(name, OpenAIModel("tiny", provider="llamacpp-server", base_url=f"{url}/v1"))
    pytest.importorskip("llama_cpp")
    path = request.getfixturevalue("tiny_model")
    return Subject(name, make_model("llamacpp", str(path), {"n_ctx": 1024}))


def ask(text: str = "Say something.", **fields: Any) -> ChatRequest:
    fields.setdefault("max_tokens", 8)
    return ChatRequest((Message.user(text),), **fields)


CONVERSATION = (
    Message.system("Be brief."),
    Message.user("Hi there."),
    Message.assistant("Hello."),
    Message.user("Tell me more."),
)


async def test_complete_returns_text_and_usage(subject: Subject) -> None:
    r = await subject.model.complete(ask())
    assert r.text.strip()
    assert r.usage.input_tokens > 0
    assert r.usage.output_tokens > 0
    assert not r.usage.estimated
    assert (r.provider, r.model) == (subject.model.provider, subject.model.model)


async def test_stream_deltas_concatenate_to_response_text(subject: Subject) -> None:
    stream = subject.model.stream(ask())
    pieces = [delta.text async for delta in stream]
    assert len(pieces) > 1
    assert "".join(pieces) == stream.response.text != ""


async def test_stream_reports_usage(subject: Subject) -> None:
    r = await subject.model.stream(ask()).final()
    assert r.usage.input_tokens > 0
    assert r.usage.output_tokens > 0
    assert r.usage.estimated is STREAM_USAGE_ESTIMATED[subject.name]


async def test_streamed_output_tokens_match_complete(subject: Subject) -> None:
    # exact where the server reports usage; one token per piece where Orca counts them
    complete = await subject.model.complete(ask(max_tokens=6))
    streamed = await subject.model.stream(ask(max_tokens=6)).final()
    assert streamed.usage.output_tokens == complete.usage.output_tokens == 6


async def test_estimated_prompt_counts_are_remembered_per_prompt(
    llama_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = OpenAIModel("tiny", provider="llamacpp-server", base_url=f"{llama_server}/v1")
    asked: list[str] = []
    count = model.count_tokens

    async def counting(text: str) -> int | None:
        asked.append(text)
        return await count(text)

    model.count_tokens = counting  # type: ignore[method-assign]
    first = await model.stream(ask("One question.")).final()
    again = await model.stream(ask("One question.")).final()
    other = await model.stream(ask("Another question entirely.")).final()
    assert len(asked) == 2  # the repeated prompt was not sent to the tokenizer again
    assert first.usage.estimated
    assert again.usage.estimated
    assert again.usage.input_tokens == first.usage.input_tokens > 0
    assert other.usage.input_tokens > first.usage.input_tokens
    # only the most recent prompts are kept
    monkeypatch.setattr("orca.llm._base.PROMPT_COUNT_CACHE", 1)
    await model.stream(ask("A third one.")).final()
    await model.stream(ask("One question.")).final()
    assert len(asked) == 4
    assert len(model._prompt_counts) == 1


@pytest.mark.parametrize("provider", WIRE)
async def test_stream_usage_equals_complete_usage_when_reported(
    provider: str, wire: WireServer
) -> None:
    model = _wire_model(provider, wire)
    complete = await model.complete(ask())
    streamed = await model.stream(ask()).final()
    assert streamed.usage == complete.usage
    assert streamed.text == complete.text


async def test_max_tokens_caps_the_output(subject: Subject) -> None:
    r = await subject.model.complete(ask(max_tokens=3))
    assert r.stop_reason == "length"
    assert r.usage.output_tokens == 3


async def test_max_tokens_caps_the_stream(subject: Subject) -> None:
    r = await subject.model.stream(ask(max_tokens=3)).final()
    assert r.stop_reason == "length"
    assert r.text.strip()


async def test_answer_that_ends_on_its_own_stops_with_stop(subject: Subject) -> None:
    if subject.server is None:
        pytest.skip("the tiny model never samples its end-of-turn token (by design)")
    r = await subject.model.complete(ask(max_tokens=500))
    assert r.stop_reason == "stop"
    assert 0 < r.usage.output_tokens < 500


async def test_multi_turn_conversation_is_accepted(subject: Subject) -> None:
    single = await subject.model.complete(ask("Tell me more.", max_tokens=4))
    r = await subject.model.complete(ChatRequest(CONVERSATION, max_tokens=4))
    assert r.text.strip()
    assert r.usage.input_tokens > single.usage.input_tokens  # every turn was sent


async def test_stop_sequence_cuts_the_answer(subject: Subject) -> None:
    request = ask(max_tokens=12, seed=7, temperature=0.8)
    full = (await subject.model.complete(request)).text
    word = full.split()[3]
    cut = await subject.model.complete(replace(request, stop=(word,)))
    assert cut.text == full[: full.index(word)]
    assert cut.stop_reason == "stop"


async def test_same_seed_gives_same_tokens(subject: Subject) -> None:
    request = ask(max_tokens=10, seed=42, temperature=0.9)
    first = await subject.model.complete(request)
    second = await subject.model.complete(request)
    streamed = await subject.model.stream(request).final()
    assert first.text == second.text == streamed.text


# -- what goes on the wire -----------------------------------------------------------------


def _wire_model(provider: str, wire: WireServer) -> ChatModel:
    if provider == "openai":
        return OpenAIModel("gpt-sim", api_key="sk-test", base_url=f"{wire.url}/v1")
    return AnthropicModel("claude-sim", api_key="sk-ant-test", base_url=wire.url)


FIELDS = ChatRequest(CONVERSATION, max_tokens=5, temperature=0.5, seed=11, stop=("END",))


async def test_openai_request_fields(wire: WireServer) -> None:
    model = _wire_model("openai", wire)
    await model.complete(FIELDS)
    await model.stream(FIELDS).final()
    plain, streamed = wire.requests
    assert (plain.method, plain.path) == ("POST", "/v1/chat/completions")
    assert plain.headers["authorization"] == "Bearer sk-test"
    body = plain.body
    assert body["model"] == "gpt-sim"
    assert body["max_completion_tokens"] == 5
    assert "max_tokens" not in body
    assert body["stop"] == ["END"]
    assert body["seed"] == 11
    assert body["temperature"] == 0.5
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant", "user"]
    assert body["messages"][0]["content"] == "Be brief."
    assert "stream" not in body
    assert streamed.body["stream"] is True
    assert streamed.body["stream_options"] == {"include_usage": True}


async def test_openai_compatible_presets_send_max_tokens(wire: WireServer) -> None:
    model = OpenAIModel("local", provider="vllm", base_url=f"{wire.url}/v1")
    await model.complete(FIELDS)
    body = wire.bodies[0]
    assert body["max_tokens"] == 5
    assert "max_completion_tokens" not in body


async def test_anthropic_request_fields(wire: WireServer) -> None:
    model = _wire_model("anthropic", wire)
    await model.complete(FIELDS)
    await model.stream(FIELDS).final()
    plain, streamed = wire.requests
    assert (plain.method, plain.path) == ("POST", "/v1/messages")
    # the key travels as x-api-key or, as anthropic 2.x sends it, a bearer token
    sent_key = plain.headers.get("x-api-key") or plain.headers.get("authorization", "")
    assert sent_key.removeprefix("Bearer ") == "sk-ant-test"
    assert plain.headers["anthropic-version"]
    body = plain.body
    assert body["model"] == "claude-sim"
    assert body["max_tokens"] == 5
    assert body["stop_sequences"] == ["END"]
    assert body["system"] == "Be brief."
    assert body["temperature"] == 0.5
    assert "seed" not in body  # the Messages API has none
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][0]["content"] == [{"type": "text", "text": "Hi there."}]
    assert streamed.body["stream"] is True


async def test_anthropic_always_sends_max_tokens(wire: WireServer) -> None:
    await _wire_model("anthropic", wire).complete(ChatRequest((Message.user("hi"),)))
    assert wire.bodies[0]["max_tokens"] > 0  # the API requires it


async def test_anthropic_sends_temperature_and_top_p(wire: WireServer) -> None:
    await _wire_model("anthropic", wire).complete(replace(FIELDS, top_p=0.9))
    body = wire.bodies[0]
    assert (body["temperature"], body["top_p"]) == (0.5, 0.9)


async def test_anthropic_temperature_is_clamped_to_its_range(wire: WireServer) -> None:
    request = ChatRequest((Message.user("hi"),), temperature=1.7)
    await _wire_model("anthropic", wire).complete(request)
    assert wire.bodies[0]["temperature"] == 1.0


async def test_openai_json_response_format(wire: WireServer) -> None:
    await _wire_model("openai", wire).complete(ask(response_format="json"))
    assert wire.bodies[0]["response_format"] == {"type": "json_object"}


async def test_openai_json_schema_response_format(wire: WireServer) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    await _wire_model("openai", wire).complete(ask(response_format=schema))
    sent = wire.bodies[0]["response_format"]
    assert sent["type"] == "json_schema"
    assert sent["json_schema"]["schema"] == schema


async def test_anthropic_json_response_format_asks_in_the_system_prompt(
    wire: WireServer,
) -> None:
    await _wire_model("anthropic", wire).complete(ask(response_format="json"))
    body = wire.bodies[0]
    assert "JSON" in body["system"]
    assert "response_format" not in body
