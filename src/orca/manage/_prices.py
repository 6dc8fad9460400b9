"""Prices as ``orca pricing`` and ``/v1/prices`` manage them: the user's overrides,
the price in force and where it comes from, setting and removing overrides, and what a
run's recorded usage would have cost on another model."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orca.cost import Price, PriceBook
from orca.cost._money import parse_usd

if TYPE_CHECKING:
    from orca.store import UserStore


def as_dict(p: Price) -> dict[str, Any]:
    """A price as every face shows it (``orca pricing show --json``): USD per 1M tokens
    as decimal strings once written as JSON."""
    return {
        "provider": p.provider,
        "model": p.model,
        "source": p.source,
        "priced": p.priced,
        "input": p.input,
        "output": p.output,
        "cached_input": p.cached_input,
        "cache_write": p.cache_write,
        "reasoning": p.reasoning,
        "effective_from": p.effective_from,
    }


def overrides(store: UserStore) -> list[Price]:
    """The user's price overrides, every version, by provider, model and start."""
    return sorted(store.prices.load(), key=lambda p: (p.provider, p.model, str(p.effective_from)))


def in_force(store: UserStore, provider: str, model: str) -> Price:
    """The price a call of ``provider``/``model`` is charged now (a local model file by
    its file name, as runs record it); ``source`` says where it comes from: ``user``,
    ``catalog``, ``local`` or ``unknown``.

    Raises:
        UnknownProviderError: no provider ``provider`` (naming the closest).
    """
    from orca.llm._registry import check_provider

    check_provider(provider)
    return PriceBook(store.prices.load()).price(provider, charged_name(provider, model))


def charged_name(provider: str, model: str) -> str:
    """The model name a run of ``provider``/``model`` is recorded and charged under."""
    return Path(model).name if provider == "llamacpp" else model


def unknown(provider: str, model: str) -> tuple[str, bool]:
    """What to say of a model no price is known for: the message (naming the closest
    model the catalog prices), and whether the catalog prices any of the provider's."""
    from orca.cost._pricing import catalog_models
    from orca.errors import closest

    known = catalog_models(provider)
    return f"no price known for {provider}/{model}{closest(model, known)}", bool(known)


def new_price(
    provider: str,
    model: str,
    *,
    input: str,
    output: str,
    cached_input: str | None = None,
    cache_write: str | None = None,
    reasoning: str | None = None,
    effective_from: dt.datetime | None = None,
    spell: Any = None,
) -> Price:
    """A price override from what a person wrote (USD per 1M tokens; zero allowed).

    Raises:
        UnknownProviderError: no provider ``provider``.
        InvalidFieldError: an amount is not a number, or negative.
    """
    from orca.llm._registry import check_provider

    check_provider(provider)
    name = spell or (lambda f: f)

    def amount(text: str | None, field: str) -> Decimal | None:
        return None if text is None else parse_usd(text, name(field), zero=True)

    return Price(
        provider,
        model,
        amount(input, "input"),  # type: ignore[arg-type]
        amount(output, "output"),  # type: ignore[arg-type]
        cached_input=amount(cached_input, "cached_input"),
        cache_write=amount(cache_write, "cache_write"),
        reasoning=amount(reasoning, "reasoning"),
        effective_from=effective_from,
    )


def save(store: UserStore, price: Price) -> Price:
    """Store the override ``price`` (it wins over the catalog from its start)."""
    store.prices.save(price)
    return price


def remove(store: UserStore, provider: str, model: str) -> int:
    """Remove every override of ``provider``/``model``; how many there were."""
    return int(store.prices.delete(provider, model))


def reprice(store: UserStore, run_id: str, provider: str, model: str) -> dict[str, Any] | None:
    """What run ``run_id``'s recorded calls would have cost on ``provider``/``model``
    (``orca pricing reprice --json``); None when the ledger holds no call of it."""
    charges = store.usage.charges(run_id)
    if not charges:
        return None
    usages = [(c, c.cost_nano_usd) for c in charges]
    result = PriceBook(store.prices.load()).reprice(usages, provider, model)
    return {
        "run_id": run_id,
        "llm_calls": result.calls,
        "original_nano_usd": result.original_nano,
        "repriced_nano_usd": result.repriced_nano,
        "as": f"{provider}/{model}",
        "priced": result.priced,
        "ratio": result.ratio,
    }
