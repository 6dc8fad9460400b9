"""``LocalSource``: the commands' data in this project's databases, runs in this
process (see ``_source``)."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from orca.cli._common import (
    CONFIG,
    USAGE,
    config,
    fail,
    project_store,
)
from orca.cli._source import ForkRequest, ResumeRequest, RunRequest

if TYPE_CHECKING:
    from orca.store import StoreCheckpointer


def _checkpointer() -> StoreCheckpointer:
    """The project's checkpointer, for a graph and its run's record (it stays open for
    the command's life)."""
    from orca.cli._common import project_root
    from orca.store import project_store

    return project_store(project_root()).checkpoints


def _project() -> Any:
    from orca.cli._common import State

    return State.project


def settings(
    profile: str | None, budget: str | None, on_exceeded: str | None
) -> tuple[Any, dict[str, Any], str | None, str | None]:
    """The run's profile, engine options, profile name and budget name from the config
    and the flags (flags win)."""
    from orca.llm import Profiles
    from orca.store import user_store

    check_on_exceeded(on_exceeded)
    cfg = config(**{"budget.on_exceeded": on_exceeded})
    chosen = cfg.profile(profile)
    budget_name = budget
    # the active profile and budget are named now, so that the run's record (and a
    # resume) keeps what it used even if another becomes active later
    with user_store() as store:
        if chosen is None:
            chosen = Profiles(store.profiles).active()
        if budget_name is None:
            budgets = store.ledger.budgets
            made = cfg.ensure_budget(budgets) or budgets.active()
            budget_name = made.name if made is not None else None
    chosen = _with_timeout(chosen, float(cfg.llm.request_timeout_s))
    options: dict[str, Any] = cfg.run_options()
    options["api_keys"] = _stored_keys(cfg)
    return chosen, options, (chosen.name if chosen else profile), budget_name


def _stored_keys(cfg: Any) -> Any:
    """The provider keys stored with ``orca secret set`` (the project's, of ``--tenant``),
    which the run's models take before the environment; the store stays open for the
    command's life, as the checkpointer's does."""
    from orca.cli._common import project_root
    from orca.store import project_store

    store = project_store(project_root())
    store.secret_keys = cfg.secret_keys()
    return store.secrets


def check_on_exceeded(on_exceeded: str | None) -> None:
    if on_exceeded is not None and on_exceeded not in ("fail", "pause"):
        fail(
            f"--on-budget-exceeded {on_exceeded!r} is not fail or pause",
            USAGE,
            fix="--on-budget-exceeded pause (or fail, the default)",
        )


def _with_timeout(profile: Any, seconds: float) -> Any:
    """``profile`` with ``[llm] request_timeout_s`` as the ``timeout`` of each remote
    model whose parameters set none."""
    if profile is None:
        return None
    from dataclasses import replace

    def spec(s: Any) -> Any:
        if s.provider == "llamacpp" or "timeout" in s.params:
            return s
        return replace(s, params={**s.params, "timeout": seconds})

    return replace(profile, planner=spec(profile.planner), worker=spec(profile.worker))


def run_row(r: Any) -> dict[str, Any]:
    """A run's record (a ``RunRecord``, or its JSON from a server) as ``runs show``
    prints it."""
    from orca.manage import runs

    if isinstance(r, dict):
        import dataclasses

        from orca.checkpoint import RunRecord

        names = {f.name for f in dataclasses.fields(RunRecord)}
        r = RunRecord(**{k: v for k, v in r.items() if k in names})
    return runs.row(r)


def list_row(r: Any) -> dict[str, Any]:
    """A run's record as a row of ``runs list``."""
    full = run_row(r)
    keys = ("run_id", "workflow", "thread_id", "status", "started_at", "steps", "cost_nano_usd")
    return {k: full[k] for k in keys}


def _record(store: StoreCheckpointer, run: str) -> dict[str, Any]:
    """The run ``run`` (a unique prefix of its id is enough) as ``runs show`` prints it."""
    from orca.cli._ids import find_run

    return run_row(find_run(store, run))


def _check_input(graph: Any, values: dict[str, Any]) -> None:
    """``--input`` against the graph's state schema, before a run is recorded: an
    unknown key or a value of the wrong type is a usage error (exit 2)."""
    from orca.errors import OrcaError

    try:
        graph.spec.state.input_writes(values)
    except OrcaError as exc:
        fail(f"--input: {exc}", USAGE)


def _tool_options(tools: list[Any] | None) -> dict[str, Any]:
    """Run options for a workflow's ``tools``: the workspace and policy from the
    configuration, every execution audited in the project database."""
    if tools is None:
        return {}
    from orca.store import find_project

    return {"tools": tools, **config().tool_options(find_project(_project()))}


def _run_limits(cost: str | None, tokens: int | None, seconds: float | None) -> dict[str, Any]:
    """Run options for ``--cost-limit``/``--token-limit`` (block budgets scoped to the
    run, made under its id on its first call) and ``--time-limit`` (the run's
    deadline)."""
    from orca.cli._common import money

    options: dict[str, Any] = {}
    if seconds is not None:
        options["deadline"] = seconds
    if cost is not None:
        options["cost_limit"] = money(cost, "--cost-limit")
    if tokens is not None:
        options["token_limit"] = tokens
    return options


class LocalSource:
    """This project: ``.orca/project.db``, the user database, runs in this process."""

    def run(self, request: RunRequest, *, as_json: bool) -> int:
        from orca.cli._execute import Plan, execute
        from orca.cli._load import load_graph

        source = request.workflow or config().workflow.default
        if not source:
            fail(
                "no workflow given",
                USAGE,
                fix="orca run path/to/flow.py[:graph], or set [workflow] default",
            )
        r = request
        chosen, options, profile_name, budget_name = settings(r.profile, r.budget, r.on_exceeded)
        store = _checkpointer()
        graph, tools = load_graph(source, store)
        _check_input(graph, r.input)
        options.update(
            _run_limits(r.cost_limit, r.token_limit, r.time_limit), **_tool_options(tools)
        )
        plan = Plan(
            graph,
            source,
            r.input,
            r.thread or f"t-{uuid.uuid4().hex[:12]}",
            chosen,
            profile_name,
            budget_name,
            r.session or f"s-{uuid.uuid4().hex[:12]}",
            options=options,
        )
        return execute(plan, store, as_json=as_json)

    def resume(self, request: ResumeRequest, *, as_json: bool) -> int:
        from orca import Command
        from orca.cli._common import json_arg
        from orca.cli._execute import Plan, execute
        from orca.cli._load import load_graph

        with project_store() as records:
            record = _record(records, request.run)
        if not record["source"]:
            fail(
                f"run {record['run_id']} has no workflow source",
                CONFIG,
                fix="run its workflow again: orca run PATH.py[:graph] --thread THREAD",
            )
        stored = record["profile"] if record["profile"] != "config" else None  # "config": [llm]
        chosen, options, profile_name, budget_name = settings(
            request.profile or stored,
            request.budget or record["budget"],
            request.on_exceeded or record["on_budget_exceeded"],
        )
        store = _checkpointer()
        graph, tools = load_graph(record["source"], store)
        options.update(_tool_options(tools))
        state = graph.get_state(record["thread_id"])
        if request.value is not None:
            answer: Any = Command(resume=json_arg(request.value, "--value"))
        elif state.interrupts:
            answer = Command(resume=None)
        else:
            answer = None
        if not state.next and not state.interrupts:
            finished(record["run_id"])
        plan = Plan(
            graph,
            record["source"],
            answer,
            record["thread_id"],
            chosen,
            profile_name,
            budget_name,
            record["session_id"] or f"s-{uuid.uuid4().hex[:12]}",
            parent_run=record["run_id"],
            options=options,
        )
        return execute(plan, store, as_json=as_json)

    def fork(self, request: ForkRequest, *, as_json: bool) -> int:
        from orca.cli._execute import Plan, execute
        from orca.cli._ids import checkpoint_id
        from orca.cli._load import load_graph

        with project_store() as records:
            record = _record(records, request.run)
        chosen, options, profile_name, budget_name = settings(
            request.profile, request.budget or record["budget"], None
        )
        store = _checkpointer()
        graph, tools = load_graph(record["source"], store)
        options.update(_tool_options(tools))
        as_node = request.as_node
        if as_node is not None:
            check_node(as_node, graph.name, list(graph.spec.nodes))
        with project_store() as records:
            checkpoint = checkpoint_id(records, record["thread_id"], request.checkpoint)
        target = request.thread or f"t-{uuid.uuid4().hex[:12]}"
        if as_node is None:
            graph.fork(record["thread_id"], checkpoint, to_thread=target, update=request.update)
        else:  # the branch, then the update as the node's own write (routing from it)
            graph.fork(record["thread_id"], checkpoint, to_thread=target)
            graph.update_state(target, request.update or {}, as_node=as_node)
        plan = Plan(
            graph,
            record["source"],
            None,
            target,
            chosen,
            profile_name,
            budget_name,
            f"s-{uuid.uuid4().hex[:12]}",
            parent_run=record["run_id"],
            options=options,
        )
        return execute(plan, store, as_json=as_json)

    def list_runs(
        self, *, limit: int, status: str | None, filters: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        if filters:  # the server's filters, on the same run views
            from orca.cli._common import project_db
            from orca.manage import plain
            from orca.store import RunFilter

            query = RunFilter(
                statuses=(status,) if status else (),
                graph=filters.get("workflow"),
                thread_id=filters.get("thread_id"),
                since=plain.parse_time(filters.get("since"), "--since"),
                until=plain.parse_time(filters.get("until"), "--until"),
                text=filters.get("q"),
                limit=limit,
            )
            with project_db() as db:
                return [list_row(r) for r in db.run_views.find_runs(query)]
        with project_store() as store:
            runs = store.list_runs(limit=limit, status=status)  # type: ignore[arg-type]
        return [list_row(r) for r in runs]

    def show_run(self, run: str) -> dict[str, Any]:
        from orca.cli._common import user_db
        from orca.cli._ids import find_run
        from orca.manage import runs

        with project_store() as store, user_db() as users:
            return runs.detail(store, users, find_run(store, run))

    def events(
        self,
        run_id: str,
        *,
        start: int,
        stop: int | None,
        types: list[str],
        since: str | None,
        most: int | None,
    ) -> list[dict[str, Any]] | None:
        from orca.cli._common import since as since_
        from orca.manage import runs

        after = since_(since)
        with project_store() as store:
            found = runs.events(
                store, run_id, start=start, stop=stop, types=types, since=after, most=most
            )
            return found if found or runs.logged(store, run_id) else None

    def resolve_run(self, run: str) -> str:
        from orca.cli._ids import run_id

        return run_id(run)

    def prune(self, cutoff: Any, *, dry_run: bool) -> dict[str, Any]:
        from orca.manage import runs

        with project_store() as store:
            return runs.prune(store, cutoff, dry_run=dry_run)

    def replay(self, run_id: str, graph: str | None) -> dict[str, Any]:
        from orca.cli._common import USAGE
        from orca.errors import WorkflowLoadError
        from orca.events import RUN_STARTED
        from orca.manage import runs

        with project_store() as store:
            source = graph or runs.recorded_source(store, run_id)
            if source is None:
                fail(
                    f"run {run_id!r} has no workflow on record",
                    CONFIG,
                    fix="name the graph it ran: orca runs replay RUN --graph path/to/flow.py:graph",
                )
            if not store.read_events(run_id, types=[RUN_STARTED]):
                fail(
                    f"no events logged for run {run_id!r}",
                    CONFIG,
                    fix="list runs with orca runs list",
                )
            policy = config().tools.policy()  # what the run redacted in its log
            try:
                report = runs.replay(store, run_id, source, policy=policy)
            except WorkflowLoadError as exc:
                fail(exc.message, USAGE, fix=exc.fix)
        return report.to_dict()

    def read_events(
        self,
        run_id: str,
        *,
        start: int = 0,
        stop: int | None = None,
        types: list[str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        with project_store() as store:
            return store.read_events(run_id, start=start, stop=stop, types=types, limit=limit)

    def history(self, run: str, *, limit: int) -> tuple[str, list[dict[str, Any]]]:
        with project_store() as store:
            record = _record(store, run)
            infos = store.history(record["thread_id"], limit=limit)
        return record["thread_id"], [
            {
                "checkpoint_id": i.checkpoint_id,
                "parent_id": i.parent_id,
                "step": i.step,
                "next": [n["node"] for n in i.next],
                "source": i.metadata.get("source"),
                "created_at": i.created_at,
            }
            for i in infos
        ]


def finished(run_id: str) -> None:
    fail(
        f"run {run_id} finished: its thread has nothing left to run",
        CONFIG,
        fix="start a new run, or fork it: orca runs fork RUN --checkpoint ID",
    )


def check_node(as_node: str, graph: str, nodes: list[str]) -> None:
    if as_node not in nodes:
        from orca.errors import closest

        fail(
            f"--as-node {as_node!r} is not a node of {graph}{closest(as_node, nodes)}",
            USAGE,
            fix=f"name one of {', '.join(nodes)}",
        )


class LocalBudgets:
    """The budgets and usage ledger of the user database (``orca.manage``)."""

    def create(self, budget: Any, *, activate: bool) -> Any:
        from orca.cli._common import user_db
        from orca.manage import budgets

        with user_db() as store:
            return budgets.create(store, budget, activate=activate)

    def statuses(self, *, every: bool) -> list[Any]:
        from orca.cli._common import user_db
        from orca.manage import budgets

        with user_db() as store:
            return list(budgets.statuses(store, every=every))

    def status(self, name: str) -> Any:
        from orca.cli._common import user_db
        from orca.manage import budgets

        with user_db() as store:
            return budgets.status(store, name)

    def current(self, name: str | None) -> Any:
        from orca.cli._common import user_db
        from orca.manage import budgets

        with user_db() as store:
            return budgets.current(store, name)

    def get(self, name: str) -> Any:
        from orca.cli._common import user_db

        with user_db() as store:
            return store.ledger.budgets.get(name)

    def use(self, name: str) -> str:
        from orca.cli._common import user_db
        from orca.manage import budgets

        with user_db() as store:
            return str(budgets.use(store, name).name)

    def raise_(self, name: str, *, by: str | None, to: str | None, spell: Any) -> Any:
        from orca.cli._common import user_db
        from orca.manage import budgets

        with user_db() as store:
            return budgets.raise_(store, name, by=by, to=to, spell=spell)

    def delete(self, name: str) -> None:
        from orca.cli._common import user_db

        with user_db() as store:
            store.ledger.budgets.delete(name)

    def usage(
        self, by: str, *, since: str | None, until: str | None, run_id: str | None
    ) -> list[Any]:
        from orca.cli._common import since as since_
        from orca.cli._common import user_db
        from orca.cli._ids import run_id as find
        from orca.manage import usage

        run = find(run_id, ledger=True) if run_id is not None else None
        with user_db() as store:
            return list(
                usage.report(
                    store, by, since=since_(since), until=since_(until, "--until"), run_id=run
                )
            )
