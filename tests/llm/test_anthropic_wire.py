"""Anthropic Messages API protocol details, through the official SDK over real HTTP:
tool_use blocks, cache usage, errors (429, 529, error events), broken streams, bad input."""

from __future__ import annotations

from typing import Any

import pytest
from wire import Reply, SleepRecorder, WireServer, anthropic_events

from orca.errors import (
    AuthenticationError,
    ContextLengthError,
    LLMTimeoutError,
    MalformedResponseError,
    MissingAPIKeyError,
    OverloadedError,
    ProviderServerError,
    ProviderUnreachableError,
    RateLimitedError,
    StreamInterruptedError,
    UnknownModelError,
)
from orca.llm import ChatRequest, ChatStream, Message, ToolCall, ToolSpec, Usage
from orca.llm.providers.anthropic import AnthropicModel

HI = ChatRequest((Message.user("hi"),), max_tokens=16)


def model(wire: WireServer, **options: Any) -> AnthropicModel:
    return AnthropicModel("claude-sim", api_key="sk-ant-test", base_url=wire.url, **options)


def message_start(**usage: int) -> dict[str, Any]:
    usage = {"input_tokens": 10, "output_tokens": 1, **usage}
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-sim",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    return {"type": "message_start", "message": message}


def block_start(index: int, block: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_start", "index": index, "content_block": block}


def block_delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def text_block(index: int, *pieces: str) -> list[dict[str, Any]]:
    return [
        block_start(index, {"type": "text", "text": ""}),
        *(block_delta(index, {"type": "text_delta", "text": p}) for p in pieces),
        {"type": "content_block_stop", "index": index},
    ]


def tool_block(index: int, id: str, name: str, *pieces: str) -> list[dict[str, Any]]:
    return [
        block_start(index, {"type": "tool_use", "id": id, "name": name, "input": {}}),
        *(block_delta(index, {"type": "input_json_delta", "partial_json": p}) for p in pieces),
        {"type": "content_block_stop", "index": index},
    ]


def message_delta(output_tokens: int, stop_reason: str | None = "end_turn") -> dict[str, Any]:
    return {
        "type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": output_tokens},
    }


MESSAGE_STOP = {"type": "message_stop"}


