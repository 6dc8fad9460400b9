"""Models as nodes see them: ``ctx.planner``, ``ctx.worker`` and ``ctx.llm(name)``.

Every call made through them streams ``token`` events, is priced, and ends with a
``usage`` event carrying its cost; the node writes no code for any of it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from orca import events
from orca._sync import iterate_sync, off_loop, run_sync
from orca.errors import StreamInterruptedError
from orca.llm._base import ChatModel, estimate_tokens, request_digest
from orca.llm._meter import Meter
from orca.llm._types import ChatRequest, ChatResponse, Delta, Message, ToolCall, Usage

if TYPE_CHECKING:
    from orca.context import PaidAnswer, TaskContext

Prompt = str | Sequence[Message] | ChatRequest


class LLM:
    """One model bound to a task: what ``ctx.planner`` and friends return.

    ``complete``/``acomplete`` return the whole ``ChatResponse`` (with its cost);
    ``stream``/``astream`` yield ``Delta`` pieces. Either way every token is emitted as a
    ``token`` event and the call's usage as a ``usage`` event.
    """

    def __init__(
        self,
        model: ChatModel,
        role: str,
        meter: Meter,
        ctx: TaskContext | None,
        *,
        redact_log: bool = False,
    ) -> None:
        self.model = model
        self.role = role
        self._meter = meter
        self._ctx = ctx
        # the event log keeps no more of an answer than the checkpoints keep of the state
        self._redact_log = redact_log

    def __repr__(self) -> str:
        return f"LLM(role={self.role!r}, model={self.model!r})"

    def request(self, prompt: Prompt, **options: Any) -> ChatRequest:
        """The ``ChatRequest`` for ``prompt`` (a string is one user message)."""
        if isinstance(prompt, ChatRequest):
            return replace(prompt, **options) if options else prompt
        if isinstance(prompt, str):
            messages: tuple[Message, ...] = (Message.user(prompt),)
        else:
            messages = tuple(prompt)
        if "stop" in options and isinstance(options["stop"], str | list):
            stop = options.pop("stop")
            options["stop"] = (stop,) if isinstance(stop, str) else tuple(stop)
        if options.get("seed") is None and self._ctx is not None:
            # seeded from the run: the same run, and a node re-run after a resume, ask the
            # model the same way
            options["seed"] = self._ctx.random.randrange(2**31)
        if "tools" in options:
            from orca.llm._types import ToolSpec

            options["tools"] = tuple(
                t if isinstance(t, ToolSpec) else ToolSpec.of(t) for t in options["tools"]
            )
        return ChatRequest(messages, **options)

    async def acomplete(self, prompt: Prompt, **options: Any) -> ChatResponse:
        """Call the model and return the whole answer, priced.

        Raises:
            LLMError: the call failed (after retries); a stream cut mid-way raises
                ``StreamInterruptedError`` after its estimated usage was recorded.
        """
        stream = self.astream(prompt, **options)
        async for _ in stream:
            pass
        return stream.response

    def complete(self, prompt: Prompt, **options: Any) -> ChatResponse:
        """Sync ``acomplete``, for sync nodes."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run_sync("complete", self.acomplete(prompt, **options))
        return off_loop(self.complete, prompt, **options)

    def astream(self, prompt: Prompt, **options: Any) -> MeteredStream:
        """Stream the answer: ``async for delta in llm.astream(...)``; afterwards the
        stream's ``response`` holds the priced ``ChatResponse``."""
        return MeteredStream(self, self.request(prompt, **options))

    def stream(self, prompt: Prompt, **options: Any) -> Iterator[Delta]:
        """Sync ``astream``, for sync nodes (yields ``Delta`` pieces)."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return iterate_sync("stream", aiter(self.astream(prompt, **options)))
        # a sync node run inline on the loop's thread: collect on another thread
        pieces = off_loop(lambda: list(self.stream(prompt, **options)))
        return iter(pieces)


class MeteredStream:
    """A model's stream that emits token events and records usage as it goes."""

    def __init__(self, llm: LLM, request: ChatRequest) -> None:
        self._llm = llm
        self._request = request
        self._response: ChatResponse | None = None

    @property
    def response(self) -> ChatResponse:
        if self._response is None:
            raise RuntimeError("the stream has not finished; iterate it to the end first")
        return self._response

    def __aiter__(self) -> AsyncIterator[Delta]:
        return self._run()

    async def _run(self) -> AsyncIterator[Delta]:
        llm, ctx = self._llm, self._llm._ctx
        model, meter = llm.model, llm._meter
        emitter = ctx.events if ctx is not None else None
        tokens = emitter is not None and emitter.wants(events.Token)
        began = time.perf_counter()
        replay = meter.replay
        # a task run again is answered from the calls it completed before: paid once
        # (unless the store must keep no answers: they would be kept whole)
        keep = ctx is not None and replay is None and not llm._redact_log
        log = ctx.calls if keep and ctx is not None else None
        digest, occurrence = "", 0
        response: ChatResponse | None = None
        replayed: Any = None
        if replay is not None:  # a replay answers as the recorded run was answered
            try:
                replayed = replay.stream(ctx, model, self._request)
            except Exception as exc:  # a recorded failure: it fails where the call would
                replayed = _Failing(exc)
            if replayed.cached:
                response = replayed.response
        elif log is not None:
            digest = request_digest(self._request)
            occurrence, recorded = await log.lookup("llm", digest)
            if recorded is not None:
                response = _recorded_response(recorded)
        if response is not None:
            self._response = response
            if tokens and response.text:
                _token(llm, ctx, response.text)
            if response.text or response.thinking:
                yield Delta(response.text, response.thinking)
            _answered(llm, ctx, self._request, digest, response, 0, None, None, began, cached=True)
            return
        request, hold = await meter.reserve(ctx, model, self._request)
        pieces: list[str] = []
        first: float | None = None

        def answered(
            response: ChatResponse, cost: int = 0, error: BaseException | None = None
        ) -> None:
            """The ``llm.response`` event: the answer, or how the call failed."""
            _answered(llm, ctx, self._request, digest, response, cost, error, first, began)

        def partial(usage: Usage, reason: str) -> ChatResponse:
            return ChatResponse("".join(pieces), model.provider, model.model, usage, reason)  # type: ignore[arg-type]

        try:
            stream = model.stream(request) if replayed is None else replayed
            async for delta in stream:
                if first is None:
                    first = time.perf_counter()
                if delta.text:
                    pieces.append(delta.text)
                    if tokens:
                        _token(llm, ctx, delta.text)
                yield delta
        except StreamInterruptedError as exc:
            # the tokens were spent: record them (estimated) before the error goes on
            cost, _ = await meter.settle(
                ctx, llm.role, model.provider, model.model, exc.usage, hold
            )
            answered(partial(exc.usage, "error"), cost, exc)
            raise
        except BaseException as exc:
            if pieces:  # cut short by the caller: what streamed was spent
                prompt = _prompt_text(request.messages)
                spent = Usage(estimate_tokens(prompt), len(pieces), estimated=True)
                # first: a closed stream may be finalised after its run has ended
                cost, _ = meter.models.prices.cost_nano(spent, model.provider, model.model)
                answered(partial(spent, "cancelled"), cost)
                await asyncio.shield(
                    meter.settle(ctx, llm.role, model.provider, model.model, spent, hold)
                )
            else:
                await asyncio.shield(meter.release(hold))
                if isinstance(exc, Exception):
                    answered(partial(Usage(), "error"), 0, exc)
            raise
        response = stream.response

        async def kept(cost: int, priced: bool, paid: PaidAnswer | None) -> None:
            # kept before the node sees the answer, and before the hold is settled (with
            # the answer's record on the hold): a crash after this pays no more
            self._response = replace(response, cost_nano_usd=cost, priced=priced)
            if log is not None:
                value = _response_record(self._response)
                await log.record("llm", digest, occurrence, value, paid)

        cost, _ = await meter.settle(
            ctx, llm.role, response.provider, response.model, response.usage, hold, kept
        )
        answered(response, cost)


