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
    from orca.manage import prices

    return prices.as_dict(p)


def _option(field: str) -> str:
    """A price field as its option is spelled (``--cached-input``)."""
    return "--" + field.replace("_", "-")


def _cell(value: Decimal | None) -> str:
    return per_mtok(value)


@app.command("list")
@handles_errors
def list_(as_json: bool = JSON_OPTION) -> None:
    """Your price overrides (every version); catalog prices: orca pricing show."""
    from orca.manage import prices as manage

    with user_db() as store:
        prices = manage.overrides(store)
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
    from orca.manage import prices

    with user_db() as store:
        price = prices.in_force(store, provider, model)  # an unknown provider: exit 3
    model = prices.charged_name(provider, model)
    if price.source == "unknown":
        message, catalogued = prices.unknown(provider, model)
        fail(
            message,
            CONFIG,
            fix=f"set one: orca pricing set {provider} {model} --input X --output Y"
            + ("" if catalogued else f" (the catalog does not price {provider}'s models)"),
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
    from orca.manage import prices

    price = prices.new_price(
        provider,
        model,
        input=input,
        output=output,
        cached_input=cached_input,
        cache_write=cache_write,
        reasoning=reasoning,
        effective_from=since(effective_from, "--effective-from") if effective_from else None,
        spell=_option,
    )
    with user_db() as store:
        prices.save(store, price)
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
    from orca.manage import prices

    with user_db() as store:
        removed = prices.remove(store, provider, model)
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
    from orca.manage import prices

    provider, sep, model = as_model.partition("/")
    if not sep or not provider or not model:
        fail(f"--as {as_model!r} is not PROVIDER/MODEL", USAGE, fix="write --as openai/gpt-4o-mini")
    run = run_id(run, ledger=True)
    with user_db() as store:
        data = prices.reprice(store, run, provider, model)
    if data is None:
        fail(
            f"run {run!r} has no recorded usage",
            CONFIG,
            fix="see runs with orca usage report --by run",
        )
    if as_json:
        emit_json(data)
        return
    ratio = data["ratio"]
    out.print(
        f"run {run}: {count(data['llm_calls'], 'call')} cost {usd(data['original_nano_usd'])}; "
        f"on {as_model} they would cost {usd(data['repriced_nano_usd'])}"
        + (f" ({ratio:.2f}x)" if ratio is not None else "")
        + ("" if data["priced"] else " [yellow](no price known for that model)[/]")
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
    from orca.manage import usage

    if run is not None:
        run = run_id(run, ledger=True)
    with user_db() as store:
        rows = usage.report(
            store, by, since=since(since_), until=since(until, "--until"), run_id=run
        )
    if as_json:
        emit_json(usage.rows(rows))
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
