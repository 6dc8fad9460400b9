"""``orca serve``: the HTTP server over the project (see docs/server.md)."""

from __future__ import annotations

import typer

from orca.cli._common import handles_errors


@handles_errors
def serve(
    host: str | None = typer.Option(
        None, "--host", help="Address to listen on (default [server] host, 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="Port (default [server] port, 8700)."
    ),
    workflows: list[str] | None = typer.Option(
        None,
        "--workflow",
        "-w",
        help="A workflow to serve, PATH[:graph] (repeat; default [server] workflows).",
    ),
    workers: str | None = typer.Option(
        None,
        "--workers",
        help="Who executes the runs: inline (this server) or external (orca worker "
        "processes; default [server] workers, inline).",
    ),
    store: str | None = typer.Option(
        None,
        "--store",
        help="Keep everything in this store, as orca --store: postgresql://USER:PASSWORD@"
        "HOST:PORT/DB or sqlite:///PATH (default [store] url, else the project's files).",
    ),
) -> None:
    """Serve the project's workflows, runs and their events over HTTP (loopback only,
    unless the server requires tokens: see orca token)."""
    import uvicorn

    from orca.cli._common import State, config, on_this_machine, project_root, use_store
    from orca.errors import ConfigError
    from orca.server import ServerSettings, create_app
    from orca.server._app import check_bind, uvicorn_options
    from orca.server._auth import auth_required
    from orca.store import find_project

    on_this_machine()
    if store is not None:
        use_store(store)
    settings_of = config().server
    if workers is not None and workers not in ("inline", "external"):
        from orca.cli._common import USAGE, fail

        fail(f"--workers {workers!r} is not inline or external", USAGE, fix="--workers external")
    if host is not None:  # before anything else: nothing is opened for a refused bind
        try:
            check_bind(host)
        except ConfigError:
            oidc = settings_of.oidc is not None
            if not auth_required(find_project(State.project), settings_of.auth, oidc):
                raise
    settings = ServerSettings(
        host=host or settings_of.host,
        port=port or settings_of.port,
        project=project_root(),
        workflows=list(workflows or settings_of.workflows),
        max_body_bytes=settings_of.max_body_bytes,
        webhook_networks=list(settings_of.webhook_networks),
        auth=settings_of.auth,
        oidc=settings_of.oidc,
        cors_origins=list(settings_of.cors_origins),
        max_running_runs=settings_of.max_running_runs,
        max_queued_runs=settings_of.max_queued_runs,
        max_running_tasks=settings_of.max_running_tasks,
        max_queued_tasks=settings_of.max_queued_tasks,
        tenant_max_running_runs=settings_of.tenant_max_running_runs,
        tenant_max_queued_runs=settings_of.tenant_max_queued_runs,
        tenant_max_running_tasks=settings_of.tenant_max_running_tasks,
        tenant_max_queued_tasks=settings_of.tenant_max_queued_tasks,
        admission_policy=settings_of.admission_policy,
        models=dict(settings_of.models),
        session_ttl_s=settings_of.session_ttl_s,
        run_options=config().run_options(),
        tool_options=config().tool_options(project_root()),
        flow_modules=list(config().flows.python_modules),
        workers=workers or settings_of.workers,
        secret_keys=config().secret_keys(),
        pools=dict(config().pools),
        trust=config().catalog.trust,
    )
    # decided once: create_app must not see a different answer (a token revoked between)
    required = auth_required(settings.project, settings.auth, settings.oidc is not None)
    settings.auth = ("oidc" if settings.oidc else "tokens") if required else "none"
    check_bind(settings.host, auth=required)
    _observe()
    app = create_app(settings)
    from orca.cli._common import err

    served = ", ".join(sorted(app.state.runs.workflows)) or "no workflows"
    where = f"[{settings.host}]" if ":" in settings.host else settings.host
    auth = "bearer tokens required" if app.state.auth.required else "no auth, loopback only"
    if settings.oidc is not None:
        auth = f"bearer tokens required: Orca's or OIDC from {settings.oidc.issuer}"
    err.print(
        f"serving {served} on http://{where}:{settings.port} ({auth}; API docs at /docs); "
        "Ctrl-C stops",
        markup=False,
    )
    uvicorn.run(app, **uvicorn_options(settings))


def _observe() -> None:
    """Run logs (with each run's correlation id) at ``--log-level``, else ``[logging]
    level`` when the config sets one, else warning (a server's runs are many: info is
    asked for); spans over OTLP when the ``OTEL_*`` variables name an endpoint."""
    from orca.cli._common import State, config, err
    from orca.observe import configure_logging, configure_otlp

    settings = config().logging
    chosen = "level" in settings.model_fields_set
    level = State.log_level or (settings.level if chosen else "warning")
    configure_logging(
        level,
        State.log_format or settings.format,
        colored=settings.colored and err.is_terminal,
        timestamps=settings.timestamps,
    )
    configure_otlp()
