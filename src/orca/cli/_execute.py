"""Running a workflow from the command line: load the graph from ``PATH[:graph]``, run it
on the project's checkpointer with the configured profile and budget, show progress live,
record the run in the project database, and print where the money went."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from rich.console import Group
from rich.live import Live
from rich.text import Text

from orca._sync import run_sync
from orca.cli._common import (
    CANCELLED,
    FAILED,
    INTERRUPTED,
    OK,
    code_for,
    count,
    emit_json,
    err,
    esc,
    fix_for,
    in_unit,
    out,
    report,
    show_traceback,
    start_observing,
    table,
    usd,
)
from orca.errors import RunCancelledError
from orca.events import (
    BUDGET_WARNING,
    LLM_RESPONSE,
    RUN_FINISHED,
    RUN_STARTED,
    STEP_STARTED,
    TASK_FAILED,
    TASK_FINISHED,
    Event,
)

if TYPE_CHECKING:
    from orca.store import LedgerRepository, StoreCheckpointer


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


# -- the project's records ----------------------------------------------------------------------


class Records:
    """The project's workflows and sessions. The run's own record, its tasks and its
    thread's lease are written by the engine (``RunRecord``), with the CLI's details in
    its metadata (``metadata()``)."""

    def __init__(self, store: StoreCheckpointer, plan: Plan) -> None:
        self.store = store
        self.plan = plan

    def workflow(self, name: str, source: str) -> None:
        self.store.save_workflow(name, source, _now())

    def session(self) -> None:
        self.store.begin_session(self.plan.session, origin="cli", pid=os.getpid(), now=_now())

    def end_session(self) -> None:
        self.store.end_session(self.plan.session, _now())

    def metadata(self) -> dict[str, Any]:
        """What the run's record keeps of the command that started it."""
        plan = self.plan
        found = {
            "session": plan.session,
            "source": plan.source,
            "budget": plan.budget,
            "profile": plan.profile_name,
            "on_budget_exceeded": plan.options.get("on_budget_exceeded"),
            "parent_run": plan.parent_run,
        }
        return {k: v for k, v in found.items() if v is not None}


# -- what a run did -----------------------------------------------------------------------------


