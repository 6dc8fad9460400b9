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
) -> None:
    """Serve the project's workflows, runs and their events over HTTP (loopback only)."""
    import uvicorn

    from orca.cli._common import config, project_root
    from orca.server import ServerSettings, create_app
    from orca.server._app import check_bind

    if host is not None:
        check_bind(host)  # before anything else: nothing is opened for a refused bind
    settings_of = config().server
    settings = ServerSettings(
        host=host or settings_of.host,
        port=port or settings_of.port,
        project=project_root(),
        workflows=list(workflows or settings_of.workflows),
        max_body_bytes=settings_of.max_body_bytes,
        webhook_networks=list(settings_of.webhook_networks),
        max_running_runs=settings_of.max_running_runs,
        max_queued_runs=settings_of.max_queued_runs,
        max_running_tasks=settings_of.max_running_tasks,
        max_queued_tasks=settings_of.max_queued_tasks,
        admission_policy=settings_of.admission_policy,
    )
    check_bind(settings.host)
    app = create_app(settings)
    from orca.cli._common import err

    served = ", ".join(sorted(app.state.runs.workflows)) or "no workflows"
    where = f"[{settings.host}]" if ":" in settings.host else settings.host
    err.print(
        f"serving {served} on http://{where}:{settings.port} (API docs at /docs); Ctrl-C stops",
        markup=False,
    )
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
    )
