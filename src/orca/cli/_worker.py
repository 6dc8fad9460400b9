"""``orca worker``: claim queued runs from a store and execute them (see docs/deploy.md)."""

from __future__ import annotations

import typer

from orca.cli._common import handles_errors


@handles_errors
def worker(
    store: str | None = typer.Option(
        None,
        "--store",
        help="The store whose run queue to serve, and that keeps everything else the runs "
        "write: postgresql://... or sqlite:///PATH (default: orca --store, [store] url, "
        "else the project's .orca/project.db).",
    ),
    queues: list[str] | None = typer.Option(
        None, "--queue", "-q", help="A queue to claim from (repeat; default [worker] queues)."
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, max=1024, help="Runs at once (default [worker] concurrency)."
    ),
    lease_s: float | None = typer.Option(
        None,
        "--lease-s",
        min=1,
        max=3600,
        help="Seconds a claimed run stays with this worker if it stops renewing the lease "
        "(default [worker] lease_s, 30).",
    ),
    grace_s: float | None = typer.Option(
        None,
        "--grace-s",
        min=0,
        max=86400,
        help="At SIGTERM, seconds the runs may finish before they are given back "
        "(default [worker] grace_s, 30).",
    ),
    workflows: list[str] | None = typer.Option(
        None,
        "--workflow",
        "-w",
        help="A workflow this worker runs, PATH[:graph] (repeat; default [server] workflows).",
    ),
) -> None:
    """Claim queued runs from the store's run queue and execute them, renewing each
    run's lease while it runs; SIGTERM stops it cleanly."""
    import asyncio
    import os
    import signal
    import sys

    from orca.cli._common import config, err, on_this_machine, project_root, use_store
    from orca.server._worker import Worker, WorkerSettings
    from orca.store import configured_url, project_db_path
    from orca.store._queue import Limits

    on_this_machine()
    if store is not None:  # one store for the whole process, as orca --store makes it
        use_store(store)
    conf = config()
    settings_of = conf.worker
    project = project_root()
    settings = WorkerSettings(
        store=configured_url() or str(project_db_path(project)),
        project=project,
        workflows=list(workflows or conf.server.workflows),
        queues=tuple(queues or settings_of.queues),
        concurrency=concurrency or settings_of.concurrency,
        lease_s=lease_s or settings_of.lease_s,
        grace_s=settings_of.grace_s if grace_s is None else grace_s,
        limits=Limits(
            queues=dict(settings_of.max_running_per_queue),
            workflows=dict(settings_of.max_running_per_workflow),
            tenants=dict(settings_of.max_running_per_tenant),
        ),
        run_options=conf.run_options(),
        tool_options=conf.tool_options(project),
        flow_modules=list(conf.flows.python_modules),
        webhook_networks=list(conf.server.webhook_networks),
        secret_keys=conf.secret_keys(),
    )
    from orca.cli._serve import _observe

    _observe()
    runner = Worker(settings)
    runner.open()
    served = ", ".join(sorted(runner.workflows)) or "no workflows"
    err.print(
        f"worker {runner.worker_id} runs {served} from queue {', '.join(settings.queues)} "
        f"of {runner.where} ({settings.concurrency} at once); SIGTERM or Ctrl-C stops",
        markup=False,
    )

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runner.stop)
        given_back = await runner.run()
        if given_back:
            err.print(
                f"gave back {len(given_back)} running run(s) to the queue: "
                + ", ".join(given_back),
                markup=False,
            )
            sys.stdout.flush()
            sys.stderr.flush()
            # their runs are left as a crash leaves them (another worker continues them
            # from their checkpoints): ending the loop would record them cancelled
            os._exit(0)

    asyncio.run(main())
