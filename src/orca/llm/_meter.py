"""The run's meter: which models a run may call, and how each call is reserved in the
run's budgets (its hold renewed while it runs), priced, recorded in the usage ledger
and reported as events."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from orca import events
from orca._patience import patiently
from orca.cost import PriceBook, format_usd
from orca.errors import BudgetExceeded, ConfigError
from orca.llm._base import ChatModel, output_token_bound, prompt_token_bound
from orca.llm._profiles import ModelSpec, Profile
from orca.llm._registry import KeyLookup
from orca.llm._renew import Renewer
from orca.llm._types import ChatRequest, Usage

T = TypeVar("T")
log = logging.getLogger("orca.llm")

if TYPE_CHECKING:
    from orca.context import PaidAnswer, TaskContext
    from orca.cost import Budget, CallContext, Charge, Hold
    from orca.store import LedgerRepository, UserStore


class PricedModel(Protocol):
    """What the meter reads of a model it reserves for: who serves it and its name (and
    ``params`` and ``thinking_in_cap`` where it has them). Every ``ChatModel`` is one; so
    is a model Orca meters without calling it (a LangChain chat model,
    ``orca.compat.langchain``)."""

    @property
    def provider(self) -> str: ...

    @property
    def model(self) -> str: ...


class Models:
    """The models a run may call, by name (``planner``, ``worker``, any other), and the
    prices that cost their calls.

    Args:
        models: name -> ``ChatModel`` or ``ModelSpec`` (built on first use).
        profile: a ``Profile`` supplying ``planner`` and ``worker`` (``models`` win).
        prices: the ``PriceBook`` (default: the catalog plus the user database's
            overrides, read on the first priced call).
        keys: where a model's API key is looked up before the environment (a
            tenant's stored secrets: ``store.secrets.reveal``), when a spec is built.
    """

    def __init__(
        self,
        models: Mapping[str, ChatModel | ModelSpec] | None = None,
        *,
        profile: Profile | None = None,
        prices: PriceBook | None = None,
        tenant: str | None = None,
        keys: KeyLookup | None = None,
    ) -> None:
        self.tenant = tenant  # whose stored profile and prices apply (None: ORCA_TENANT's)
        self._specs: dict[str, ChatModel | ModelSpec] = {}
        if profile is not None:
            self._specs.update({"planner": profile.planner, "worker": profile.worker})
        self._specs.update(models or {})
        # without a profile, planner and worker come from the active one, on first use
        self.use_active = profile is None
        self._built: dict[str, ChatModel] = {}
        self._prices = prices
        self._keys = keys
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
                if spec is None and name in ("planner", "worker") and self.use_active:
                    self.use_active = False
                    active = _active_profile(self.tenant)
                    if active is not None:
                        self._specs.setdefault("planner", active.planner)
                        self._specs.setdefault("worker", active.worker)
                    spec = self._specs.get(name)
                if spec is None and "/" in name:
                    spec = _named_model(name)  # a declarative flow's "provider/model"
                if spec is None:
                    from orca.errors import closest

                    have = ", ".join(self.names()) or "none"
                    raise ConfigError(
                        f"the run has no model called {name!r}{closest(name, self.names())}",
                        key=name,
                        fix=f"pass models={{{name!r}: ...}} or a profile to invoke (have: {have})",
                    )
                model = spec.build(self._keys) if isinstance(spec, ModelSpec) else spec
                self._built[name] = model
            return model

    @property
    def prices(self) -> PriceBook:
        with self._lock:
            if self._prices is None:
                self._prices = _default_prices(self.tenant)
            return self._prices


def _named_model(name: str) -> ModelSpec | None:
    """``provider/model`` as a spec (with the provider's defaults), when the provider is
    known and remote; None else. A local engine (a model file, a server on this machine)
    is named only by a profile or ``models=``: a name from a flow never loads a file."""
    from orca.cost import LOCAL_PROVIDERS
    from orca.llm._registry import provider_names

    provider, _, model = name.partition("/")
    if provider not in provider_names() or provider in LOCAL_PROVIDERS or not model:
        return None
    return ModelSpec(provider, model)


def meter_for_run(
    *,
    profile: Profile | str | None = None,
    models: Any = None,
    prices: Any = None,
    budget: Any = None,
    session: Any = None,
    ledger: Any = None,
    on_budget_exceeded: Any = "fail",
    max_tokens: Any = None,
    cost_limit: Any = None,
    token_limit: Any = None,
    workflow: str | None = None,
    tenant: Any = None,
    api_keys: Any = None,
) -> Meter:
    """The meter of one run, from ``invoke``'s LLM options (``tenant``: whose user
    database keeps the profiles, prices, budgets and usage; default ``ORCA_TENANT``'s).

    Raises:
        InvalidInputError: an option of the wrong type.
        UnknownProfileError: ``profile`` names no stored profile.
    """
    from orca.errors import InvalidInputError

    def bad(name: str, value: Any, fix: str) -> InvalidInputError:
        return InvalidInputError(f"{name} is {value!r}. Fix: {fix}")

    if tenant is not None:
        from orca.store import check_tenant

        check_tenant(tenant)
    if isinstance(profile, str):
        profile = load_profile(profile, tenant)
    elif profile is not None and not isinstance(profile, Profile):
        raise bad("profile", type(profile).__name__, "pass a Profile or a profile name")
    if models is not None and not isinstance(models, Mapping):
        raise bad("models", type(models).__name__, "pass a dict of name -> ChatModel")
    if prices is not None and not isinstance(prices, PriceBook):
        raise bad("prices", type(prices).__name__, "pass a PriceBook")
    if budget is not None and not (isinstance(budget, str) and budget):
        raise bad("budget", budget, "pass the name of a budget (orca budget list)")
    if session is not None and not (isinstance(session, str) and session):
        raise bad("session", session, "pass a non-empty session id")
    if not (
        ledger is None
        or ledger is False
        or isinstance(ledger, str | Path)
        or callable(getattr(ledger, "areserve", None))
    ):
        raise bad(
            "ledger",
            ledger,
            "pass a ledger (user_store().ledger), a user database path, or False for none",
        )
    if on_budget_exceeded not in ("fail", "pause"):
        raise bad("on_budget_exceeded", on_budget_exceeded, "use 'fail' or 'pause'")
    if max_tokens is not None and (
        isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1
    ):
        raise bad("max_tokens", max_tokens, "pass a positive int")
    keys: KeyLookup | None = None
    if api_keys is not None:
        reveal = getattr(api_keys, "reveal", None)
        keys = reveal if callable(reveal) else api_keys if callable(api_keys) else None
        if keys is None:
            raise bad(
                "api_keys",
                type(api_keys).__name__,
                "pass a store's secrets (store.secrets), or a function of a variable's "
                "name that returns its key or None",
            )
    limits: dict[str, int] = {}
    if cost_limit is not None:
        limits["usd"] = _dollars("cost_limit", cost_limit)
    if token_limit is not None:
        if isinstance(token_limit, bool) or not isinstance(token_limit, int) or token_limit < 1:
            raise bad("token_limit", token_limit, "pass a positive int of tokens")
        limits["tokens"] = token_limit
    return Meter(
        Models(models, profile=profile, prices=prices, tenant=tenant, keys=keys),
        budget=budget,
        session=session,
        ledger=ledger,
        on_exceeded=on_budget_exceeded,
        max_tokens=max_tokens or DEFAULT_MAX_TOKENS,
        workflow=workflow,
        run_limits=limits,
    )


def _dollars(name: str, value: Any) -> int:
    """A positive amount of dollars (Decimal, int or decimal string) in nano-USD."""
    from orca.cost import to_nano
    from orca.errors import InvalidInputError

    fix = f"pass {name}=Decimal('0.50') (dollars; a Decimal, an int or a decimal string)"
    if isinstance(value, bool | float):
        raise InvalidInputError(f"{name} is {value!r}: money is never a float. Fix: {fix}")
    try:
        nano = to_nano(value)
    except (TypeError, ValueError):
        raise InvalidInputError(f"{name} is {value!r}. Fix: {fix}") from None
    if nano <= 0:
        raise InvalidInputError(f"{name} is {value!r}: it must be above zero. Fix: {fix}")
    return nano


def load_profile(name: str, tenant: str | None = None) -> Profile:
    """The stored profile ``name`` (of ``tenant``; default ``ORCA_TENANT``'s). Raises
    ``UnknownProfileError`` if there is none."""
    from orca.llm._profiles import Profiles
    from orca.store import user_store

    with user_store(tenant=tenant) as store:
        return Profiles(store.profiles).get(name)


def _has_user_db(tenant: str | None) -> bool:
    """Whether ``tenant``'s user database may hold anything (asking creates none)."""
    from orca.store import configured_url, current_tenant, user_db_path
    from orca.store._tenants import tenant_path

    if configured_url() is not None:
        return True
    return tenant_path(user_db_path(), tenant or current_tenant()).exists()


def _active_profile(tenant: str | None = None) -> Profile | None:
    from orca.llm._profiles import Profiles
    from orca.store import user_store

    if not _has_user_db(tenant):
        return None
    with user_store(tenant=tenant) as store:
        return Profiles(store.profiles).active()


def _default_prices(tenant: str | None = None) -> PriceBook:
    from orca.store import user_store

    if not _has_user_db(tenant):
        return PriceBook()
    with user_store(tenant=tenant) as store:
        return PriceBook(store.prices.load())


DEFAULT_MAX_TOKENS = 1024
"""The answer cap a call gets under a block budget when it sets none: the reservation
needs a bound, and the provider is told the same bound."""


class Meter:
    """Per run: reserves each call's worst case in the run's block budgets, prices what
    it used, writes it to the usage ledger, and emits its events (usage, the
    unpriced-model warning once per model, budget warnings and status)."""

    def __init__(
        self,
        models: Models,
        *,
        budget: str | None = None,
        session: str | None = None,
        ledger: Any = None,
        on_exceeded: str = "fail",
        max_tokens: int = DEFAULT_MAX_TOKENS,
        workflow: str | None = None,
        run_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.models = models
        self.budget = budget
        self.session = session
        self.on_exceeded = on_exceeded
        self.max_tokens = max_tokens
        self.workflow = workflow
        # unit -> amount of block budgets scoped to this run, made on its first call
        self.run_limits = dict(run_limits or {})
        self._ledger_option = ledger
        self._ledger: LedgerRepository | None = None
        self._store: UserStore | None = None  # the user database, when the meter opened it
        self._budgets: list[Budget] | None = None
        self._status_emitter: tuple[Any, int] | None = None
        self._warned: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        # (calls, input tokens, output tokens, cost in nano-USD) of the run so far
        self.tally = (0, 0, 0, 0)
        # the calls in flight that hold money, by hold id (what they reserved for), and
        # what renews their holds while they run
        self._live: dict[str, _Live] = {}
        self._renewer = Renewer()
        self.replay: Any = None  # an orca.replay recording: calls are answered from it

    # -- the ledger --------------------------------------------------------------------------

    def _open_ledger(self) -> tuple[LedgerRepository | None, bool]:
        """The run's ledger, opened on first use (blocking: call it off the loop), and
        whether this call opened the user database (a ledger given to the run is its
        giver's to sweep)."""
        with self._lock:
            option = self._ledger_option
            if self._ledger is not None or option is False:
                return self._ledger, False
            if option is None or isinstance(option, str | Path):
                from orca.store import user_store

                self._store = user_store(option, tenant=self.models.tenant)
                self._ledger = self._store.ledger
                return self._ledger, True
            self._ledger = option
            return self._ledger, False

    async def ledger(self) -> LedgerRepository | None:
        """The run's ledger (None when the run has none); opening it sweeps the holds of
        calls that crashed elsewhere back into their budgets."""
        ledger = self._ledger
        if ledger is None and self._ledger_option is not False:
            ledger, opened = await asyncio.to_thread(self._open_ledger)
            if opened and ledger is not None:
                await ledger.asweep()
        return ledger

    async def budgets(self, ledger: LedgerRepository, ctx: TaskContext | None) -> list[Budget]:
        """The budgets covering this run's calls (resolved once per run)."""
        if self._budgets is None:
            if self.run_limits and ctx is not None:
                await asyncio.to_thread(self._make_run_budgets, ledger, ctx.run_id)
            found = await ledger.aapplicable(
                budget=self.budget,
                workflow=self.workflow,
                run=ctx.run_id if ctx is not None else None,
                session=self.session,
            )
            with self._lock:
                first = self._budgets is None
                if first:
                    self._budgets = found
            sink = ctx.events if ctx is not None else None
            if first and found and ctx is not None and sink is not None:
                self._status_emitter = (sink, ctx.step)
                await self._emit_status(ledger, found, "before", sink, ctx.step)
        assert self._budgets is not None
        return self._budgets

    def _make_run_budgets(self, ledger: LedgerRepository, run_id: str) -> None:
        """The run's own block budgets (``cost_limit``, ``token_limit``), named after it."""
        from orca.cost import Budget
        from orca.errors import InvalidBudgetError, UnknownBudgetError

        for unit, amount in self.run_limits.items():
            name = f"{run_id}-{'cost' if unit == 'usd' else unit}"
            try:
                ledger.budgets.get(name)
            except UnknownBudgetError:
                try:
                    ledger.budgets.create(
                        Budget(name, amount, unit, scope="run", scope_ref=run_id)  # type: ignore[arg-type]
                    )
                except InvalidBudgetError:  # a parallel first call made it: the same budget
                    ledger.budgets.get(name)

    async def close(self) -> None:
        """End of the run: stop renewing holds, emit the budgets' status after it, close
        the user database if the meter opened it."""
        self._renewer.close()
        unsettled = [entry.hold for entry in self._live.values()]
        self._live.clear()
        ledger = self._ledger
        if ledger is None:
            return
        if self._status_emitter is not None and self._budgets:
            emitter, step = self._status_emitter
            await self._emit_status(ledger, self._budgets, "after", emitter, step)
        if self._store is not None:
            # a stream still open when its run ended settles after the store is gone:
            # its hold is given back now rather than held until a sweep
            for hold in unsettled:
                await ledger.arelease(hold)
            store, self._store, self._ledger = self._store, None, None
            await asyncio.to_thread(store.close)

    @staticmethod
    async def _emit_status(
        ledger: LedgerRepository, budgets: list[Budget], when: str, emitter: Any, step: int
    ) -> None:
        statuses = await ledger.astatus(budgets)
        emitter.emit(
            events.BudgetStatusEvent,
            step,
            when=when,
            budgets=[s.as_dict() for s in statuses],
        )

    # -- a call ------------------------------------------------------------------------------

    async def reserve(
        self, ctx: TaskContext | None, model: PricedModel, request: ChatRequest
    ) -> tuple[ChatRequest, Hold | None]:
        """Before a call: put its worst case on hold in the run's budgets. Under a block
        budget a call without ``max_tokens`` gets the meter's cap.

        Raises:
            BudgetExceeded: a block budget cannot afford it (policy ``fail``; under
                ``pause`` the run is interrupted instead, and the call retried on resume).
        """
        if self.replay is not None:  # refused where the recorded run was refused
            self.replay.refuse(ctx)
        ledger = await self.ledger()
        if ledger is None:
            return request, None
        budgets = await self.budgets(ledger, ctx)
        asks: dict[str, int] = {}
        bound = out = 0
        if budgets:
            request, bound, out, asks = self.worst_case(
                model, request, block=any(b.enforcement == "block" for b in budgets)
            )
        while True:
            try:
                hold = await ledger.areserve(budgets, asks, _context(ctx, self))
                if any(amount for _, amount in hold.parts):
                    self._hold_live(ledger, hold, bound, out, asks)
                return request, hold
            except BudgetExceeded as exc:
                if self.on_exceeded != "pause" or ctx is None:
                    raise
                # pause: the run stops as interrupted; resumed, this call asks again
                ctx.interrupt(
                    {
                        "reason": "budget_exceeded",
                        "budget": exc.budget,
                        "message": str(exc),
                        "limit": exc.limit,
                        "spent": exc.spent,
                        "asked": exc.asked,
                    }
                )

    def worst_case(
        self, model: PricedModel, request: ChatRequest, *, block: bool = True
    ) -> tuple[ChatRequest, int, int, dict[str, int]]:
        """What a call may use at most: the request as sent (under a ``block`` budget a
        call without ``max_tokens`` gets the meter's cap), its prompt and output token
        bounds, and what it asks each budget unit to hold (``usd``, ``tokens``)."""
        if block and request.max_tokens is None:
            request = replace(request, max_tokens=self.max_tokens)
        # the whole body the adapter sends: the model's default params are merged in
        params = getattr(model, "params", None)
        params = params if isinstance(params, Mapping) else None
        bound = prompt_token_bound(request, params)
        out = output_token_bound(
            request,
            params,
            default=self.max_tokens,
            thinking_in_cap=bool(getattr(model, "thinking_in_cap", False)),
        )
        price = self.models.prices.price(model.provider, model.model)
        return request, bound, out, {"usd": price.max_cost_nano(bound, out), "tokens": bound + out}

    async def settle(
        self,
        ctx: TaskContext | None,
        role: str,
        provider: str,
        model: str,
        usage: Usage,
        hold: Hold | None,
        keep: Callable[[int, bool, PaidAnswer | None], Awaitable[None]] | None = None,
    ) -> tuple[int, bool]:
        """After a call: price ``usage``, emit its usage event (and the unpriced-model
        warning, once per run), write it to the ledger, settling ``hold``; returns the
        cost in nano-USD and whether it was priced.

        ``keep(cost, priced, paid)`` stores what the call answered (its call record)
        before the settle, with ``paid``, the answer's usage to record on the hold
        (None when no hold holds anything): in one transaction where the checkpointer
        keeps the ledger's tables (PostgreSQL), else the hold's record first
        (``CallLog.record``). A process killed anywhere between the answer and the
        settle then has neither (the hold, never recorded, is released: nothing
        charged, the call made again) or both (the sweep settles the hold from its
        record, and a resumed run takes the answer from the call record): a call is
        never paid for without being charged, and on one database never twice. With
        two databases (SQLite's two files) a process killed between the hold's record
        and the call's has paid, and its task run again calls once more."""
        from orca.cost import Charge

        cost, price = self.models.prices.cost_nano(usage, provider, model)
        with self._lock:
            calls, inp, outp, total = self.tally
            self.tally = (
                calls + 1,
                inp + usage.input_tokens,
                outp + usage.output_tokens,
                total + cost,
            )
        emitter = ctx.events if ctx is not None else None
        if emitter is not None and ctx is not None:
            self._emit_usage(ctx, emitter, role, provider, model, usage, cost, price.priced)
        ledger = self._ledger
        if hold is not None and ledger is None:
            # finalised after its run closed the ledger (a stream read past its run's end):
            # the hold was given back at the close; what it streamed is estimated above
            log.warning(
                "a %s/%s call settled after its run had ended; its usage is not in the "
                "ledger (estimated %s output tokens)",
                provider,
                model,
                usage.output_tokens,
            )
        elif hold is not None and ledger is not None:
            live = self._hold_done(hold)
            charge = Charge.of(provider, model, usage, cost, price.priced)
            if live is not None and live.exceeded_by(usage, cost):
                charge = replace(charge, over_bound=True)
            context = replace(_context(ctx, self), role=role)
            # recorded with (or before) the call record, then settled: a process killed
            # after the record is settled from it by the sweep (asettle records it too,
            # where keep did not)
            if keep is not None:
                paid = _Answer(ledger, hold, charge) if hold.parts else None
                await keep(cost, price.priced, paid)
                keep = None
            settled = await patiently(
                lambda: ledger.asettle(hold, charge, context), "settling a paid call"
            )
            if emitter is not None and ctx is not None:
                self._emit_truths(ctx, emitter, provider, model, usage, live, settled)
                for alert in settled.alerts:
                    usd = alert.unit == "usd"
                    emitter.emit(
                        events.BudgetWarning,
                        ctx.step,
                        budget=alert.budget,
                        threshold_pct=alert.threshold_pct,
                        spent_nano_usd=alert.spent if usd else 0,
                        limit_nano_usd=alert.limit if usd else 0,
                        unit=alert.unit,
                        spent=alert.spent,
                        limit=alert.limit,
                    )
        if keep is not None:  # no ledger: nothing to settle first
            await keep(cost, price.priced, None)
        return cost, price.priced

    async def release(self, hold: Hold | None) -> None:
        """A call that failed before its first token: give its reservation back."""
        if hold is not None and self._ledger is not None:
            self._hold_done(hold)
            await self._ledger.arelease(hold)

    # -- holds of calls in flight --------------------------------------------------------------

    def _hold_live(
        self, ledger: LedgerRepository, hold: Hold, bound: int, out: int, asks: Mapping[str, int]
    ) -> None:
        """Track a call that holds money until it settles, renewing its hold while it
        runs: a call shorter than a third of the hold's life never renews (no store
        write)."""
        self._live[hold.id] = _Live(bound, out, asks.get("usd", 0), hold)
        self._renewer.add(ledger, hold)

    def _hold_done(self, hold: Hold) -> _Live | None:
        self._renewer.remove(hold)
        return self._live.pop(hold.id, None)

    def _emit_truths(
        self,
        ctx: TaskContext,
        emitter: Any,
        provider: str,
        model: str,
        usage: Usage,
        live: _Live | None,
        settled: Any,
    ) -> None:
        """Warnings for a charge above its reservation and for a budget it overdrew."""
        if settled.repeated:
            return
        if settled.over_bound:
            held = (
                f"{live.input_bound} input and {live.output_bound} output tokens"
                if live is not None
                else "what its hold reserved"
            )
            emitter.emit(
                events.WarningEvent,
                ctx.step,
                code="usage_over_bound",
                message=f"{provider}/{model} reported {usage.input_tokens} input and "
                f"{usage.output_tokens} output tokens, above the call's reservation "
                f"({held}): it is recorded at its true cost",
                node=ctx.node,
                task_id=ctx.task_id,
            )
        for over in settled.overdrafts:

            def show(amount: int, unit: str = over.unit) -> str:
                return format_usd(amount) if unit == "usd" else f"{amount:,} {unit}"

            emitter.emit(
                events.WarningEvent,
                ctx.step,
                code="budget_overdrawn",
                message=f"budget {over.budget!r} is overdrawn by {show(over.amount)} "
                f"(spent {show(over.spent)} of {show(over.limit)}): the charge is recorded, "
                "and every later call under it is refused until it is raised. Fix: orca "
                f"budget raise {over.budget} --to AMOUNT (at least the {show(over.spent)} "
                "spent, plus what running calls hold)",
                node=ctx.node,
                task_id=ctx.task_id,
            )

    def _emit_usage(
        self,
        ctx: TaskContext,
        emitter: Any,
        role: str,
        provider: str,
        model: str,
        usage: Usage,
        cost: int,
        priced: bool,
    ) -> None:
        if not priced:
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
            cost_nano_usd=cost,
            priced=priced,
            **usage.counts(),
        )


@dataclass(frozen=True, slots=True)
class _Answer:
    """A paid call's answer, to record on its hold (``orca.context.PaidAnswer``)."""

    ledger: LedgerRepository
    hold: Hold
    charge: Charge

    async def arecord(self) -> None:
        await self.ledger.arecord(self.hold, self.charge)


@dataclass(slots=True)
class _Live:
    """A call in flight that holds money: what it reserved for."""

    input_bound: int
    output_bound: int
    cost_bound: int
    hold: Hold

    def exceeded_by(self, usage: Usage, cost: int) -> bool:
        return (
            usage.input_tokens > self.input_bound
            or usage.output_tokens > self.output_bound
            or cost > self.cost_bound
        )


def _context(ctx: TaskContext | None, meter: Meter) -> CallContext:
    from orca.cost import CallContext

    if ctx is None:
        return CallContext(workflow=meter.workflow, session=meter.session)
    return CallContext(
        run_id=ctx.run_id,
        thread_id=ctx.thread_id,
        workflow=meter.workflow,
        session=meter.session,
        node=ctx.node,
        task_id=ctx.task_id,
    )
