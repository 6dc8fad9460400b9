"""The admin API: everything the CLI manages, over HTTP. Budgets, profiles, prices,
usage reports, the tool audit, and a run's record, timeline, events, trace and replay.

Each endpoint calls the same function of ``orca.manage`` as its CLI twin and answers
the same JSON as the twin's ``--json`` (money as integer nano-USD, prices and
percentages as decimal strings, never floats). The user database (``$ORCA_HOME/
orca.db``, found as the CLI finds it) and the project's store are opened once, when the
app starts (``_admin_stores``); the run endpoints are in ``_admin_runs``."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from orca.manage import budgets, plain, prices, profiles, usage
from orca.server import _admin_runs
from orca.server._admin_stores import JSON
from orca.server._tenancy import stores

router = APIRouter()


# -- budgets ---------------------------------------------------------------------------------


class BudgetBody(BaseModel):
    """A budget to create (``orca budget create``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="1-128 letters, digits, '.', '_', ':' or '-'")
    amount: str = Field(description="dollars as a decimal string ('5.00'), or tokens")
    unit: Literal["usd", "tokens"] = "usd"
    type: Literal["credit", "recurring"] = Field(
        default="credit", description="credit (once) or recurring (each period)"
    )
    period: Literal["daily", "weekly", "monthly"] | None = None
    enforcement: Literal["block", "warn"] = "block"
    thresholds: list[int] = Field(
        default_factory=list, description="warn at these percents (none: 80 and 100)"
    )
    timezone: str = Field(default="UTC", description="where periods start at midnight")
    workflow: str | None = Field(default=None, description="cover one workflow's calls")
    session: str | None = Field(default=None, description="cover one session's calls")
    run: str | None = Field(default=None, description="cover one run's calls")
    activate: bool = Field(default=False, description="make it the active budget")


class RaiseBody(BaseModel):
    """A budget's new limit: ``by`` adds to it, ``to`` sets it (exactly one)."""

    model_config = ConfigDict(extra="forbid")

    by: str | None = Field(default=None, description="add this much ('5.00', or tokens)")
    to: str | None = Field(default=None, description="set the limit to this")


@router.get("/v1/budgets", tags=["budgets"])
async def list_budgets(
    request: Request,
    every: bool = Query(default=False, alias="all", description="with budgets of single runs"),
) -> JSON:
    """Every budget and where it stands in its current period (``orca budget list
    --json``; budgets of single runs with ``all``)."""
    admin, users, _ = stores(request)
    found = await admin.call(budgets.statuses, users, every=every)
    return plain.jsonable([s.as_dict() for s in found])


@router.post("/v1/budgets", status_code=201, tags=["budgets"])
async def create_budget(request: Request, body: BudgetBody) -> JSON:
    """Create a budget (``orca budget create --json``; the first global one becomes
    active)."""
    admin, users, _ = stores(request)
    budget = budgets.new_budget(
        body.name,
        body.amount,
        unit=body.unit,
        kind=body.type,
        period=body.period,
        enforcement=body.enforcement,
        thresholds=body.thresholds,
        timezone=body.timezone,
        workflow=body.workflow,
        session=body.session,
        run=body.run,
    )
    status = await admin.call(budgets.create, users, budget, activate=body.activate)
    return plain.jsonable(status.as_dict())


@router.get("/v1/budgets/{name}", tags=["budgets"])
async def show_budget(request: Request, name: str) -> JSON:
    """A budget's settings and where it stands (``orca budget show --json``)."""
    admin, users, _ = stores(request)
    return plain.jsonable(budgets.detail(await admin.call(budgets.status, users, name)))


@router.get("/v1/budgets/{name}/status", tags=["budgets"])
async def budget_status(request: Request, name: str) -> JSON:
    """Where a budget stands now, expired holds released first (``orca budget status
    NAME --json``)."""
    admin, users, _ = stores(request)
    found = await admin.call(budgets.current, users, name)
    if found is None:  # not reached: a name is given, and an unknown one raised
        raise HTTPException(404, f"no budget {name!r}")
    return plain.jsonable(found.as_dict())


@router.post("/v1/budgets/{name}/raise", tags=["budgets"])
async def raise_budget(request: Request, name: str, body: RaiseBody) -> JSON:
    """Raise a budget's limit (``orca budget raise --json``): never below what it has
    spent and holds."""
    admin, users, _ = stores(request)
    status = await admin.call(budgets.raise_, users, name, by=body.by, to=body.to)
    return plain.jsonable(status.as_dict())


