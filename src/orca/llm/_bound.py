"""Models as nodes see them: ``ctx.planner``, ``ctx.worker`` and ``ctx.llm(name)``.

Every call made through them streams ``token`` events, is priced, and ends with a
``usage`` event carrying its cost; the node writes no code for any of it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from orca import events
from orca.cost import PriceBook
from orca.engine._sync import iterate_sync, run_sync
from orca.errors import ConfigError, StreamInterruptedError
from orca.llm._base import ChatModel
from orca.llm._profiles import ModelSpec, Profile
from orca.llm._types import ChatRequest, ChatResponse, Delta, Message, Usage

if TYPE_CHECKING:
    from orca.engine._context import RunContext

Prompt = str | Sequence[Message] | ChatRequest

# Sync calls from a thread that already runs an event loop (a sync node run inline by
# the engine) go to this pool, whose threads have no loop of their own.
_handoff = ThreadPoolExecutor(max_workers=4, thread_name_prefix="orca-llm")


class Models:
    """The models a run may call, by name (``planner``, ``worker``, any other), and the
    prices that cost their calls.

    Args:
        models: name -> ``ChatModel`` or ``ModelSpec`` (built on first use).
        profile: a ``Profile`` supplying ``planner`` and ``worker`` (``models`` win).
        prices: the ``PriceBook`` (default: the catalog plus the user database's
            overrides, read on the first priced call).
    """

    def __init__(
        self,
        models: Mapping[str, ChatModel | ModelSpec] | None = None,
        *,
        profile: Profile | None = None,
        prices: PriceBook | None = None,
    ) -> None:
        self._specs: dict[str, ChatModel | ModelSpec] = {}
        if profile is not None:
            self._specs.update({"planner": profile.planner, "worker": profile.worker})
        self._specs.update(models or {})
        # without a profile, planner and worker come from the active one, on first use
        self._want_active = profile is None
        self._built: dict[str, ChatModel] = {}
        self._prices = prices
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        return sorted(self._specs)

    def get(self, name: str) -> ChatModel:
        """The model called ``name``, built on first use.

        Raises:
            ConfigError: no model of that name (the closest is named).
        """
        with self._lock:
            model = self._built.get(name)
            if model is None:
                spec = self._specs.get(name)
                if spec is None and name in ("planner", "worker") and self._want_active:
                    self._want_active = False
                    active = _active_profile()
                    if active is not None:
                        self._specs.setdefault("planner", active.planner)
                        self._specs.setdefault("worker", active.worker)
                    spec = self._specs.get(name)
                if spec is None:
                    from orca.errors import closest

                    have = ", ".join(self.names()) or "none"
                    raise ConfigError(
                        f"the run has no model called {name!r}{closest(name, self.names())}",
                        key=name,
                        fix=f"pass models={{{name!r}: ...}} or a profile to invoke (have: {have})",
                    )
                model = spec.build() if isinstance(spec, ModelSpec) else spec
                self._built[name] = model
            return model

    @property
    def prices(self) -> PriceBook:
        with self._lock:
            if self._prices is None:
                self._prices = _default_prices()
            return self._prices


def meter_for_run(
    *, profile: Profile | str | None = None, models: Any = None, prices: Any = None
) -> Meter:
    """The meter of one run, from ``invoke``'s ``profile``/``models``/``prices`` options.

    Raises:
        InvalidInputError: an option of the wrong type.
        UnknownProfileError: ``profile`` names no stored profile.
    """
    from orca.errors import InvalidInputError

    if isinstance(profile, str):
        profile = load_profile(profile)
    elif profile is not None and not isinstance(profile, Profile):
        raise InvalidInputError(
            f"profile is a {type(profile).__name__}. Fix: pass a Profile or a profile name"
        )
    if models is not None and not isinstance(models, Mapping):
        raise InvalidInputError(
            f"models is a {type(models).__name__}. Fix: pass a dict of name -> ChatModel"
        )
    if prices is not None and not isinstance(prices, PriceBook):
        raise InvalidInputError(f"prices is a {type(prices).__name__}. Fix: pass a PriceBook")
    return Meter(Models(models, profile=profile, prices=prices))


def load_profile(name: str) -> Profile:
    """The stored profile ``name``. Raises ``UnknownProfileError`` if there is none."""
    from orca.llm._profiles import Profiles
    from orca.store import open_user_db

    conn = open_user_db()
    try:
        return Profiles(conn).get(name)
    finally:
        conn.close()


def _active_profile() -> Profile | None:
    from orca.llm._profiles import Profiles
    from orca.store import open_user_db, user_db_path

    if not user_db_path().exists():
        return None
    conn = open_user_db()
    try:
        return Profiles(conn).active()
    finally:
        conn.close()


def _default_prices() -> PriceBook:
    from orca.store import open_user_db, user_db_path

    if not user_db_path().exists():
        return PriceBook()
    conn = open_user_db()
    try:
        return PriceBook.from_db(conn)
    finally:
        conn.close()


class Meter:
    """Per run: prices each call, emits its usage event, warns once per unpriced model."""

    def __init__(self, models: Models) -> None:
        self.models = models
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def charge(
        self,
        ctx: RunContext | None,
        role: str,
        provider: str,
        model: str,
        usage: Usage,
    ) -> tuple[int, bool]:
        """Price one call's ``usage`` and emit its usage event (and the unpriced-model
        warning, once per run); returns the cost in nano-USD and whether it was priced."""
        cost, price = self.models.prices.cost_nano(usage, provider, model)
        emitter = ctx._emitter if ctx is not None else None
        if emitter is not None and ctx is not None:
            if not price.priced:
                with self._lock:
                    first = (provider, model) not in self._warned
                    self._warned.add((provider, model))
                if first:
                    emitter.emit(
                        events.WarningEvent,
                        ctx.step,
                        code="unpriced_model",
                        message=f"no price for {provider}/{model}: its calls cost 0 and are "
                        "marked priced=false. Fix: orca pricing set "
                        f"{provider} {model} --input ... --output ...",
                        node=ctx.node,
                        task_id=ctx.task_id,
                    )
            emitter.emit(
                events.Usage,
                ctx.step,
                task_id=ctx.task_id,
                node=ctx.node,
                provider=provider,
                model=model,
                role=role,
                input_tokens=usage.input_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                output_tokens=usage.output_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                cost_nano_usd=cost,
                priced=price.priced,
                estimated=usage.estimated,
            )
        return cost, price.priced


class LLM:
    """One model bound to a task: what ``ctx.planner`` and friends return.

    ``complete``/``acomplete`` return the whole ``ChatResponse`` (with its cost);
    ``stream``/``astream`` yield ``Delta`` pieces. Either way every token is emitted as a
    ``token`` event and the call's usage as a ``usage`` event.
    """

    def __init__(self, model: ChatModel, role: str, meter: Meter, ctx: RunContext | None) -> None:
        self.model = model
        self.role = role
        self._meter = meter
        self._ctx = ctx

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
        return _handoff.submit(self.complete, prompt, **options).result()

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
        pieces = _handoff.submit(lambda: list(self.stream(prompt, **options))).result()
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
        model = llm.model
        emitter = ctx._emitter if ctx is not None else None
        tokens = emitter is not None and emitter.wants(events.Token)
        stream = model.stream(self._request)
        try:
            async for delta in stream:
                if tokens and delta.text and ctx is not None and emitter is not None:
                    emitter.emit(
                        events.Token,
                        ctx.step,
                        task_id=ctx.task_id,
                        node=ctx.node,
                        text=delta.text,
                        model=model.model,
                        role=llm.role,
                    )
                yield delta
        except StreamInterruptedError as exc:
            # the tokens were spent: record them (estimated) before the error goes on
            llm._meter.charge(ctx, llm.role, model.provider, model.model, exc.usage)
            raise
        response = stream.response
        cost, priced = llm._meter.charge(
            ctx, llm.role, response.provider, response.model, response.usage
        )
        self._response = replace(response, cost_nano_usd=cost, priced=priced)
