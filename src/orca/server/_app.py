"""The ASGI app: health, workflows, runs and their event streams."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
from fastapi import FastAPI, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.exceptions import HTTPException

from orca._version import __version__
from orca.config import OIDCConfig
from orca.errors import ConfigError, InvalidInputError, OrcaError
from orca.server import _admin, _catalog, _flows, _pools, _secrets, _tenants, _uiapi
from orca.server._admin_stores import Admin
from orca.server._auth import (
    Authorize,
    Guard,
    declare_security,
    install_cors,
    sign_in_origins,
)
from orca.server._auth import router as auth_router
from orca.server._errors import envelope, for_error
from orca.server._external import ExternalRuns
from orca.server._models import ErrorEnvelope, Fork, PathId, QueryId, RunBody, StateUpdate
from orca.server._runs import Runs
from orca.server._sse import KEEP_ALIVE, with_heartbeats
from orca.server._taskroutes import router as tasks_router
from orca.server._tasks import Tasks
from orca.server._tenancy import Side, Tenancy, side_of
from orca.server._tracing import RequestSpans, flush_spans, route_of
from orca.server._ui import SIGN_IN_CALLBACK, ui_path, ui_response
from orca.store import DEFAULT_TENANT

log = logging.getLogger("orca.server")

CORRELATION = "X-Correlation-Id"
# a correlation id taken from a client: visible ASCII, no spaces or quotes (it goes into
# headers, logs, events and spans); anything else is replaced by one made here
_CORRELATION_OK = re.compile(r"[!#-&(-~]{1,128}")
# the id of an SSE event (its seq): -1 (from the start) up to what SQLite's INTEGER holds
_EVENT_ID = re.compile(r"-1|[0-9]{1,18}")
SHUTDOWN_GRACE_S = 10
SSE = "text/event-stream"


@dataclass
class ServerSettings:
    """What ``orca serve`` serves: ``[server]`` in ``orca.toml``, then the flags.

    Attributes:
        host, port: where it listens (loopback by default).
        project: the project whose store keeps the threads, runs and event logs.
        workflows: the workflow sources served (``flows/x.py:graph``), relative to the
            project.
        max_body_bytes: the largest request body taken (a larger one is a 413).
        webhook_networks: private networks (CIDR) webhooks may reach anyway.
        auth: "auto" (tokens required once the project holds one), "tokens", "oidc" or
            "none".
        oidc: ``[server.oidc]``: OIDC bearer tokens beside Orca's (auth is on with it).
        cors_origins: the exact origins whose pages may call the server (CORS).
        max_running_runs, max_queued_runs, max_running_tasks, max_queued_tasks,
            admission_policy: admission control (see ``orca.server._admission``).
        tenant_max_running_runs, tenant_max_queued_runs, tenant_max_running_tasks,
            tenant_max_queued_tasks: one tenant's share of those (None: all of it).
        run_options: the engine options every run gets unless its request sets them
            (``Config.run_options``: durability, max_steps, max_tokens...).
        tool_options: the workspace, policy and audit of the runs of workflows with tools
            (``Config.tool_options``).
        models, session_ttl_s: LLM tasks' models and sessions (``server/_tasks.py``).
        flow_modules: the modules saved flows' ``python`` nodes may name (``[flows]
            python_modules``; none by default).
        workers: who executes the runs: this server (``inline``), or ``orca worker``
            processes claiming them from the project's run queue (``external``).
        secret_keys: where stored secrets' master key comes from (an
            ``orca.store.KeySource``; None: the project's configuration says).
        pools: ``[pools.NAME]``: the local engine pools started with the server.
        trust: the model catalog's trust policy (``strict`` or ``permissive``).
        inventory: the GPUs pools are placed on (None: detected; tests simulate one).
    """

    host: str = "127.0.0.1"
    port: int = 8700
    project: Path = field(default_factory=Path.cwd)
    workflows: list[str] = field(default_factory=list)
    max_body_bytes: int = 1 << 20
    webhook_networks: list[str] = field(default_factory=list)
    auth: str = "auto"
    oidc: OIDCConfig | None = None
    cors_origins: list[str] = field(default_factory=list)
    max_running_runs: int = 16
    max_queued_runs: int = 1000
    max_running_tasks: int = 4
    max_queued_tasks: int = 256
    tenant_max_running_runs: int | None = None
    tenant_max_queued_runs: int | None = None
    tenant_max_running_tasks: int | None = None
    tenant_max_queued_tasks: int | None = None
    admission_policy: str = "reject"
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    session_ttl_s: int = 600
    run_options: dict[str, Any] = field(default_factory=dict)
    tool_options: dict[str, Any] = field(default_factory=dict)
    flow_modules: list[str] = field(default_factory=list)
    workers: str = "inline"
    secret_keys: Any = None
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)
    trust: str = "strict"
    inventory: Any = None


def check_bind(host: str, *, auth: bool = False) -> None:
    """Refuse to listen beyond loopback unless the server requires tokens (``auth``).

    Raises:
        ConfigError: ``host`` is not a loopback address or ``localhost``, and ``auth`` is
            off.
    """
    if host == "localhost" or auth:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"refusing to listen on {host}: the server has no authentication configured, "
            "so it serves loopback only",
            key="server.host",
            fix="use --host 127.0.0.1 (or ::1), or require tokens: orca token create NAME "
            '--scope admin (with [server] auth = "auto", the default) or [server] auth = '
            '"tokens"',
        )


def uvicorn_options(settings: ServerSettings) -> dict[str, Any]:
    """How uvicorn serves the app (see "Limits and hardening" in docs/server.md)."""
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "warning",
        "access_log": False,
        # X-Forwarded-For/-Proto would be believed from any process of this machine
        "proxy_headers": False,
        "server_header": False,
        # an idle keep-alive connection is closed after 5 s
        "timeout_keep_alive": 5,
        # a stop waits this long for open streams and waits, then ends them
        "timeout_graceful_shutdown": SHUTDOWN_GRACE_S,
    }


def create_app(settings: ServerSettings) -> FastAPI:
    """The app serving ``settings``: the project's store is opened and the workflows
    loaded now (a workflow that cannot be loaded raises ``WorkflowLoadError``), and
    closed when the app shuts down."""
    from orca.server._admission import Admission

    admission = Admission(
        "runs",
        max_running=settings.max_running_runs,
        max_queued=settings.max_queued_runs,
        policy=settings.admission_policy,  # type: ignore[arg-type]
        tenant_max_running=settings.tenant_max_running_runs,
        tenant_max_queued=settings.tenant_max_queued_runs,
    )
    guard = Guard.open(settings.project, settings.auth, settings.oidc)
    runs = (ExternalRuns if settings.workers == "external" else Runs)(
        settings.project,
        settings.workflows,
        settings.webhook_networks,
        admission,
        settings.run_options,
        settings.tool_options,
    )
    keys = settings.secret_keys
    if keys is None:
        from orca.config import load_config

        keys = load_config(settings.project).secret_keys()
    runs.secret_keys = keys
    try:
        check_bind(settings.host, auth=guard.required)  # never an open app beyond loopback
        runs.open()
    except BaseException:
        guard.close()
        raise
    runs.saved = _flows.SavedFlows(runs, settings.flow_modules)
    from orca.pools import pool_configs

    configured = pool_configs(settings.pools)  # a wrong [pools.NAME] stops the start
    pool_queues = _pools.open_pools(settings, runs.store.catalog)
    tasks = Tasks(settings, secret_keys=keys, pool_queues=pool_queues)
    tasks.models.pools = pool_queues.manager
    default = Side(DEFAULT_TENANT, runs, tasks, Admin(settings.project))

    def side_of_tenant(tenant: str) -> Side:
        """Another tenant's side: the same workflows, capacity and settings, on its own
        store (its runs' store opened now; its tasks and admin stores when started)."""
        theirs = runs.for_tenant(tenant)
        theirs.saved = _flows.SavedFlows(theirs, settings.flow_modules)
        return Side(tenant, theirs, default.tasks.for_tenant(tenant), Admin(runs.project, tenant))

    tenancy = Tenancy(default, side_of_tenant)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            # the pools first: tasks left queued for them are queued again at once
            pool_queues.manager.install()
            await _pools.start_configured(pool_queues, configured)
            await tenancy.start()
            yield
        finally:
            await tenancy.close()
            await pool_queues.close()
            guard.close()
            await asyncio.to_thread(flush_spans)

    app = FastAPI(
        title="Orca",
        version=__version__,
        description="Runs of Orca workflows, their threads and their events.",
        lifespan=lifespan,
        telemetry={"tracing": False},  # one server span per request: _tracing.py's
        responses={
            status: {"model": ErrorEnvelope, "description": what} for status, what in _ERRORS
        },
    )
    app.state.runs = runs  # the default tenant's
    app.state.pools = pool_queues  # the installation's local engine pools
    app.state.tenancy = tenancy
    app.include_router(tasks_router())  # LLM tasks, sessions, artifacts
    app.include_router(_pools.router())  # local engine pools, replica sets
    app.state.auth = guard
    app.include_router(_admin.router)  # budgets, profiles, prices, usage, run inspection
    app.include_router(_flows.router())  # saved flows, runnable
    app.include_router(_tenants.router)  # the registry of tenants (installation admins)
    app.include_router(_uiapi.router)  # runs list and counters, search, series, tokens
    app.include_router(_secrets.router(_secrets.project_secrets(keys)))  # stored keys
    app.include_router(_catalog.router)  # the installation's model catalog
    http = _http_metrics()
    app.add_middleware(_Unexpected)
    app.add_middleware(_BodyLimit, limit=settings.max_body_bytes)
    app.add_middleware(Authorize, guard=guard)

    # plain ASGI middlewares, not @app.middleware: each of those runs the request in a
    # task group with memory streams (the two cost 0.5-0.9 ms of CPU a request; see
    # benchmarks/NOTES.md, server figures)
    app.add_middleware(_Measure, http=http)
    install_cors(app, settings.cors_origins)
    app.add_middleware(RequestSpans)
    hosts = {"127.0.0.1", "localhost", "::1", settings.host.lower()}
    app.add_middleware(_Correlate, hosts=hosts, origins=set(settings.cors_origins), guard=guard)

    @app.exception_handler(OrcaError)
    async def orca_error(request: Request, exc: OrcaError) -> JSONResponse:
        status, body = for_error(exc)
        response = JSONResponse(body, status_code=status)
        if body["retry_after_ms"] is not None:  # a 429: when to come back, two ways
            response.headers["Retry-After"] = str(math.ceil(body["retry_after_ms"] / 1000))
            response.headers["X-Backoff-Ms"] = str(body["retry_after_ms"])
        return response

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or "body", "problem": e["msg"]}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "body", "problem": "invalid"}
        return JSONResponse(
            envelope(
                "INVALID_REQUEST",
                f"{first['field']}: {first['problem']}",
                details={"problems": problems},
            ),
            status_code=422,
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if (
            exc.status_code == 404
            and request.method in ("GET", "HEAD")
            and ui_path(request.url.path)
        ):  # no route: a page of the web UI (that may call the identity provider)
            return ui_response(request.url.path, await sign_in_origins(request.app.state.auth))
        code = _HTTP_CODES.get(exc.status_code, "HTTP_ERROR")
        return JSONResponse(
            envelope(code, str(exc.detail), retriable=exc.status_code == 503),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        status, body = for_error(exc)
        return JSONResponse(body, status_code=status)

    app.include_router(auth_router)
    declare_security(app)

    @app.get(
        "/metrics",
        tags=["health"],
        response_class=PlainTextResponse,
        # its errors are JSON like any other's, not text like its answer
        responses={
            status: {
                "description": what,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}
                },
            }
            for status, what in _ERRORS
        },
    )
    async def metrics(request: Request) -> str:
        """Prometheus metrics: requests per route, method and status, their latency and
        those in flight, and every run's series (runs, tasks, LLM calls, tokens, cost,
        tools, budgets), of every tenant: the installation's callers only (the default
        tenant's)."""
        from prometheus_client import generate_latest

        _tenants.installation_only(request)

        from orca.observe import enable_metrics

        return generate_latest(enable_metrics().registry).decode()

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, Any]:
        """The process answers."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"])
    async def readyz() -> JSONResponse:
        """The store is open and the workflows are loaded."""
        ready = runs.ready
        body = {"status": "ready" if ready else "starting", "workflows": len(runs.workflows)}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/v1/workflows", tags=["workflows"])
    async def list_workflows(request: Request) -> list[dict[str, Any]]:
        """The workflows this server serves (``kind`` "served"), then the saved flows
        (``kind`` "flow", with their latest ``version``) no served workflow shadows."""
        runs = side_of(request).runs
        served = [
            {"name": name, "kind": "served", "source": w.source, "nodes": len(w.graph.spec.nodes)}
            for name, w in sorted(runs.workflows.items())
        ]
        assert runs.saved is not None
        return served + await asyncio.to_thread(runs.saved.listing)

    @app.get("/v1/workflows/{name}", tags=["workflows"])
    async def show_workflow(request: Request, name: PathId) -> dict[str, Any]:
        """A workflow's shape: state keys, nodes, edges, joins and conditional edges (a
        saved flow's, ``NAME`` or ``NAME@VERSION``, with its ``version``)."""
        runs = side_of(request).runs
        workflow = runs.workflow(name)
        kind = {"kind": "served"} if name in runs.workflows else {
            "kind": "flow", "version": workflow.graph.name.partition("@")[2]
        }  # fmt: skip
        return {"source": workflow.source, **kind, **workflow.graph.describe()}

    @app.post("/v1/threads/{thread_id}/runs", status_code=202, tags=["runs"])
    async def start_run(request: Request, thread_id: PathId, body: RunBody) -> dict[str, Any]:
        """Start a run on the thread in the background, or queue it when every slot is
        taken (``status`` says which; a queued run has its ``queue_position`` and
        ``predicted_start_ms``). Its record and events follow at ``/v1/runs/{run_id}``
        and ``/v1/runs/{run_id}/stream``; a full queue answers 429."""
        runs = side_of(request).runs
        return await runs.start(thread_id, body)

    @app.post("/v1/runs", status_code=202, tags=["runs"])
    async def start_run_anywhere(request: Request, body: RunBody) -> dict[str, Any]:
        """Start a stateless run: on a thread of its own that is removed when it stops
        (its record, events and result stay)."""
        runs = side_of(request).runs
        return await runs.start(f"t-{uuid.uuid4().hex[:12]}", body, stateless=True)

    @app.post("/v1/runs/wait", tags=["runs"])
    async def run_and_wait(
        request: Request, body: RunBody, thread_id: QueryId = None
    ) -> dict[str, Any]:
        """Run on a thread (a stateless run when none is named) and answer with the
        result."""
        runs = side_of(request).runs
        if thread_id is not None:
            started = await runs.start(thread_id, body)
        else:
            started = await runs.start(f"t-{uuid.uuid4().hex[:12]}", body, stateless=True)
        return await runs.wait(started["run_id"])

    @app.get("/v1/runs/{run_id}", tags=["runs"])
    async def get_run(request: Request, run_id: PathId) -> dict[str, Any]:
        """The run's record."""
        runs = side_of(request).runs
        return await runs.record(run_id)

    @app.get("/v1/runs/{run_id}/wait", tags=["runs"])
    async def wait_run(request: Request, run_id: PathId) -> dict[str, Any]:
        """Wait until the run stops; its status, values and pending interrupts."""
        runs = side_of(request).runs
        return await runs.wait(run_id)

    @app.post("/v1/runs/{run_id}/cancel", status_code=202, tags=["runs"])
    async def cancel_run(
        request: Request, run_id: PathId, action: Literal["interrupt", "rollback"] = "interrupt"
    ) -> dict[str, Any]:
        """Stop a queued or running run and answer once it has stopped: ``interrupt``
        keeps what it committed (the thread resumable from its last checkpoint),
        ``rollback`` removes the checkpoints it made."""
        runs = side_of(request).runs
        return await runs.cancel(run_id, action)

    @app.get(
        "/v1/runs/{run_id}/stream",
        tags=["runs"],
        response_class=StreamingResponse,
        responses={200: {"description": "the run's events", "content": {SSE: {}}}},
    )
    async def stream_run(
        request: Request,
        run_id: PathId,
        cancel_on_disconnect: bool = False,
        last: str | None = Header(
            None,
            alias="Last-Event-ID",
            description="resume after this event (its id, -1 for all); at most 18 digits",
        ),
    ) -> StreamingResponse:
        """The run's events as server-sent events (``id`` is the event's ``seq``), live
        while it runs and from its log once it has stopped, then ``end``. Resume with
        ``Last-Event-ID``. A client that goes away does not stop the run, unless it asked
        with ``cancel_on_disconnect=true``."""
        runs = side_of(request).runs
        if last is not None and not _EVENT_ID.fullmatch(last):
            raise InvalidInputError(
                f"Last-Event-ID is {last[:40]!r}. Fix: send the id of the last event "
                "received (a number from 0 to 18 digits)"
            )
        after = int(last) if last is not None else -1
        events = await runs.events(run_id, after)

        async def lines() -> AsyncIterator[bytes]:
            ended = False
            try:
                async for item in with_heartbeats(events):
                    if item is None:
                        yield KEEP_ALIVE
                        continue
                    seq, kind, data = item
                    yield b"id: %d\nevent: %s\ndata: %s\n\n" % (seq, kind.encode(), data)
                yield b"event: end\ndata: {}\n\n"
                ended = True
            finally:
                if cancel_on_disconnect and not ended:  # the client went away first
                    runs.cancel_soon(run_id)

        return StreamingResponse(
            lines(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post("/v1/threads", status_code=201, tags=["threads"])
    async def create_thread(thread_id: QueryId = None) -> dict[str, Any]:
        """A thread id to run on (a thread holds nothing until its first run)."""
        return {"thread_id": thread_id or f"t-{uuid.uuid4().hex[:12]}"}

    @app.get("/v1/threads", tags=["threads"])
    async def list_threads(request: Request) -> list[str]:
        """The ids of the threads the project holds."""
        runs = side_of(request).runs
        return await runs.threads()

    @app.get("/v1/threads/{thread_id}", tags=["threads"])
    @app.get("/v1/threads/{thread_id}/state", tags=["threads"])
    async def thread_state(
        request: Request, thread_id: PathId, workflow: QueryId = None, checkpoint_id: QueryId = None
    ) -> dict[str, Any]:
        """The thread's latest checkpoint (or ``checkpoint_id``, one of its history):
        values, what runs next, pending interrupts (``workflow`` defaults to that of the
        thread's latest run)."""
        runs = side_of(request).runs
        return await runs.state(workflow, thread_id, checkpoint_id)

    @app.get("/v1/threads/{thread_id}/history", tags=["threads"])
    async def thread_history(
        request: Request, thread_id: PathId, workflow: QueryId = None, limit: int = 50
    ) -> list[dict[str, Any]]:
        """The thread's checkpoints, newest first."""
        runs = side_of(request).runs
        if not 0 < limit <= 1000:
            raise InvalidInputError(f"limit is {limit}. Fix: ask for 1 to 1000 checkpoints")
        return await runs.history(workflow, thread_id, limit)

    @app.post("/v1/threads/{thread_id}/state", tags=["threads"])
    async def update_thread(
        request: Request, thread_id: PathId, body: StateUpdate
    ) -> dict[str, Any]:
        """Edit the thread's state (a new checkpoint) while no run holds it."""
        runs = side_of(request).runs
        return await runs.update(thread_id, body)

    @app.post("/v1/threads/{thread_id}/fork", tags=["threads"])
    async def fork_thread(request: Request, thread_id: PathId, body: Fork) -> dict[str, Any]:
        """Branch from one of the thread's checkpoints (on it, or onto a new thread)."""
        runs = side_of(request).runs
        return await runs.fork(thread_id, body)

    @app.delete("/v1/threads/{thread_id}", status_code=204, tags=["threads"])
    async def delete_thread(request: Request, thread_id: PathId) -> Response:
        """Delete the thread and everything kept for it, while no run holds it."""
        runs = side_of(request).runs
        await runs.delete(thread_id)
        return Response(status_code=204)

    return app


# the errors every route may answer (in the envelope), as the OpenAPI document lists them
_ERRORS = (
    (400, "the request is wrong for Orca"),
    (401, "no bearer token, or one unknown or revoked (when auth is on)"),
    (402, "a block budget refused the run"),
    (403, "the token lacks the scope, or a page of another site sent the request"),
    (404, "no such workflow, run or thread"),
    (409, "the thread is busy, or the run is not running here"),
    (413, "the body is larger than max_body_bytes"),
    (421, "the request names a host that is not this server"),
    (422, "the body or a parameter is invalid"),
    (429, "too much at once: retry after retry_after_ms"),
    (500, "the server failed"),
    (502, "a model provider failed"),
    (503, "the server is starting or stopping, or its store is busy"),
)

_HTTP_CODES = {
    400: "INVALID_REQUEST",  # a body that is not even JSON, as FastAPI reports it
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    413: "PAYLOAD_TOO_LARGE",
    503: "UNAVAILABLE",
}


@dataclass
class _HttpMetrics:
    requests: Any
    duration: Any
    in_flight: Any


def _http_metrics() -> _HttpMetrics:
    """The server's request series, in the registry of the runs' metrics."""
    from orca.observe._metrics import more_series

    def build(r: Any) -> _HttpMetrics:
        from prometheus_client import Counter, Gauge, Histogram

        return _HttpMetrics(
            Counter(
                "orca_http_requests", "HTTP requests answered, by method, route and status.",
                ("method", "route", "status"), registry=r,
            ),
            Histogram(
                "orca_http_request_duration_seconds",
                "Time to answer a request (to the start of a stream's body).",
                ("method", "route"), registry=r,
            ),
            Gauge("orca_http_requests_in_flight", "Requests being answered now.", registry=r),
        )  # fmt: skip

    return more_series("http", build)


class _Measure:
    """The golden signals per route: requests by method, route and status, their time
    (to the start of a stream's body) and those in flight."""

    def __init__(self, app: Any, http: _HttpMetrics) -> None:
        self.app = app
        self.http = http

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        http = self.http
        started = time.perf_counter()
        status = 500

        async def sent(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                labels = (scope["method"], route_of(scope, scope.get("app")))
                http.requests.labels(*labels, str(status)).inc()
                http.duration.labels(*labels).observe(time.perf_counter() - started)
            await send(message)

        http.in_flight.inc()
        try:
            await self.app(scope, receive, sent)
        finally:
            http.in_flight.dec()


class _Correlate:
    """``X-Correlation-Id``: the caller's (when printable, at most 128 characters), else
    a new one; kept in ``scope["state"]`` for what runs inside and echoed on every
    answer. Requests a web page elsewhere made are refused here (see ``_foreign``)."""

    def __init__(self, app: Any, hosts: set[str], origins: set[str], guard: Guard) -> None:
        self.app = app
        self.hosts = hosts
        self.origins = origins
        self.guard = guard

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        given = request.headers.get(CORRELATION, "")
        ok = _CORRELATION_OK.fullmatch(given)
        correlation = given if ok else f"srv-{uuid.uuid4().hex[:16]}"
        request.state.correlation_id = correlation
        echoed = (CORRELATION.lower().encode(), correlation.encode("latin-1", "replace"))

        async def sent(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        refused = _foreign(request, self.hosts, self.origins, any_host=self.guard.required)
        if refused is not None:
            await refused(scope, receive, sent)
            return
        await self.app(scope, receive, sent)


class _BodyLimit:
    """Refuses request bodies above ``limit`` bytes with a 413 envelope, whether they
    declare their length or not (a chunked body is counted as it arrives)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:  # answered 413 by the app's HTTP error handler
                    raise HTTPException(413, f"the request body is larger than {self.limit} bytes")
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, send: Any) -> None:
        body = orjson.dumps(
            envelope(
                "PAYLOAD_TOO_LARGE",
                f"the request body is larger than {self.limit} bytes",
                details={"limit": self.limit, "fix": "send less, or raise [server] max_body_bytes"},
            )
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _Unexpected:
    """Answers an unexpected error with the 500 envelope (and logs it) inside the app.
    Starlette's last-resort handler answers too, but then re-raises, and uvicorn drops
    the connection: a keep-alive client's next request on it would fail."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def sending(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, sending)
        except Exception as exc:
            if started:  # a stream broke mid-way: there is no answer to give any more
                raise
            log.exception("%s %s failed", scope.get("method"), scope.get("path"))
            status, body = for_error(exc)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": orjson.dumps(body)})


def _host_of(value: str) -> str:
    """The host of a ``Host`` header or an origin's authority, without its port."""
    if value.startswith("["):
        return value[1:].partition("]")[0]
    return value.rpartition(":")[0] if value.count(":") == 1 else value


def _foreign(
    request: Request, hosts: set[str], origins: set[str], *, any_host: bool = False
) -> JSONResponse | None:
    """A request a web page elsewhere made, refused: a ``Host`` that is not the server's
    own (a DNS-rebinding page reaching loopback; several ``Host`` headers, which a proxy
    may read otherwise), an ``Origin`` of another site or port, or a browser's
    ``Sec-Fetch-Site`` saying that another site (another port of localhost included)
    sent it. Pages of ``origins`` (the CORS ones) are let through.

    With auth on (``any_host``), every ``Host`` is taken (the server may be reached by
    any of its names, and a rebinding page has no token), and an ``Origin`` is of this
    site when it names the requested host."""
    named = request.headers.getlist("host")
    host = _host_of(named[0]).lower().removesuffix(".") if len(named) == 1 else ""
    if len(named) != 1 or (not any_host and host not in hosts):
        said = (
            f"requests for host {host[:100]!r} are not served here"
            if len(named) == 1
            else f"a request must name one Host (this one named {len(named)})"
        )
        body = envelope(
            "HOST_NOT_ALLOWED",
            said,
            details={"fix": "call the server by its own address, e.g. 127.0.0.1"},
        )
        return JSONResponse(body, status_code=421)
    origin = request.headers.get("origin")
    site = request.headers.get("sec-fetch-site")
    own = hosts | {host} if any_host else hosts
    allowed = (origin is not None and origin in origins) or _back_from_sign_in(request)
    if not allowed and (
        (origin is not None and not _own_origin(origin, request, own))
        or site in ("cross-site", "same-site")
    ):
        body = envelope(
            "ORIGIN_NOT_ALLOWED",
            f"requests from pages of {(origin or site or '')[:100]} are refused",
            details={"fix": "call the server from a program, or from its own pages"},
        )
        return JSONResponse(body, status_code=403)
    return None


def _back_from_sign_in(request: Request) -> bool:
    """The identity provider sending the browser back to the web UI's sign-in callback
    (another site, by design): a top-level GET navigation to a page that holds no data
    (the page itself exchanges the code, with the verifier only it holds)."""
    return (
        request.method == "GET"
        and request.url.path == SIGN_IN_CALLBACK
        and request.headers.get("sec-fetch-mode") == "navigate"
        and request.headers.get("sec-fetch-dest") == "document"
    )


def _own_origin(origin: str, request: Request, hosts: set[str]) -> bool:
    """Whether ``origin`` is the server itself: one of its hosts, on its port."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(origin)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return False
    server = request.scope.get("server")
    return (parts.hostname or "") in hosts and (server is None or server[1] == port)