@router.post("/v1/budgets/{name}/use", tags=["budgets"])
async def use_budget(request: Request, name: str) -> JSON:
    """Make it the active budget (``orca budget use --json``)."""
    admin, users, _ = stores(request)
    return {"active": (await admin.call(budgets.use, users, name)).name}


@router.delete("/v1/budgets/{name}", tags=["budgets"])
async def delete_budget(request: Request, name: str) -> JSON:
    """Delete a budget and its periods; the usage ledger keeps its rows (``orca budget
    delete --yes --json``)."""
    admin, users, _ = stores(request)
    await admin.call(budgets.delete, users, name)
    return {"deleted": name}


# -- profiles --------------------------------------------------------------------------------


class ProfileBody(BaseModel):
    """An LLM profile to create (``orca profile create``)."""

    model_config = ConfigDict(extra="forbid")

    name: str
    planner: str = Field(description="PROVIDER:MODEL, e.g. anthropic:claude-sonnet-4-5")
    worker: str = Field(description="PROVIDER:MODEL, e.g. openai:gpt-4o-mini")
    planner_params: dict[str, Any] = Field(
        default_factory=dict, description="request defaults and client options"
    )
    worker_params: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    activate: bool = False


class ProfilePatch(BaseModel):
    """Changes to a profile (``orca profile update``): parameters add to the old ones."""

    model_config = ConfigDict(extra="forbid")

    planner: str | None = None
    worker: str | None = None
    planner_params: dict[str, Any] = Field(default_factory=dict)
    worker_params: dict[str, Any] = Field(default_factory=dict)
    description: str | None = None


@router.get("/v1/profiles", tags=["profiles"])
async def list_profiles(request: Request) -> JSON:
    """Every profile (``orca profile list --json``)."""
    admin, users, _ = stores(request)
    return plain.jsonable([profiles.as_dict(p) for p in await admin.call(profiles.all_, users)])


@router.post("/v1/profiles", status_code=201, tags=["profiles"])
async def create_profile(request: Request, body: ProfileBody) -> JSON:
    """Create a profile (``orca profile create --json``; the first becomes active)."""
    from orca.llm import Profile

    admin, users, _ = stores(request)
    profiles.check_name(body.name)
    profile = Profile(
        body.name,
        profiles.model_spec(body.planner, body.planner_params, "planner", "planner_params"),
        profiles.model_spec(body.worker, body.worker_params, "worker", "worker_params"),
        body.description,
    )
    made = await admin.call(profiles.create, users, profile, activate=body.activate)
    return plain.jsonable(profiles.as_dict(made))


@router.get("/v1/profiles/{name}", tags=["profiles"])
async def show_profile(request: Request, name: str) -> JSON:
    """One profile with its parameters (``orca profile show --json``)."""
    admin, users, _ = stores(request)
    return plain.jsonable(profiles.as_dict(await admin.call(profiles.get, users, name)))


@router.patch("/v1/profiles/{name}", tags=["profiles"])
async def update_profile(request: Request, name: str, body: ProfilePatch) -> JSON:
    """Change a profile's planner, worker or description (``orca profile update
    --json``)."""
    admin, users, _ = stores(request)
    new = await admin.call(
        profiles.update,
        users,
        name,
        planner=(body.planner, body.planner_params, "planner", "planner_params"),
        worker=(body.worker, body.worker_params, "worker", "worker_params"),
        description=body.description,
    )
    return plain.jsonable(profiles.as_dict(new))


@router.post("/v1/profiles/{name}/use", tags=["profiles"])
async def use_profile(request: Request, name: str) -> JSON:
    """Make it the active profile (``orca profile use --json``)."""
    admin, users, _ = stores(request)
    return {"active": (await admin.call(profiles.use, users, name)).name}


@router.delete("/v1/profiles/{name}", tags=["profiles"])
async def delete_profile(request: Request, name: str) -> JSON:
    """Delete a profile (``orca profile delete --yes --json``)."""
    admin, users, _ = stores(request)
    await admin.call(profiles.delete, users, name)
    return {"deleted": name}


# -- prices ----------------------------------------------------------------------------------


class PriceBody(BaseModel):
    """A price override in USD per 1M tokens, decimal strings (``orca pricing set``)."""

    model_config = ConfigDict(extra="forbid")

    input: str = Field(description="USD per 1M input tokens, e.g. '2.50'")
    output: str = Field(description="USD per 1M output tokens")
    cached_input: str | None = None
    cache_write: str | None = None
    reasoning: str | None = None
    effective_from: str | None = Field(
        default=None, description="when it applies from: an ISO date (default: always)"
    )


