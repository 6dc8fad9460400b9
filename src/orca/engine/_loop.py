"""The Pregel loop: plan a superstep, run its tasks, apply writes at the barrier, checkpoint."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from orca._patience import lost_store, patiently
from orca.checkpoint import Checkpoint, Checkpointer, CheckpointSave, EventRecord, PendingWrite
from orca.context import RunServices, RunTotals
from orca.engine import _ids
from orca.engine._algo import (
    JOINS,
    Target,
    Writes,
    apply_writes,
    fold_commands,
    hold_deferred,
    normalize_targets,
    plan_next,
)
from orca.engine._context import RunContext
from orca.engine._emit import Emitter
from orca.engine._persist import Durability, Persister, log_input_once
from orca.engine._records import Recorder
from orca.engine._task import POOL_SIZE, SyncBatch, Task, route, run_task, update_pairs
from orca.errors import (
    CheckpointNotFoundError,
    InvalidInputError,
    InvalidResumeError,
    NodeError,
    OrcaError,
    RunCancelledError,
    RunTimeoutError,
    StepLimitError,
    ThreadBusyError,
    format_traceback,
)
from orca.events import (
    CHECKPOINT_SAVED,
    EVENT_TYPES,
    TOKEN,
    VALUES,
    CheckpointSaved,
    ErrorEvent,
    Event,
    InterruptEvent,
    RunFinished,
    RunStarted,
    StepStarted,
    TaskFailed,
    TaskFinished,
    TaskStarted,
    Values,
)
from orca.graph._builder import Callee, GraphSpec, NodeSpec
from orca.graph._types import START, Command, Interrupt, Send
from orca.observe._core import RunInfo, observers_for

T = TypeVar("T")


class Compiled(Protocol):
    """What a run needs of its compiled graph (``CompiledGraph`` is one)."""

    spec: GraphSpec
    checkpointer: Checkpointer | None
    interrupt_before: frozenset[str]
    interrupt_after: frozenset[str]


def open_interrupts(cp: Checkpoint) -> list[Interrupt]:
    """The interrupts pending at a checkpoint that no resume value answers yet."""
    resumed = {p.value["id"] for p in cp.pending if p.kind == "resume"}
    found: dict[str, Interrupt] = {}
    for p in cp.pending:
        if p.kind == "interrupt" and p.value["id"] not in resumed:
            found.setdefault(p.value["id"], Interrupt(**p.value))
    return list(found.values())


NEXT_RESUME = "next"
"""The resumes key of a value given while no interrupt was pending."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


LOGGED = frozenset(EVENT_TYPES) - {TOKEN, VALUES, CHECKPOINT_SAVED}
"""What the event log keeps: everything but what the store already holds (full values
and checkpoint headers are the checkpoints themselves) and token deltas (the answer is in
the usage and task events)."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How one run executes (see ``CompiledGraph.invoke`` for each field)."""

    thread_id: str
    checkpoint_id: str | None = None
    run_id: str | None = None
    seed: int = 0
    durability: Durability = "sync"
    max_steps: int = 100
    # LangGraph's boundary: a run that reaches max_steps with work left takes one step
    # more (kept, streamed), then fails; so does a run whose last step was that one
    overrun_step: bool = False
    max_concurrency: int | None = None
    deadline: float | None = None
    clock: Callable[[], dt.datetime] = utc_now
    inline: bool = False
    services: RunServices | None = None  # models, metering, tools (orca.context)
    log_events: bool = True
    correlation_id: str | None = None  # ties the run's logs and spans to what started it
    metadata: Mapping[str, Any] | None = None  # kept in the run's record
    context: Any = None  # the run's context (the graph's context_schema), for ctx.context
    subgraphs: bool = False  # subgraphs stream their own events to the run's listener


@dataclass(slots=True)
class RunOutcome:
    """What a run ended with."""

    values: dict[str, Any]
    status: str
    interrupts: list[Interrupt] = field(default_factory=list)
    writes: Writes = field(default_factory=list)


def _merged_changes(
    first: dict[str, list[Any] | None], then: dict[str, list[Any] | None]
) -> dict[str, list[Any] | None]:
    """Two folds' changed keys as one: appended items in order, else None (replaced)."""
    out = dict(first)
    for key, items in then.items():
        before = out.get(key, [])
        out[key] = before + items if before is not None and items is not None else None
    return out


def encode_targets(targets: Sequence[Target]) -> list[dict[str, Any]]:
    return [{"node": t.node, "arg": t.arg} if isinstance(t, Send) else {"node": t} for t in targets]