@dataclass
class Tally:
    """Running totals of one run, from its events."""

    run_id: str = ""
    steps: int = 0
    step: int = 0
    running: dict[str, str] = field(default_factory=dict)  # task id -> node
    text: dict[str, str] = field(default_factory=dict)  # task id -> streamed text (tail)
    cost: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    calls: int = 0
    cached: int = 0  # calls answered from the task's records: not paid again
    by: dict[tuple[str, str, str], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0, 0, 0, 0])
    )
    warnings: list[str] = field(default_factory=list)
    interrupts: list[dict[str, Any]] = field(default_factory=list)
    status: str = "running"
    checkpoint_id: str | None = None
    finished: list[str] = field(default_factory=list)
    fresh: bool = False  # the last event added a line to ``finished``
    refused: dict[int, int] = field(default_factory=dict)  # step -> calls a budget refused

    def add(self, e: Event) -> None:
        kind = e.type
        self.fresh = False
        if kind == RUN_STARTED:
            self.run_id = e.run_id
        elif kind == STEP_STARTED:
            self.step = e.step
            self.steps += 1
            self.running = {t["id"]: t["node"] for t in e.tasks}  # type: ignore[attr-defined]
        elif kind == "token":
            tail = self.text.get(e.task_id, "") + e.text  # type: ignore[attr-defined]
            self.text[e.task_id] = tail[-400:]  # type: ignore[attr-defined]
        elif kind == "usage":
            self.calls += 1
            self.cost += e.cost_nano_usd  # type: ignore[attr-defined]
            self.input_tokens += e.input_tokens  # type: ignore[attr-defined]
            self.output_tokens += e.output_tokens  # type: ignore[attr-defined]
            row = self.by[(e.node, e.role, f"{e.provider}/{e.model}")]  # type: ignore[attr-defined]
            row[0] += 1
            row[1] += e.input_tokens  # type: ignore[attr-defined]
            row[2] += e.output_tokens  # type: ignore[attr-defined]
            row[3] += e.cost_nano_usd  # type: ignore[attr-defined]
        elif kind == LLM_RESPONSE and e.cached:  # type: ignore[attr-defined]
            self.cached += 1
        elif kind in (TASK_FINISHED, TASK_FAILED):
            node = self.running.pop(e.task_id, e.node)  # type: ignore[attr-defined]
            said = " ".join(self.text.pop(e.task_id, "").split())  # type: ignore[attr-defined]
            if kind == TASK_FAILED and e.error_type == "BudgetExceeded":  # type: ignore[attr-defined]
                # parallel tasks refused by one budget: one line, and a count at the end
                self.refused[e.step] = self.refused.get(e.step, 0) + 1
                if self.refused[e.step] > 1:
                    return
                said = "refused by the budget"
            mark = "ok" if kind == TASK_FINISHED else "failed"
            self.finished.append(
                f"step {e.step} {node} {mark}" + (f": {said[:100]}" if said else "")
            )
            self.fresh = True
        elif kind == "warning":
            self.warnings.append(e.message)  # type: ignore[attr-defined]
        elif kind == BUDGET_WARNING:
            self.warnings.append(
                f"budget {e.budget} passed {e.threshold_pct}% of its limit"  # type: ignore[attr-defined]
            )
        elif kind == "interrupt":
            self.interrupts = list(e.interrupts)  # type: ignore[attr-defined]
        elif kind == RUN_FINISHED:
            # the run's totals, as the engine computed them once (and keeps in the record)
            self.status = e.status  # type: ignore[attr-defined]
            self.checkpoint_id = e.checkpoint_id  # type: ignore[attr-defined]
            self.steps = e.steps  # type: ignore[attr-defined]
            self.calls = e.llm_calls  # type: ignore[attr-defined]
            self.input_tokens = e.input_tokens  # type: ignore[attr-defined]
            self.output_tokens = e.output_tokens  # type: ignore[attr-defined]
            self.cost = e.cost_nano_usd  # type: ignore[attr-defined]

    def view(self) -> Group:
        """The live panel: step, running tasks with their latest tokens, cost so far."""
        head = Text.assemble(
            ("step ", "dim"),
            (str(self.step), "bold"),
            ("  running ", "dim"),
            (str(len(self.running)), "bold"),
            ("  calls ", "dim"),
            (str(self.calls), "bold"),
            (f" (+{self.cached} from records)" if self.cached else "", "dim"),
            ("  cost ", "dim"),
            (usd(self.cost), "bold green"),
        )
        lines = [head]
        for task_id, node in self.running.items():
            said = " ".join(self.text.get(task_id, "").split())[-70:]
            lines.append(Text.assemble(("  ▸ ", "cyan"), (f"{node:<12}", "bold"), (said, "")))
        return Group(*lines)

    def breakdown(self) -> list[dict[str, Any]]:
        return [
            {
                "node": n,
                "role": r,
                "model": m,
                "llm_calls": v[0],
                "input_tokens": v[1],
                "output_tokens": v[2],
                "cost_nano_usd": v[3],
            }
            for (n, r, m), v in sorted(self.by.items())
        ]


def print_breakdown(tally: Tally) -> None:
    if not tally.by:
        return
    t = table("Cost by node, role and model", "node", "role", "model", "calls", "in", "out", "cost")
    for row in tally.breakdown():
        t.add_row(
            row["node"],
            row["role"],
            row["model"],
            str(row["llm_calls"]),
            f"{row['input_tokens']:,}",
            f"{row['output_tokens']:,}",
            usd(row["cost_nano_usd"]),
        )
    t.add_row(
        "total",
        "",
        "",
        str(tally.calls),
        f"{tally.input_tokens:,}",
        f"{tally.output_tokens:,}",
        usd(tally.cost),
        style="bold",
    )
    out.print(t)


# -- running ------------------------------------------------------------------------------------


@dataclass
class Plan:
    """What to run and how."""

    graph: Any
    source: str
    input: Any
    thread: str
    profile: Any = None
    profile_name: str | None = None
    budget: str | None = None
    session: str = ""
    checkpoint_id: str | None = None
    parent_run: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def budget_statuses(
    ledger: LedgerRepository, budget: str | None, workflow: str, session: str, run: str | None
) -> list[Any]:
    return ledger.status(
        ledger.applicable(budget=budget, workflow=workflow, session=session, run=run)
    )


