"""LangChain chat models under Orca's meter: each call reserved in the budgets, priced
and recorded in the usage ledger like a call made through ``ctx.llm``.

Inside an Orca node, ``with metered(ctx):`` makes every LangChain chat model invoked
in the block (sync or async, streamed or not, in the threads LangChain starts) report to
the run's meter, with no ``callbacks=`` to pass. Outside a graph,
``OrcaCallbackHandler(budget=...)`` (or ``AsyncOrcaCallbackHandler`` for code that only
awaits) meters the calls it is given to, as ``callbacks=[handler]``.

Before a call, its worst case is held in every block budget that covers it (the prompt
bounded by its bytes, the answer by the ``max_tokens`` the model sends); a budget that
cannot afford it raises ``BudgetExceeded`` and the model is not called. After it, the
usage the model reported (``AIMessage.usage_metadata``, else the provider's
``llm_output``, else Orca's estimate) is priced by Orca's price book and settled. A call
that fails before answering gives its hold back; one cut mid-stream pays for what it
streamed.

Inside a run, a call is paid once: its answer is kept as a call record of the task (with
the settle, as ``ctx.llm``'s are), and the task run again (after an interrupt, a crash,
a sibling's failure) is answered from it. LangChain asks its cache before it calls a
model; ``metered`` installs one, ``CallCache``, that answers from the task's records
first, then from the cache that was set before (``set_llm_cache``), which it still fills.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import threading
from collections.abc import Coroutine, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

try:
    from langchain_core import globals as lc_globals
    from langchain_core.caches import BaseCache
    from langchain_core.callbacks import AsyncCallbackHandler, BaseCallbackHandler
    from langchain_core.messages import BaseMessage, message_to_dict, messages_from_dict
    from langchain_core.outputs import ChatGeneration, Generation, LLMResult
    from langchain_core.tracers.context import register_configure_hook
except ImportError as exc:  # an optional integration: say what to install
    raise ImportError(
        "orca.compat.langchain meters LangChain chat models and needs langchain-core. "
        "Fix: pip install langchain-core"
    ) from exc

from orca import events
from orca._sync import off_loop, run_sync
from orca.compat._langchain_calls import (
    Named,
    answer_cap,
    bound_request,
    identify,
    messages_of,
    prompt_estimate,
    streamed_usage,
    usage_of,
)
from orca.context import CallLog, PaidAnswer, RunTotals, TaskContext
from orca.errors import ConfigError
from orca.llm import Message, Meter, Usage

if TYPE_CHECKING:
    from orca.cost import Hold

__all__ = ["AsyncOrcaCallbackHandler", "CallCache", "OrcaCallbackHandler", "metered"]

T = TypeVar("T")

ROLE = "langchain"
"""The role a LangChain call is recorded under (``ctx.llm`` calls use the model's name in
the run: ``planner``, ``worker``, ...), and the kind of its call records."""

# -- the calls of one meter ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Call:
    """A call in flight: what it was priced as, and what it holds."""

    named: Named
    hold: Hold | None
    prompt: int  # estimated prompt tokens, for a call whose usage never comes


@dataclass(frozen=True, slots=True)
class _Answer:
    """A call's answer as LangChain gave it to its cache, to keep with its settle."""

    generations: Sequence[Generation]
    digest: str
    occurrence: int


