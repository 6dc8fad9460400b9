"""What a LangChain chat-model call asks and what it used, in Orca's terms: the
provider and model it names, its messages and answer cap as a ``ChatRequest`` to bound,
and its reported usage as a ``Usage`` (pure functions over what LangChain's callbacks
receive; ``orca.compat.langchain`` meters with them)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orca.llm import ChatRequest, ImagePart, Message, TextPart, ToolCall, Usage
from orca.llm._base import OUTPUT_CAP_FIELDS, estimate_tokens

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage
    from langchain_core.outputs import LLMResult

# LangChain's name of a provider (``ls_provider``, or the ``_type`` of the invocation
# params) -> Orca's, where they differ; any other passes through (priced where the
# price book knows it: the catalog's providers, or ``orca pricing set PROVIDER MODEL``)
_PROVIDERS = {
    "openai-chat": "openai",
    "anthropic-chat": "anthropic",
    "chat-ollama": "ollama",
    "ollama-chat": "ollama",
    "google_genai": "google",
    "google_vertexai": "google",
    "mistralai": "mistral",
    "amazon_bedrock": "bedrock",
    "bedrock_converse": "bedrock",
    "x-ai": "xai",
}
_MODEL_KEYS = ("model", "model_name", "model_id", "deployment_name")
_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "tool"}


# -- what a call asks ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Named:
    """A LangChain model as Orca's meter sees it (``orca.llm._meter.PricedModel``)."""

    provider: str
    model: str


def identify(
    serialized: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    metadata: Mapping[str, Any],
) -> Named:
    """The provider and model of a call, from the ``ls_provider``/``ls_model_name``
    metadata LangChain's chat models report, else the invocation params, else the
    model class's name."""
    provider = metadata.get("ls_provider")
    if not (isinstance(provider, str) and provider):
        kind = params.get("_type")
        provider = kind if isinstance(kind, str) and kind else ""
    provider = provider.strip().lower()
    provider = _PROVIDERS.get(provider, provider) or "langchain"
    model = metadata.get("ls_model_name")
    if not (isinstance(model, str) and model):
        found = [params.get(k) for k in _MODEL_KEYS]
        model = next((m for m in found if isinstance(m, str) and m), "")
    if not model:
        ids = (serialized or {}).get("id")
        model = str(ids[-1]) if isinstance(ids, list) and ids else "unknown"
    return Named(provider, model)


def answer_cap(params: Mapping[str, Any], metadata: Mapping[str, Any]) -> int | None:
    """The largest answer cap the call sends (``max_tokens`` and its other names), or
    None when it sends none."""
    caps = [params.get(k) for k in OUTPUT_CAP_FIELDS] + [metadata.get("ls_max_tokens")]
    good = [c for c in caps if isinstance(c, int) and not isinstance(c, bool) and c > 0]
    return max(good, default=None)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=repr)


def message_of(message: BaseMessage) -> Message:
    """A LangChain message as Orca's request bound reads it: every part it sends."""
    parts: list[TextPart | ImagePart] = []
    content = message.content
    for block in [content] if isinstance(content, str) else content:
        if isinstance(block, str):
            parts.append(TextPart(block))
        elif isinstance(block, dict) and block.get("type") in ("image", "image_url"):
            parts.append(ImagePart(url="image"))  # bounded by the most an image costs
        elif isinstance(block, dict) and set(block) <= {"type", "text"}:
            parts.append(TextPart(str(block.get("text", ""))))
        else:
            parts.append(TextPart(_json(block)))
    if message.additional_kwargs:
        parts.append(TextPart(_json(message.additional_kwargs)))
    calls = tuple(
        ToolCall(
            str(c.get("id") or ""),
            str(c.get("name") or ""),
            args if isinstance(args := c.get("args"), dict) else {},
            raw_arguments=_json(args),
        )
        for c in getattr(message, "tool_calls", None) or ()
    )
    call_id = getattr(message, "tool_call_id", None)
    return Message(
        _ROLES.get(message.type, "user"),  # type: ignore[arg-type]
        tuple(parts),
        calls,
        tool_call_id=call_id if isinstance(call_id, str) else None,
        name=message.name,
    )


def bound_request(
    messages: Sequence[Message], params: Mapping[str, Any], cap: int | None
) -> ChatRequest:
    """The call as a ``ChatRequest`` to bound: its messages, its cap, and every other
    invocation param (tools, response format, ``n`` ...) counted as the bytes it adds."""
    extra = {k: v for k, v in params.items() if k not in OUTPUT_CAP_FIELDS}
    return ChatRequest(tuple(messages), max_tokens=cap, extra=extra)


