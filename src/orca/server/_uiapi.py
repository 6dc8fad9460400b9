"""What the web UI's pages read beyond single runs: the runs list with its filters and
cursor, its live counters, a search of the event log, spend over time, a workflow's
per-node figures, and the server's tokens (Settings). Thin routes over ``orca.manage``
(``views``, ``usage``, ``tokens``), on the admin API's stores (``_admin_stores``)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from orca.errors import InvalidFieldError, InvalidInputError
from orca.manage import plain, runs, tokens, usage, views
from orca.server._admin_stores import JSON
from orca.server._models import ID_MAX, ID_PATTERN, PathId, QueryId
from orca.server._tenancy import side_of, stores

if TYPE_CHECKING:
    from orca.store import TokenRepository

router = APIRouter()

Text = Annotated[str | None, Query(min_length=1, max_length=200, description="1 to 200 characters")]
Time = Annotated[
    str | None,
    Query(max_length=64, description="an ISO 8601 date or time (UTC unless it says), or 7d, 12h"),
]
Money = Annotated[
    str | None, Query(max_length=40, description="a decimal number of dollars, e.g. 0.25")
]


def _time(text: str | None, field: str) -> dt.datetime | None:
    return plain.parse_time(text, field)


# -- runs ------------------------------------------------------------------------------------


@router.get("/v1/runs", tags=["runs"])
async def list_runs(
    request: Request,
    thread_id: QueryId = None,
    status: Annotated[
        list[Annotated[str, Query(max_length=ID_MAX)]] | None,
        Query(description="runs of any of these statuses (repeat status=)"),
    ] = None,
    workflow: QueryId = None,
    since: Time = None,
    until: Time = None,
    min_cost_usd: Money = None,
    max_cost_usd: Money = None,
    q: Text = None,
    before: QueryId = None,
    limit: int = 50,
) -> JSON:
    """Run records, newest first, by the filters given: statuses, workflow, thread,
    started in ``[since, until)``, cost within ``[min_cost_usd, max_cost_usd]`` (exact,
    in nano-USD), and ``q`` found (case-insensitively) in their logged events, over the
    newest 2000 runs the other filters select. ``before`` is a cursor: the id of the last
    run of the page before."""
    if not 0 < limit <= 1000:
        raise InvalidInputError(f"limit is {limit}. Fix: ask for 1 to 1000 runs")
    from orca.store import RunFilter

    query = RunFilter(
        statuses=views.check_statuses(status or []),
        graph=workflow,
        thread_id=thread_id,
        since=_time(since, "since"),
        until=_time(until, "until"),
        min_cost_nano_usd=views.nano_of(min_cost_usd, "min_cost_usd"),
        max_cost_nano_usd=views.nano_of(max_cost_usd, "max_cost_usd"),
        text=q,
        before=before,
        limit=limit,
    )
    admin, _, store = stores(request)
    try:
        found = await admin.call(store.run_views.find_runs, query)
    except InvalidInputError as exc:
        if query.before is None:
            raise
        message, _, fix = str(exc).partition(". Fix: ")
        raise InvalidFieldError(message, field="before", fix=fix) from None
    return [views.record(r) for r in found]


@router.get("/v1/runs/stats", tags=["runs"])
async def run_stats(request: Request) -> JSON:
    """Counters of the runs page: runs by status and in all, their cost all time and
    over the last 24 hours (decimal strings of dollars), and that day's tokens and runs."""
    admin, _, store = stores(request)
    return await admin.call(views.stats, store.run_views, dt.datetime.now(dt.UTC))


# -- the event log ---------------------------------------------------------------------------


@router.get("/v1/events/search", tags=["runs"])
async def search_events(
    request: Request,
    q: Annotated[str, Query(min_length=1, max_length=200, description="the text to find")],
    types: Annotated[
        list[str] | None, Query(alias="type", description="only these event types (repeat)")
    ] = None,
    run_id: QueryId = None,
    limit: int = Query(default=50, ge=1, le=1000),
) -> JSON:
    """Logged events holding ``q`` (case-insensitive) in their JSON, latest first, with
    the text around it; secrets are redacted before matching and in every excerpt. Over
    the event logs of the newest 2000 runs, or of ``run_id``'s."""
    types = types or []
    runs.check_types(types)
    admin, _, store = stores(request)
    return await admin.call(
        views.search, store.run_views, q, types=types, run_id=run_id, limit=limit
    )


