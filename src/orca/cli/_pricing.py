"""``orca pricing list|show|set|unset|reprice`` and ``orca usage report``."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import typer

from orca.cli._common import (
    CONFIG,
    JSON_OPTION,
    USAGE,
    commands,
    count,
    emit_json,
    esc,
    fail,
    handles_errors,
    llm_calls,
    money,
    out,
    per_mtok,
    since,
    table,
    usd,
    user_db,
)

if TYPE_CHECKING:
    from orca.cost import Price


app = commands("Prices per 1M tokens: the catalog, your overrides, re-pricing runs.")
usage_app = commands("Usage and cost reports over the ledger.")

PER_MTOK = "USD per 1M tokens, e.g. 2.50."


def _price_dict(p: Price) -> dict[str, Any]:
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


def _decimal(text: str | None, option: str) -> Decimal | None:
    return None if text is None else money(text, option, zero=True)


def _cell(value: Decimal | None) -> str:
    return per_mtok(value)


@app.command("list")
@handles_errors
def list_(as_json: bool = JSON_OPTION) -> None:
    """Your price overrides (every version); catalog prices: orca pricing show."""
    with user_db() as store:
        prices = sorted(
            store.prices.load(), key=lambda p: (p.provider, p.model, str(p.effective_from))
        )
    if as_json:
        emit_json([_price_dict(p) for p in prices])
        return
    if not prices:
        out.print(
            "no price overrides; the genai-prices catalog prices known models "
            "(orca pricing set PROVIDER MODEL --input X --output Y to add one)"
        )
        return
    t = table(
        "Price overrides (USD per 1M tokens)",
        "provider",
        "model",
        "from",
        "input",
        "cached",
        "cache write",
        "output",
        "reasoning",
    )
    for p in prices:
        t.add_row(
            p.provider,
            p.model,
            f"{p.effective_from:%Y-%m-%d}" if p.effective_from else "-",
            _cell(p.input),
            _cell(p.cached_input),
            _cell(p.cache_write),
            _cell(p.output),
            _cell(p.reasoning),
        )
    out.print(t)


@app.command("show")
@handles_errors
def show(provider: str, model: str, as_json: bool = JSON_OPTION) -> None:
    """The price in force for PROVIDER MODEL, and where it comes from: what a run of
    that model is charged (a local model file by its file name, as runs record it)."""
    from pathlib import Path

    from orca.cost import PriceBook
    from orca.cost._pricing import catalog_models
    from orca.errors import closest
    from orca.llm._registry import check_provider

    check_provider(provider)  # an unknown provider names the closest (exit 3)
    if provider == "llamacpp":
        model = Path(model).name  # runs record (and are charged as) the file's name
    with user_db() as store:
        price = PriceBook(store.prices.load()).price(provider, model)
    if price.source == "unknown":
        known = catalog_models(provider)
        fail(
            f"no price known for {provider}/{model}{closest(model, known)}",
            CONFIG,
            fix=f"set one: orca pricing set {provider} {model} --input X --output Y"
            + ("" if known else f" (the catalog does not price {provider}'s models)"),
        )
    if as_json:
        emit_json(_price_dict(price))
        return
    source = {
        "user": "your override",
        "catalog": "the genai-prices catalog",
        "local": "a local provider: free, unless you set a price",
    }
    out.print(
        f"[bold]{esc(provider)}/{esc(model)}[/] (from {source[price.source]}), USD per 1M tokens:"
    )
    out.print(
        f"  input {_cell(price.input)}  cached input {_cell(price.cached_input or price.input)}  "
        f"cache write {_cell(price.cache_write or price.input)}"
    )
    out.print(f"  output {_cell(price.output)}  reasoning {_cell(price.reasoning or price.output)}")


@app.command("set")
@handles_errors
def set_(
    provider: str,
    model: str,
    input: str = typer.Option(..., "--input", help=PER_MTOK),
    output: str = typer.Option(..., "--output", help=PER_MTOK),
    cached_input: str | None = typer.Option(None, "--cached-input", help=PER_MTOK),
    cache_write: str | None = typer.Option(None, "--cache-write", help=PER_MTOK),
    reasoning: str | None = typer.Option(None, "--reasoning", help=PER_MTOK),
    effective_from: str | None = typer.Option(
        None, "--effective-from", help="When it applies from (ISO date; default: always)."
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Set your own price for a model (it wins over the catalog)."""
    from orca.cost import Price
    from orca.llm._registry import check_provider

    check_provider(provider)
    start = since(effective_from, "--effective-from") if effective_from else None
    price = Price(
        provider,
        model,
        _decimal(input, "--input"),  # type: ignore[arg-type]
        _decimal(output, "--output"),  # type: ignore[arg-type]
        cached_input=_decimal(cached_input, "--cached-input"),
        cache_write=_decimal(cache_write, "--cache-write"),
        reasoning=_decimal(reasoning, "--reasoning"),
        effective_from=start,
    )
    with user_db() as store:
        store.prices.save(price)
    if as_json:
        emit_json(_price_dict(price))
    else:
        out.print(
            f"price set for [bold]{esc(provider)}/{esc(model)}[/]: input {_cell(price.input)}, "
            f"output {_cell(price.output)} per 1M tokens"
        )