def prompt_estimate(messages: Sequence[Message]) -> int:
    return estimate_tokens("".join(m.text for m in messages))


# -- what a call used ------------------------------------------------------------------------


def _count(value: Any) -> int | None:
    """A token count as a provider reports it (a non-negative int), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _from_metadata(usage: Mapping[str, Any]) -> Usage | None:
    """LangChain's ``usage_metadata`` (input counts cached tokens, output reasoning)."""
    inp, out = _count(usage.get("input_tokens")), _count(usage.get("output_tokens"))
    if inp is None or out is None:
        return None
    return Usage(
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=_field(usage, "input_token_details", "cache_read"),
        cache_write_tokens=_field(usage, "input_token_details", "cache_creation"),
        reasoning_tokens=_field(usage, "output_token_details", "reasoning"),
        raw=dict(usage),
    )


def _field(usage: Mapping[str, Any], group: str, name: str) -> int:
    """A count inside a group of details (``input_token_details.cache_read``), or 0."""
    details = usage.get(group)
    return (_count(details.get(name)) or 0) if isinstance(details, Mapping) else 0


def _from_llm_output(output: Mapping[str, Any]) -> Usage | None:
    """A provider's own usage in ``llm_output``: OpenAI's ``token_usage``, Anthropic's
    ``usage`` (whose three input fields add up to the input)."""
    openai = output.get("token_usage")
    if isinstance(openai, Mapping):
        inp, out = _count(openai.get("prompt_tokens")), _count(openai.get("completion_tokens"))
        if inp is not None and out is not None:
            cached = _field(openai, "prompt_tokens_details", "cached_tokens")
            reasoning = _field(openai, "completion_tokens_details", "reasoning_tokens")
            return Usage(
                input_tokens=inp,
                output_tokens=out,
                cache_read_tokens=cached,
                reasoning_tokens=reasoning,
                raw=dict(openai),
            )
    anthropic = output.get("usage")
    if isinstance(anthropic, Mapping):
        inp, out = _count(anthropic.get("input_tokens")), _count(anthropic.get("output_tokens"))
        if inp is not None and out is not None:
            read = _count(anthropic.get("cache_read_input_tokens")) or 0
            written = _count(anthropic.get("cache_creation_input_tokens")) or 0
            return Usage(
                input_tokens=inp + read + written,
                output_tokens=out,
                cache_read_tokens=read,
                cache_write_tokens=written,
                raw=dict(anthropic),
            )
    return None


def _answers(response: LLMResult | None) -> list[Any]:
    return [g for batch in (response.generations if response else []) for g in batch]


def usage_of(response: LLMResult, prompt: int) -> tuple[Usage, bool]:
    """What a finished call used, and whether it was answered from LangChain's cache
    (which zeroes its ``total_cost``: nothing was paid). Usage is taken once per call:
    with ``n`` answers each message repeats the whole call's usage."""
    for answer in _answers(response):
        reported = getattr(getattr(answer, "message", None), "usage_metadata", None)
        if isinstance(reported, Mapping):
            if reported.get("total_cost") == 0:  # a cache hit, with or without counts
                return _from_metadata(reported) or Usage(), True
            usage = _from_metadata(reported)
            if usage is not None:
                return usage, False
    if isinstance(response.llm_output, Mapping):
        usage = _from_llm_output(response.llm_output)
        if usage is not None:
            return usage, False
    return _estimate(response, prompt), False


def _estimate(response: LLMResult | None, prompt: int) -> Usage:
    """Orca's count of what a call used when the provider reported nothing."""
    text = ""
    for answer in _answers(response):
        text += answer.text
        for call in getattr(getattr(answer, "message", None), "tool_calls", None) or ():
            text += _json(call.get("args"))
    return Usage(prompt, estimate_tokens(text), estimated=True)


def messages_of(messages: list[list[BaseMessage]]) -> list[Message]:
    """The messages LangChain gives ``on_chat_model_start`` (one list per call)."""
    return [message_of(m) for batch in messages for m in batch]


def streamed_usage(response: LLMResult | None, prompt: int) -> Usage | None:
    """What a failed call used before it failed: its reported usage, else an estimate
    of what it streamed; None when it streamed nothing (nothing was paid)."""
    answers = _answers(response)
    for answer in answers:
        reported = getattr(getattr(answer, "message", None), "usage_metadata", None)
        usage = _from_metadata(reported) if isinstance(reported, Mapping) else None
        if usage is not None:
            return usage
    streamed = "".join(answer.text for answer in answers)
    return Usage(prompt, estimate_tokens(streamed), estimated=True) if streamed else None
