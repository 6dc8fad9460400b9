"""Running one LLM task: wait for its admission slot, call its model through Orca's LLM
layer (the meter reserves it in its session's and the active budgets, prices it and
writes it to the usage ledger), and stream ``started``, ``token``, ``metrics`` and
``end`` or ``error``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from orca._redact import redact_secret_text
from orca.errors import BudgetExceeded, LLMError, OrcaError
from orca.llm import LLM, ChatRequest, Message, Models
from orca.llm._meter import Meter
from orca.server._admission import Evicted
from orca.store._tasks import TaskOutcome

if TYPE_CHECKING:
    from orca.server._tasklive import LiveTask
    from orca.server._taskmodels import TaskModel
    from orca.store import LedgerRepository

FLUSH_EVERY_S = 0.05
"""How often a running task's stream is stored (its end is stored at once)."""
METRICS_EVERY = 32
"""A ``metrics`` event after the ``started`` one, then every this many tokens."""


def chat_request(body: dict[str, Any]) -> ChatRequest:
    """The model call a task's body asks for."""
    if body.get("prompt") is not None:
        messages: tuple[Message, ...] = (Message.user(body["prompt"]),)
    else:
        messages = tuple(
            Message.system(m["content"])
            if m["role"] == "system"
            else Message.assistant(m["content"])
            if m["role"] == "assistant"
            else Message.user(m["content"])
            for m in body["inputs"]
        )
    return ChatRequest(messages, max_tokens=body.get("max_tokens"), seed=body.get("seed"))


@dataclass
class Rates:
    """Measured decode speed per engine, or per pool (tokens per second, a moving
    average), for the ``on_time_probability`` of tasks with a deadline and a pool's
    ``DEADLINE_UNMET``."""

    by_engine: dict[str, float] = field(default_factory=dict)

    def add(self, engine: str, tokens: int, ms: float) -> None:
        if tokens > 0 and ms > 0:
            rate = tokens * 1000 / ms
            old = self.by_engine.get(engine)
            self.by_engine[engine] = rate if old is None else old + 0.2 * (rate - old)


def on_time(
    deadline_at: float | None, now: float, tokens_left: int, rate: float | None
) -> float | None:
    """How likely the task ends by its deadline: the time left over the time its
    remaining tokens take at the measured rate, capped to [0, 1] (None: no deadline)."""
    if deadline_at is None:
        return None
    left = deadline_at - now
    if left <= 0:
        return 0.0
    if not rate or tokens_left <= 0:
        return 1.0
    return round(min(1.0, left / (tokens_left / rate)), 3)


