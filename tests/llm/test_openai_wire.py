"""OpenAI Chat Completions protocol details, through the official SDK over real HTTP:
streamed tool calls, usage details, HTTP errors and retries, broken streams, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from wire import Reply, SleepRecorder, WireServer, openai_events

from orca.errors import (
    AuthenticationError,
    ContextLengthError,
    LLMTimeoutError,
    MalformedResponseError,
    MissingAPIKeyError,
    ProviderServerError,
    ProviderUnreachableError,
    RateLimitedError,
    StreamInterruptedError,
    UnknownModelError,
    UnknownProviderError,
)
from orca.llm import ChatRequest, ChatStream, Message, ToolCall, ToolSpec, Usage, make_model
from orca.llm.providers.openai import OpenAIModel

HI = ChatRequest((Message.user("hi"),), max_tokens=16)


def model(wire: WireServer, **options: Any) -> OpenAIModel:
    return OpenAIModel("gpt-sim", api_key="sk-test", base_url=f"{wire.url}/v1", **options)


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    """A ``chat.completion.chunk`` with one choice."""
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "gpt-sim",
        "choices": [choice],
        **extra,
    }


def usage_chunk(**usage: Any) -> dict[str, Any]:
    return {**chunk({}), "choices": [], "usage": usage}


def call_delta(index: int, arguments: str, id: str | None = None, name: str | None = None):
    function: dict[str, Any] = {"arguments": arguments}
    head: dict[str, Any] = {"index": index}
    if id is not None:
        head |= {"id": id, "type": "function"}
        function["name"] = name
    return chunk({"tool_calls": [{**head, "function": function}]})


def error_body(message: str, type: str, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": type, "param": None, "code": code}}


def text_stream(*pieces: str) -> list[dict[str, Any]]:
    return [chunk({"role": "assistant", "content": ""}), *(chunk({"content": p}) for p in pieces)]


async def collect(stream: ChatStream, into: list[str]) -> None:
    """Consume ``stream``, keeping each delta's text as it arrives."""
    async for delta in stream:
        into.append(delta.text)


# -- tool calls --------------------------------------------------------------------------------


async def test_streamed_parallel_tool_calls_assemble(wire: WireServer) -> None:
    wire.script(
        Reply.sse(
            openai_events(
                [
                    chunk({"role": "assistant", "content": None}),
                    call_delta(0, "", id="call_a", name="get_weather"),
                    call_delta(0, '{"city": '),
                    call_delta(0, '"Paris", "da'),
                    call_delta(0, 'ys": 3}'),
                    call_delta(1, "", id="call_b", name="get_time"),
                    call_delta(1, '{"tz":'),
                    call_delta(1, ' "UTC"}'),
                    chunk({}, "tool_calls"),
                    usage_chunk(prompt_tokens=30, completion_tokens=20, total_tokens=50),
                ]
            )
        )
    )
    r = await model(wire).stream(HI).final()
    assert [(c.id, c.name, c.arguments, c.arguments_error) for c in r.tool_calls] == [
        ("call_a", "get_weather", {"city": "Paris", "days": 3}, None),
        ("call_b", "get_time", {"tz": "UTC"}, None),
    ]
    assert r.tool_calls[0].raw_arguments == '{"city": "Paris", "days": 3}'
    assert r.stop_reason == "tool_calls"
    assert r.text == ""