def decode_targets(items: Sequence[dict[str, Any]]) -> list[Target]:
    return [Send(i["node"], i["arg"]) if "arg" in i else i["node"] for i in items]


class Run:
    """One execution of a compiled graph on a thread, from an input or a resume."""

    def __init__(
        self,
        graph: Compiled,
        opts: RunOptions,
        *,
        wanted: frozenset[str] = frozenset(),
        sink: Callable[[Event], None] | None = None,
        parent: RunContext | None = None,
        store: Checkpointer | None = None,
    ) -> None:
        self.graph = graph
        self.spec = graph.spec
        self.channels = graph.spec.state.channels
        self.opts = opts
        # a subgraph's run keeps its checkpoints in its parent's store (``store``), on a
        # thread of its own, so that it resumes where it paused
        self.store = graph.checkpointer if parent is None else store
        self.persister = (
            Persister(self.store, opts.durability, private_loop=opts.inline) if self.store else None
        )
        # the event log rides on the checkpoints: events since the last save are written
        # in the same transaction
        self.logging = self.store is not None and opts.log_events
        self.logged: list[EventRecord] = []
        self.parent = parent
        self._wanted = wanted
        self.sink = sink
        self.on_start: Callable[[], None] | None = None  # called once the run has begun
        self.em: Emitter | None = None
        self.cancelled = threading.Event()
        self.run_id = opts.run_id or ""
        # the thread's position
        self.values: dict[str, Any] = {}
        self.given: Any = None  # the input as run.started carries it, before redaction
        self.next: list[dict[str, Any]] = []
        self.step = -1
        self.checkpoint_id: str | None = None
        self.persisted_id: str | None = None
        self.dirty: dict[str, list[Any] | None] = {}
        self.nonce = ""
        self.steps_run = 0
        self.reuse: dict[str, Any] = {}
        self.resumes: dict[str, Any] = {}
        self.skip_before = False
        self.write_log: Writes = []
        self.recorder: Recorder | None = None

    # -- entry ----------------------------------------------------------------------------

    async def execute(self, input: Any) -> RunOutcome:
        opts = self.opts
        store = self.store
        head = await self._io(store.get, store.aget, opts.thread_id) if store else None
        start = head
        if opts.checkpoint_id is not None:
            if store is None:
                raise InvalidInputError(
                    "checkpoint_id needs a checkpointer. Fix: compile(checkpointer=...)"
                )
            start = await self._io(store.get, store.aget, opts.thread_id, opts.checkpoint_id)
            if start is None:
                raise CheckpointNotFoundError(opts.thread_id, opts.checkpoint_id)
        if start is not None and head is not None and start.checkpoint_id != head.checkpoint_id:
            self.nonce = head.checkpoint_id  # time travel: a new branch
        resuming = input is None or isinstance(input, Command)
        if not self.run_id:
            self.run_id = _ids.run_id(
                opts.thread_id,
                start.checkpoint_id if start else None,
                f"{head.checkpoint_id if head else ''}/{len(start.pending) if start else 0}",
                f"{self.spec.name}:{'resume' if resuming else 'input'}",
            )
        if store is not None and self.parent is None:
            # the thread is this run's before it does anything, or ThreadBusyError
            self.recorder = Recorder(
                store,
                thread_id=opts.thread_id,
                graph=self.spec.name,
                clock=opts.clock,
                metadata=opts.metadata,
                inline=opts.inline,
            )
            self.run_id = await self.recorder.begin(self.run_id, derived=opts.run_id is None)
        started = time.perf_counter()
        status = "failed"
        error: BaseException | None = None
        try:  # from here on the run holds its thread: whatever happens, it ends recorded
            observers = (
                observers_for(
                    RunInfo(
                        self.run_id,
                        opts.thread_id,
                        self.spec.name,
                        opts.correlation_id or self.run_id,
                    )
                )
                if self.parent is None
                else []
            )
            if self.logging or observers or (self.sink is not None and self._wanted):
                # every event but tokens and values also goes to the event log
                self.em = Emitter(
                    self.run_id,
                    opts.thread_id,
                    self._wanted if self.sink is not None else frozenset(),
                    self.sink,
                    log=self.logged if self.logging else None,
                    logged=LOGGED,
                    observers=observers,
                    first_seq=self.recorder.first_seq if self.recorder is not None else 0,
                )
            if start is not None:
                self.step = start.step
            self.given = self._recorded_input(input)
            self._emit(
                RunStarted,
                graph=self.spec.name,
                resumed=resuming,
                checkpoint_id=start.checkpoint_id if start else None,
                seed=opts.seed,
                input=self.given,
                command=_recorded_command(input),
                pending=len(start.pending) if start else 0,
                head=self.nonce or None,
                max_steps=opts.max_steps,
            )
            outcome = await self._run_with_deadline(input, start, resuming)
            status = outcome.status
        except asyncio.CancelledError:
            self.cancelled.set()
            status = "cancelled"
            taker = self.recorder.lost_to if self.recorder is not None else None
            if taker is None:
                raise
            status = "failed"  # the lease ran out and another run took the thread
            error = ThreadBusyError(opts.thread_id, taker, "", lost=True)
            raise error from None
        except BaseException as exc:
            error = exc
            status = "cancelled" if isinstance(exc, RunCancelledError) else "failed"
            raise
        finally:
            if lost_store(error):
                # the store went away mid-run: stop as a killed process would, writing
                # nothing more (no final record, no run.finished in the log); the record
                # stays running, its lease runs out, and the run resumes from its last
                # checkpoint (orca worker gives it back; orca runs resume does it by hand)
                await self._abandon(error)
            else:
                try:
                    flush_error = await self._flush()
                    if flush_error is not None and lost_store(flush_error):
                        await self._abandon(flush_error)  # its last commit found no store
                        raise flush_error
                    if flush_error is not None and error is None:
                        error, status = flush_error, "failed"
                    if isinstance(error, OrcaError):
                        error.checkpoint_id = await self._committed_id()  # type: ignore[attr-defined]
                    if error is not None:
                        self._emit(
                            ErrorEvent,
                            error_type=type(error).__name__,
                            message=str(error),
                            node=getattr(error, "node", None),
                            task_id=getattr(error, "task_id", None),
                        )
                    totals = RunTotals()
                    if self.parent is None and opts.services is not None:
                        # the budgets' status after the run; its ledger closes
                        await asyncio.shield(opts.services.close())
                        totals = opts.services.totals()
                    self._emit(
                        RunFinished,
                        status=status,
                        steps=self.steps_run,
                        checkpoint_id=self.checkpoint_id,
                        duration_ms=(time.perf_counter() - started) * 1000,
                        llm_calls=totals.llm_calls,
                        input_tokens=totals.input_tokens,
                        output_tokens=totals.output_tokens,
                        cost_nano_usd=totals.cost_nano_usd,
                        error=f"{type(error).__name__}: {error}" if error is not None else None,
                    )
                    if self.logged and self.persister is not None:
                        self.persister.put_events(self.logged)
                        self.logged.clear()
                        log_error = await self._flush()
                        if log_error is not None and error is None:
                            raise log_error
                    record_error = await self._end_record(status, totals, error)
                    if flush_error is not None and flush_error is error:
                        raise flush_error  # the run succeeded, its last commit did not
                    if record_error is not None and error is None:
                        raise record_error
                finally:  # the thread is free for this process's next run
                    if self.recorder is not None:
                        self.recorder.unclaim()
        return outcome

    async def _abandon(self, error: BaseException | None) -> None:
        """What a run that lost its store still does: tell its listeners how it ended,
        and give its holds back when the ledger answers (they expire otherwise)."""
        self._emit(
            ErrorEvent,
            error_type=type(error).__name__,
            message=str(error),
            node=getattr(error, "node", None),
            task_id=getattr(error, "task_id", None),
        )
        if self.parent is None and self.opts.services is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self.opts.services.close())
        self.logged.clear()
        if self.recorder is not None:
            self.recorder.abandon()

    async def _end_record(
        self, status: str, totals: RunTotals, error: BaseException | None
    ) -> Exception | None:
        """Store the run's final record and release its thread; the error, if that fails
        (the lease then runs out by itself)."""
        if self.recorder is None:
            return None
        record, tasks = self.recorder.final(
            status,
            steps=self.steps_run,
            totals=totals,
            checkpoint_id=self.checkpoint_id,
            error=f"{type(error).__name__}: {error}" if error is not None else None,
        )
        try:
            store = self.store
            assert store is not None
            # the run's end may already be in its log: its record must follow, so it
            # waits out a store that went away (the final record is idempotent)
            await asyncio.shield(
                patiently(
                    lambda: self._io(store.end_run, store.aend_run, record, tasks),
                    "recording a run's end",
                )
            )
        except Exception as exc:
            return exc
        return None

    def _recorded_input(self, value: Any) -> Any:
        """The input as ``run.started`` carries it: a resume's value, a dict as given, a
        schema instance as the writes it makes (exactly what a replay must apply)."""
        if isinstance(value, Command):
            return value.resume
        if value is None or isinstance(value, dict):
            return value
        try:
            return self.spec.state.input_writes(value)
        except OrcaError:
            return value  # the run fails on it in a moment, and says why

    async def _flush(self) -> Exception | None:
        """Commit what the durability mode still holds; the error, if that fails."""
        if self.persister is None:
            return None
        try:
            await asyncio.shield(self.persister.flush())
        except Exception as exc:
            return exc
        return None

    async def _run_with_deadline(
        self, input: Any, start: Checkpoint | None, resuming: bool
    ) -> RunOutcome:
        deadline = self.opts.deadline
        if deadline is None:
            return await self._run(input, start, resuming)
        try:
            async with asyncio.timeout(deadline) as scope:
                return await self._run(input, start, resuming)
        except TimeoutError:
            if scope.expired():
                self.cancelled.set()
                raise RunTimeoutError(deadline) from None
            raise

    async def _committed_id(self) -> str | None:
        """The thread's latest committed checkpoint, for errors to name."""
        if self.store is None:
            return None
        try:
            store = self.store
            head = await self._io(store.history, store.ahistory, self.opts.thread_id, limit=1)
        except OrcaError:
            return None
        return head[0].checkpoint_id if head else None

    async def _io(
        self,
        sync: Callable[..., T],
        asynchronous: Callable[..., Awaitable[T]],
        *args: Any,
        **kwargs: Any,
    ) -> T:
        """A store call: its async twin (off the loop's thread: a slow disk stalls no
        other run), except on the private loop of a sync ``invoke``, which runs nothing
        else."""
        if self.opts.inline:
            return sync(*args, **kwargs)
        return await asynchronous(*args, **kwargs)

    def _emit(self, cls: type[Event], **fields: Any) -> None:
        if self.em is not None:
            self.em.emit(cls, max(self.step, 0), **fields)

    # -- the loop ---------------------------------------------------------------------------

    async def _run(self, input: Any, start: Checkpoint | None, resuming: bool) -> RunOutcome:
        if resuming:
            if start is None:
                raise InvalidInputError(
                    f"thread {self.opts.thread_id!r} has nothing to resume. Fix: pass an input "
                    "dict to start a run"
                    + ("" if self.store else ", or compile(checkpointer=...) to keep threads")
                )
            self._load(start)
            self._take_resume(input, start)
            if self.persister is not None:
                await self.persister.settle()
            # a run that continues a thread starts its values stream with where it stands
            self._emit_values()
        else:
            await self._start(input, start)
        if self.on_start is not None:  # the input or resume value was taken
            self.on_start()
        before = self.graph.interrupt_before
        after = self.graph.interrupt_after
        while self.next:
            if self.steps_run >= self.opts.max_steps and (
                not self.opts.overrun_step or self.steps_run > self.opts.max_steps
            ):
                raise StepLimitError(self.opts.max_steps)
            step = self.step + 1
            tasks = self._plan(step)
            if NEXT_RESUME in self.resumes and tasks:
                self._bind_resume(tasks[0])
            if before and not self.skip_before:
                hit = [t for t in tasks if t.node.name in before and t.id not in self.reuse]
                if hit:
                    return self._pause(
                        [
                            Interrupt(
                                _ids.digest("before", t.id), t.node.name, t.id, None, "before"
                            )
                            for t in hit
                        ]
                    )
            self.skip_before = False
            paused = await self._superstep(step, tasks)
            if paused:
                # the result shows what the step's finished tasks wrote, as LangGraph's does
                values, wrote = self._finished_values(tasks)
                outcome = self._pause(paused, on_current=True, values=values)
                if wrote and self.parent is None:
                    # and so does one last values event, after the interrupt (LangGraph's)
                    self._emit_values(values)
                return outcome
            if after:
                hit = [t for t in tasks if t.node.name in after]
                if hit and self.next:
                    return self._pause(
                        [
                            Interrupt(_ids.digest("after", t.id), t.node.name, t.id, None, "after")
                            for t in hit
                        ]
                    )
        if self.steps_run > self.opts.max_steps:  # it finished on its overrun step
            raise StepLimitError(self.opts.max_steps)
        return RunOutcome(self.public_values(), "done", [], self.write_log)

    def _bind_resume(self, task: Task) -> None:
        """A resume value given while no interrupt was pending answers ``task``'s first
        ``ctx.interrupt`` (its id is known now that the step is planned)."""
        value = self.resumes.pop(NEXT_RESUME)
        self.resumes.setdefault(_ids.interrupt_id(task.id, 0), value)

    def _load(self, cp: Checkpoint) -> None:
        self.values = cp.values
        self.next = cp.next
        commands = [p.value for p in cp.pending if p.kind == "command"]
        if commands:  # given to invoke on this checkpoint: applied again, as they were
            self.values, changed, self.next = fold_commands(
                self.spec, self.values, self.next, commands
            )
            self.dirty = _merged_changes(self.dirty, changed)  # saved with the next step
        self.step = cp.step
        self.checkpoint_id = self.persisted_id = cp.checkpoint_id
        self.reuse = {p.task_id: p.value for p in cp.pending if p.kind == "writes"}
        self.resumes = {p.value["id"]: p.value["value"] for p in cp.pending if p.kind == "resume"}
        self.skip_before = any(
            p.kind == "interrupt" and p.value["when"] == "before" for p in cp.pending
        )

    def _take_resume(self, input: Any, cp: Checkpoint) -> None:
        if not isinstance(input, Command):
            return
        if input.update is not None or input.goto:
            self._take_command(input, cp)
        if input.resume is None:
            return
        pending = [i.to_dict() for i in open_interrupts(cp) if i.when == "during"]
        paused = [p.value for p in cp.pending if p.kind == "interrupt"]
        if not pending and not paused and cp.next:
            # nothing is pending, yet the thread goes on (update_state edited it while
            # paused, which starts a new checkpoint): as in LangGraph, the value answers
            # the next interrupt, that of the next step's first task (see _bind_resume)
            if self.persister is not None:
                self.persister.put_pending(
                    self.opts.thread_id,
                    cp.checkpoint_id,
                    [
                        PendingWrite(
                            NEXT_RESUME, "resume", {"id": NEXT_RESUME, "value": input.resume}
                        )
                    ],
                )
            self.resumes[NEXT_RESUME] = input.resume
            return
        if not pending:
            hint = (
                f"the run paused {paused[0]['when']} node {paused[0]['node']!r}; continue it "
                "with invoke(None, thread_id=...)"
                if paused
                else "nothing waits for a resume value"
            )
            raise InvalidResumeError(
                f"thread {self.opts.thread_id!r} has no pending interrupt to resume: {hint}"
            )
        ids = [p["id"] for p in pending]
        value = input.resume
        if isinstance(value, dict) and any(k in ids for k in value):
            unknown = [k for k in value if k not in ids]
            if unknown:
                raise InvalidResumeError(
                    f"resume ids {unknown} match no pending interrupt. Fix: use the ids of "
                    f"get_state(thread_id).interrupts: {ids}"
                )
            chosen = dict(value)
        elif len(pending) == 1:
            chosen = {ids[0]: value}
        else:
            raise InvalidResumeError(
                f"{len(pending)} interrupts are pending ({', '.join(ids)}). Fix: resume them "
                "together with Command(resume={interrupt_id: value, ...})",
                pending=tuple(ids),
            )
        by_id = {p["id"]: p for p in pending}
        if self.persister is not None:
            self.persister.put_pending(
                self.opts.thread_id,
                cp.checkpoint_id,
                [
                    PendingWrite(by_id[i]["task_id"], "resume", {"id": i, "value": v})
                    for i, v in chosen.items()
                ],
            )
        self.resumes.update(chosen)

    def _take_command(self, command: Command[Any], cp: Checkpoint) -> None:
        """``Command(update=..., goto=...)`` given to invoke on a thread, as LangGraph
        takes it: the update applies as the input's writes (through the reducers; saved
        with the next step's checkpoint), and the nodes ``goto`` names join the next
        step's tasks. Kept as a pending write of ``cp`` until that step is saved, so a
        step that pauses or fails keeps it."""
        update = command.update
        pairs: Writes = []
        if isinstance(update, list | tuple):
            pairs = update_pairs(update, None)
        elif isinstance(update, Mapping):
            pairs = list(update.items())
        elif update is not None:
            raise InvalidInputError(
                f"Command(update=...) is a {type(update).__name__}. Fix: pass a dict of "
                "state keys, or a list of (key, value) pairs"
            )
        self.spec.state.check_keys(dict(pairs), None)
        targets = normalize_targets(self.spec, START, command.goto, None)
        planned, _ = plan_next(self.spec, [(START, targets)], None)
        taken = {"update": [list(w) for w in pairs], "goto": planned}
        self.values, changed, self.next = fold_commands(self.spec, self.values, self.next, [taken])
        # the keys it changed are saved with the next step's checkpoint (as pending
        # changes are under durability="exit"): no step pays for it
        self.dirty = _merged_changes(self.dirty, changed)
        if not self.next:  # nothing to run: saved at once, as update_state saves an update
            self._commit(self.step + 1, self.values, {}, [], "update", False)
        elif self.persister is not None:
            self.persister.put_pending(
                self.opts.thread_id, cp.checkpoint_id, [PendingWrite(START, "command", taken)]
            )

    async def _start(self, input: Any, start: Checkpoint | None) -> None:
        writes = self.spec.state.input_writes(input)
        allowed = self.spec.input_keys
        if allowed is not None and not allowed.issuperset(writes):
            key = sorted(set(writes) - allowed)[0]
            raise InvalidInputError(
                f"input key {key!r} is not in the graph's input schema. Fix: pass only "
                f"{', '.join(sorted(allowed))}"
            )
        base = start.values if start else self.spec.state.initial_values()
        values, changed = apply_writes(self.channels, base, [("input", list(writes.items()))])
        wrote = bool(changed)
        if start is None:
            changed = {k: None for k in values}
        else:
            self.step = start.step
            self.checkpoint_id = self.persisted_id = start.checkpoint_id
        ctx = self._context(self.step + 1, START, _ids.digest("start", self.opts.thread_id))
        entry = Task(-1, ctx.task_id, START_NODE, None, ctx)
        targets = await route(self.spec, entry, values)
        if self.persister is not None and self.opts.durability != "exit":
            # a large input is stored once: in this checkpoint (which exit does not keep)
            log_input_once(self.logged, self.run_id, values, self.given)
        self._commit(self.step + 1, values, changed, [(START, targets)], "input", wrote)
        if self.persister is not None:
            await self.persister.settle()

    def _context(self, step: int, node: str, task_id: str, base: str | None = None) -> RunContext:
        return RunContext(
            run_id=self.run_id,
            thread_id=self.opts.thread_id,
            step=step,
            node=node,
            task_id=task_id,
            seed=self.opts.seed,
            emitter=self.em,
            cancelled=self.cancelled,
            clock=self.opts.clock,
            resumes=self.resumes,
            parent=self.parent,
            options=self.opts,
            services=self.opts.services,
            calls_at=None if self.store is None or base is None else (self.store, base),
            pauses_here=self.parent is not None and self.store is not None,
        )

    def _plan(self, step: int) -> list[Task]:
        base = self.checkpoint_id or ""
        thread = self.opts.thread_id
        tasks = []
        for index, item in enumerate(self.next):
            node = self.spec.nodes[item["node"]]
            tid = _ids.task_id(thread, base, index, node.name)
            remaining = self.opts.max_steps - self.steps_run
            if "arg" in item:
                arg = item["arg"]
            else:
                arg = (node.input or self.spec.state).view(self.values, remaining)
            ctx = self._context(step, node.name, tid, base)
            ctx.remaining_steps = remaining
            tasks.append(Task(index, tid, node, arg, ctx))
        return tasks

    async def _superstep(self, step: int, tasks: list[Task]) -> list[Interrupt] | None:
        self.step = step
        to_run: list[Task] = []
        for task in tasks:
            done = self.reuse.get(task.id)
            if done is not None:
                task.writes = [(k, v) for k, v in done["writes"]]
                task.targets = decode_targets(done["targets"])
                task.reused = True
            else:
                to_run.append(task)
        self.reuse = {}
        if self.em is not None:
            self._emit(StepStarted, tasks=[{"id": t.id, "node": t.node.name} for t in tasks])
            for t in to_run:
                self._emit(TaskStarted, task_id=t.id, node=t.node.name)
        if self.recorder is not None:
            self.recorder.tasks_started([(t.id, t.node.name) for t in to_run], step)
        await self._execute(to_run)
        failed = [t for t in tasks if t.error is not None]
        paused = [t for t in tasks if t.interrupt is not None]
        if self.recorder is not None:  # each task's own outcome, whatever became of its step
            self.recorder.tasks_ended(
                [
                    (t.id, "failed", t.duration_ms, f"{type(t.error).__name__}: {t.error}")
                    if t.error is not None
                    else (t.id, "interrupted" if t.interrupt else "done", t.duration_ms, None)
                    for t in to_run
                ]
            )
        if failed or paused:
            return self._stop_step(tasks, failed, paused)
        if self.em is not None:
            for t in tasks:
                self._emit_finished(t)
        task_writes = [(t.node.name, t.writes) for t in tasks]
        values, changed = apply_writes(self.channels, self.values, task_writes)
        step_writes = [w for _, ws in task_writes for w in ws] if self.parent is not None else []
        self.write_log.extend(step_writes)
        self._commit(
            step,
            values,
            changed,
            [(t.node.name, t.targets) for t in tasks],
            "loop",
            bool(changed),
            step_writes,
        )
        if self.persister is not None:
            await self.persister.settle()
        self.steps_run += 1
        return None

    def _emit_finished(self, t: Task) -> None:
        self._emit(
            TaskFinished,
            task_id=t.id,
            node=t.node.name,
            update=dict(t.writes),
            goto=encode_targets(t.targets),
            duration_ms=t.duration_ms,
            cached=t.ctx._cache_hit,
        )

    async def _execute(self, tasks: list[Task]) -> None:
        if not tasks:
            return
        if len(tasks) == 1:
            # a lone sync node may run on the loop's thread when the loop is Orca's own,
            # unless a deadline must be able to fire while it runs
            inline = self.opts.inline and self.opts.deadline is None
            await run_task(self.spec, tasks[0], self.values, inline=inline, semaphore=None)
            return
        limit = self.opts.max_concurrency
        semaphore = asyncio.Semaphore(limit) if limit else None
        batch: list[Task] = []
        if limit is None:
            batch = [t for t in tasks if not t.node.callee.is_async and t.node.timeout is None]
        batched = {id(t) for t in batch}
        running = [
            asyncio.ensure_future(
                run_task(self.spec, t, self.values, inline=False, semaphore=semaphore)
            )
            for t in tasks
            if id(t) not in batched
        ]
        try:
            if batch:
                await SyncBatch(batch, POOL_SIZE).run()
                for t in batch:
                    if t.prerun is not None and t.prerun[0]:
                        await run_task(self.spec, t, self.values, inline=False, semaphore=None)
                    else:
                        running.append(
                            asyncio.ensure_future(
                                run_task(self.spec, t, self.values, inline=False, semaphore=None)
                            )
                        )
            await asyncio.gather(*running)
        except BaseException:
            self.cancelled.set()
            for r in running:
                r.cancel()
            raise

    def _stop_step(
        self, tasks: list[Task], failed: list[Task], paused: list[Task]
    ) -> list[Interrupt]:
        """A step that failed or paused keeps its finished tasks' writes as pending writes."""
        pending = [
            PendingWrite(
                t.id,
                "writes",
                {"writes": [list(w) for w in t.writes], "targets": encode_targets(t.targets)},
            )
            for t in tasks
            if not t.reused and t.error is None and t.interrupt is None
        ]
        interrupts = [
            Interrupt(
                t.interrupt.interrupt_id, t.node.name, t.id, t.interrupt.value, t.interrupt.when
            )
            for t in paused
            if t.interrupt is not None
        ]
        pending += [PendingWrite(i.task_id, "interrupt", i.to_dict()) for i in interrupts]
        if self.em is not None:  # the tasks that finished say so, as in a step that completes
            for t in tasks:
                if t.error is None and t.interrupt is None:
                    self._emit_finished(t)
        for t in failed:
            self._emit(
                TaskFailed,
                task_id=t.id,
                node=t.node.name,
                error_type=type(t.error).__name__,
                error=str(t.error),
                attempts=t.attempts,
                # the user's own errors: where in their code (Orca's errors say it all)
                traceback="" if isinstance(t.error, OrcaError) else format_traceback(t.error),
            )
        if self.persister is not None and pending and self.checkpoint_id is not None:
            self.persister.put_pending(self.opts.thread_id, self.checkpoint_id, pending)
        if failed:
            first = failed[0]
            error = first.error
            assert error is not None
            if isinstance(error, OrcaError):
                raise error
            raise NodeError(first.node.name, first.id, first.attempts, error) from error
        return interrupts

    def _finished_values(self, tasks: list[Task]) -> tuple[dict[str, Any], bool]:
        """The state with the writes of a paused step's finished tasks folded in, and
        whether they changed any key."""
        done = [(t.node.name, t.writes) for t in tasks if t.error is None and t.interrupt is None]
        try:
            values, changed = apply_writes(self.channels, self.values, done)
        except OrcaError:  # the step's writes conflict: the resume reports it
            values, changed = self.values, {}
        return {k: v for k, v in values.items() if k != JOINS}, bool(changed)

    def _pause(
        self,
        interrupts: list[Interrupt],
        on_current: bool = False,
        values: dict[str, Any] | None = None,
    ) -> RunOutcome:
        if not on_current and self.persister is not None and self.checkpoint_id is not None:
            self.persister.put_pending(
                self.opts.thread_id,
                self.checkpoint_id,
                [PendingWrite(i.task_id, "interrupt", i.to_dict()) for i in interrupts],
            )
        self._emit(InterruptEvent, interrupts=[i.to_dict() for i in interrupts])
        outcome = values if values is not None else self.public_values()
        return RunOutcome(outcome, "interrupted", interrupts, self.write_log)

    def _commit(
        self,
        step: int,
        values: dict[str, Any],
        changed: dict[str, list[Any] | None],
        finished: list[tuple[str, list[Target]]],
        source: str,
        wrote: bool,
        writes: Sequence[tuple[str, Any]] = (),
    ) -> None:
        """Save the step's checkpoint. ``wrote``: whether the step wrote any key; as in
        LangGraph, a step that wrote nothing adds no ``values`` event."""
        joins = values.get(JOINS) if self.spec.joins else None
        nxt, new_joins = plan_next(self.spec, finished, joins)
        stored = values.get(JOINS)
        nxt, new_joins = hold_deferred(self.spec, nxt, stored if new_joins is None else new_joins)
        if new_joins is not None and new_joins != stored:
            values[JOINS] = new_joins
            changed[JOINS] = None
        parent = self.persisted_id
        cid = _ids.checkpoint_id(self.opts.thread_id, self.checkpoint_id, step, self.nonce)
        self.nonce = ""
        self.values, self.next, self.step, self.checkpoint_id = values, nxt, step, cid
        if wrote:
            self._emit_values()
        if self.persister is None:
            return
        dirty = self.dirty
        for key, items in changed.items():
            if items is None or (key in dirty and dirty[key] is None):
                dirty[key] = None
            else:
                dirty.setdefault(key, []).extend(items)  # type: ignore[union-attr]
        self.persister.put(
            CheckpointSave(
                thread_id=self.opts.thread_id,
                checkpoint_id=cid,
                parent_id=parent,
                step=step,
                values=values,
                changed=dirty,
                next=nxt,
                metadata={
                    "source": source,
                    "run_id": self.run_id,
                    "nodes": [n for n, _ in finished],
                    # a subgraph's step keeps its writes: resumed, the subgraph hands its
                    # parent the writes of its steps before the pause too; and its
                    # parent's thread, whose listings and removal it goes with
                    **(
                        {
                            "writes": [list(w) for w in writes],
                            "parent_thread": self.parent.thread_id,
                        }
                        if self.parent is not None
                        else {}
                    ),
                },
                created_at=self.opts.clock().isoformat(),
                events=tuple(self.logged),
            )
        )
        self.logged.clear()
        if self.opts.durability != "exit":
            self.dirty = {}
            self.persisted_id = cid
        self._emit(CheckpointSaved, checkpoint_id=cid, parent_id=parent)

    def _emit_values(self, values: dict[str, Any] | None = None) -> None:
        if self.em is not None:
            if self.em.wants(Values):
                self._emit(Values, values=self.public_values() if values is None else values)
            else:
                self.em.skip()

    def public_values(self) -> dict[str, Any]:
        if JOINS in self.values:
            return {k: v for k, v in self.values.items() if k != JOINS}
        return dict(self.values)


def _no_op(state: Any) -> None:
    return None


START_NODE = NodeSpec(START, Callee(_no_op, False, "none"), None, None, ())


def _recorded_command(value: Any) -> dict[str, Any] | None:
    """A ``Command`` input's update and goto as ``run.started`` carries them: a dict
    update as the dict (its credentials masked by key, as an input's are), ``(key,
    value)`` pairs as one-key dicts with ``pairs`` true, anything else as given (the run
    fails on it in a moment, and says why); goto as a list of targets."""
    if not isinstance(value, Command) or (value.update is None and not value.goto):
        return None
    update: Any = value.update
    pairs = isinstance(update, list | tuple) and all(isinstance(w, tuple) for w in update)
    if pairs:
        update = [dict([w]) if len(w) == 2 else list(w) for w in update]
    goto: Any = value.goto
    if isinstance(goto, str | Send) or not isinstance(goto, Sequence):
        goto = [goto] if goto else []
    return {"update": update, "pairs": pairs, "goto": list(goto)}