class TaskRun:
    """Runs ``live`` on ``model``; ``store`` runs a store call off the loop."""

    def __init__(
        self,
        live: LiveTask,
        model: TaskModel,
        *,
        ledger: LedgerRepository | None,
        prices: Callable[[], Awaitable[Any]],
        store: Callable[..., Awaitable[Any]],
        admission: Any,
        rates: Rates,
    ) -> None:
        self.live = live
        self.model = model
        self.ledger = ledger
        self.prices = prices
        self.store = store
        self.admission = admission
        self.rates = rates
        self.rate_key = model.pool or model.engine  # a pool's speed is its own
        body = live.record.body
        self.deadline_at: float | None = None
        if body.get("deadline_ms") is not None:
            self.deadline_at = live.admitted + body["deadline_ms"] / 1000
        self.meter: Meter | None = None
        self.pool_call: dict[str, Any] = {}  # a pool's call: its replica, kv_warmth
        self.first: float | None = None
        self.last: float | None = None

    async def __call__(self) -> None:
        live = self.live
        outcome: TaskOutcome
        timer = None
        if self.deadline_at is not None:
            loop = asyncio.get_running_loop()
            timer = loop.call_later(max(0.0, self.deadline_at - time.monotonic()), self._deadline)
        try:
            outcome = await self._admitted_then_run()
        except Exception as exc:  # never a crash of the server for one task
            outcome = self._failed(exc)
        finally:
            if timer is not None:
                timer.cancel()
            self.admission.release(live.ticket)
        if not live.ended:  # cancelled or failed: the stream ends with its error
            self._error(outcome)
        if live.flusher is not None:
            # a write it started still runs first: the store's thread takes calls in order
            live.flusher.cancel()
            await asyncio.wait({live.flusher})
        try:
            await self.store("finish", live.task_id, outcome, live.unstored())
        finally:
            live.finished.set()
        series = task_metrics()
        series.finished.labels(self.model.engine, outcome.status).inc()
        series.tokens.labels(self.model.engine).inc(live.tokens)

    def _deadline(self) -> None:
        self.live.deadline_hit = True
        if self.live.waiting is not None:
            self.live.waiting.cancel()

    async def _admitted_then_run(self) -> TaskOutcome:
        live = self.live
        live.waiting = asyncio.ensure_future(self.admission.slot(live.ticket))
        try:
            await live.waiting
        except asyncio.CancelledError:
            if live.runner is not None and live.runner.cancelling():
                raise  # the server stops
            return self._stopped()
        finally:
            live.waiting = None
        if live.cancelled or live.deadline_hit:
            return self._stopped()
        ticket = live.ticket
        live.emit(
            "started",
            {
                "task_id": live.task_id,
                "queue_position": ticket.queue_position,
                "predicted_start_ms": ticket.predicted_start_ms,
                "waited_ms": round((time.monotonic() - live.admitted) * 1000, 3),
                "engine": self.model.engine,
                "model": self.model.name,
                "model_ref": self.model.ref,
                "session_id": live.record.session_id,
                "seed": live.record.body.get("seed"),
                "determinism": live.record.body.get("determinism"),
                "sampler_profile_version": live.record.body.get("sampler_profile_version"),
            },
        )
        await self.store("start", live.task_id, live.unstored())
        if live.cancelled or live.deadline_hit:  # while its start was being stored
            return self._stopped()
        live.waiting = asyncio.ensure_future(self._call())
        try:
            return await live.waiting  # type: ignore[no-any-return]
        except asyncio.CancelledError:
            if live.runner is not None and live.runner.cancelling():
                # the server stops: reported now, not left "running" until a restart
                inp, out, cost = self._spent()
                message = "the server stopped while the task ran; send it again"
                return TaskOutcome("failed", inp, out, cost, None, "WORKER_RESET", message)
            return self._stopped()
        finally:
            live.waiting = None

    async def _call(self) -> TaskOutcome:
        live, model = self.live, self.model
        body = live.record.body
        self.meter = meter = Meter(
            Models({"task": model.model}, prices=await self.prices()),
            session=live.record.session_id,
            ledger=self.ledger if self.ledger is not None else False,
        )
        if model.pool is not None:
            from orca.pools import CALL, SESSION

            SESSION.set(live.record.session_id)  # this task's own context (its runner)
            CALL.set(self.pool_call)
        else:  # a pool's first frame waits for its replica (and kv_warmth): its first token
            await self._metrics(budgets=True)
        stream = LLM(model.model, "task", meter, None).astream(chat_request(body))
        async with contextlib.aclosing(stream.__aiter__()) as pieces:  # type: ignore[type-var]
            async for delta in pieces:
                if not delta.text:
                    continue
                now = time.perf_counter()
                if self.first is None and model.pool is not None:
                    await self._metrics(budgets=True)
                self.first = self.first or now
                self.last = now
                index = live.tokens
                if not live.emit("token", {"t": delta.text, "i": index}):
                    break  # cancelled: closing the stream settles what it spent
                if live.tokens % METRICS_EVERY == 0:
                    await self._metrics(budgets=False)
                self._kick()
        if live.cancelled or live.deadline_hit:
            return self._stopped()
        response = stream.response
        decode = self._decode_ms()
        self.rates.add(self.rate_key, live.tokens, decode or 0.0)
        live.emit(
            "end",
            {
                "tokens_out": live.tokens,
                "tokens_in": response.usage.input_tokens,
                "decode_ms": decode,
                "cost_nano_usd": response.cost_nano_usd,
                "priced": response.priced,
                "stop_reason": response.stop_reason,
                "engine": model.engine,
                "model": model.name,
            },
        )
        return TaskOutcome(
            "done",
            response.usage.input_tokens,
            response.usage.output_tokens,
            response.cost_nano_usd or 0,
            decode,
        )

    def _kick(self) -> None:
        """Store the stream so far, unless a store of it is under way (it takes these too)."""
        live = self.live
        if live.flusher is None or live.flusher.done():
            live.flusher = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        live = self.live
        while not live.ended and live.stored < len(live.items):
            await asyncio.sleep(FLUSH_EVERY_S)  # a batch of tokens per write, not one each
            if not live.ended:  # else the end stores them, with the record
                await self.store("append", live.task_id, live.unstored())

    async def _metrics(self, *, budgets: bool) -> None:
        live = self.live
        body = live.record.body
        now = time.perf_counter()
        elapsed = (now - self.first) if self.first is not None else 0.0
        rate = live.tokens / elapsed if elapsed > 0 else self.rates.by_engine.get(self.rate_key)
        left = (body.get("max_tokens") or 0) - live.tokens
        snap = self.admission.snapshot()
        data: dict[str, Any] = {
            "queue_depth": sum(snap["queue_depth"].values()),
            "running": snap["running"],
            "tokens_out": live.tokens,
            "tokens_per_s": None if not rate else round(rate, 3),
            "on_time_probability": on_time(self.deadline_at, time.monotonic(), left, rate),
        }
        if self.model.pool is not None:
            data["pool"] = self.model.pool
            data["kv_warmth"] = self.pool_call.get("kv_warmth")
            data["replica"] = self.pool_call.get("replica")
        if budgets and self.ledger is not None:
            found = await self.ledger.aapplicable(session=live.record.session_id)
            data["budgets"] = [
                {k: s[k] for k in ("name", "unit", "scope", "limit", "spent", "remaining")}
                for s in (st.as_dict() for st in await self.ledger.astatus(found))
            ]
        live.emit("metrics", data)

    def _decode_ms(self) -> float | None:
        if self.first is None or self.last is None:
            return None
        return round((self.last - self.first) * 1000, 3)

    def _spent(self) -> tuple[int, int, int]:
        """Input tokens, output tokens and nano-USD the meter recorded so far."""
        if self.meter is None:
            return 0, 0, 0
        _, inp, out, cost = self.meter.tally
        return inp, out, cost

    def _stopped(self) -> TaskOutcome:
        inp, out, cost = self._spent()
        if self.live.cancelled:
            code, message = "CANCELLED", "cancelled by the client"
        else:
            code, message = "DEADLINE_EXCEEDED", "the task's deadline_ms passed"
        status = "cancelled" if self.live.cancelled else "failed"
        return TaskOutcome(status, inp, out, cost, self._decode_ms(), code, message)  # type: ignore[arg-type]

    def _failed(self, exc: Exception) -> TaskOutcome:
        inp, out, cost = self._spent()
        code = "ENGINE_ERROR"
        if isinstance(getattr(exc, "code", None), str):  # a pool's or its replica's
            code = exc.code  # type: ignore[attr-defined]
        elif isinstance(exc, BudgetExceeded):
            code = "BUDGET_EXCEEDED"
        elif isinstance(exc, Evicted):
            code = "ADMISSION_EVICTED"
        elif isinstance(exc, LLMError):
            code = type(exc).__name__.removesuffix("Error").upper() or "ENGINE_ERROR"
        message = str(exc) if isinstance(exc, OrcaError) else f"{type(exc).__name__}: {exc}"
        message = redact_secret_text(message)  # stored and streamed: never a credential
        return TaskOutcome("failed", inp, out, cost, self._decode_ms(), code, message)

    def _error(self, outcome: TaskOutcome) -> None:
        retriable = outcome.error_code in ("ADMISSION_EVICTED", "DEADLINE_EXCEEDED") or (
            outcome.error_code not in (None, "CANCELLED", "BUDGET_EXCEEDED", "ENGINE_ERROR")
        )
        self.live.emit(
            "error",
            {
                "code": outcome.error_code,
                "message": outcome.error,
                "engine": self.model.engine,
                "retriable": retriable,
                "tokens_out": self.live.tokens,
                "cost_nano_usd": outcome.cost_nano_usd,
            },
        )


@dataclass
class _Series:
    finished: Any
    tokens: Any


def task_metrics() -> _Series:
    """The tasks' Prometheus series, in the registry of the runs' metrics."""
    from orca.observe._metrics import more_series

    def build(registry: Any) -> _Series:
        from prometheus_client import Counter

        return _Series(
            Counter("orca_llm_tasks", "LLM tasks ended, by engine and status.",
                    ("engine", "status"), registry=registry),
            Counter("orca_llm_task_tokens", "Tokens LLM tasks streamed, by engine.",
                    ("engine",), registry=registry),
        )  # fmt: skip

    return more_series("tasks", build)
