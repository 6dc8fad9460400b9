"""The admin API's run endpoints: a run's record with its tasks and cost, its
timeline, logged events, trace and replay (the twins of ``orca runs show|inspect|
events|trace|replay --json``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from orca.errors import InvalidFieldError
from orca.manage import plain, runs
from orca.server._admin_stores import JSON, Admin
from orca.server._tenancy import side_of, stores

if TYPE_CHECKING:
    from orca.store import Store

router = APIRouter()


async def _logged(admin: Admin, store: Store, run_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = await admin.call(store.checkpoints.read_events, run_id)
    if not found:
        raise HTTPException(404, f"no events logged for run {run_id!r}")
    return found


@router.get("/v1/runs/{run_id}/inspect", tags=["runs"])
async def inspect_run(request: Request, run_id: str) -> JSON:
    """The run's record, its tasks (with tracebacks) and its cost by node, role and
    model (``orca runs show --json``)."""
    admin, users, store = stores(request)

    def detail() -> dict[str, Any] | None:
        record = store.checkpoints.get_run(run_id)
        return None if record is None else runs.detail(store.checkpoints, users, record)

    found = await admin.call(detail)
    if found is None:
        raise HTTPException(404, f"no run {run_id!r}")
    return plain.jsonable(found)


@router.get("/v1/runs/{run_id}/timeline", tags=["runs"])
async def run_timeline(request: Request, run_id: str) -> JSON:
    """The run's supersteps and tasks with duration, tokens, cost and errors, from its
    events (``orca runs inspect --json``)."""
    admin, _, store = stores(request)
    return plain.jsonable(runs.timeline(await _logged(admin, store, run_id)))


@router.get("/v1/runs/{run_id}/trace", tags=["runs"])
async def run_trace(
    request: Request,
    run_id: str,
    fmt: str = Query(
        default="chrome",
        alias="format",
        description="chrome (Perfetto; also 'perfetto') or otlp-json (Jaeger; also 'otlp')",
    ),
) -> JSON:
    """The run's trace document (what ``orca runs trace --format F -o -`` writes)."""
    runs.trace_format(fmt)
    admin, _, store = stores(request)
    return plain.jsonable(runs.trace(await _logged(admin, store, run_id), fmt))


@router.get("/v1/runs/{run_id}/events", tags=["runs"])
async def run_events(
    request: Request,
    run_id: str,
    types: Annotated[
        list[str] | None, Query(alias="type", description="only these event types (repeat)")
    ] = None,
    start: int = Query(default=0, ge=0, description="from this seq on"),
    stop: int | None = Query(default=None, ge=0, description="before this seq"),
    since: str | None = Query(default=None, description="only at or after: 7d, 12h, ISO"),
    most: int | None = Query(default=None, ge=1, alias="max", description="at most this many"),
) -> JSON:
    """The run's logged events, in order (``orca runs events --json``)."""
    types = types or []
    runs.check_types(types)
    after = plain.parse_time(since, "since")
    admin, _, store = stores(request)

    def read() -> list[dict[str, Any]] | None:
        cp = store.checkpoints
        found = runs.events(cp, run_id, start=start, stop=stop, types=types, since=after, most=most)
        return found if found or runs.logged(cp, run_id) else None

    found = await admin.call(read)
    if found is None:
        raise HTTPException(404, f"no events logged for run {run_id!r}")
    return plain.jsonable(found)


class ReplayBody(BaseModel):
    """What to replay a run with (``orca runs replay``)."""

    model_config = ConfigDict(extra="forbid")

    graph: str | None = Field(
        default=None,
        description="PATH.py[:graph] relative to the project (default: the run's workflow)",
    )


@router.post("/v1/runs/{run_id}/replay", tags=["runs"])
async def replay_run(request: Request, run_id: str, body: ReplayBody | None = None) -> JSON:
    """Run the run's graph code again, its LLM and tool calls answered from its log
    (no network, no budget): ``identical``, or the first ``divergence`` (``orca runs
    replay --json``; a divergence is a 200 whose report says so)."""
    from orca.config import load_config

    admin, _, store = stores(request)
    await _logged(admin, store, run_id)
    source = body.graph if body is not None else None
    if source is None:
        source = await admin.call(runs.recorded_source, store.checkpoints, run_id)
        if source is None:
            raise InvalidFieldError(
                f"run {run_id!r} has no workflow on record",
                field="graph",
                fix='name the graph it ran: {"graph": "flows/x.py:graph"}',
            )

    def replay(source: str) -> dict[str, Any]:
        policy = load_config(admin.project).tools.policy()  # what the run redacted in its log
        report = runs.replay(store.checkpoints, run_id, source, policy=policy, root=admin.project)
        return report.to_dict()

    return plain.jsonable(await admin.call(replay, source))


class PruneBody(BaseModel):
    """Which threads to remove (``orca runs prune``)."""

    model_config = ConfigDict(extra="forbid")

    older_than: str = Field(
        min_length=1, max_length=64, description="7d, 12h, 2w or an ISO date/time (UTC)"
    )
    dry_run: bool = Field(default=False, description="only say what would go")


@router.post("/v1/admin/prune", tags=["runs"])
async def prune_threads(request: Request, body: PruneBody) -> JSON:
    """Remove the threads whose last run finished before ``older_than``, with their
    checkpoints, events and run records (``orca runs prune --json``); threads paused at
    an interrupt, or with a run of this server running or queued, stay."""
    admin, _, store = stores(request)
    cutoff = plain.parse_time(body.older_than, "older_than")
    assert cutoff is not None
    busy = side_of(request).runs.busy_threads()
    result: dict[str, Any] = await admin.call(
        runs.prune, store.checkpoints, cutoff, dry_run=body.dry_run, busy=busy
    )
    return result
