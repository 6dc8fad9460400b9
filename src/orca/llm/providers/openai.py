"""OpenAI and every OpenAI-compatible server, through the official ``openai`` SDK.

Presets name the usual servers (OpenRouter, Ollama, llama.cpp, LM Studio, vLLM) so that a
profile says ``provider = "ollama"`` instead of a URL.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

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
from orca.llm._types import ChatRequest, ChatResponse, Delta, Message, StopReason, Usage


@dataclass(frozen=True, slots=True)
class Preset:
    """Where an OpenAI-compatible server lives and what it supports.

    Attributes:
        base_url: the default base URL (``None``: the SDK's, api.openai.com).
        key_env: the environment variable holding the API key (None: no key needed).
        tokenize: how to count tokens when the server sends no usage while streaming:
            ``"llama-cpp-python"`` (POST /extras/tokenize), ``"llama-server"`` (POST
            /tokenize) or None (estimate from the text).
        stream_usage: the server honours ``stream_options.include_usage``.
        piece_per_token: the server streams one token per chunk.
        max_tokens_field: the request field that caps the answer.
    """

    base_url: str | None
    key_env: str | None
    tokenize: str | None = None
    max_tokens_field: str = "max_tokens"
    stream_usage: bool = True
    piece_per_token: bool = False


PRESETS: dict[str, Preset] = {
    "openai": Preset(None, "OPENAI_API_KEY", max_tokens_field="max_completion_tokens"),
    "openrouter": Preset("https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    "ollama": Preset("http://127.0.0.1:11434/v1", None),
    # llama-cpp-python's server ignores include_usage and streams a token per chunk
    "llamacpp-server": Preset(
        "http://127.0.0.1:8000/v1",
        None,
        tokenize="llama-cpp-python",
        stream_usage=False,
        piece_per_token=True,
    ),
    "llama-server": Preset("http://127.0.0.1:8080/v1", None, tokenize="llama-server"),
    "lmstudio": Preset("http://127.0.0.1:1234/v1", None, stream_usage=False),
    "vllm": Preset("http://127.0.0.1:8000/v1", None),
}

_STOP: dict[str, StopReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}


class OpenAIModel(ProviderModel):
    """A model behind the OpenAI Chat Completions API (or a server that speaks it).

    Args:
        model: the model name the server knows.
        provider: a preset name (``openai``, ``openrouter``, ``ollama``, ``llamacpp-server``,
            ``llama-server``, ``lmstudio``, ``vllm``).
        base_url: overrides the preset's URL.
        api_key: overrides the key from the preset's environment variable.
        params: default request fields (``temperature``, ...) merged under each request.

    Raises:
        MissingAPIKeyError: the preset needs a key and its variable is unset.
    """

    def __init__(
        self,
        model: str,
        *,
        provider: str = "openai",
        base_url: str | None = None,
        api_key: str | None = None,
        params: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        preset = PRESETS[provider]
        super().__init__(model, provider=provider, **options)
        self.preset = preset
        self.stream_usage = preset.stream_usage
        self.piece_per_token = preset.piece_per_token
        # OpenAI's max_completion_tokens covers reasoning tokens; other servers may not
        self.thinking_in_cap = provider == "openai"
        self.base_url = base_url or os.environ.get(f"ORCA_{_env(provider)}_BASE_URL")
        self.base_url = self.base_url or preset.base_url
        key = api_key or (os.environ.get(preset.key_env) if preset.key_env else None)
        if preset.key_env and not key:
            raise MissingAPIKeyError(provider, preset.key_env)
        self._api_key = key or "not-needed"  # local servers ignore it; the SDK wants one
        self.params = dict(params or {})

    def _client(self) -> Any:
        def make() -> Any:
            import openai  # the SDK loads only when a call is made

            return openai.AsyncOpenAI(
                api_key=self._api_key,
                base_url=self.base_url,
                max_retries=0,  # Orca retries, honouring Retry-After, in one place
                timeout=self.timeout,
            )

        return self._loop_client("sdk", make)

    # -- request mapping -------------------------------------------------------------------

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        out: dict[str, Any] = {**self.params, "model": self.model}
        out["messages"] = [openai_message(m) for m in request.messages]
        if request.tools:
            out["tools"] = openai_tools(request)
            choice = request.tool_choice
            out["tool_choice"] = (
                choice
                if choice in ("auto", "none", "required")
                else {"type": "function", "function": {"name": choice}}
            )
        if request.max_tokens is not None:
            out[self.preset.max_tokens_field] = request.max_tokens
        for name in ("temperature", "top_p", "seed"):
            value = getattr(request, name)
            if value is not None:
                out[name] = value
        if request.stop:
            out["stop"] = list(request.stop)
        fmt = request.response_format
        if fmt == "json":
            out["response_format"] = {"type": "json_object"}
        elif not isinstance(fmt, str):
            out["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "response", "schema": dict(fmt), "strict": True},
            }
        out.update(request.extra)
        return body_extras(out, _sdk_fields())

    # -- the four hooks --------------------------------------------------------------------

    async def _complete(self, request: ChatRequest) -> ChatResponse:
        raw = await self._client().chat.completions.create(**self._params(request))
        choice = raw.choices[0]
        msg = choice.message
        calls = tuple(
            parse_tool_call(c.id, c.function.name, c.function.arguments or "")
            for c in (msg.tool_calls or ())
        )
        text = msg.content or ""
        usage = (
            self._map_usage(raw.usage) if raw.usage else await self.estimate_usage(request, text)
        )
        return ChatResponse(
            text=text,
            provider=self.provider,
            model=self.model,
            usage=usage,
            stop_reason=_STOP.get(choice.finish_reason or "", "other"),
            raw_stop_reason=choice.finish_reason,
            tool_calls=calls,
            thinking=_reasoning(msg) or "",
            id=raw.id,
        )

    async def _stream(self, request: ChatRequest, state: StreamState) -> AsyncIterator[Delta]:
        params = self._params(request)
        params["stream"] = True
        params["stream_options"] = {"include_usage": True}
        stream = await self._client().chat.completions.create(**params)
        try:
            async for chunk in stream:
                state.response_id = state.response_id or chunk.id
                if chunk.usage is not None:  # the final chunk of include_usage
                    state.usage = self._map_usage(chunk.usage)
                for choice in chunk.choices:
                    delta = choice.delta
                    for call in delta.tool_calls or ():
                        parts = state.tool_call(call.index)
                        parts.id = call.id or parts.id
                        if call.function is not None:
                            parts.name = call.function.name or parts.name
                            if call.function.arguments:
                                parts.arguments.append(call.function.arguments)
                    thinking = _reasoning(delta)
                    if thinking:
                        state.thinking.append(thinking)
                        yield Delta(thinking=thinking)
                    if delta.content:
                        state.text.append(delta.content)
                        yield Delta(text=delta.content)
                    if choice.finish_reason:
                        state.raw_stop_reason = choice.finish_reason
                        state.stop_reason = _STOP.get(choice.finish_reason, "other")
        finally:
            await stream.close()

    def _map_usage(self, raw: Any) -> Usage:
        data = raw.model_dump() if hasattr(raw, "model_dump") else dict(raw)
        prompt = data.get("prompt_tokens_details") or {}
        completion = data.get("completion_tokens_details") or {}
        return Usage(
            input_tokens=int(data.get("prompt_tokens") or 0),
            output_tokens=int(data.get("completion_tokens") or 0),
            cache_read_tokens=int(prompt.get("cached_tokens") or 0),
            reasoning_tokens=int(completion.get("reasoning_tokens") or 0),
            raw=data,
        )

    def _map_errors(self, exc: Exception) -> LLMError | None:
        import httpx2
        import openai

        where: dict[str, Any] = {"provider": self.provider, "model": self.model}
        if isinstance(exc, openai.APIStatusError):
            body = exc.body if isinstance(exc.body, dict) else {}
            code = str(body.get("code") or "")
            return error_for_status(self, exc.status_code, exc.message, exc.response.headers, code)
        if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
            return LLMTimeoutError(f"no answer within {self.timeout:g}s", **where)
        if isinstance(exc, httpx2.RemoteProtocolError | httpx2.ReadError):
            return ProviderServerError(
                f"the connection dropped mid-answer ({type(exc).__name__})", **where
            )
        if isinstance(exc, openai.APIConnectionError | httpx2.TransportError):
            return ProviderUnreachableError(
                f"cannot reach {self.base_url or 'api.openai.com'} ({_cause(exc)})",
                fix="check that the server runs and base_url is right",
                **where,
            )
        if isinstance(exc, openai.APIError):  # an error event inside a stream
            return error_for_status(self, 500, exc.message)
        return None

    async def count_tokens(self, text: str) -> int | None:
        style = self.preset.tokenize
        if style is None or self.base_url is None:
            return None
        parts = urlsplit(self.base_url)
        root = f"{parts.scheme}://{parts.netloc}"
        # a bare HTTP call: the SDK's request machinery costs more than the count itself
        import httpx2

        http = self._loop_client("http", lambda: httpx2.AsyncClient(timeout=self.timeout))
        if style == "llama-cpp-python":
            answer = await http.post(f"{root}/extras/tokenize/count", json={"input": text})
            answer.raise_for_status()
            return int(answer.json()["count"])
        answer = await http.post(f"{root}/tokenize", json={"content": text})
        answer.raise_for_status()
        return len(answer.json()["tokens"])


@functools.cache
def _sdk_fields() -> frozenset[str]:
    """The fields ``chat.completions.create`` takes as keywords in the installed SDK."""
    from openai.resources.chat.completions import AsyncCompletions

    return frozenset(inspect.signature(AsyncCompletions.create).parameters) - {"self"}


def openai_tools(request: ChatRequest) -> list[dict[str, Any]]:
    """Tool definitions in the Chat Completions format (shared with llama.cpp)."""
    return [
        {
            "type": "function",
            "function": {
                "name": t.name,
                "description": t.description,
                "parameters": dict(t.parameters),
            },
        }
        for t in request.tools
    ]


def openai_message(m: Message) -> dict[str, Any]:
    """A message in the Chat Completions format (shared with llama.cpp, which speaks it)."""
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": m.text}
    out: dict[str, Any] = {"role": m.role}
    if m.role == "user" and any(not hasattr(p, "text") for p in m.content):
        out["content"] = [
            {"type": "text", "text": p.text}
            if hasattr(p, "text")
            else {"type": "image_url", "image_url": {"url": p.data_url()}}
            for p in m.content
        ]
    else:
        out["content"] = m.text if (m.text or not m.tool_calls) else None
    if m.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {
                    "name": c.name,
                    "arguments": c.raw_arguments or json.dumps(c.arguments),
                },
            }
            for c in m.tool_calls
        ]
    return out


def _reasoning(obj: Any) -> str | None:
    """Visible reasoning text, which some compatible servers send (DeepSeek, vLLM, Ollama)."""
    extra = getattr(obj, "model_extra", None) or {}
    value = extra.get("reasoning_content") or extra.get("reasoning")
    return value if isinstance(value, str) else None


def _env(provider: str) -> str:
    return provider.upper().replace("-", "_")


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
