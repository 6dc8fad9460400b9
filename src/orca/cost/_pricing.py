"""Prices per 1M tokens and the cost of a call, in exact integer nano-USD.

Where a price comes from, first match wins: a user override (kept by the prices
repository of ``orca.store``; the newest whose ``effective_from`` is not after the
call), then 0 for local providers, then the ``genai-prices`` catalog, else 0 with
``priced = False``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from typing import Any, Literal, Protocol

from orca.errors import InvalidPriceError

Source = Literal["user", "catalog", "local", "unknown"]

# A price per 1M tokens in USD is 1000 x the price per token in nano-USD.
_NANO_PER_TOKEN = Decimal(1000)
_ONE = Decimal(1)
_ZERO = Decimal(0)

# Orca provider name -> provider id in the genai-prices catalog (the providers after
# openrouter are named by models Orca meters without calling them: orca.compat.langchain)
CATALOG_PROVIDERS = {
    "openai": "openai",
    "anthropic": "anthropic",
    "openrouter": "openrouter",
    "azure": "azure",
    "bedrock": "aws",
    "cohere": "cohere",
    "deepseek": "deepseek",
    "fireworks": "fireworks",
    "google": "google",
    "groq": "groq",
    "mistral": "mistral",
    "perplexity": "perplexity",
    "together": "together",
    "xai": "x-ai",
}
LOCAL_PROVIDERS = frozenset(
    {"llamacpp", "llamacpp-server", "llama-server", "ollama", "lmstudio", "vllm", "pool"}
)


class TokenCounts(Protocol):
    """Anything with the normalised token fields (``orca.llm.Usage``, a usage event)."""

    @property
    def input_tokens(self) -> int: ...
    @property
    def output_tokens(self) -> int: ...
    @property
    def cache_read_tokens(self) -> int: ...
    @property
    def cache_write_tokens(self) -> int: ...
    @property
    def reasoning_tokens(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens of each kind for one model, from ``effective_from`` on.

    ``cached_input`` and ``cache_write`` default to ``input``, ``reasoning`` to
    ``output``. ``tiers`` are ``(threshold, Price)`` pairs: when a call's input tokens
    exceed a threshold, that tier's prices apply to all its tokens (how Anthropic and
    Google price long prompts).
    """

    provider: str
    model: str
    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None
    cache_write: Decimal | None = None
    reasoning: Decimal | None = None
    effective_from: dt.datetime | None = None
    source: Source = "user"
    tiers: tuple[tuple[int, Price], ...] = ()
    _per_token: tuple[Decimal, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("input", "output", "cached_input", "cache_write", "reasoning"):
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, str | int) and not isinstance(value, bool):
                with contextlib.suppress(ArithmeticError):  # reported as invalid below
                    value = Decimal(value)
                object.__setattr__(self, name, value)
            if not isinstance(value, Decimal) or not value.is_finite() or value < 0:
                raise InvalidPriceError(
                    f"price {name}={value!r} for {self.provider}/{self.model} is not a "
                    "non-negative Decimal",
                    key=name,
                    fix="give prices in USD per 1M tokens as Decimal, int or a decimal string "
                    "such as '2.50' (never a float)",
                )
        if self.effective_from is not None and self.effective_from.tzinfo is None:
            raise InvalidPriceError(
                f"effective_from={self.effective_from.isoformat()} for {self.provider}/"
                f"{self.model} has no time zone",
                key="effective_from",
                fix="give an aware datetime, e.g. datetime(2026, 1, 1, tzinfo=UTC)",
            )
        object.__setattr__(self, "tiers", tuple(sorted(self.tiers, key=lambda t: t[0])))
        per_mtok = (
            self.input,
            self.input if self.cached_input is None else self.cached_input,
            self.input if self.cache_write is None else self.cache_write,
            self.output,
            self.output if self.reasoning is None else self.reasoning,
        )
        object.__setattr__(self, "_per_token", tuple(p * _NANO_PER_TOKEN for p in per_mtok))

    @property
    def priced(self) -> bool:
        """False when the model is unknown and costs 0 only for want of a price."""
        return self.source != "unknown"

    def for_input(self, input_tokens: int) -> Price:
        """The tier that applies to a call with ``input_tokens`` (the highest threshold
        it exceeds; tiers are kept sorted)."""
        chosen = self
        for threshold, tier in self.tiers:
            if input_tokens <= threshold:
                break
            chosen = tier
        return chosen

    def cost_nano(self, usage: TokenCounts) -> int:
        """The exact cost of ``usage`` in nano-USD (rounded half to even once, at the end)."""
        p_in, p_cached, p_write, p_out, p_reason = self.for_input(usage.input_tokens)._per_token
        cached, written = usage.cache_read_tokens, usage.cache_write_tokens
        fresh = max(usage.input_tokens - cached - written, 0)
        reasoning = usage.reasoning_tokens
        plain_out = max(usage.output_tokens - reasoning, 0)
        total = (
            fresh * p_in
            + cached * p_cached
            + written * p_write
            + plain_out * p_out
            + reasoning * p_reason
        )
        return int(total.quantize(_ONE, rounding=ROUND_HALF_EVEN))

    def max_cost_nano(self, input_tokens: int, output_tokens: int) -> int:
        """The most ``input_tokens`` in and ``output_tokens`` out can cost, whatever their
        kinds (cached, cache writes, reasoning): what a block budget reserves. Rounded up."""
        p_in, p_cached, p_write, p_out, p_reason = self.for_input(input_tokens)._per_token
        worst = input_tokens * max(p_in, p_cached, p_write) + output_tokens * max(p_out, p_reason)
        return int(worst.to_integral_value(rounding=ROUND_CEILING))