def error_body(type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": type, "message": message}}


OVERLOADED = error_body("overloaded_error", "Overloaded")


async def collect(stream: ChatStream, into: list[str]) -> None:
    """Consume ``stream``, keeping each delta's text as it arrives."""
    async for delta in stream:
        into.append(delta.text)


# -- tool use ----------------------------------------------------------------------------------


async def test_streamed_tool_use_blocks_assemble(wire: WireServer) -> None:
    events = [
        message_start(),
        *text_block(0, "Let me ", "check."),
        *tool_block(1, "toolu_a", "get_weather", "", '{"city": ', '"Paris", "da', 'ys": 3}'),
        *tool_block(2, "toolu_b", "get_time", '{"tz"', ': "UTC"}'),
        message_delta(40, "tool_use"),
        MESSAGE_STOP,
    ]
    wire.script(Reply.sse(anthropic_events(events)))
    r = await model(wire).stream(HI).final()
    assert r.text == "Let me check."
    assert [(c.id, c.name, c.arguments, c.arguments_error) for c in r.tool_calls] == [
        ("toolu_a", "get_weather", {"city": "Paris", "days": 3}, None),
        ("toolu_b", "get_time", {"tz": "UTC"}, None),
    ]
    assert r.stop_reason == "tool_calls"
    assert r.raw_stop_reason == "tool_use"


async def test_tool_use_in_a_whole_answer(wire: WireServer) -> None:
    content = [
        {"type": "text", "text": "Checking."},
        {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Oslo"}},
    ]
    body = message_start()["message"] | {
        "content": content,
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 5, "output_tokens": 9},
    }
    wire.script(Reply.json(body))
    r = await model(wire).complete(HI)
    assert r.text == "Checking."
    assert [(c.id, c.name, c.arguments) for c in r.tool_calls] == [
        ("toolu_a", "get_weather", {"city": "Oslo"})
    ]
    assert r.stop_reason == "tool_calls"


async def test_malformed_tool_input_is_reported_not_raised(wire: WireServer) -> None:
    events = [
        message_start(),
        *tool_block(0, "toolu_a", "get_weather", '{"city": ', '"Par'),
        message_delta(5, "tool_use"),
        MESSAGE_STOP,
    ]
    wire.script(Reply.sse(anthropic_events(events)))
    (call,) = (await model(wire).stream(HI).final()).tool_calls
    assert call.arguments == {}
    assert call.arguments_error
    assert call.raw_arguments == '{"city": "Par'


def get_weather(city: str, days: int = 1) -> str:
    """Look up the weather.

    Args:
        city: the city name.
        days: how many days ahead.
    """
    return city


async def test_tool_spec_from_a_function_is_sent_as_input_schema(wire: WireServer) -> None:
    spec = ToolSpec.of(get_weather)
    await model(wire).complete(ChatRequest((Message.user("hi"),), tools=(spec,)))
    body = wire.bodies[0]
    (tool,) = body["tools"]
    assert tool["name"] == "get_weather"
    assert tool["description"] == "Look up the weather."
    assert tool["input_schema"] == dict(spec.parameters)
    assert tool["input_schema"]["properties"]["city"]["type"] == "string"
    assert tool["input_schema"]["required"] == ["city"]
    assert body["tool_choice"] == {"type": "auto"}


@pytest.mark.parametrize(
    ("choice", "sent"),
    [("required", {"type": "any"}), ("get_weather", {"type": "tool", "name": "get_weather"})],
)
async def test_tool_choice(wire: WireServer, choice: str, sent: dict[str, str]) -> None:
    tools = (ToolSpec.of(get_weather),)
    await model(wire).complete(ChatRequest((Message.user("hi"),), tools=tools, tool_choice=choice))
    assert wire.bodies[0]["tool_choice"] == sent


async def test_tool_results_go_back_as_user_tool_result_blocks(wire: WireServer) -> None:
    call = ToolCall("toolu_a", "get_weather", {"city": "Oslo"})
    request = ChatRequest(
        (
            Message.user("weather?"),
            Message.assistant("Checking.", [call]),
            Message.tool("toolu_a", "no such city", is_error=True),
        )
    )
    await model(wire).complete(request)
    _, assistant, result = wire.bodies[0]["messages"]
    assert assistant == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Oslo"}},
        ],
    }
    assert result == {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": "toolu_a",
                "content": "no such city",
                "is_error": True,
            }
        ],
    }


async def test_extra_fields_the_sdk_declares_reach_the_body(wire: WireServer) -> None:
    extra = {"metadata": {"user_id": "u-1"}}
    await model(wire).complete(ChatRequest((Message.user("hi"),), extra=extra))
    assert wire.bodies[0]["metadata"] == {"user_id": "u-1"}


async def test_extra_fields_pass_through_to_the_body(wire: WireServer) -> None:
    await model(wire).complete(ChatRequest((Message.user("hi"),), extra={"top_k": 5}))
    assert wire.bodies[0]["top_k"] == 5


# -- usage -------------------------------------------------------------------------------------


async def test_cache_usage_and_cumulative_output_tokens(wire: WireServer) -> None:
    events = [
        message_start(input_tokens=10, cache_creation_input_tokens=20, cache_read_input_tokens=30),
        *text_block(0, "Hello"),
        message_delta(5, None),
        message_delta(9, "end_turn"),  # cumulative: 9 in all, not 5 + 9
        MESSAGE_STOP,
    ]
    wire.script(Reply.sse(anthropic_events(events)))
    r = await model(wire).stream(HI).final()
    assert r.usage == Usage(
        input_tokens=60, output_tokens=9, cache_read_tokens=30, cache_write_tokens=20
    )