def _digest(prompt: str, llm_string: str) -> str | None:
    """What a chat model's call asks, as LangChain's cache keys it (the messages and the
    model's parameters), hashed; without the messages' ``usage_metadata``, which no
    provider is sent, and which LangChain changes in an answer it takes from a cache
    (``total_cost`` 0): a conversation holding a kept answer asks what it asked the
    first time. None for a plain (not chat) model's prompt, whose calls are not kept
    (LangChain ends them before it hands their answers to the cache)."""
    try:
        messages = json.loads(prompt)
    except ValueError:
        return None
    if not isinstance(messages, list) or not all(
        isinstance(m, dict) and isinstance(m.get("kwargs"), dict) for m in messages
    ):
        return None
    for message in messages:
        message["kwargs"].pop("usage_metadata", None)
    key = json.dumps(messages, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{llm_string}\x00{key}".encode()).hexdigest()


def _kept(generations: Sequence[Generation]) -> dict[str, Any]:
    """A call's answer as its call record keeps it: each generation's message as
    LangChain's ``message_to_dict`` writes it (a plain model's, its text), and its
    ``generation_info``."""
    return {
        "generations": [
            {"message": message_to_dict(g.message), "info": g.generation_info}
            if isinstance(g, ChatGeneration)
            else {"text": g.text, "info": g.generation_info}
            for g in generations
        ]
    }


def _revived(record: Mapping[str, Any]) -> list[Generation] | None:
    """A kept answer's generations, rebuilt as messages only (no class a record names is
    ever imported); None when the record is not one ``_kept`` wrote (the call is then
    made again)."""
    found = record.get("generations")
    if not isinstance(found, list) or not found:
        return None
    out: list[Generation] = []
    try:
        for g in found:
            info = g.get("info")
            if info is not None and not isinstance(info, dict):
                return None
            if "message" in g:
                [message] = messages_from_dict([g["message"]])
                out.append(ChatGeneration(message=message, generation_info=info))
            elif isinstance(g.get("text"), str):
                out.append(Generation(text=g["text"], generation_info=info))
            else:
                return None
    except Exception:  # a damaged record: asked again
        return None
    return out


class _Calls:
    """The LangChain calls metered by one ``Meter`` for one task (``ctx`` None outside a
    run), by LangChain's run id. Every method is async, off LangChain's threads.

    ``log`` is the task's call records, where its answers are kept (None outside a run,
    in a replay, or where the run keeps no answers)."""

    def __init__(
        self, meter: Meter, ctx: TaskContext | None, *, owned: bool, log: CallLog | None = None
    ) -> None:
        self.meter = meter
        self.ctx = ctx
        self.owned = owned  # the handler made the meter: closing it closes the meter
        self.log = log
        self._open: dict[UUID, _Call] = {}
        self._lock = threading.Lock()
        # the answers given to the cache, by their first generation, until their settle
        self._answers: dict[int, _Answer] = {}
        # the first generations of answers taken from the records, until their call ends
        # (held, so that no other object takes their id meanwhile)
        self._replayed: dict[int, Generation] = {}

    async def lookup(self, digest: str) -> tuple[int, list[Generation] | None]:
        """This call's occurrence of ``digest`` in the task, and its kept answer (None:
        the call is made, and its answer kept when it comes, ``keep``)."""
        assert self.log is not None
        occurrence, recorded = await self.log.lookup(ROLE, digest)
        found = _revived(recorded) if recorded is not None else None
        if found is not None:
            with self._lock:
                self._replayed[id(found[0])] = found[0]
        return occurrence, found

    def keep(self, digest: str, occurrence: int, generations: Sequence[Generation]) -> None:
        """A call's answer, as LangChain gives it to its cache: kept with its settle
        (``end``: its first generation is the one the call's end carries)."""
        if generations:
            with self._lock:
                self._answers[id(generations[0])] = _Answer(generations, digest, occurrence)

    async def start(
        self,
        serialized: Mapping[str, Any] | None,
        messages: Sequence[Message],
        kw: Mapping[str, Any],
    ) -> None:
        """Before a call (``kw``: what LangChain tells its callbacks of it): hold its worst
        case in the block budgets that cover it.

        Raises:
            BudgetExceeded: a block budget cannot afford it (the model is not called).
            ConfigError: a block budget covers it and it sends no ``max_tokens``, so
                nothing bounds its answer.
        """
        run_id: UUID = kw["run_id"]
        params, metadata = kw.get("invocation_params"), kw.get("metadata")
        params = params if isinstance(params, Mapping) else {}
        metadata = metadata if isinstance(metadata, Mapping) else {}
        named = identify(serialized, params, metadata)
        cap = answer_cap(params, metadata)
        meter, ctx = self.meter, self.ctx
        hold = None
        ledger = await meter.ledger()
        if ledger is not None:
            budgets = await meter.budgets(ledger, ctx)
            blocking = [b.name for b in budgets if b.enforcement == "block"]
            if blocking and cap is None:
                raise ConfigError(
                    f"a {named.provider}/{named.model} call through LangChain sets no "
                    f"max_tokens, so block budget {blocking[0]!r} cannot hold its worst case",
                    key="max_tokens",
                    fix="give the chat model an answer cap, e.g. "
                    "ChatOpenAI(model=..., max_tokens=1024) or .bind(max_tokens=1024)",
                )
            _, hold = await meter.reserve(ctx, named, bound_request(messages, params, cap))
        with self._lock:
            self._open[run_id] = _Call(named, hold, prompt_estimate(messages))

    async def end(self, run_id: UUID, response: LLMResult) -> None:
        """After a call: price what it used and settle its hold (a call answered from
        LangChain's cache paid nothing: its hold is given back)."""
        call = self._take(run_id)
        answer, replayed = self._answer_of(response)
        if call is None:
            return
        usage, cached = usage_of(response, call.prompt)
        if cached or replayed:
            await self.meter.release(call.hold)
            return
        await self._settle(call, usage, answer)

    async def error(self, run_id: UUID, response: LLMResult | None) -> None:
        """A call failed: what it streamed before failing is paid, estimated; one that
        streamed nothing gives its hold back."""
        call = self._take(run_id)
        if call is None:
            return
        usage = streamed_usage(response, call.prompt)
        if usage is None:
            await self.meter.release(call.hold)
        else:
            await self._settle(call, usage)

    def token(self, run_id: UUID, text: str) -> None:
        """A streamed piece of an answer, as a ``token`` event of the task."""
        ctx = self.ctx
        emitter = ctx.events if ctx is not None else None
        if ctx is None or emitter is None or not text:
            return
        if not emitter.wants(events.Token):
            emitter.skip()
            return
        with self._lock:
            call = self._open.get(run_id)
        emitter.emit(
            events.Token,
            ctx.step,
            task_id=ctx.task_id,
            node=ctx.node,
            text=text,
            model=call.named.model if call is not None else "",
            role=ROLE,
        )

    async def close(self) -> None:
        """Give back the holds of calls that never ended (a batch refused part-way), and
        close the meter when the handler made it."""
        with self._lock:
            left, self._open = list(self._open.values()), {}
        for call in left:
            await self.meter.release(call.hold)
        if self.owned:
            await self.meter.close()

    def totals(self) -> RunTotals:
        return RunTotals(*self.meter.tally)

    def _take(self, run_id: UUID) -> _Call | None:
        with self._lock:
            return self._open.pop(run_id, None)

    def _answer_of(self, response: LLMResult) -> tuple[_Answer | None, bool]:
        """The answer to keep with this call's settle, and whether the call was answered
        from the task's records (free, whatever LangChain marks on it)."""
        first = next((g for batch in response.generations for g in batch), None)
        if first is None or not (self._answers or self._replayed):
            return None, False
        with self._lock:
            replayed = self._replayed.pop(id(first), None) is first
            answer = self._answers.pop(id(first), None)
        return (answer if answer is not None and answer.generations[0] is first else None), replayed

    async def _settle(self, call: _Call, usage: Usage, answer: _Answer | None = None) -> None:
        keep = None
        log = self.log
        if answer is not None and log is not None:
            value = _kept(answer.generations)

            async def keep(cost: int, priced: bool, paid: PaidAnswer | None) -> None:
                # kept before the settle, with the answer on the hold: a process killed
                # after this is charged once and its task, run again, pays no more
                await log.record(ROLE, answer.digest, answer.occurrence, value, paid)

        await asyncio.shield(
            self.meter.settle(
                self.ctx, ROLE, call.named.provider, call.named.model, usage, call.hold, keep
            )
        )


_OPTIONS = ("budget", "session", "workflow", "ledger", "prices", "tenant")


def _own_meter(**options: Any) -> Meter:
    from orca.llm._meter import meter_for_run

    return meter_for_run(**options)


def _wait(coro: Coroutine[Any, Any, T]) -> T:
    """Run a meter coroutine from LangChain's sync callbacks: on this thread's own loop,
    or on a helper thread where this one runs a loop (a sync call from async code)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_sync("LangChain metering", coro)
    return off_loop(lambda: run_sync("LangChain metering", coro))


# -- the handlers ----------------------------------------------------------------------------


class _OrcaHandler(BaseCallbackHandler):
    """What both handlers share: the calls they meter. Errors are raised, never logged
    away: a refused reservation must stop the call."""

    raise_error = True
    _calls: _Calls

    def _setup(
        self,
        meter: Meter | None,
        ctx: TaskContext | None,
        options: dict[str, Any],
        log: CallLog | None = None,
    ) -> None:
        if meter is None:
            chosen = {k: options[k] for k in _OPTIONS if options.get(k) is not None}
            self._calls = _Calls(_own_meter(**chosen), None, owned=True)
        else:
            self._calls = _Calls(meter, ctx, owned=False, log=log)

    @property
    def totals(self) -> RunTotals:
        """The calls metered so far, their tokens and cost (nano-USD)."""
        return self._calls.totals()

    # only model calls concern the meter: LangChain skips the rest for it (an async
    # run would otherwise hand each chain and tool event to a thread for nothing)
    @property
    def ignore_chain(self) -> bool:
        return True

    @property
    def ignore_agent(self) -> bool:
        return True

    @property
    def ignore_retriever(self) -> bool:
        return True

    @property
    def ignore_retry(self) -> bool:
        return True

    @property
    def ignore_custom_event(self) -> bool:
        return True


class OrcaCallbackHandler(_OrcaHandler):
    """Meters the LangChain chat-model calls it is given to (``callbacks=[handler]``),
    sync or async: each is reserved in the block budgets that cover it, refused with
    ``BudgetExceeded`` (before the model is called) when one cannot afford it, then priced
    and recorded in the usage ledger.

    Args:
        budget: the budget to charge, by name (default: the active budget); budgets
            scoped to ``session`` or ``workflow`` are charged too.
        session: the session the calls belong to.
        workflow: the workflow name the usage rows carry.
        ledger: the ledger (``user_store().ledger``), a user database path, or False
            for none (default: the user database).
        prices: the ``PriceBook`` (default: the catalog plus the user's overrides).
        tenant: whose user database keeps the budgets and usage.

    Raises:
        InvalidInputError: an option of the wrong type, named.

    Call ``close()`` when done: it gives back the holds of calls that never ended and
    closes the user database it opened.
    """

    def __init__(
        self,
        *,
        budget: str | None = None,
        session: str | None = None,
        workflow: str | None = None,
        ledger: Any = None,
        prices: Any = None,
        tenant: str | None = None,
    ) -> None:
        super().__init__()
        self._setup(None, None, locals())

    @classmethod
    def _for_task(cls, meter: Meter, ctx: TaskContext, log: CallLog | None) -> OrcaCallbackHandler:
        handler = cls.__new__(cls)
        BaseCallbackHandler.__init__(handler)
        handler._setup(meter, ctx, {}, log)
        return handler

    def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kw: Any
    ) -> None:
        _wait(self._calls.start(serialized, messages_of(messages), kw))

    def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kw: Any) -> None:
        _wait(self._calls.start(serialized, [Message.user(p) for p in prompts], kw))

    def on_llm_new_token(self, token: str | list[str | dict[str, Any]], **kw: Any) -> None:
        chunk = kw.get("chunk")
        text = chunk.text if chunk is not None else token if isinstance(token, str) else ""
        self._calls.token(kw["run_id"], text)

    def on_llm_end(self, response: LLMResult, **kw: Any) -> None:
        _wait(self._calls.end(kw["run_id"], response))

    def on_llm_error(self, error: BaseException, **kw: Any) -> None:
        _wait(self._calls.error(kw["run_id"], kw.get("response")))

    def close(self) -> None:
        """Give back the holds of calls that never ended; close what the handler opened."""
        _wait(self._calls.close())


class AsyncOrcaCallbackHandler(AsyncCallbackHandler, _OrcaHandler):
    """``OrcaCallbackHandler`` for code that only awaits (``ainvoke``, ``astream``): the
    meter runs on the caller's event loop. A sync ``invoke`` cannot be refused through an
    async handler (LangChain logs its errors there): give sync calls
    ``OrcaCallbackHandler``. Same arguments; ``await aclose()`` when done."""

    def __init__(
        self,
        *,
        budget: str | None = None,
        session: str | None = None,
        workflow: str | None = None,
        ledger: Any = None,
        prices: Any = None,
        tenant: str | None = None,
    ) -> None:
        super().__init__()
        self._setup(None, None, locals())

    async def on_chat_model_start(
        self, serialized: dict[str, Any], messages: list[list[BaseMessage]], **kw: Any
    ) -> None:
        await self._calls.start(serialized, messages_of(messages), kw)

    async def on_llm_start(self, serialized: dict[str, Any], prompts: list[str], **kw: Any) -> None:
        await self._calls.start(serialized, [Message.user(p) for p in prompts], kw)

    async def on_llm_end(self, response: LLMResult, **kw: Any) -> None:
        await self._calls.end(kw["run_id"], response)

    async def on_llm_error(self, error: BaseException, **kw: Any) -> None:
        await self._calls.error(kw["run_id"], kw.get("response"))

    async def aclose(self) -> None:
        """Give back the holds of calls that never ended; close what the handler opened."""
        await self._calls.close()


# -- inside a run ----------------------------------------------------------------------------

_current: ContextVar[_OrcaHandler | None] = ContextVar("orca_langchain_meter", default=None)
# every LangChain callback manager configured while it is set adds its handler (unless
# the call was given an Orca handler of its own: one call is metered once)
register_configure_hook(_current, True, _OrcaHandler)


def _meter_of(ctx: TaskContext) -> tuple[Meter, TaskContext, CallLog | None] | None:
    """The run's meter, the task its calls belong to and that task's call records (None
    in a replay, or where the run must keep no answers); None when the run's services
    meter nothing (services given to the run that are not Orca's)."""
    services = getattr(ctx, "services", None)
    meter = getattr(services, "meter", None)
    if not isinstance(meter, Meter):
        return None
    # a plain attribute read: an isinstance check against the (runtime) TaskContext
    # protocol cost more than the node it wraps
    task = getattr(ctx, "task", None)
    task = task if task is not None else ctx
    keep = meter.replay is None and not getattr(services, "redact_log", False)
    return meter, task, task.calls if keep else None


# the call whose answer this context's next cache update brings: the task's calls, the
# digest and occurrence it looked up (set by the lookup, taken by the update, which
# LangChain makes in the same context, a call at a time)
_asking: ContextVar[tuple[_Calls, str, int] | None] = ContextVar("orca_lc_ask", default=None)


class CallCache(BaseCache):
    """LangChain's cache while Orca meters: a chat model's call made in a task is
    answered from the task's call records when the task runs again (paid once); else
    from ``inner``, the cache set before (None: no cache), which every answer still
    fills. ``metered`` installs it for as long as a metered block runs."""

    def __init__(self, inner: BaseCache | None) -> None:
        self.inner = inner

    def lookup(self, prompt: str, llm_string: str) -> Sequence[Generation] | None:
        asking = _asked(prompt, llm_string)
        if asking is not None:
            calls, digest = asking
            occurrence, found = _wait(calls.lookup(digest))
            if found is not None:
                return found
            _asking.set((calls, digest, occurrence))
        hit = self.inner.lookup(prompt, llm_string) if self.inner is not None else None
        if hit is not None:
            _asking.set(None)  # answered without a call: nothing to keep
        return hit

    async def alookup(self, prompt: str, llm_string: str) -> Sequence[Generation] | None:
        asking = _asked(prompt, llm_string)
        if asking is not None:
            calls, digest = asking
            occurrence, found = await calls.lookup(digest)
            if found is not None:
                return found
            _asking.set((calls, digest, occurrence))
        hit = await self.inner.alookup(prompt, llm_string) if self.inner is not None else None
        if hit is not None:
            _asking.set(None)
        return hit

    def update(self, prompt: str, llm_string: str, return_val: Sequence[Generation]) -> None:
        _answered(prompt, llm_string, return_val)
        if self.inner is not None:
            self.inner.update(prompt, llm_string, return_val)

    async def aupdate(self, prompt: str, llm_string: str, return_val: Sequence[Generation]) -> None:
        _answered(prompt, llm_string, return_val)
        if self.inner is not None:
            await self.inner.aupdate(prompt, llm_string, return_val)

    def clear(self, **kwargs: Any) -> None:
        if self.inner is not None:
            self.inner.clear(**kwargs)

    async def aclear(self, **kwargs: Any) -> None:
        if self.inner is not None:
            await self.inner.aclear(**kwargs)


def _asked(prompt: str, llm_string: str) -> tuple[_Calls, str] | None:
    """The task's calls and the digest of a chat call looked up in a metered task whose
    answers are kept; None otherwise (the cache set before answers alone)."""
    _asking.set(None)
    handler = _current.get()
    calls = handler._calls if handler is not None else None
    if calls is None or calls.log is None:
        return None
    digest = _digest(prompt, llm_string)
    return (calls, digest) if digest is not None else None


def _answered(prompt: str, llm_string: str, generations: Sequence[Generation]) -> None:
    """A call's answer: kept with its settle when it is the call this context looked up."""
    asking = _asking.get()
    if asking is None:
        return
    _asking.set(None)
    calls, digest, occurrence = asking
    if _digest(prompt, llm_string) == digest:
        calls.keep(digest, occurrence, generations)


_installed = 0  # metered blocks running with a CallCache installed
_install_lock = threading.Lock()


def _install_cache() -> None:
    """While a metered block runs, LangChain asks a ``CallCache`` first (wrapping the
    cache set before)."""
    global _installed
    with _install_lock:
        _installed += 1
        found = lc_globals.get_llm_cache()
        if not isinstance(found, CallCache):
            lc_globals.set_llm_cache(CallCache(found))


def _uninstall_cache() -> None:
    """The last metered block ended: the cache set before is LangChain's again (unless
    it was replaced meanwhile)."""
    global _installed
    with _install_lock:
        _installed -= 1
        found = lc_globals.get_llm_cache()
        if _installed == 0 and isinstance(found, CallCache):
            lc_globals.set_llm_cache(found.inner)


@contextlib.contextmanager
def metered(ctx: TaskContext) -> Iterator[None]:
    """Meter every LangChain chat-model call made inside the block through the run of
    ``ctx``: reserved in the run's budgets, priced, recorded in its usage ledger and
    reported as ``usage`` (and ``token``) events of the task, with no ``callbacks=``.

    It covers calls made on this thread and in those LangChain starts (they copy the
    context); a thread of your own started inside the block is not covered. A stream
    read on after the block ends is still metered; the run's end gives back the holds
    of calls that never ended.

    A call made through ``invoke``/``ainvoke`` (or ``batch``, or a chain) is paid once:
    its answer is kept with its settle, and the task run again gets it back with no
    call. ``stream``/``astream`` read directly, and a model given ``cache=False`` or a
    cache of its own, are metered but call again (LangChain asks no global cache then).
    """
    found = _meter_of(ctx)
    if found is None:
        yield
        return
    keeps = found[2] is not None
    if keeps:
        _install_cache()
    token = _current.set(OrcaCallbackHandler._for_task(*found))
    try:
        yield
    finally:
        _current.reset(token)
        if keeps:
            _uninstall_cache()