def free(provider: str, model: str, source: Source) -> Price:
    return Price(provider, model, _ZERO, _ZERO, source=source)


@dataclass(frozen=True, slots=True)
class Repricing:
    """What recorded usage cost, and what it would have cost on another model."""

    model: str
    provider: str
    calls: int
    original_nano: int
    repriced_nano: int
    priced: bool

    @property
    def ratio(self) -> Decimal | None:
        if self.original_nano == 0:
            return None
        return Decimal(self.repriced_nano) / Decimal(self.original_nano)


class PriceBook:
    """Finds the price of a model at a moment, and computes costs.

    Args:
        overrides: user prices (they win over the catalog), any number of versions per
            model.
        catalog: look models up in the ``genai-prices`` catalog.
    """

    def __init__(self, overrides: Iterable[Price] = (), *, catalog: bool = True) -> None:
        self._overrides: dict[tuple[str, str], list[Price]] = {}
        for price in overrides:
            self._overrides.setdefault((price.provider, price.model), []).append(price)
        for versions in self._overrides.values():
            versions.sort(key=_effective)
        self._catalog = catalog
        self._cache: dict[tuple[str, str, dt.date], Price] = {}

    def price(self, provider: str, model: str, at: dt.datetime | None = None) -> Price:
        """The price in force at ``at`` (default: now; a naive time is taken as UTC)."""
        at = at or dt.datetime.now(dt.UTC)
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
        versions = self._overrides.get((provider, model))
        if versions:
            current = [p for p in versions if _effective(p) <= at]
            if current:
                return current[-1]
        key = (provider, model, at.date())
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._lookup(provider, model, at)
        return cached

    def cost_nano(
        self, usage: TokenCounts, provider: str, model: str, at: dt.datetime | None = None
    ) -> tuple[int, Price]:
        """The cost of ``usage`` on ``provider``/``model`` and the price used."""
        price = self.price(provider, model, at)
        return price.cost_nano(usage), price

    def reprice(
        self,
        usages: Sequence[tuple[TokenCounts, int]],
        provider: str,
        model: str,
        at: dt.datetime | None = None,
    ) -> Repricing:
        """What ``usages`` (each with its recorded cost in nano-USD) would have cost on
        ``provider``/``model``: "what would this run have cost on X?"."""
        price = self.price(provider, model, at)
        return Repricing(
            model=model,
            provider=provider,
            calls=len(usages),
            original_nano=sum(cost for _, cost in usages),
            repriced_nano=sum(price.cost_nano(u) for u, _ in usages),
            priced=price.priced,
        )

    def _lookup(self, provider: str, model: str, at: dt.datetime) -> Price:
        if provider in LOCAL_PROVIDERS:
            return free(provider, model, "local")
        catalog_id = CATALOG_PROVIDERS.get(provider)
        if self._catalog and catalog_id is not None:
            found = catalog_price(catalog_id, model, at)
            if found is not None:
                return replace(found, provider=provider, model=model)
        return free(provider, model, "unknown")


_ALWAYS = dt.datetime.min.replace(tzinfo=dt.UTC)


def _effective(price: Price) -> dt.datetime:
    return price.effective_from or _ALWAYS


def catalog_models(provider: str) -> list[str]:
    """The model ids the ``genai-prices`` catalog prices for Orca's ``provider`` (none
    for a provider it does not cover, or without the catalog)."""
    catalog_id = CATALOG_PROVIDERS.get(provider)
    try:
        from genai_prices import data_snapshot
    except ImportError:
        return []
    found = [p for p in data_snapshot.get_snapshot().providers if p.id == catalog_id]
    return sorted(m.id for p in found for m in p.models)


def catalog_price(provider_id: str, model: str, at: dt.datetime) -> Price | None:
    """The ``genai-prices`` catalog's price for a model at ``at``, or None if unknown."""
    try:
        from genai_prices import data_snapshot
    except ImportError:  # the catalog is a dependency, but a trimmed install may lack it
        return None
    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(model, None, provider_id, None)
    except LookupError:
        return None
    prices = info.get_prices(at)
    fields = {
        "input": getattr(prices, "input_mtok", None),
        "output": getattr(prices, "output_mtok", None),
        "cached_input": getattr(prices, "cache_read_mtok", None),
        "cache_write": getattr(prices, "cache_write_mtok", None),
    }
    if fields["input"] is None and fields["output"] is None:
        return None
    base = {k: _base(v) for k, v in fields.items()}
    thresholds = sorted({t.start for v in fields.values() for t in getattr(v, "tiers", ())})
    tiers = tuple(
        (
            start,
            _make(provider_id, info.id, {k: _tier(v, start) for k, v in fields.items()}),
        )
        for start in thresholds
    )
    price = _make(provider_id, info.id, base)
    return replace(price, tiers=tiers) if tiers else price


def _make(provider: str, model: str, values: dict[str, Decimal | None]) -> Price:
    return Price(
        provider,
        model,
        input=values["input"] or _ZERO,
        output=values["output"] or _ZERO,
        cached_input=values["cached_input"],
        cache_write=values["cache_write"],
        source="catalog",
    )


def _base(value: Any) -> Decimal | None:
    if value is None:
        return None
    return Decimal(getattr(value, "base", value))


def _tier(value: Any, start: int) -> Decimal | None:
    """The price of one field for calls above ``start`` input tokens (cliff tiers)."""
    if value is None:
        return None
    price = Decimal(getattr(value, "base", value))
    for tier in getattr(value, "tiers", ()):
        if tier.start <= start:
            price = Decimal(tier.price)
    return price