async def test_tool_calls_in_a_whole_answer(wire: WireServer) -> None:
    call = {
        "id": "call_a",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls"}
    usage = {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12}
    body = {"id": "c", "object": "chat.completion", "created": 0, "model": "gpt-sim"}
    wire.script(Reply.json({**body, "choices": [choice], "usage": usage}))
    r = await model(wire).complete(HI)
    assert r.tool_calls == (
        ToolCall("call_a", "get_weather", {"city": "Oslo"}, '{"city": "Oslo"}'),
    )
    assert r.stop_reason == "tool_calls"


@pytest.mark.parametrize("arguments", ['{"city": "Par', "[1, 2]"])
async def test_malformed_tool_arguments_are_reported_not_raised(
    wire: WireServer, arguments: str
) -> None:
    events = [call_delta(0, arguments, id="call_a", name="get_weather"), chunk({}, "tool_calls")]
    wire.script(Reply.sse(openai_events(events)))
    r = await model(wire).stream(HI).final()
    (call,) = r.tool_calls
    assert call.arguments == {}
    assert call.arguments_error
    assert call.raw_arguments == arguments


def get_weather(city: str, days: int = 1) -> str:
    """Look up the weather.

    Args:
        city: the city name.
        days: how many days ahead.
    """
    return city


async def test_tool_spec_from_a_function_is_sent_as_function_parameters(
    wire: WireServer,
) -> None:
    spec = ToolSpec.of(get_weather)
    await model(wire).complete(ChatRequest((Message.user("hi"),), tools=(spec,)))
    body = wire.bodies[0]
    (tool,) = body["tools"]
    assert tool["type"] == "function"
    assert tool["function"]["name"] == "get_weather"
    assert tool["function"]["description"] == "Look up the weather."
    params = tool["function"]["parameters"]
    assert params == dict(spec.parameters)
    assert params["properties"]["city"]["type"] == "string"
    assert params["properties"]["days"]["type"] == "integer"
    assert params["required"] == ["city"]
    assert body["tool_choice"] == "auto"


async def test_named_tool_choice(wire: WireServer) -> None:
    request = ChatRequest(
        (Message.user("hi"),), tools=(ToolSpec.of(get_weather),), tool_choice="get_weather"
    )
    await model(wire).complete(request)
    expected = {"type": "function", "function": {"name": "get_weather"}}
    assert wire.bodies[0]["tool_choice"] == expected


async def test_tool_results_go_back_as_tool_messages(wire: WireServer) -> None:
    call = ToolCall("call_a", "get_weather", {"city": "Oslo"})
    request = ChatRequest(
        (
            Message.user("weather?"),
            Message.assistant("", [call]),
            Message.tool("call_a", "sunny", name="get_weather"),
        )
    )
    await model(wire).complete(request)
    _, assistant, tool = wire.bodies[0]["messages"]
    assert assistant["content"] is None
    assert assistant["tool_calls"] == [
        {
            "id": "call_a",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
        }
    ]
    assert tool == {"role": "tool", "tool_call_id": "call_a", "content": "sunny"}


async def test_extra_fields_pass_through_to_the_body(wire: WireServer) -> None:
    local = OpenAIModel(
        "tiny", provider="llamacpp-server", base_url=f"{wire.url}/v1", params={"min_p": 0.1}
    )
    await local.complete(ChatRequest((Message.user("hi"),), extra={"top_k": 40}))
    body = wire.bodies[0]
    assert (body["min_p"], body["top_k"]) == (0.1, 40)


# -- usage -------------------------------------------------------------------------------------


async def test_include_usage_chunk_maps_cached_and_reasoning_tokens(wire: WireServer) -> None:
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 20,
        "total_tokens": 120,
        "prompt_tokens_details": {"cached_tokens": 40},
        "completion_tokens_details": {"reasoning_tokens": 7},
    }
    events = [*text_stream("ok"), chunk({}, "stop", usage=None), usage_chunk(**usage)]
    wire.script(Reply.sse(openai_events(events)))
    r = await model(wire).stream(HI).final()
    assert r.usage == Usage(
        input_tokens=100, output_tokens=20, cache_read_tokens=40, reasoning_tokens=7
    )
    assert r.usage.raw["prompt_tokens_details"]["cached_tokens"] == 40


# -- HTTP errors and retries -------------------------------------------------------------------

RATE_LIMITED = error_body("Rate limit reached for gpt-sim", "requests", "rate_limit_exceeded")