async def test_cache_usage_of_a_whole_answer(wire: WireServer) -> None:
    usage = {
        "input_tokens": 10,
        "cache_creation_input_tokens": 20,
        "cache_read_input_tokens": 30,
        "output_tokens": 4,
    }
    body = message_start()["message"] | {
        "content": [{"type": "text", "text": "ok"}],
        "stop_reason": "end_turn",
        "usage": usage,
    }
    wire.script(Reply.json(body))
    r = await model(wire).complete(HI)
    assert r.usage == Usage(60, 4, cache_read_tokens=30, cache_write_tokens=20)


# -- HTTP errors and retries -------------------------------------------------------------------

RATE_LIMITED = error_body("rate_limit_error", "Number of request tokens has exceeded your limit.")


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
    limited = Reply.json(RATE_LIMITED, status=429, headers={"retry-after": "3"})
    wire.script(limited, limited)
    with pytest.raises(RateLimitedError) as caught:
        await model(wire, sleep=sleeps, max_retries=1).complete(HI)
    assert caught.value.retry_after == 3.0
    assert sleeps == [3.0]


async def test_529_overloaded_is_retried_then_succeeds(
    wire: WireServer, sleeps: SleepRecorder
) -> None:
    wire.script(Reply.json(OVERLOADED, status=529))
    r = await model(wire, sleep=sleeps).complete(HI)
    assert r.text
    assert len(sleeps) == 1


async def test_529_overloaded_past_max_retries(wire: WireServer, sleeps: SleepRecorder) -> None:
    overloaded = Reply.json(OVERLOADED, status=529)
    wire.script(overloaded, overloaded, overloaded)
    with pytest.raises(OverloadedError) as caught:
        await model(wire, sleep=sleeps, max_retries=2).complete(HI)
    assert caught.value.status == 529
    assert len(wire.requests) == 3
    assert len(sleeps) == 2


async def test_error_event_before_any_text_is_an_overloaded_error(wire: WireServer) -> None:
    events = anthropic_events([message_start(), {"type": "ping"}, OVERLOADED])
    wire.script(Reply.sse(events))
    with pytest.raises(OverloadedError):
        await model(wire, max_retries=0).stream(HI).final()


async def test_error_event_before_any_text_is_retried(
    wire: WireServer, sleeps: SleepRecorder
) -> None:
    wire.script(Reply.sse(anthropic_events([message_start(), OVERLOADED])))
    r = await model(wire, sleep=sleeps, max_retries=1).stream(HI).final()
    assert r.text
    assert len(wire.requests) == 2


async def test_error_event_mid_stream_interrupts_with_the_text_so_far(wire: WireServer) -> None:
    events = [message_start(), *text_block(0, "Hello", " world")[:-1], OVERLOADED]
    wire.script(Reply.sse(anthropic_events(events)))
    with pytest.raises(StreamInterruptedError, match=r"(?i)overloaded") as caught:
        await model(wire).stream(HI).final()
    assert caught.value.text == "Hello world"
    assert caught.value.usage.estimated is True
    assert len(wire.requests) == 1


async def test_401_is_an_authentication_error_and_not_retried(
    wire: WireServer, sleeps: SleepRecorder
) -> None:
    body = error_body("authentication_error", "invalid x-api-key")
    wire.script(Reply.json(body, status=401))
    with pytest.raises(AuthenticationError):
        await model(wire, sleep=sleeps).complete(HI)
    assert len(wire.requests) == 1
    assert sleeps == []


@pytest.mark.parametrize(
    "message",
    [
        "input length and `max_tokens` exceed context limit: 198000 + 8192 > 200000, "
        "decrease input length or `max_tokens` and try again",
        "prompt is too long: 208310 tokens > 200000 maximum",
    ],
)
async def test_400_context_too_long(wire: WireServer, message: str) -> None:
    wire.script(Reply.json(error_body("invalid_request_error", message), status=400))
    with pytest.raises(ContextLengthError):
        await model(wire).complete(HI)
    assert len(wire.requests) == 1