@app.command("unset")
@handles_errors
def unset(provider: str, model: str, as_json: bool = JSON_OPTION) -> None:
    """Remove your prices for a model (the catalog's apply again)."""
    with user_db() as store:
        removed = store.prices.delete(provider, model)
    if not removed:
        fail(
            f"no price override for {provider}/{model}",
            CONFIG,
            fix="see them with orca pricing list",
        )
    if as_json:
        emit_json({"provider": provider, "model": model, "removed": removed})
    else:
        out.print(f"removed {count(removed, 'price')} of [bold]{esc(provider)}/{esc(model)}[/]")


@app.command("reprice")
@handles_errors
def reprice(
    run: str = typer.Argument(..., help="A run id (orca runs list)."),
    as_model: str = typer.Option(..., "--as", help="PROVIDER/MODEL to price it on."),
    as_json: bool = JSON_OPTION,
) -> None:
    """What RUN's recorded usage would have cost on another model."""
    from orca.cli._ids import run_id
    from orca.cost import PriceBook

    provider, sep, model = as_model.partition("/")
    if not sep or not provider or not model:
        fail(f"--as {as_model!r} is not PROVIDER/MODEL", USAGE, fix="write --as openai/gpt-4o-mini")
    run = run_id(run, ledger=True)
    with user_db() as store:
        charges = store.usage.charges(run)
        if not charges:
            fail(
                f"run {run!r} has no recorded usage",
                CONFIG,
                fix="see runs with orca usage report --by run",
            )
        usages = [(c, c.cost_nano_usd) for c in charges]
        result = PriceBook(store.prices.load()).reprice(usages, provider, model)
    data = {
        "run_id": run,
        "llm_calls": result.calls,
        "original_nano_usd": result.original_nano,
        "repriced_nano_usd": result.repriced_nano,
        "as": as_model,
        "priced": result.priced,
        "ratio": result.ratio,
    }
    if as_json:
        emit_json(data)
        return
    out.print(
        f"run {run}: {count(result.calls, 'call')} cost {usd(result.original_nano)}; "
        f"on {as_model} they would cost {usd(result.repriced_nano)}"
        + (f" ({result.ratio:.2f}x)" if result.ratio is not None else "")
        + ("" if result.priced else " [yellow](no price known for that model)[/]")
    )


@usage_app.command("report")
@handles_errors
def report(
    by: str = typer.Option(
        "model", "--by", help="model, node, role, day, run, workflow or session."
    ),
    since_: str | None = typer.Option(None, "--since", help="7d, 12h, 2w or an ISO date."),
    until: str | None = typer.Option(None, "--until", help="An ISO date/time."),
    run: str | None = typer.Option(None, "--run", help="Only this run."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Calls, tokens and cost from the usage ledger, grouped."""
    from orca.cli._ids import run_id

    if run is not None:
        run = run_id(run, ledger=True)
    with user_db() as store:
        grouping: Any = by  # the report checks it and names the choices
        rows = store.usage.report(
            grouping, since=since(since_), until=since(until, "--until"), run_id=run
        )
    if as_json:
        emit_json([llm_calls(r.as_dict()) for r in rows])
        return
    t = table(f"Usage by {by}", by, "calls", "in", "out", "cost", "unpriced")
    for r in rows:
        t.add_row(
            r.key,
            str(r.calls),
            f"{r.input_tokens:,}",
            f"{r.output_tokens:,}",
            usd(r.cost_nano_usd),
            str(r.unpriced_calls) if r.unpriced_calls else "",
        )
    t.add_row(
        "total",
        str(sum(r.calls for r in rows)),
        f"{sum(r.input_tokens for r in rows):,}",
        f"{sum(r.output_tokens for r in rows):,}",
        usd(sum(r.cost_nano_usd for r in rows)),
        "",
        style="bold",
    )
    out.print(t)