@pytest.mark.parametrize(
    ("header", "value", "wait"), [("retry-after", "1", 1.0), ("retry-after-ms", "250", 0.25)]
)
async def test_429_waits_as_the_server_asks_then_succeeds(
    wire: WireServer, sleeps: SleepRecorder, header: str, value: str, wait: float
) -> None:
    wire.script(Reply.json(RATE_LIMITED, status=429, headers={header: value}))
    r = await model(wire, sleep=sleeps).complete(HI)
    assert r.text
    assert sleeps == [wait]
    assert len(wire.requests) == 2


async def test_429_past_max_retries_raises_rate_limited(
    wire: WireServer, sleeps: SleepRecorder
) -> None:
    limited = Reply.json(RATE_LIMITED, status=429, headers={"retry-after": "2"})
    wire.script(limited, limited, limited)
    with pytest.raises(RateLimitedError) as caught:
        await model(wire, sleep=sleeps, max_retries=2).complete(HI)
    assert caught.value.retry_after == 2.0
    assert caught.value.status == 429
    assert sleeps == [2.0, 2.0]
    assert len(wire.requests) == 3


async def test_429_before_a_stream_is_retried(wire: WireServer, sleeps: SleepRecorder) -> None:
    wire.script(Reply.json(RATE_LIMITED, status=429, headers={"retry-after": "1"}))
    r = await model(wire, sleep=sleeps).stream(HI).final()
    assert r.text
    assert sleeps == [1.0]


async def test_401_is_an_authentication_error_and_not_retried(
    wire: WireServer, sleeps: SleepRecorder
) -> None:
    body = error_body(
        "Incorrect API key provided: sk-test.", "invalid_request_error", "invalid_api_key"
    )
    wire.script(Reply.json(body, status=401))
    with pytest.raises(AuthenticationError):
        await model(wire, sleep=sleeps).complete(HI)
    assert len(wire.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "message",
    [
        "This model's maximum context length is 8192 tokens. However, your messages "
        "resulted in 9000 tokens. Please reduce the length of the messages.",
        "Invalid request.",  # only the code tells
    ],
)
async def test_400_context_length_exceeded(wire: WireServer, message: str) -> None:
    body = error_body(message, "invalid_request_error", "context_length_exceeded")
    wire.script(Reply.json(body, status=400))
    with pytest.raises(ContextLengthError):
        await model(wire).complete(HI)
    assert len(wire.requests) == 1


async def test_404_unknown_model(wire: WireServer) -> None:
    message = "The model `gpt-sim` does not exist or you do not have access to it."
    wire.script(
        Reply.json(error_body(message, "invalid_request_error", "model_not_found"), status=404)
    )
    with pytest.raises(UnknownModelError):
        await model(wire).complete(HI)
    assert len(wire.requests) == 1


async def test_500_is_retried_then_a_provider_server_error(
    wire: WireServer, sleeps: SleepRecorder
) -> None:
    failed = Reply.json(error_body("The server had an error.", "server_error"), status=500)
    wire.script(failed, failed, failed)
    with pytest.raises(ProviderServerError) as caught:
        await model(wire, sleep=sleeps, max_retries=2).complete(HI)
    assert caught.value.status == 500
    assert len(wire.requests) == 3
    assert len(sleeps) == 2


async def test_error_chunk_before_any_content_is_a_server_error(wire: WireServer) -> None:
    error = {
        "error": {
            "message": "The server had an error processing your request.",
            "type": "server_error",
        }
    }
    wire.script(Reply.sse(openai_events([error], done=False)))
    with pytest.raises(ProviderServerError):
        await model(wire, max_retries=0).stream(HI).final()


# -- broken streams and bodies -----------------------------------------------------------------


