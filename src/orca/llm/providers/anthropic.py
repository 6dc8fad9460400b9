"""Anthropic's Messages API through the official ``anthropic`` SDK: streaming, tool use,
extended thinking."""

from __future__ import annotations

import base64
import functools
import inspect
import json
import os
from collections.abc import AsyncIterator, Mapping
from typing import Any

from orca.errors import (
    LLMError,
    LLMTimeoutError,
    MissingAPIKeyError,
    ProviderServerError,
    ProviderUnreachableError,
)
from orca.llm._base import (
    ProviderModel,
    StreamState,
    body_extras,
    error_for_status,
    parse_tool_call,
)
from orca.llm._types import ChatRequest, ChatResponse, Delta, ImagePart, Message, StopReason, Usage

KEY_ENV = "ANTHROPIC_API_KEY"
DEFAULT_MAX_TOKENS = 4096  # the API requires max_tokens; this is Orca's default cap

_STOP: dict[str, StopReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "refusal",
}


class AnthropicModel(ProviderModel):
    """A Claude model through the Messages API.

    Args:
        model: e.g. ``claude-sonnet-4-5``.
        base_url: overrides the API's URL (a proxy, or a test server).
        api_key: overrides ``ANTHROPIC_API_KEY``.
        params: default request fields merged under each request.

    Raises:
        MissingAPIKeyError: no key given and ``ANTHROPIC_API_KEY`` is unset.
    """

    thinking_in_cap = True  # budget_tokens must be below max_tokens, which bounds both

    def __init__(
        self,
        model: str,
        *,
        provider: str = "anthropic",
        base_url: str | None = None,
        api_key: str | None = None,
        params: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(model, provider=provider, **options)
        self._api_key = api_key or os.environ.get(KEY_ENV)
        if not self._api_key:
            raise MissingAPIKeyError(provider, KEY_ENV)
        self.base_url = base_url or os.environ.get("ORCA_ANTHROPIC_BASE_URL")
        self.params = dict(params or {})

    def _client(self) -> Any:
        def make() -> Any:
            import anthropic  # the SDK loads only when a call is made

            return anthropic.AsyncAnthropic(
                api_key=self._api_key,
                base_url=self.base_url,
                max_retries=0,  # Orca retries, honouring Retry-After, in one place
                timeout=self.timeout,
            )

        return self._loop_client("sdk", make)

    # -- request mapping -------------------------------------------------------------------

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        out: dict[str, Any] = {**self.params, "model": self.model}
        system = [m.text for m in request.messages if m.role == "system"]
        fmt = request.response_format
        if fmt == "json":
            system.append("Answer with one JSON object and nothing else.")
        elif not isinstance(fmt, str):
            system.append(
                "Answer with one JSON object, and nothing else, that follows this JSON "
                f"Schema: {json.dumps(dict(fmt))}"
            )
        if system:
            out["system"] = "\n\n".join(system)
        out["messages"] = _messages(request.messages)
        out["max_tokens"] = request.max_tokens or self.params.get("max_tokens", DEFAULT_MAX_TOKENS)
        if request.tools:
            out["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
                for t in request.tools
            ]
            choice = request.tool_choice
            out["tool_choice"] = {
                "auto": {"type": "auto"},
                "none": {"type": "none"},
                "required": {"type": "any"},
            }.get(choice, {"type": "tool", "name": choice})
        if request.temperature is not None:
            out["temperature"] = min(request.temperature, 1.0)  # Anthropic's range is 0..1
        if request.top_p is not None:
            out["top_p"] = request.top_p
        if request.stop:
            out["stop_sequences"] = list(request.stop)
        if request.thinking_tokens:
            out["thinking"] = {"type": "enabled", "budget_tokens": request.thinking_tokens}
        # seed: the Messages API has none; the request's seed is not sent
        out.update(request.extra)
        return body_extras(out, _sdk_fields())

    # -- the four hooks --------------------------------------------------------------------

    async def _complete(self, request: ChatRequest) -> ChatResponse:
        raw = await self._client().messages.create(**self._params(request))
        text: list[str] = []
        thinking: list[str] = []
        calls = []
        for block in raw.content:
            if block.type == "text":
                text.append(block.text)
            elif block.type == "thinking":
                thinking.append(block.thinking)
            elif block.type == "tool_use":
                calls.append(parse_tool_call(block.id, block.name, json.dumps(block.input)))
        return ChatResponse(
            text="".join(text),
            provider=self.provider,
            model=self.model,
            usage=self._map_usage(raw.usage),
            stop_reason=_STOP.get(raw.stop_reason or "", "other"),
            raw_stop_reason=raw.stop_reason,
            tool_calls=tuple(calls),
            thinking="".join(thinking),
            id=raw.id,
        )

    async def _stream(self, request: ChatRequest, state: StreamState) -> AsyncIterator[Delta]:
        params = self._params(request)
        params["stream"] = True
        stream = await self._client().messages.create(**params)
        usage: dict[str, Any] = {}
        try:
            async for event in stream:
                kind = event.type
                if kind == "message_start":
                    state.response_id = event.message.id
                    usage = _plain(event.message.usage)
                    state.usage = self._map_usage(usage)
                elif kind == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        parts = state.tool_call(event.index)
                        parts.id, parts.name = block.id, block.name
                elif kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta":
                        state.text.append(delta.text)
                        yield Delta(text=delta.text)
                    elif delta.type == "thinking_delta":
                        state.thinking.append(delta.thinking)
                        yield Delta(thinking=delta.thinking)
                    elif delta.type == "input_json_delta":
                        state.tool_call(event.index).arguments.append(delta.partial_json)
                elif kind == "message_delta":
                    # cumulative counts: each field present replaces the earlier one
                    usage.update({k: v for k, v in _plain(event.usage).items() if v is not None})
                    state.usage = self._map_usage(usage)
                    if event.delta.stop_reason:
                        state.raw_stop_reason = event.delta.stop_reason
                        state.stop_reason = _STOP.get(event.delta.stop_reason, "other")
        finally:
            await stream.close()

    def _map_usage(self, raw: Any) -> Usage:
        data = _plain(raw)
        fresh = int(data.get("input_tokens") or 0)
        written = int(data.get("cache_creation_input_tokens") or 0)
        read = int(data.get("cache_read_input_tokens") or 0)
        return Usage(
            input_tokens=fresh + written + read,  # Anthropic reports the three apart
            output_tokens=int(data.get("output_tokens") or 0),
            cache_read_tokens=read,
            cache_write_tokens=written,
            raw=data,
        )

    def _map_errors(self, exc: Exception) -> LLMError | None:
        import anthropic
        import httpx2

        where: dict[str, Any] = {"provider": self.provider, "model": self.model}
        if isinstance(exc, anthropic.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            error = body.get("error")
            error = error if isinstance(error, dict) else {}
            code = str(error.get("type") or "")
            status = exc.status_code if exc.status_code >= 400 else 500
            return error_for_status(self, status, exc.message, exc.response.headers, code)
        if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
            return LLMTimeoutError(f"no answer within {self.timeout:g}s", **where)
        if isinstance(exc, httpx2.RemoteProtocolError | httpx2.ReadError):
            return ProviderServerError(
                f"the connection dropped mid-answer ({type(exc).__name__})", **where
            )
        if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
            return ProviderUnreachableError(
                f"cannot reach {self.base_url or 'api.anthropic.com'} ({type(exc).__name__})",
                fix="check the network and base_url",
                **where,
            )
        return None


@functools.cache
def _sdk_fields() -> frozenset[str]:
    """The fields ``messages.create`` takes as keywords in the installed SDK (recent
    versions have none for ``temperature`` and ``top_p``, which the API still takes)."""
    from anthropic.resources.messages import AsyncMessages

    return frozenset(inspect.signature(AsyncMessages.create).parameters) - {"self"}


def _plain(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    if hasattr(raw, "model_dump"):
        return dict(raw.model_dump())
    return dict(raw)


def _messages(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    """Chat messages as Anthropic wants them: no system turns, tool results as user turns,
    consecutive turns of one role merged."""
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        role = "user" if m.role == "tool" else m.role
        blocks = _blocks(m)
        if out and out[-1]["role"] == role:
            out[-1]["content"].extend(blocks)
        else:
            out.append({"role": role, "content": blocks})
    return out


def _blocks(m: Message) -> list[dict[str, Any]]:
    if m.role == "tool":
        result: dict[str, Any] = {
            "type": "tool_result",
            "tool_use_id": m.tool_call_id,
            "content": m.text,
        }
        if m.is_error:
            result["is_error"] = True
        return [result]
    blocks: list[dict[str, Any]] = []
    for p in m.content:
        if isinstance(p, ImagePart):
            source: dict[str, Any] = (
                {"type": "url", "url": p.url}
                if p.url is not None
                else {
                    "type": "base64",
                    "media_type": p.media_type,
                    "data": base64.b64encode(p.data or b"").decode(),
                }
            )
            blocks.append({"type": "image", "source": source})
        elif p.text:
            blocks.append({"type": "text", "text": p.text})
    for c in m.tool_calls:
        blocks.append({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments})
    return blocks
