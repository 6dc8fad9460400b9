"""What a block budget reserves for a call is a true upper bound of the whole request:
for every adapter, the body it would send (system text, tools, schemas, stop strings,
extra fields, the model's default params) is never more bytes than the bound, and the
answer is never allowed more tokens than the output bound."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orca.llm import ChatRequest, Message, ToolCall, ToolSpec
from orca.llm._base import output_token_bound, prompt_token_bound
from orca.llm.providers.anthropic import AnthropicModel
from orca.llm.providers.llamacpp import LlamaCppModel
from orca.llm.providers.openai import OpenAIModel

# the schema of the stress test: about 5 KB of JSON Schema, non-ASCII included
BIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        f"field_{i}": {
            "type": "string",
            "description": f'the "{i}"th value, in café units \\ with a quote',
            "enum": ["a", "b", "é"],
        }
        for i in range(40)
    },
    "required": [f"field_{i}" for i in range(40)],
}


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("m") / "tiny.gguf"
    path.write_bytes(b"GGUF")  # the adapter checks the file exists; nothing loads it here
    return path


def adapters(gguf: Path, params: dict[str, Any]) -> list[Any]:
    return [
        OpenAIModel("gpt-4o", api_key="sk-test", params=params),
        OpenAIModel("qwen", provider="ollama", params=params),
        AnthropicModel("claude-sonnet-4-5", api_key="sk-test", params=params),
        LlamaCppModel(str(gguf), params=params),
    ]


def body_bytes(model: Any, request: ChatRequest) -> int:
    """The bytes of the JSON body the adapter sends, but for the model's name (the
    model's, not the prompt's)."""
    body = model._params(request)
    body.pop("model", None)
    return len(json.dumps(body, ensure_ascii=False).encode())


text = st.text(max_size=200)
names = st.from_regex(r"[a-z_]{1,20}", fullmatch=True)
schemas = st.dictionaries(
    names, st.recursive(st.none() | st.integers() | text, lambda c: st.lists(c, max_size=3))
)
calls = st.builds(
    ToolCall,
    id=names,
    name=names,
    arguments=schemas,
    raw_arguments=st.just("") | text,
)
messages = st.one_of(
    text.map(Message.system),
    text.map(Message.user),
    st.builds(Message.assistant, text, st.lists(calls, max_size=2)),
    st.builds(Message.tool, names, text, name=st.none() | names, is_error=st.booleans()),
)
tools = st.builds(ToolSpec, name=names, description=text, parameters=schemas)
requests = st.builds(
    ChatRequest,
    messages=st.lists(messages, min_size=1, max_size=6).map(tuple),
    tools=st.lists(tools, max_size=3).map(tuple),
    tool_choice=st.sampled_from(["auto", "none", "required"]) | names,
    max_tokens=st.integers(1, 100_000),
    temperature=st.none() | st.floats(0, 2),
    top_p=st.none() | st.floats(0, 1),
    seed=st.none() | st.integers(0, 2**31),
    stop=st.lists(text, max_size=4).map(tuple),
    response_format=st.sampled_from(["text", "json"]) | schemas | st.just(BIG_SCHEMA),
    thinking_tokens=st.none() | st.integers(1024, 8000),
    extra=st.dictionaries(names, text | st.integers(), max_size=3),
)
model_params = st.dictionaries(
    st.sampled_from(["temperature", "top_k", "repeat_penalty", "system", "note"]),
    st.integers(0, 5) | text,
    max_size=3,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=requests, params=model_params)
def test_no_adapter_sends_more_than_the_bound(
    gguf: Path, request: ChatRequest, params: dict[str, Any]
) -> None:
    bound = prompt_token_bound(request, params)
    for model in adapters(gguf, params):
        assert body_bytes(model, request) <= bound, type(model).__name__


def test_a_response_format_schema_is_counted_as_anthropic_sends_it(tmp_path: Path) -> None:
    request = ChatRequest((Message.user("hi"),), max_tokens=16, response_format=BIG_SCHEMA)
    sent = AnthropicModel("claude-sonnet-4-5", api_key="sk-test")._params(request)["system"]
    assert len(sent.encode()) > 5000  # the stress test's 5,162 bytes of system text
    assert prompt_token_bound(request) >= len(sent.encode())
    # and the schema is counted for OpenAI too: it is sent, so it is reserved for
    plain = ChatRequest((Message.user("hi"),), max_tokens=16)
    assert prompt_token_bound(request) - prompt_token_bound(plain) >= len(json.dumps(BIG_SCHEMA))


def test_the_output_bound_is_the_largest_cap_sent() -> None:
    hi = (Message.user("hi"),)
    assert output_token_bound(ChatRequest(hi, max_tokens=50), default=1024) == 50
    assert output_token_bound(ChatRequest(hi), default=1024) == 1024
    # a cap in extra (sent in the body after max_tokens) or in the model's params
    raised = ChatRequest(hi, max_tokens=50, extra={"max_completion_tokens": 900})
    assert output_token_bound(raised, default=1024) == 900
    assert output_token_bound(ChatRequest(hi, max_tokens=50), {"num_predict": 70}, default=1) == 70
    # thinking on top of the cap unless the provider counts it inside
    thinking = ChatRequest(hi, max_tokens=5000, thinking_tokens=2000)
    assert output_token_bound(thinking, default=1) == 7000
    assert output_token_bound(thinking, default=1, thinking_in_cap=True) == 5000
    # n answers are n times the output
    assert output_token_bound(ChatRequest(hi, max_tokens=10, extra={"n": 3}), default=1) == 30


def test_adapters_that_count_thinking_inside_the_cap_say_so(gguf: Path) -> None:
    openai, ollama, anthropic, llama = adapters(gguf, {})
    assert openai.thinking_in_cap
    assert anthropic.thinking_in_cap
    assert not ollama.thinking_in_cap
    assert not llama.thinking_in_cap