async def test_404_unknown_model(wire: WireServer) -> None:
    wire.script(Reply.json(error_body("not_found_error", "model: claude-sim"), status=404))
    with pytest.raises(UnknownModelError):
        await model(wire).complete(HI)
    assert len(wire.requests) == 1


async def test_500_is_retried_then_a_provider_server_error(
    wire: WireServer, sleeps: SleepRecorder
) -> None:
    failed = Reply.json(error_body("api_error", "Internal server error"), status=500)
    wire.script(failed, failed, failed)
    with pytest.raises(ProviderServerError) as caught:
        await model(wire, sleep=sleeps, max_retries=2).complete(HI)
    assert caught.value.status == 500
    assert len(wire.requests) == 3


# -- broken streams and bodies -----------------------------------------------------------------


async def test_stream_cut_mid_way_keeps_the_text_so_far(wire: WireServer) -> None:
    events = anthropic_events(
        [message_start(), *text_block(0, "Hello", " wor", "ld"), message_delta(3), MESSAGE_STOP]
    )
    wire.script(Reply.sse(events, cut_after=5))  # start, block start, three deltas: cut
    seen: list[str] = []
    with pytest.raises(StreamInterruptedError) as caught:
        await collect(model(wire).stream(HI), seen)
    assert seen == ["Hello", " wor", "ld"]
    assert caught.value.text == "Hello world"
    assert caught.value.usage.estimated is True
    assert caught.value.usage.output_tokens > 0
    assert len(wire.requests) == 1


async def test_stream_without_message_delta_is_interrupted(wire: WireServer) -> None:
    events = anthropic_events([message_start(), *text_block(0, "Hello")])  # clean EOF
    wire.script(Reply.sse(events))
    with pytest.raises(StreamInterruptedError) as caught:
        await model(wire).stream(HI).final()
    assert caught.value.text == "Hello"


async def test_deltas_arrive_while_the_server_is_still_sending(wire: WireServer) -> None:
    events = anthropic_events([message_start(), *text_block(0, "Hello", " world")])
    wire.script(Reply.sse(events, stall_after=3))  # the body is never finished
    deltas = aiter(model(wire, timeout=10).stream(HI))
    assert (await anext(deltas)).text == "Hello"
    await deltas.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("content_type", ["application/json", "text/html"])
async def test_malformed_body_is_a_malformed_response_error(
    wire: WireServer, content_type: str
) -> None:
    wire.script(Reply(200, {"content-type": content_type}, [b"<html>bad gateway</html>"]))
    with pytest.raises(MalformedResponseError):
        await model(wire, max_retries=0).complete(HI)


async def test_unreachable_base_url(free_port: int) -> None:
    unreachable = AnthropicModel(
        "claude-sim", api_key="k", base_url=f"http://127.0.0.1:{free_port}", max_retries=0
    )
    with pytest.raises(ProviderUnreachableError):
        await unreachable.complete(HI)


async def test_server_that_never_answers_times_out(wire: WireServer) -> None:
    wire.script(Reply(chunks=[b"{}"], hang=30))
    with pytest.raises(LLMTimeoutError):
        await model(wire, timeout=0.5, max_retries=0).complete(HI)


async def test_stream_that_stalls_mid_way_is_interrupted_by_the_timeout(
    wire: WireServer,
) -> None:
    events = anthropic_events([message_start(), *text_block(0, "Hello"), message_delta(1)])
    wire.script(Reply.sse(events, stall_after=3))
    with pytest.raises(StreamInterruptedError) as caught:
        await model(wire, timeout=0.5).stream(HI).final()
    assert caught.value.text == "Hello"


# -- bad input ---------------------------------------------------------------------------------


def test_missing_api_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    with pytest.raises(MissingAPIKeyError, match="ANTHROPIC_API_KEY") as caught:
        AnthropicModel("claude-sim")
    assert caught.value.env_var == "ANTHROPIC_API_KEY"