# -- spend and workflows ---------------------------------------------------------------------


@router.get("/v1/usage/series", tags=["usage"])
async def usage_series(
    request: Request,
    by: Literal["model", "node", "role", "workflow", "session"] = "model",
    bucket: Literal["hour", "day"] = "day",
    since: Time = None,
    until: Time = None,
) -> JSON:
    """Spend over time from the usage ledger: per hour or day (UTC) and per model,
    node, role, workflow or session, the calls, tokens and cost (``cost_usd``, a decimal
    string; ``cost_nano_usd`` exact), buckets in time order."""
    admin, users, _ = stores(request)
    start, end = _time(since, "since"), _time(until, "until")
    return await admin.call(usage.series, users, by, bucket, since=start, until=end)


@router.get("/v1/workflows/{name}/stats", tags=["workflows"])
async def workflow_stats(request: Request, name: PathId, since: Time = None) -> JSON:
    """Per node of the workflow: runs it ran in, tasks (``calls``), failed tasks
    (``errors``), task latency p50/p95 (ms), and its LLM cost and tokens; over its newest
    5000 runs started since ``since``."""
    admin, users, store = stores(request)
    start = _time(since, "since")
    found = await admin.call(views.workflow_stats, store.run_views, users, name, since=start)
    # a saved flow's runs are recorded as NAME@VERSION: served too, before its first run ends
    if not found and await asyncio.to_thread(side_of(request).runs.find, name) is None:
        raise HTTPException(404, f"no workflow named {name!r} is served or has runs")
    return found


# -- tokens ----------------------------------------------------------------------------------


class TokenBody(BaseModel):
    """A token to make (``orca token create``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="who uses it: 1 to 64 letters, digits, '.', '_' or '-'",
    )
    scopes: list[Literal["read", "run", "admin"]] = Field(
        default=["read"],
        min_length=1,
        max_length=3,
        description="what it may do; a token holds the highest listed (admin holds run, "
        "run holds read)",
    )


def _tokens(request: Request) -> tuple[TokenRepository, str]:
    """The server's tokens (in the default tenant's store, where the server checks
    them) and the caller's tenant, the only one whose tokens it sees."""
    side = side_of(request)
    store = request.app.state.auth.store or side.runs.store  # no auth: the default's
    return store.tokens, side.tenant


@router.get("/v1/auth/tokens", tags=["auth"])
async def list_tokens(
    request: Request,
    every: bool = Query(default=False, alias="all", description="with revoked tokens"),
) -> JSON:
    """The tokens of the caller's tenant, oldest first: name, scopes, when made and last
    used (never the token itself). Needs scope admin."""
    found, tenant = _tokens(request)
    return await asyncio.to_thread(tokens.list_, found, revoked=every, tenant=tenant)


@router.post("/v1/auth/tokens", status_code=201, tags=["auth"])
async def create_token(request: Request, body: TokenBody) -> JSON:
    """Make a token of the caller's tenant (``orca token create``): the answer holds it
    (``token``) this once; only its hash is kept. Needs scope admin."""
    from orca.store._tokens import check_token_name

    try:
        check_token_name(body.name)
    except InvalidInputError as exc:
        message, _, fix = str(exc).partition(". Fix: ")
        raise InvalidFieldError(message, field="name", fix=fix) from None
    scope = tokens.highest_scope(list(body.scopes))
    found, tenant = _tokens(request)
    return await asyncio.to_thread(tokens.create, found, body.name, scope, tenant)


@router.delete("/v1/auth/tokens/{name}", status_code=204, tags=["auth"])
async def revoke_token(request: Request, name: PathId) -> Response:
    """Revoke a token of the caller's tenant (``orca token revoke``): this server
    refuses it from its next request. Needs scope admin."""
    found, tenant = _tokens(request)
    live = await asyncio.to_thread(tokens.list_, found, tenant=tenant)
    if not any(t["name"] == name for t in live):
        raise HTTPException(404, f"no live token is named {name[:80]!r}")
    await asyncio.to_thread(tokens.revoke, found, name, tenant)
    return Response(status_code=204)