def print_budgets(statuses: list[Any], when: str) -> None:
    for s in statuses:
        b = s.budget
        out.print(
            f"[dim]budget {when}:[/] [bold]{b.name}[/] ({b.enforcement}) spent "
            f"{in_unit(b, s.spent)} of {in_unit(b, s.limit)}, {in_unit(b, s.remaining)} left"
        )


def execute(plan: Plan, store: StoreCheckpointer, *, as_json: bool) -> int:
    """Run ``plan`` on the project's ``store`` (the engine records the run there);
    returns the exit code."""
    from orca.cli._common import config
    from orca.store import user_store

    # one user database for the whole command; its holds live [budget] hold_ttl unrenewed
    with user_store(hold_ttl_s=float(config().budget.hold_ttl)) as users:
        ledger = users.ledger
        ledger.sweep()  # holds of calls that crashed elsewhere come back first
        return _execute(plan, store, ledger, as_json=as_json)


class Driver(Protocol):
    """One run as ``present`` shows it, wherever it runs: here (``LocalDriver``) or on
    a server (``cli._remote.RemoteDriver``)."""

    workflow: str
    thread: str

    def budgets(self, run_id: str | None) -> list[Any]:
        """The statuses of the budgets covering the run (``BudgetStatus``-like)."""
        ...

    def drive(self, show: Callable[[Event], None]) -> None:
        """Run it, passing each event to ``show``; raise what failed it."""
        ...

    def values(self) -> Any:
        """The thread's values once it stopped (None before its first checkpoint)."""
        ...

    def close(self) -> None: ...


class LocalDriver:
    """A run of ``plan`` in this process, on the project's store."""

    def __init__(self, plan: Plan, store: StoreCheckpointer, ledger: LedgerRepository) -> None:
        self.plan = plan
        self.ledger = ledger
        self.records = Records(store, plan)
        self.workflow = plan.graph.name
        self.thread = plan.thread
        self.records.workflow(self.workflow, plan.source)
        self.records.session()

    def budgets(self, run_id: str | None) -> list[Any]:
        plan = self.plan
        run = run_id or plan.options.get("run_id")
        return budget_statuses(self.ledger, plan.budget, self.workflow, plan.session, run)

    def drive(self, show: Callable[[Event], None]) -> None:
        plan = self.plan
        options = dict(plan.options)
        options.update(
            thread_id=plan.thread,
            session=plan.session,
            ledger=self.ledger,
            metadata=self.records.metadata(),
            correlation_id=start_observing(),
        )
        if plan.profile is not None:
            options["profile"] = plan.profile
        if plan.budget:
            options["budget"] = plan.budget
        if plan.checkpoint_id:
            options["checkpoint_id"] = plan.checkpoint_id
        run_sync("run", _drive(plan.graph, plan.input, options, show))

    def values(self) -> Any:
        return _values(self.plan.graph, self.plan.thread)

    def close(self) -> None:
        self.records.end_session()


def _execute(
    plan: Plan, store: StoreCheckpointer, ledger: LedgerRepository, *, as_json: bool
) -> int:
    return present(LocalDriver(plan, store, ledger), as_json=as_json)


