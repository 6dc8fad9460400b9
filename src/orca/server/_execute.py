"""How a requested run is executed, whoever executes it: the server's own event loop
(``server/_runs.py``) or an ``orca worker`` process that claimed it from the queue
(``server/_worker.py``). One place says what a run's record keeps of its request, which
options its graph gets, and how it starts or continues from its thread's checkpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orca.server import _breakpoints

if TYPE_CHECKING:
    from orca.engine._handle import RunHandle
    from orca.events import StreamMode
    from orca.flows import Workflow
    from orca.server._models import RunBody


def run_metadata(
    body: RunBody,
    workflow: Workflow,
    *,
    stateless: bool,
    owner: str,
    correlation_id: str | None,
    **more: Any,
) -> dict[str, Any]:
    """What a run's record keeps: the caller's metadata, and what another process needs
    to take it up (the request itself, and the process that owns it)."""
    return {
        **body.metadata,
        "source": workflow.source,
        "via": "server",
        "request": body.model_dump(mode="json", exclude_defaults=True),
        "stateless": stateless,
        "owner": owner,
        **({"correlation_id": correlation_id} if correlation_id else {}),
        **more,
    }


def tenant_tools(tools: dict[str, Any], tenant: str) -> dict[str, Any]:
    """The tool options (workspace, policy, audit) of a tenant's runs: another tenant's
    files in a workspace of its own (``<workspace>/tenants/<tenant>``, made when missing)
    and its executions in its own audit; the default tenant's as given."""
    from pathlib import Path

    from orca.store import DEFAULT_TENANT
    from orca.store._tenants import tenant_path

    if tenant == DEFAULT_TENANT:
        return dict(tools)
    mine = dict(tools)
    if isinstance(mine.get("workspace"), str | Path):
        mine["workspace"] = Path(mine["workspace"]) / "tenants" / tenant
        mine["workspace"].mkdir(parents=True, exist_ok=True)
    if isinstance(mine.get("audit"), str | Path):
        mine["audit"] = tenant_path(mine["audit"], tenant)
    return mine


def run_options(
    body: RunBody,
    workflow: Workflow,
    *,
    thread_id: str,
    metadata: dict[str, Any],
    defaults: dict[str, Any],
    tools: dict[str, Any],
    correlation_id: str | None,
) -> dict[str, Any]:
    """The run's options for the graph: the project's ``defaults`` (``Config.
    run_options``), then the request's own (its limits, profile, budget, seed...), and
    for a workflow with tools its workspace, policy and audit (``tools``)."""
    options: dict[str, Any] = {**defaults, "thread_id": thread_id, "metadata": metadata}
    for option, value in (
        ("on_budget_exceeded", body.on_budget_exceeded),
        ("profile", body.profile),
        ("budget", body.budget),
        ("seed", body.seed),
        ("max_steps", body.max_steps),
        ("deadline", body.time_limit_s),
        ("cost_limit", body.cost_limit_usd),
        ("token_limit", body.token_limit),
        ("correlation_id", correlation_id),
    ):
        if value is not None:
            options[option] = value
    if workflow.tools is not None:  # confined, policed and audited as orca run's
        options.update(tools=workflow.tools, **tools)
    return options


async def start_run(
    workflow: Workflow,
    body: RunBody,
    *,
    run_id: str,
    options: dict[str, Any],
    continues: bool,
    mode: StreamMode | None = "events",
) -> RunHandle:
    """Start the run (the engine records it ``running``); a run that ``continues`` (its
    process died after its first checkpoint) goes on from its thread's checkpoint, its
    finished steps and its recorded calls not run again.

    Raises:
        ThreadBusyError: another live run holds the thread.
        InvalidInputError, ...: what stops the run before it begins.
    """
    from orca import Command

    start_with = Command(resume=body.resume) if body.resume is not None else body.input
    if continues:
        start_with = None  # from its checkpoint
    graph = _breakpoints.run_graph(workflow.graph, body)  # the run's own breakpoints
    return await graph.start(start_with, mode=mode, run_id=run_id, **options)


async def checkpointed(checkpoints: Any, run_id: str, thread_id: str) -> bool:
    """Whether the thread's latest checkpoint is run ``run_id``'s own (it got that far,
    so it continues from there rather than starting again)."""
    latest = await checkpoints.aget(thread_id)
    return latest is not None and latest.metadata.get("run_id") == run_id
