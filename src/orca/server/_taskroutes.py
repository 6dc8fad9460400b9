"""The routes of the LLM-task data plane: tasks and their streams, sessions,
capabilities and artifacts (``create_app`` includes ``router()``; each request reaches
its caller's tenant's tasks only)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException

from orca._version import __version__
from orca.errors import InvalidInputError
from orca.server._models import PathId, QueryId
from orca.server._sse import KEEP_ALIVE, with_heartbeats
from orca.server._taskbodies import SAMPLER_PROFILES, ArtifactBody, Refused, TaskBody, refusals
from orca.server._tasks import Tasks
from orca.server._tenancy import side_of
from orca.store._tasks import ARTIFACT_KINDS, ArtifactRecord

API_VERSION = "v1"
SSE = "text/event-stream"
EVENT_ID = re.compile(r"-1|[0-9]{1,18}")  # an SSE id: -1 (from the start) or a seq


def _tasks(request: Request) -> Tasks:
    return side_of(request).tasks


def _limit(limit: int) -> None:
    if not 0 < limit <= 1000:
        raise InvalidInputError(f"limit is {limit}. Fix: ask for 1 to 1000")


def router() -> APIRouter:
    """The data plane's routes, over the tasks of each caller's tenant."""
    api = APIRouter()

    @api.post("/v1/tasks", status_code=202, tags=["tasks"])
    @refusals
    async def submit(body: TaskBody, request: Request) -> dict[str, Any]:
        """Accept an LLM task: stored, then queued. 202 with ``queue_position``,
        ``predicted_start_ms`` and ``backoff_ms``; the same ``task_id`` and body again is
        the same task, another body a 409; a full queue a 429."""
        return await _tasks(request).submit(body)

    @api.get("/v1/tasks", tags=["tasks"])
    async def list_tasks(
        request: Request,
        session_id: QueryId = None,
        status: QueryId = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Task records, newest first."""
        _limit(limit)
        return await _tasks(request).records(session_id, status, limit)

    @api.get("/v1/tasks/{task_id}", tags=["tasks"])
    async def get_task(task_id: PathId, request: Request) -> dict[str, Any]:
        """A task's record: status, place in the queue, tokens, cost, error."""
        return await _tasks(request).record(task_id)

    @api.post("/v1/tasks/{task_id}/cancel", tags=["tasks"])
    async def cancel_task(task_id: PathId, request: Request) -> dict[str, Any]:
        """Cancel a task: once this answers, no token of it is streamed or stored.
        ``tokens_out`` is what it streamed; ``cancelled`` is false when it had ended."""
        return await _tasks(request).cancel(task_id)

    @api.get(
        "/v1/tasks/{task_id}/stream",
        tags=["tasks"],
        response_class=StreamingResponse,
        responses={200: {"description": "the task's events", "content": {SSE: {}}}},
    )
    async def stream_task(
        task_id: PathId,
        request: Request,
        last: str | None = Header(
            None,
            alias="Last-Event-ID",
            description="resume after this event (its id, -1 for all); at most 18 digits",
        ),
    ) -> StreamingResponse:
        """The task's events as server-sent events (``id`` is the event's seq):
        ``started``, ``token`` (``t``, ``i``), ``metrics``, then ``end`` or ``error``.
        Live while it runs, from its log afterwards; resume with ``Last-Event-ID``."""
        if last is not None and not EVENT_ID.fullmatch(last):
            raise InvalidInputError(
                f"Last-Event-ID is {last[:40]!r}. Fix: send the id of the last event "
                "received (a number of at most 18 digits, or -1)"
            )
        after = int(last) if last is not None else -1
        events = await _tasks(request).events(task_id, after)
        return StreamingResponse(
            _sse(events),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @api.get("/v1/sessions/{session_id}", tags=["sessions"])
    async def get_session(session_id: PathId, request: Request) -> dict[str, Any]:
        """A session: its turns, totals, budgets (spent, remaining) and time to live."""
        t = _tasks(request)
        found = await t._run(t.tasks.session, session_id)
        if found is None:
            raise HTTPException(404, f"no session {session_id!r} (or it expired)")
        budgets: list[dict[str, Any]] = []
        if t.ledger is not None:
            applicable = await t.ledger.aapplicable(session=session_id)
            budgets = [s.as_dict() for s in await t.ledger.astatus(applicable)]
        expires = dt.datetime.fromisoformat(found.expires_at)
        left = (expires - dt.datetime.now(dt.UTC)).total_seconds() * 1000
        return {
            "session_id": found.session_id,
            "created_at": found.created_at,
            "last_used_at": found.last_used_at,
            "expires_at": found.expires_at,
            "ttl_ms": found.ttl_ms,
            "ttl_remaining_ms": max(0, int(left)),
            "turns": found.turns,
            "active_tasks": len(t.queued_in(session_id)),
            "tokens_in": found.input_tokens,
            "tokens_out": found.output_tokens,
            "cost_nano_usd": found.cost_nano_usd,
            "decode_ms": found.decode_ms,
            "budgets": budgets,
        }

    @api.delete("/v1/sessions/{session_id}", status_code=204, tags=["sessions"])
    async def delete_session(session_id: PathId, request: Request) -> Response:
        """End a session: its queued and running tasks are cancelled and it is
        forgotten (its tasks' records stay)."""
        t = _tasks(request)
        for live in t.queued_in(session_id):
            await t.cancel(live.task_id)
        if not await t._run(t.tasks.delete_session, session_id):
            raise HTTPException(404, f"no session {session_id!r} (or it expired)")
        return Response(status_code=204)

    @api.get("/v1/capabilities", tags=["tasks"])
    async def capabilities(request: Request) -> dict[str, Any]:
        """What this server offers tasks, and how much at once: a client keeps at most
        ``concurrency.safe`` tasks in flight to never meet a 429 by its own doing."""
        t = _tasks(request)
        snap = t.admission.snapshot()
        models = t.models.describe()
        engines: dict[str, dict[str, Any]] = {}
        for m in models:
            e = engines.setdefault(
                m["engine"], {"engine": m["engine"], "local": m["local"], "models": []}
            )
            e["models"].append(m["model_ref"])
        pools = _pool_capacities(request)
        for p in pools:
            e = engines.setdefault(
                p["engine"], {"engine": p["engine"], "local": True, "models": []}
            )
            e["models"].append(f"pool:{p['pool']}")
            models.append(
                {"model_ref": f"pool:{p['pool']}", "engine": p["engine"], "model": p["model"],
                 "max_context": p["n_ctx"], "local": True, "pool": p["pool"]}
            )  # fmt: skip
        contexts = [m["max_context"] for m in models if m["max_context"] is not None]
        return {
            "api_version": API_VERSION,
            "version": __version__,
            "engines": sorted(engines.values(), key=lambda e: e["engine"]),
            "models": models,
            "max_context": max(contexts) if contexts else None,
            "concurrency": {
                "max_running": snap["max_running"],
                "max_queued": snap["max_queued"],
                "safe": snap["max_running"] + snap["max_queued"],
                "running": snap["running"],
                "queue_depth": snap["queue_depth"],
                "mean_service_ms": snap["mean_service_ms"],
                "pools": {p["pool"]: p["concurrency"] for p in pools},
            },
            "rate_limits": {
                "tasks": {
                    "max_running": snap["max_running"],
                    "max_queued": snap["max_queued"],
                    "policy": snap["policy"],
                },
                "max_body_bytes": t.max_body_bytes,
            },
            "feature_flags": {
                "sse": True,
                "sse_resume": True,
                "cancel": True,
                "sessions": True,
                "session_budgets": True,
                "artifacts": True,
                "priorities": ["interactive", "batch"],
                "determinism_strict": sorted(e for e, v in engines.items() if v["local"]),
                "kv_reuse": bool(pools),  # a session stays on its replica (its KV cache)
            },
            "workloads": ["completion"],
            "sampler_profiles": list(SAMPLER_PROFILES),
            "artifact_kinds": list(ARTIFACT_KINDS),
            "session_ttl_ms": t.session_ttl_ms,
        }

    @api.post(
        "/v1/artifacts",
        status_code=201,
        tags=["artifacts"],
        responses={200: {"description": "the same content, registered before"}},
    )
    @refusals
    async def put_artifact(body: ArtifactBody, request: Request) -> Any:
        """Register an artifact: its id is ``sha256:`` + the sha256 of its content. The
        same content again is the same artifact (200), its tags and parents added."""
        from orca.store.sqlite._artifacts import ArtifactConflict

        t = _tasks(request)
        try:
            content = body.content.encode()
        except UnicodeEncodeError:
            raise InvalidInputError(
                "content is not valid Unicode text (it holds a lone surrogate). Fix: send "
                "UTF-8 text; encode binary content (base64) and say so in media_type"
            ) from None
        try:
            found, created = await t._run(
                t.artifacts.put,
                content,
                kind=body.kind,
                media_type=body.media_type,
                tags=body.tags,
                parents=body.parents,
                session_id=body.session_id,
                task_id=body.task_id,
                metadata=body.metadata,
            )
        except ArtifactConflict as exc:
            message, _, fix = str(exc).partition(". Fix: ")
            raise Refused(409, "ARTIFACT_CONFLICT", message, fix=fix) from None
        shown = _artifact(found, content=False)
        return shown if created else JSONResponse(shown, status_code=200)

    @api.get("/v1/artifacts", tags=["artifacts"])
    async def list_artifacts(
        request: Request,
        kind: QueryId = None,
        tag: QueryId = None,
        session_id: QueryId = None,
        limit: int = 50,
    ) -> list[dict[str, Any]]:
        """Artifacts, newest first, without their content."""
        _limit(limit)
        if kind is not None and kind not in ARTIFACT_KINDS:
            raise InvalidInputError(
                f"kind is {kind!r}. Fix: use one of {', '.join(ARTIFACT_KINDS)}"
            )
        t = _tasks(request)
        found = await t._run(
            t.artifacts.find, kind=kind, tag=tag, session_id=session_id, limit=limit
        )
        return [_artifact(a, content=False) for a in found]

    @api.get("/v1/artifacts/{artifact_id}", tags=["artifacts"])
    async def get_artifact(artifact_id: PathId, request: Request) -> dict[str, Any]:
        """An artifact with its content, tags and lineage (parents and children)."""
        t = _tasks(request)
        found = await t._run(t.artifacts.get, artifact_id)
        if found is None:
            raise HTTPException(404, f"no artifact {artifact_id!r}")
        return _artifact(found, content=True)

    return api


def _pool_capacities(request: Request) -> list[dict[str, Any]]:
    """Each serving pool's engine, model and concurrency (its ready slots and queue): a
    client keeps at most ``safe`` tasks of a pool in flight."""
    queues = getattr(request.app.state, "pools", None)
    if queues is None:
        return []
    out = []
    for name, pool in sorted(queues.manager.pools.items()):
        if not pool.serving:
            continue
        capacity = pool.capacity
        out.append(
            {
                "pool": name,
                "engine": pool.config.engine,
                "model": pool.model.name,
                "n_ctx": pool.config.n_ctx,
                "concurrency": {
                    "max_running": capacity,
                    "max_queued": pool.config.queue,
                    "safe": capacity + pool.config.queue if capacity else 0,
                    "tokens_per_s": queues.rates.by_engine.get(name),
                },
            }
        )
    return out


def _artifact(a: ArtifactRecord, *, content: bool) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "artifact_id": a.artifact_id,
        "kind": a.kind,
        "media_type": a.media_type,
        "size": a.size,
        "created_at": a.created_at,
        "session_id": a.session_id,
        "task_id": a.task_id,
        "metadata": a.metadata,
        "tags": list(a.tags),
        "parents": list(a.parents),
        "children": list(a.children),
    }
    if content:
        shown["content"] = a.content.decode(errors="replace")
    return shown


async def _sse(batches: AsyncIterator[list[tuple[int, str, str]]]) -> AsyncIterator[bytes]:
    """Server-sent events, a batch per write, with a comment as heartbeat while nothing
    happens."""
    async for batch in with_heartbeats(batches):
        if batch is None:
            yield KEEP_ALIVE
        elif batch:
            yield "".join(
                f"id: {seq}\nevent: {kind}\ndata: {data}\n\n" for seq, kind, data in batch
            ).encode()