class _Failing:
    """A stream that fails at once with ``error``."""

    cached = False

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __aiter__(self) -> _Failing:
        return self

    async def __anext__(self) -> Delta:
        raise self.error


def _token(llm: LLM, ctx: TaskContext | None, text: str) -> None:
    """Emit a ``token`` event: a piece of the answer's text."""
    emitter = ctx.events if ctx is not None else None
    if emitter is not None and ctx is not None:
        emitter.emit(
            events.Token,
            ctx.step,
            task_id=ctx.task_id,
            node=ctx.node,
            text=text,
            model=llm.model.model,
            role=llm.role,
        )


def _answered(
    llm: LLM,
    ctx: TaskContext | None,
    request: ChatRequest,
    digest: str,
    response: ChatResponse,
    cost: int,
    error: BaseException | None,
    first: float | None,
    began: float,
    *,
    cached: bool = False,
) -> None:
    """Emit the ``llm.response`` event of a call: its answer, or how it failed
    (``digest``: the request's, when already known; else computed here, if wanted)."""
    emitter = ctx.events if ctx is not None else None
    if emitter is None or ctx is None:
        return
    if not emitter.wants(events.LLMResponse):
        emitter.skip()
        return
    from orca._redact import redact, redact_text

    text, thinking = response.text, response.thinking
    calls = [_call_dict(c) for c in response.tool_calls]
    if llm._redact_log:
        text, thinking, calls = redact_text(text), redact_text(thinking), redact(calls)
    emitter.emit(
        events.LLMResponse,
        ctx.step,
        task_id=ctx.task_id,
        node=ctx.node,
        role=llm.role,
        provider=response.provider,
        model=response.model,
        request=digest or request_digest(request),
        # redacted, then cut: a cut first could leave a piece of a key no pattern knows
        prompt=redact_text(_prompt_text(request.messages[-1:])[: PROMPT_PREVIEW + 4096])[
            :PROMPT_PREVIEW
        ],
        text=text,
        thinking=thinking,
        tool_calls=calls,
        stop_reason=response.stop_reason,
        usage=response.usage.counts(),
        first_token_ms=None if first is None else round((first - began) * 1000, 3),
        duration_ms=round((time.perf_counter() - began) * 1000, 3),
        cost_nano_usd=cost,
        error_type=None if error is None else type(error).__name__,
        error=None if error is None else str(error),
        cached=cached,
    )