def present(driver: Driver, *, as_json: bool) -> int:
    """Run what ``driver`` runs with live progress (or quietly, for ``--json``), then
    print where the money went; returns the exit code."""
    before = driver.budgets(None)
    if not as_json:
        print_budgets(before, "before")
    tally = Tally()
    error: BaseException | None = None
    started = time.perf_counter()
    live = (
        Live(tally.view(), console=out, refresh_per_second=12, transient=True)
        if (out.is_terminal and not as_json)
        else None
    )

    def show(event: Event) -> None:
        tally.add(event)
        if live is not None:
            live.update(tally.view())
            if tally.fresh:
                live.console.print(f"[dim]·[/] {esc(tally.finished[-1])}")
        elif not as_json and event.type == STEP_STARTED:
            nodes = ", ".join(t["node"] for t in event.tasks)  # type: ignore[attr-defined]
            out.print(f"[bold]step {event.step}[/]: {esc(nodes)}")
        elif not as_json and tally.fresh:
            out.print(f"  {esc(tally.finished[-1])}")

    try:
        if live is not None:
            live.start()
        driver.drive(show)
    except RunCancelledError as exc:  # Ctrl-C or SIGTERM: cancelled, and recorded so
        error = exc
        tally.status = "cancelled"
    except Exception as exc:
        error = exc
        tally.status = "failed"
    finally:
        if live is not None:
            live.stop()
    status = tally.status if tally.status in ("done", "interrupted", "cancelled") else "failed"
    driver.close()
    after = driver.budgets(tally.run_id or None)
    codes = {"done": OK, "interrupted": INTERRUPTED, "cancelled": CANCELLED}
    code = codes[status] if status in codes else (code_for(error) if error else FAILED)
    if as_json:
        emit_json(
            {
                "run_id": tally.run_id,
                "thread_id": driver.thread,
                "workflow": driver.workflow,
                "status": status,
                "error": None
                if error is None
                else {"type": type(error).__name__, "message": str(error)},
                "steps": tally.steps,
                "llm_calls": tally.calls,
                "cached_calls": tally.cached,
                "input_tokens": tally.input_tokens,
                "output_tokens": tally.output_tokens,
                "cost_nano_usd": tally.cost,
                "by": tally.breakdown(),
                "interrupts": tally.interrupts,
                "values": driver.values(),
                "budgets_before": [s.as_dict() for s in before],
                "budgets_after": [s.as_dict() for s in after],
                "exit_code": code,
            }
        )
        return code
    print_breakdown(tally)
    for step, refused in sorted(tally.refused.items()):
        if refused > 1:
            tally.warnings.append(f"the budget refused {count(refused, 'call')} in step {step}")
    for warning in dict.fromkeys(tally.warnings):
        err.print(f"[yellow]warning:[/] {esc(warning)}")
    print_budgets(after, "after")
    seconds = time.perf_counter() - started
    summary = (
        f"run [bold]{tally.run_id}[/] on thread {driver.thread}: {status} in {seconds:.1f}s, "
        f"{count(tally.steps, 'step')}, {count(tally.calls, 'call')}, {usd(tally.cost)}"
        + (f" ({tally.cached} more answered from records, not paid again)" if tally.cached else "")
    )
    out.print(summary)
    if status == "interrupted":
        budget_stops = [i["value"] for i in tally.interrupts if _is_budget_stop(i.get("value"))]
        for message in dict.fromkeys(str(v.get("message")) for v in budget_stops):
            out.print(f"[yellow]paused:[/] {esc(message)}")
        if budget_stops:
            out.print(f"raise the budget, then: orca runs resume {tally.run_id}")
        for i in tally.interrupts:
            if not _is_budget_stop(i.get("value")):
                out.print(f"[yellow]paused at {esc(i.get('node'))}:[/] {esc(repr(i.get('value')))}")
                out.print(f"answer with: orca runs resume {tally.run_id} --value JSON")
    elif error is not None:
        show_traceback(error)
        report(str(error), fix_for(error, tally.run_id))
    return code


async def _drive(
    graph: Any, input: Any, options: dict[str, Any], show: Callable[[Event], None]
) -> None:
    """Run through the run's handle, showing its events; Ctrl-C and SIGTERM cancel it
    (the engine records it cancelled), as a server's cancel would."""
    loop = asyncio.get_running_loop()
    handle: Any = None
    stopped = False

    def stop() -> None:  # installed before the run starts: no signal finds it unguarded
        nonlocal stopped
        stopped = True
        if handle is not None:
            handle.cancel()

    handled = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop)
            handled.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread
            pass
    try:
        handle = await graph.start(input, mode="events", **options)
        if stopped:  # a signal came while the run was starting
            handle.cancel()
        async for event in handle.events():
            show(event)
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


def _is_budget_stop(value: Any) -> bool:
    return isinstance(value, dict) and value.get("reason") == "budget_exceeded"


def _values(graph: Any, thread: str) -> Any:
    """The thread's latest values, or None when the run failed before its first
    checkpoint."""
    from orca.errors import CheckpointNotFoundError

    try:
        return graph.get_state(thread).values
    except CheckpointNotFoundError:
        return None