class RepriceBody(BaseModel):
    """The model to price a run's recorded calls on (``orca pricing reprice --as``)."""

    model_config = ConfigDict(extra="forbid")

    provider: str = Field(min_length=1)
    model: str = Field(min_length=1)


@router.get("/v1/prices", tags=["prices"])
async def list_prices(request: Request) -> JSON:
    """Your price overrides, every version (``orca pricing list --json``)."""
    admin, users, _ = stores(request)
    return plain.jsonable([prices.as_dict(p) for p in await admin.call(prices.overrides, users)])


@router.get("/v1/prices/{provider}/{model:path}", tags=["prices"])
async def show_price(request: Request, provider: str, model: str) -> JSON:
    """The price in force for a model and its ``source``: ``user``, ``catalog`` or
    ``local`` (``orca pricing show --json``)."""
    admin, users, _ = stores(request)
    price = await admin.call(prices.in_force, users, provider, model)
    if price.source == "unknown":
        message, _ = prices.unknown(provider, prices.charged_name(provider, model))
        raise HTTPException(404, f"{message}: set one with PUT /v1/prices/{provider}/MODEL")
    return plain.jsonable(prices.as_dict(price))


@router.put("/v1/prices/{provider}/{model:path}", tags=["prices"])
async def set_price(request: Request, provider: str, model: str, body: PriceBody) -> JSON:
    """Set your own price for a model; it wins over the catalog (``orca pricing set
    --json``)."""
    admin, users, _ = stores(request)
    price = prices.new_price(
        provider,
        model,
        input=body.input,
        output=body.output,
        cached_input=body.cached_input,
        cache_write=body.cache_write,
        reasoning=body.reasoning,
        effective_from=plain.parse_time(body.effective_from, "effective_from"),
    )
    return plain.jsonable(prices.as_dict(await admin.call(prices.save, users, price)))


@router.delete("/v1/prices/{provider}/{model:path}", tags=["prices"])
async def unset_price(request: Request, provider: str, model: str) -> JSON:
    """Remove your prices of a model; the catalog's apply again (``orca pricing unset
    --json``)."""
    admin, users, _ = stores(request)
    removed = await admin.call(prices.remove, users, provider, model)
    if not removed:
        raise HTTPException(404, f"no price override for {provider}/{model}")
    return {"provider": provider, "model": model, "removed": removed}


@router.post("/v1/runs/{run_id}/reprice", tags=["prices"])
async def reprice_run(request: Request, run_id: str, body: RepriceBody) -> JSON:
    """What a run's recorded calls would have cost on another model (``orca pricing
    reprice --json``; ``ratio`` is a decimal string)."""
    admin, users, _ = stores(request)
    data = await admin.call(prices.reprice, users, run_id, body.provider, body.model)
    if data is None:
        raise HTTPException(404, f"run {run_id!r} has no recorded usage")
    return plain.jsonable(data)


# -- usage and the tool audit ----------------------------------------------------------------


@router.get("/v1/usage", tags=["usage"])
async def usage_report(
    request: Request,
    by: Literal["model", "node", "role", "day", "run", "workflow", "session"] = "model",
    since: str | None = Query(default=None, description="7d, 12h, 2w or an ISO date"),
    until: str | None = Query(default=None, description="an ISO date/time (exclusive)"),
    run_id: str | None = None,
) -> JSON:
    """Calls, tokens and cost from the usage ledger, grouped (``orca usage report
    --json``)."""
    admin, users, _ = stores(request)
    start, end = plain.parse_time(since, "since"), plain.parse_time(until, "until")
    rows = await admin.call(usage.report, users, by, since=start, until=end, run_id=run_id)
    return plain.jsonable(usage.rows(rows))


@router.get("/v1/audit", tags=["usage"])
async def tool_audit(
    request: Request,
    run_id: str | None = None,
    tool: str | None = None,
    status: Literal["ok", "error", "invalid", "denied", "timeout"] | None = None,
    limit: int = Query(default=50, ge=1, le=1000),
) -> JSON:
    """Tool executions, newest first, arguments and results redacted as they were
    recorded (``orca tools log --json``)."""
    admin, _, store = stores(request)
    return plain.jsonable(
        await admin.call(
            usage.tool_log, store.audit, run_id=run_id, tool=tool, status=status, limit=limit
        )
    )


router.include_router(_admin_runs.router)  # a run's record, timeline, events, trace, replay