def _response_record(response: ChatResponse) -> dict[str, Any]:
    """A finished call's answer as its call record keeps it."""
    return {
        "provider": response.provider,
        "model": response.model,
        "text": response.text,
        "thinking": response.thinking,
        "tool_calls": [_call_dict(c) for c in response.tool_calls],
        "usage": response.usage.counts(),
        "stop_reason": response.stop_reason,
        "raw_stop_reason": response.raw_stop_reason,
        "id": response.id,
        "cost_nano_usd": response.cost_nano_usd,
        "priced": response.priced,
    }


def _recorded_response(value: dict[str, Any]) -> ChatResponse:
    """The answer a call record keeps, as the node got it the first time."""
    return ChatResponse(
        text=value["text"],
        provider=value["provider"],
        model=value["model"],
        usage=Usage(**value["usage"]),
        stop_reason=value["stop_reason"],
        raw_stop_reason=value["raw_stop_reason"],
        tool_calls=tuple(ToolCall(**c) for c in value["tool_calls"]),
        thinking=value["thinking"],
        id=value["id"],
        cost_nano_usd=value["cost_nano_usd"],
        priced=value["priced"],
        cached=True,
    )


PROMPT_PREVIEW = 200
"""How much of a call's last message its ``llm.response`` event keeps."""


def _call_dict(call: ToolCall) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": call.id,
        "name": call.name,
        "arguments": call.arguments,
        "raw_arguments": call.raw_arguments,
    }
    if call.arguments_error is not None:
        out["arguments_error"] = call.arguments_error
    return out


def _prompt_text(messages: Sequence[Message]) -> str:
    return "".join(m.text for m in messages)
