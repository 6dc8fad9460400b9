"""The ``ChatModel`` protocol and what every provider shares: retries, streams, estimates.

A provider subclasses ``ProviderModel`` and fills in four hooks, in the same order in every
provider file: ``_complete`` (one request, whole answer), ``_stream`` (one request,
deltas into a ``StreamState``), ``_map_usage`` and ``_map_errors``. Retries with backoff,
``Retry-After``, assembling tool calls and estimating usage that a server did not send
live here, once.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import random
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from orca.errors import LLMError, MalformedResponseError, RateLimitedError, StreamInterruptedError
from orca.llm._types import (
    ChatRequest,
    ChatResponse,
    Delta,
    StopReason,
    TextPart,
    ToolCall,
    Usage,
)

T = TypeVar("T")

MAX_RETRY_WAIT_S = 60.0
WAITING_NOTICE_S = 10.0
"""How often a call with no answer yet says that it is waiting (at most; a shorter
``timeout`` says it at half its length)."""
log = logging.getLogger("orca.llm")


@runtime_checkable
class ChatModel(Protocol):
    """What Orca needs of a chat model. Every provider implements it."""

    provider: str
    model: str

    async def complete(self, request: ChatRequest) -> ChatResponse:
        """Send ``request`` and return the whole answer."""
        ...

    def stream(self, request: ChatRequest) -> ChatStream:
        """Send ``request`` and stream the answer: ``async for delta in stream``, then
        ``stream.response`` holds the assembled ``ChatResponse``."""
        ...


@dataclass(slots=True)
class _ToolCallParts:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


@dataclass(slots=True)
class StreamState:
    """What a provider's ``_stream`` has seen so far; the base turns it into a response."""

    text: list[str] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)
    tool_calls: dict[int, _ToolCallParts] = field(default_factory=dict)
    usage: Usage | None = None
    raw_stop_reason: str | None = None
    stop_reason: StopReason | None = None
    response_id: str | None = None
    pieces: int = 0

    def tool_call(self, index: int) -> _ToolCallParts:
        parts = self.tool_calls.get(index)
        if parts is None:
            parts = self.tool_calls[index] = _ToolCallParts()
        return parts


def parse_tool_call(call_id: str, name: str, raw: str) -> ToolCall:
    """A ``ToolCall`` from its JSON argument text; bad JSON is kept, not raised, so that
    the caller can hand the error back to the model."""
    if not raw.strip():
        return ToolCall(call_id, name, {}, raw)
    try:
        value = json.loads(raw)
    except ValueError as exc:
        return ToolCall(call_id, name, {}, raw, f"arguments are not valid JSON: {exc}")
    if not isinstance(value, dict):
        return ToolCall(call_id, name, {}, raw, "arguments must be a JSON object")
    return ToolCall(call_id, name, value, raw)


PROMPT_COUNT_CACHE = 256
"""How many exact prompt counts a model remembers (least recently used go first)."""


