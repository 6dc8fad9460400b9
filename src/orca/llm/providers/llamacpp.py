"""llama.cpp in-process, through ``llama-cpp-python`` (the ``orca[local]`` extra).

The model runs on a worker thread (llama.cpp blocks); pieces cross to the event loop
through a queue. One loaded model serves one call at a time.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import threading
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from orca.errors import ConfigError, ContextLengthError, LLMError, MalformedResponseError
from orca.llm._base import ProviderModel, StreamState, parse_tool_call
from orca.llm._types import ChatRequest, ChatResponse, Delta, StopReason, Usage
from orca.llm.providers.openai import openai_message, openai_tools

# llama.cpp's own options, taken from params when the model is loaded
LOAD_OPTIONS = frozenset({"n_ctx", "n_threads", "n_batch", "n_gpu_layers", "chat_format"})

_STOP: dict[str, StopReason] = {"stop": "stop", "length": "length", "tool_calls": "tool_calls"}
_loaded: dict[tuple[Any, ...], tuple[Any, threading.Lock]] = {}
_loading = threading.Lock()
_DONE = object()


def _load(path: str, options: Mapping[str, Any]) -> tuple[Any, threading.Lock]:
    """The loaded model for ``path`` and these options (loaded once per process)."""
    key = (path, tuple(sorted(options.items())))
    with _loading:
        found = _loaded.get(key)
        if found is None:
            try:
                import llama_cpp
            except ImportError:
                raise ConfigError(
                    "the llamacpp provider needs llama-cpp-python",
                    key="provider",
                    fix="pip install 'orca[local]' (it builds llama.cpp from source)",
                ) from None
            settings = {"n_ctx": 2048, "verbose": False, **options}
            if not _loaded:
                # freed while the interpreter still stands: left to the garbage collector at
                # exit, llama.cpp's finaliser meets its bindings torn down and prints an error
                atexit.register(_unload_all)
            found = _loaded[key] = (llama_cpp.Llama(model_path=path, **settings), threading.Lock())
        return found


def _unload_all() -> None:
    """Free every model this process loaded (at exit)."""
    with _loading:
        models = [llama for llama, _ in _loaded.values()]
        _loaded.clear()
    for llama in models:
        close = getattr(llama, "close", None)
        if close is not None:
            close()


class LlamaCppModel(ProviderModel):
    """A GGUF model run in-process by llama.cpp.

    Args:
        model: the path of the GGUF file.
        params: request defaults (``temperature``, ``repeat_penalty``, ...) and load
            options (``n_ctx``, ``n_threads``, ``n_batch``, ``n_gpu_layers``,
            ``chat_format``).

    Raises:
        ConfigError: the file does not exist.
    """

    # llama-cpp-python's stream carries no usage; it yields one token per piece
    stream_usage = False
    piece_per_token = True

    def __init__(
        self,
        model: str,
        *,
        provider: str = "llamacpp",
        params: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        path = os.path.expanduser(model)
        if not Path(path).is_file():
            raise ConfigError(
                f"no GGUF model file at {path!r}",
                key="model",
                fix="for provider llamacpp, model is the path of a .gguf file "
                "(python -m orca.llm.tiny PATH writes a tiny test model)",
            )
        super().__init__(Path(path).name, provider=provider, max_retries=0, **options)
        self.path = path
        params = dict(params or {})
        self._load_options = {k: params.pop(k) for k in list(params) if k in LOAD_OPTIONS}
        self.params = params

    # -- request mapping -------------------------------------------------------------------

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        out: dict[str, Any] = {
            **self.params,
            "messages": [openai_message(m) for m in request.messages],
        }
        if request.tools:
            out["tools"] = openai_tools(request)
            if request.tool_choice not in ("auto", "none", "required"):
                out["tool_choice"] = {
                    "type": "function",
                    "function": {"name": request.tool_choice},
                }
        for name in ("max_tokens", "temperature", "top_p", "seed"):
            value = getattr(request, name)
            if value is not None:
                out[name] = value
        if request.stop:
            out["stop"] = list(request.stop)
        fmt = request.response_format
        if fmt == "json":
            out["response_format"] = {"type": "json_object"}
        elif not isinstance(fmt, str):
            out["response_format"] = {"type": "json_object", "schema": dict(fmt)}
        out.update(request.extra)
        return out

    # -- the four hooks --------------------------------------------------------------------

    async def _complete(self, request: ChatRequest) -> ChatResponse:
        params = self._params(request)
        raw = await asyncio.to_thread(self._run, params)
        choice = raw["choices"][0]
        msg = choice["message"]
        calls = tuple(
            parse_tool_call(c["id"], c["function"]["name"], c["function"].get("arguments", ""))
            for c in msg.get("tool_calls") or ()
        )
        reason = choice.get("finish_reason")
        return ChatResponse(
            text=msg.get("content") or "",
            provider=self.provider,
            model=self.model,
            usage=self._map_usage(raw.get("usage") or {}),
            stop_reason=_STOP.get(reason or "", "other"),
            raw_stop_reason=reason,
            tool_calls=calls,
            id=raw.get("id"),
        )

    async def _stream(self, request: ChatRequest, state: StreamState) -> AsyncIterator[Delta]:
        params = self._params(request)
        params["stream"] = True
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def produce() -> None:
            try:
                llm, lock = _load(self.path, self._load_options)
                with lock:  # the generator holds llama.cpp's state until it ends
                    for chunk in llm.create_chat_completion(**params):
                        loop.call_soon_threadsafe(queue.put_nowait, chunk)
                        if stop.is_set():
                            return
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)
            except BaseException as exc:  # handed to the consumer, which maps it
                loop.call_soon_threadsafe(queue.put_nowait, exc)

        worker = loop.run_in_executor(None, produce)
        try:
            while (chunk := await queue.get()) is not _DONE:
                if isinstance(chunk, BaseException):
                    raise chunk
                state.response_id = state.response_id or chunk.get("id")
                if chunk.get("usage"):
                    state.usage = self._map_usage(chunk["usage"])
                for choice in chunk.get("choices", ()):
                    delta = choice.get("delta") or {}
                    for call in delta.get("tool_calls") or ():
                        parts = state.tool_call(call.get("index", 0))
                        parts.id = call.get("id") or parts.id
                        fn = call.get("function") or {}
                        parts.name = fn.get("name") or parts.name
                        if fn.get("arguments"):
                            parts.arguments.append(fn["arguments"])
                    if delta.get("content"):
                        state.text.append(delta["content"])
                        yield Delta(text=delta["content"])
                    if choice.get("finish_reason"):
                        state.raw_stop_reason = choice["finish_reason"]
                        state.stop_reason = _STOP.get(choice["finish_reason"], "other")
        finally:
            stop.set()
            await worker

    def _map_usage(self, raw: Any) -> Usage:
        data = dict(raw)
        return Usage(
            input_tokens=int(data.get("prompt_tokens") or 0),
            output_tokens=int(data.get("completion_tokens") or 0),
            raw=data,
        )

    def _map_errors(self, exc: Exception) -> LLMError | None:
        text = str(exc)
        where: dict[str, Any] = {"provider": self.provider, "model": self.model}
        if "exceed context window" in text or "context window" in text:
            return ContextLengthError(
                text, fix="shorten the prompt, lower max_tokens or raise n_ctx", **where
            )
        if isinstance(exc, json.JSONDecodeError):
            return MalformedResponseError(text, **where)
        return None

    async def count_tokens(self, text: str) -> int | None:
        llm, _ = _load(self.path, self._load_options)
        return len(llm.tokenize(text.encode(), add_bos=False, special=True))

    # -- running llama.cpp -----------------------------------------------------------------

    def _run(self, params: dict[str, Any]) -> Any:
        """One whole completion, on this (worker) thread."""
        llm, lock = _load(self.path, self._load_options)
        with lock:
            return llm.create_chat_completion(**params)