async def test_stream_cut_mid_way_keeps_the_text_so_far(wire: WireServer) -> None:
    events = openai_events([*text_stream("Hello", " wor", "ld"), chunk({}, "stop")])
    wire.script(Reply.sse(events, cut_after=4))  # role chunk + three pieces, then TCP close
    seen: list[str] = []
    with pytest.raises(StreamInterruptedError) as caught:
        await collect(model(wire).stream(HI), seen)
    assert seen == ["Hello", " wor", "ld"]
    assert caught.value.text == "Hello world"
    assert caught.value.usage.estimated is True
    assert caught.value.usage.output_tokens > 0
    assert len(wire.requests) == 1  # text already reached the caller: no silent retry


async def test_stream_that_ends_without_finish_reason_is_interrupted(wire: WireServer) -> None:
    wire.script(Reply.sse(openai_events(text_stream("Hello"), done=False)))  # clean EOF
    with pytest.raises(StreamInterruptedError) as caught:
        await model(wire).stream(HI).final()
    assert caught.value.text == "Hello"


async def test_stream_cut_before_any_content_is_retried(
    wire: WireServer, sleeps: SleepRecorder
) -> None:
    wire.script(Reply.sse(openai_events(text_stream("never")), cut_after=0))
    r = await model(wire, sleep=sleeps).stream(HI).final()
    assert r.text
    assert len(wire.requests) == 2
    assert len(sleeps) == 1


async def test_stream_that_stalls_mid_way_is_interrupted_by_the_timeout(
    wire: WireServer,
) -> None:
    events = openai_events([*text_stream("Hello"), chunk({}, "stop")])
    wire.script(Reply.sse(events, stall_after=2))
    with pytest.raises(StreamInterruptedError) as caught:
        await model(wire, timeout=0.5).stream(HI).final()
    assert caught.value.text == "Hello"
    assert "0.5s" in str(caught.value)


async def test_deltas_arrive_while_the_server_is_still_sending(wire: WireServer) -> None:
    events = openai_events([*text_stream("Hello", " world"), chunk({}, "stop")])
    wire.script(Reply.sse(events, stall_after=2))  # the body is never finished
    deltas = aiter(model(wire, timeout=10).stream(HI))
    assert (await anext(deltas)).text == "Hello"
    await deltas.aclose()  # type: ignore[attr-defined]


async def test_timeout_bounds_silence_not_the_whole_stream(wire: WireServer) -> None:
    pieces = [f" w{i}" for i in range(8)]
    events = openai_events([*text_stream(*pieces), chunk({}, "stop")])
    wire.script(Reply.sse(events, delay=0.1))  # ~1.1 s in all, never 0.5 s of silence
    r = await model(wire, timeout=0.5).stream(HI).final()
    assert r.text == "".join(pieces)


@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
async def test_malformed_body_is_a_malformed_response_error(
    wire: WireServer, content_type: str
) -> None:
    wire.script(Reply(200, {"content-type": content_type}, [b"<html>bad gateway</html>"]))
    with pytest.raises(MalformedResponseError):
        await model(wire, max_retries=0).complete(HI)


async def test_unreachable_base_url(free_port: int) -> None:
    unreachable = OpenAIModel(
        "gpt-sim", api_key="sk-test", base_url=f"http://127.0.0.1:{free_port}/v1", max_retries=0
    )
    with pytest.raises(ProviderUnreachableError) as caught:
        await unreachable.complete(HI)
    assert str(free_port) in str(caught.value)


async def test_server_that_never_answers_times_out(wire: WireServer) -> None:
    wire.script(Reply(chunks=[b"{}"], hang=30))
    with pytest.raises(LLMTimeoutError):
        await model(wire, timeout=0.5, max_retries=0).complete(HI)


# -- bad input ---------------------------------------------------------------------------------


def test_missing_api_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="OPENAI_API_KEY") as caught:
        OpenAIModel("gpt-sim")
    assert caught.value.env_var == "OPENAI_API_KEY"


def test_local_presets_need_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert OpenAIModel("tiny", provider="llamacpp-server").provider == "llamacpp-server"


def test_misspelt_provider_suggests_the_closest(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnknownProviderError, match="did you mean 'openai'"):
        make_model("opnai", "x")