def request_digest(request: ChatRequest) -> str:
    """A short digest of everything a request asks (messages, tools, options): two
    requests with the same digest ask the model the same thing."""
    parts: list[Any] = []
    for m in request.messages:
        content = [p.text if isinstance(p, TextPart) else p.data_url() for p in m.content]
        calls = [[c.id, c.name, c.arguments, c.raw_arguments] for c in m.tool_calls]
        parts.append([m.role, content, calls, m.tool_call_id, m.name, m.is_error])
    parts.append([[t.name, t.description, t.parameters] for t in request.tools])
    parts.append(
        [
            request.tool_choice,
            request.max_tokens,
            request.temperature,
            request.top_p,
            request.seed,
            list(request.stop),
            request.response_format,
            request.thinking_tokens,
            dict(request.extra),
        ]
    )
    data = json.dumps(parts, sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.blake2b(data.encode(), digest_size=12).hexdigest()


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate: about four bytes of UTF-8 per token."""
    return math.ceil(len(text.encode()) / 4) if text else 0


IMAGE_TOKEN_BOUND = 6400
"""The most tokens one image part is taken to cost when reserving (above what OpenAI's
and Anthropic's image pricing charge for the largest images they accept)."""
MESSAGE_TOKEN_BOUND = 48
"""The most a message adds around its text: a chat template's framing tokens, or the
bytes of the JSON fields an adapter wraps it in (role, content blocks, ids)."""
PART_TOKEN_BOUND = 32
"""The most one content part adds around its own text."""
TOOL_TOKEN_BOUND = 96
"""The most a tool definition, or a tool call in a message, adds around its own text."""
SETTING_TOKEN_BOUND = 48
"""The most one numeric setting (max_tokens, temperature, seed ...) takes in a body."""
FORMAT_TOKEN_BOUND = 128
"""The most an adapter writes to ask for JSON: a wrapper object, or an instruction."""
REQUEST_TOKEN_BOUND = 160
"""The most an adapter adds to a request of its own: the assistant turn's opening, the
instruction Anthropic's adapter writes for a JSON answer, field names of the body."""
OUTPUT_CAP_FIELDS = (
    "max_tokens",
    "max_completion_tokens",
    "max_output_tokens",
    "max_new_tokens",
    "n_predict",
    "num_predict",
)
"""Fields of ``extra`` (or a model's default params) that providers read as the answer's
cap: the largest one found bounds the answer."""


def _text_bytes(value: str) -> int:
    # as a JSON string: never less than the UTF-8 bytes a model reads, and exactly what an
    # adapter's body carries of it (escapes included)
    return len(json.dumps(value, ensure_ascii=False).encode())


def _data_bytes(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=repr).encode())


def prompt_token_bound(request: ChatRequest, params: Mapping[str, Any] | None = None) -> int:
    """An upper bound on ``request``'s input tokens, with no tokenizer: every token of a
    byte-level tokenizer covers at least one UTF-8 byte, so bytes bound tokens. Counted:
    every message (text, tool calls, ids), tool definitions, the ``response_format``
    schema (escaped twice, as Anthropic's adapter sends it inside its system text), stop
    strings, ``extra`` fields and the model's default ``params`` (both merged into the
    body), each as the bytes of the JSON an adapter sends; template framing and images
    at their worst. What a block budget reserves for."""
    from orca.llm._types import ImagePart

    total = REQUEST_TOKEN_BOUND
    for message in request.messages:
        total += MESSAGE_TOKEN_BOUND
        for part in message.content:
            if isinstance(part, ImagePart):
                total += IMAGE_TOKEN_BOUND + PART_TOKEN_BOUND
            else:
                total += PART_TOKEN_BOUND + _text_bytes(part.text)
        for value in (message.tool_call_id, message.name):
            total += _text_bytes(value) if value else 0
        for call in message.tool_calls:
            arguments = call.raw_arguments or json.dumps(call.arguments)
            total += TOOL_TOKEN_BOUND + _text_bytes(call.id) + _text_bytes(call.name)
            total += max(_text_bytes(arguments), _data_bytes(call.arguments))
    for tool in request.tools:
        total += TOOL_TOKEN_BOUND + _text_bytes(tool.name) + _text_bytes(tool.description)
        total += _data_bytes(dict(tool.parameters))
    if request.tools:
        total += _text_bytes(request.tool_choice)
    fmt = request.response_format
    if fmt != "text":
        total += FORMAT_TOKEN_BOUND
    if not isinstance(fmt, str):
        # the schema as text inside a JSON string: each quote and escape written twice
        total += _text_bytes(json.dumps(dict(fmt)))
    settings = (request.max_tokens, request.temperature, request.top_p, request.seed)
    total += SETTING_TOKEN_BOUND * (sum(v is not None for v in settings) + 1)
    if request.thinking_tokens:
        total += 2 * SETTING_TOKEN_BOUND
    total += sum(PART_TOKEN_BOUND // 8 + _text_bytes(stop) for stop in request.stop)
    if request.extra:
        total += _data_bytes(dict(request.extra))
    if params:
        total += _data_bytes(dict(params))
    return total


def output_token_bound(
    request: ChatRequest,
    params: Mapping[str, Any] | None = None,
    *,
    default: int,
    thinking_in_cap: bool = False,
) -> int:
    """An upper bound on ``request``'s output tokens: the largest answer cap it sends
    (``max_tokens``, or a cap field in ``extra`` or the model's ``params``; ``default``
    when none), plus ``thinking_tokens`` unless the provider counts thinking inside the
    cap (``thinking_in_cap``), times the number of answers asked (``n``)."""
    caps = [request.max_tokens] if request.max_tokens is not None else []
    for source in (request.extra, params or {}):
        caps += [
            v
            for k in OUTPUT_CAP_FIELDS
            if isinstance(v := source.get(k), int) and not isinstance(v, bool) and v > 0
        ]
    out = max(caps) if caps else default
    if request.thinking_tokens and not thinking_in_cap:
        out += request.thinking_tokens
    answers = [
        v
        for source in (request.extra, params or {})
        if isinstance(v := source.get("n"), int) and not isinstance(v, bool) and v > 1
    ]
    return out * max(answers, default=1)


class ProviderModel:
    """Shared machinery of every provider. Subclasses implement the four hooks."""

    provider: str
    model: str
    stream_usage: bool = True
    """The server reports usage at the end of a stream (else Orca counts)."""
    piece_per_token: bool = False
    """Each streamed piece is one token, so counting pieces counts output tokens."""
    thinking_in_cap: bool = False
    """The provider counts thinking (reasoning) tokens inside the answer's cap, so the
    cap alone bounds the output (else ``thinking_tokens`` is added when reserving)."""

    def __init__(
        self,
        model: str,
        *,
        provider: str,
        max_retries: int = 2,
        timeout: float = 120.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.model = model
        self.provider = provider
        self.max_retries = max_retries
        self.timeout = timeout
        self._sleep = sleep
        self._per_loop: dict[str, weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any]] = {}
        # exact prompt counts by prompt digest: a retried or repeated prompt (a shared
        # system prompt, the same question to parallel workers) costs no second round trip
        self._prompt_counts: OrderedDict[bytes, int] = OrderedDict()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(provider={self.provider!r}, model={self.model!r})"

    def _loop_client(self, kind: str, make: Callable[[], T]) -> T:
        """One client of ``kind`` per event loop, made on first use: an HTTP client's
        connection pool belongs to the loop that opened it."""
        loop = asyncio.get_running_loop()
        clients = self._per_loop.setdefault(kind, weakref.WeakKeyDictionary())
        client = clients.get(loop)
        if client is None:
            client = clients[loop] = make()
        return client

    # -- the protocol ----------------------------------------------------------------------

    async def complete(self, request: ChatRequest) -> ChatResponse:
        attempt = 0
        while True:
            notice = self._notice_waiting(attempt)
            try:
                return await self._complete(request)
            except Exception as exc:
                error = self._error(exc)
                if not self._should_retry(error, attempt):
                    raise error from exc
            finally:
                notice.cancel()
            await self._sleep(self._backoff(error, attempt))
            attempt += 1

    def _notice_waiting(self, attempt: int) -> _Waiting:
        """A timer that logs, while no answer has come, that the call is still waiting
        and when it will give up (``timeout``); cancel it when the answer comes. A timer,
        not a task: a call that is answered in time costs one heap entry."""
        return _Waiting(self, attempt)

    def stream(self, request: ChatRequest) -> ChatStream:
        return ChatStream(self, request)

    # -- hooks -----------------------------------------------------------------------------

    async def _complete(self, request: ChatRequest) -> ChatResponse:
        raise NotImplementedError

    def _stream(self, request: ChatRequest, state: StreamState) -> AsyncIterator[Delta]:
        raise NotImplementedError

    def _map_usage(self, raw: Any) -> Usage:
        raise NotImplementedError

    def _map_errors(self, exc: Exception) -> LLMError | None:
        """The Orca error for an SDK exception, or None if it is not one of the SDK's."""
        raise NotImplementedError

    async def count_tokens(self, text: str) -> int | None:
        """Exact token count of ``text`` where the provider can tell (a tokenizer), else
        None. Used only when a server sends no usage."""
        return None

    # -- shared ----------------------------------------------------------------------------

    def _error(self, exc: Exception) -> LLMError:
        if isinstance(exc, LLMError):
            return exc
        mapped = self._map_errors(exc)
        if mapped is not None:
            return mapped
        # what parsing a bad answer raises; a TypeError is Orca's own bug and goes on
        if isinstance(exc, KeyError | ValueError | AttributeError | IndexError):
            return MalformedResponseError(
                f"unexpected answer ({type(exc).__name__}: {exc})",
                provider=self.provider,
                model=self.model,
            )
        raise exc

    def _should_retry(self, error: LLMError, attempt: int) -> bool:
        return error.retryable and attempt < self.max_retries

    def _backoff(self, error: LLMError, attempt: int) -> float:
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return min(max(error.retry_after, 0.0), MAX_RETRY_WAIT_S)
        base = min(0.5 * 2.0**attempt, MAX_RETRY_WAIT_S)
        return base + random.uniform(0, base / 4)  # jitter spreads retries of parallel calls

    async def estimate_usage(
        self, request: ChatRequest, output: str, *, output_tokens: int | None = None
    ) -> Usage:
        """Usage counted by Orca (``estimated``): the provider's tokenizer if it has one,
        else about four bytes per token. ``output_tokens``, when known (a server that
        streams one token per piece), saves counting the output."""
        if output_tokens is None:
            output_tokens = await self._count(output)
        return Usage(await self.count_prompt(request), output_tokens, estimated=True)

    async def count_prompt(self, request: ChatRequest) -> int:
        """Estimated input tokens of ``request``: its messages framed as ChatML (what most
        local models' templates look like) and its tool definitions."""
        prompt = "".join(f"<|im_start|>{m.role}\n{m.text}<|im_end|>\n" for m in request.messages)
        prompt += "".join(json.dumps(dict(t.parameters)) + t.description for t in request.tools)
        prompt += "<|im_start|>assistant\n"
        key = hashlib.blake2b(prompt.encode(), digest_size=16).digest()
        cached = self._prompt_counts.get(key)
        if cached is not None:
            self._prompt_counts.move_to_end(key)
            return cached
        exact = await self._exact_count(prompt)
        if exact is None:
            return estimate_tokens(prompt)
        self._prompt_counts[key] = exact
        while len(self._prompt_counts) > PROMPT_COUNT_CACHE:
            self._prompt_counts.popitem(last=False)
        return exact

    async def _count(self, text: str) -> int:
        exact = await self._exact_count(text) if text else 0
        return exact if exact is not None else estimate_tokens(text)

    async def _exact_count(self, text: str) -> int | None:
        try:
            return await self.count_tokens(text)
        except Exception:  # the estimate is best effort; the caller falls back to bytes/4
            return None

    async def _finish(self, request: ChatRequest, state: StreamState) -> ChatResponse:
        text = "".join(state.text)
        usage = state.usage
        if usage is None:
            output = text + "".join(state.thinking)
            pieces = state.pieces if self.piece_per_token else None
            usage = await self.estimate_usage(request, output, output_tokens=pieces)
        calls = tuple(
            parse_tool_call(p.id or f"call_{i}", p.name, "".join(p.arguments))
            for i, p in sorted(state.tool_calls.items())
        )
        stop = state.stop_reason or ("tool_calls" if calls else "stop")
        return ChatResponse(
            text=text,
            provider=self.provider,
            model=self.model,
            usage=usage,
            stop_reason=stop,
            raw_stop_reason=state.raw_stop_reason,
            tool_calls=calls,
            thinking="".join(state.thinking),
            id=state.response_id,
        )


class _Waiting:
    """``ProviderModel._notice_waiting``'s timer: every ``min(WAITING_NOTICE_S,
    timeout / 2)`` seconds without an answer, one warning on ``orca.llm``."""

    def __init__(self, model: ProviderModel, attempt: int) -> None:
        self.model = model
        self.attempt = attempt
        self.every = min(WAITING_NOTICE_S, model.timeout / 2)
        self.waited = 0.0
        self.loop = asyncio.get_running_loop()
        self.handle: asyncio.TimerHandle | None = self.loop.call_later(self.every, self._say)

    def _say(self) -> None:
        m = self.model
        self.waited += self.every
        log.warning(
            "waiting for %s/%s: no answer after %gs (attempt %d of %d; each gives up after %gs)",
            m.provider,
            m.model,
            round(self.waited, 1),
            self.attempt + 1,
            m.max_retries + 1,
            m.timeout,
        )
        self.handle = self.loop.call_later(self.every, self._say)

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


class ChatStream:
    """A streamed answer: iterate it for ``Delta`` pieces; afterwards ``response`` holds
    the whole ``ChatResponse``. A failure before the first piece is retried like
    ``complete``; one after it raises ``StreamInterruptedError`` carrying the text so far
    and an estimated ``usage``."""

    def __init__(self, model: ProviderModel, request: ChatRequest) -> None:
        self._model = model
        self._request = request
        self._response: ChatResponse | None = None
        self._started = False

    @property
    def response(self) -> ChatResponse:
        """The assembled answer (once the stream is consumed)."""
        if self._response is None:
            raise RuntimeError("the stream has not finished; iterate it (or await final())")
        return self._response

    async def final(self) -> ChatResponse:
        """Consume what is left and return the whole answer."""
        async for _ in self:
            pass
        return self.response

    def __aiter__(self) -> AsyncIterator[Delta]:
        if self._started:
            raise RuntimeError("a ChatStream can be iterated only once")
        self._started = True
        return self._run()

    async def _run(self) -> AsyncIterator[Delta]:
        model, request = self._model, self._request
        attempt = 0
        while True:
            state = StreamState()
            notice = model._notice_waiting(attempt)  # until the first piece
            try:
                async for delta in model._stream(request, state):
                    notice.cancel()
                    state.pieces += 1
                    yield delta
                break
            except Exception as exc:
                error = model._error(exc)
                if state.pieces:
                    raise await self._interrupted(state, str(error)) from exc
                if not model._should_retry(error, attempt):
                    raise error from exc
            finally:
                notice.cancel()
            await model._sleep(model._backoff(error, attempt))
            attempt += 1
        if state.stop_reason is None and state.raw_stop_reason is None and state.pieces:
            raise await self._interrupted(state, "the server closed the stream before its end")
        self._response = await model._finish(request, state)

    async def _interrupted(self, state: StreamState, why: str) -> StreamInterruptedError:
        text = "".join(state.text)
        usage = await self._model.estimate_usage(self._request, text + "".join(state.thinking))
        return StreamInterruptedError(
            why, provider=self._model.provider, model=self._model.model, text=text, usage=usage
        )


def retry_after_s(headers: Any) -> float | None:
    """The wait a 429/503 asked for: ``retry-after-ms``, or ``retry-after`` in seconds or
    as an HTTP date."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return float(str(ms)) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return float(str(value))
    except ValueError:
        pass
    import email.utils
    import time

    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def error_for_status(
    model: ProviderModel, status: int, message: str, headers: Any = None, code: str = ""
) -> LLMError:
    """The Orca error for an HTTP error answer, shared by the HTTP providers."""
    from orca import errors

    where = {"provider": model.provider, "model": model.model}
    text = message.lower() + " " + code.lower()
    if status == 429:
        return errors.RateLimitedError(message, retry_after=retry_after_s(headers), **where)
    if status in (401, 403):
        return errors.AuthenticationError(
            f"the API key was refused ({status}): {message}",
            status=status,
            fix="check the key in the provider's environment variable",
            **where,
        )
    too_long = "prompt is too long" in text or "too many tokens" in text
    if too_long or ("context" in text and any(w in text for w in ("length", "window", "exceed"))):
        return errors.ContextLengthError(
            message,
            status=status,
            fix="shorten the conversation or lower max_tokens",
            **where,
        )
    if status == 404 and "model" in text:
        return errors.UnknownModelError(
            f"no such model: {message}",
            status=status,
            fix="check the model name (see the provider's model list)",
            **where,
        )
    if status in (503, 529) or "overloaded" in text:
        return errors.OverloadedError(f"overloaded ({status}): {message}", status=status, **where)
    if status >= 500:
        return errors.ProviderServerError(
            f"server error {status}: {message}", status=status, **where
        )
    return errors.BadRequestError(f"request rejected ({status}): {message}", status=status, **where)


def body_extras(params: dict[str, Any], known: frozenset[str]) -> dict[str, Any]:
    """Move the fields an SDK method has no keyword for into ``extra_body``, so that
    provider-specific fields (``top_k``, ``repeat_penalty``, ...) reach the server."""
    extra = {k: params.pop(k) for k in list(params) if k not in known}
    if extra:
        params["extra_body"] = {**params.get("extra_body", {}), **extra}
    return params
