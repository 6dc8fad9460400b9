"""``CompiledGraph``: run a validated graph and work with its threads."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, cast

from orca._sync import iterate_sync, run_sync
from orca.checkpoint import Checkpoint, Checkpointer, CheckpointInfo, CheckpointSave, PendingWrite
from orca.context import RunServices, service_factory
from orca.engine import _ids
from orca.engine._algo import JOINS, apply_writes, fold_commands, hold_deferred, plan_next
from orca.engine._context import RunContext
from orca.engine._handle import RunHandle
from orca.engine._loop import (
    START_NODE,
    Run,
    RunOptions,
    RunOutcome,
    open_interrupts,
    utc_now,
)
from orca.engine._persist import DURABILITY_MODES
from orca.engine._task import ParentCommand, SubgraphWrites, Task, route
from orca.errors import (
    CheckpointNotFoundError,
    InvalidInputError,
    NodeInterrupt,
    OrcaError,
    closest,
)
from orca.events import STREAM_MODES, Event, StreamMode
from orca.graph import reducers
from orca.graph._builder import GraphSpec
from orca.graph._drawing import DrawableGraph
from orca.graph._types import START, Command, StateSnapshot

EPHEMERAL_THREAD = "ephemeral"


def _services(options: dict[str, Any], workflow: str) -> RunServices | None:
    """The run's services: the ``services`` option, else built by the installed factory
    from the options it takes."""
    given = options.get("services")
    factory = service_factory()
    named = factory.options & options.keys() if factory is not None else frozenset()
    if given is not None:
        if named:
            raise InvalidInputError(
                f"services= carries the run's models and tools; {sorted(named)[0]}= cannot be "
                "given beside it. Fix: pass one or the other"
            )
        return cast(RunServices, given)
    if factory is None:
        return None
    return factory({k: options[k] for k in named}, workflow=workflow)


def _flag(options: dict[str, Any], name: str, default: bool = True) -> bool:
    value = options.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInputError(f"{name} must be True or False, got {value!r}")
    return value


def _correlation_id(options: dict[str, Any]) -> str | None:
    """The ``correlation_id`` option, else the one ``orca.observe.correlation`` set."""
    from orca.observe import current_correlation

    value = options.get("correlation_id")
    if value is None:
        return current_correlation()
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"correlation_id must be a non-empty string, got {value!r}")
    return value


class CompiledGraph:
    """A validated graph, ready to run. Made by ``StateGraph.compile()``; immutable.

    Every run method takes the same keyword options:

    Args:
        thread_id: the thread to run on; required with a checkpointer.
        checkpoint_id: start from this checkpoint instead of the thread's latest (time
            travel: the run continues on a new branch).
        run_id: id for the run's events (default: derived from the thread and checkpoint).
        seed: seeds ``ctx.random`` and retry jitter.
        durability: ``"sync"`` commits each superstep before the next starts, ``"async"``
            commits on the store's worker thread while the next step runs, ``"exit"`` commits only
            when the run stops.
        max_steps: supersteps this run may take before ``StepLimitError``.
        overrun_step: LangGraph's boundary (its compatibility layer sets it): a run that
            reaches ``max_steps`` with work left takes one step more, keeps it, then
            fails; so does a run that finishes on that step.
        max_concurrency: tasks that may run at once (default: all of a step).
        deadline: seconds the run may take before ``RunTimeoutError``.
        clock: what ``ctx.now()`` returns (default: the UTC wall clock).
        profile: the LLM profile whose planner and worker ``ctx.planner`` and
            ``ctx.worker`` call: a ``Profile`` or a profile's name (default: the active
            profile in the user database).
        models: more models by name, for ``ctx.llm(name)`` (``ChatModel`` or
            ``ModelSpec``); ``planner``/``worker`` here win over the profile's.
        prices: the ``PriceBook`` that prices calls (default: the price catalog plus the
            user database's overrides).
        budget: the name of the budget calls are charged to (default: the active one);
            budgets scoped to the graph's name, the run or the ``session`` apply too.
        session: a session id, for budgets scoped to a session and usage reports.
        ledger: where calls are recorded and budgets kept: a ``Ledger``, a user database
            path, or ``False`` for none (default: ``$ORCA_HOME/orca.db``).
        tenant: whose user database keeps the run's profiles, prices, budgets and
            usage (default: ``ORCA_TENANT``'s, else the default tenant's); the server
            and ``orca worker`` set it to the caller's tenant.
        on_budget_exceeded: ``"fail"`` (default) raises ``BudgetExceeded``; ``"pause"``
            interrupts the run instead, to resume once the budget is raised.
        max_tokens: the answer cap of calls that set none under a block budget (1024).
        api_keys: where a model's API key is looked up before the environment: a store's
            ``secrets`` (the tenant's sealed keys), or a function of the variable's name.
        context: read-only data for the nodes (``ctx.context``), coerced to the graph's
            ``context_schema`` (a dict becomes one); never checkpointed.
        subgraphs: stream the events of the run's subgraphs too (their ``thread_id``
            is the subgraph's own thread: ``<thread>/<node>:<task id>``).
        log_events: with a checkpointer, keep the run's events (all but tokens and
            values) in its event log, written with the checkpoints (default True).
        correlation_id: carried by the run's logs and spans (default: the one
            ``orca.observe.correlation`` set, else the run id).
    """

    def __init__(
        self,
        spec: GraphSpec,
        *,
        checkpointer: Checkpointer | None,
        interrupt_before: frozenset[str],
        interrupt_after: frozenset[str],
    ) -> None:
        if checkpointer is not None and not isinstance(checkpointer, Checkpointer):
            raise InvalidInputError(
                f"checkpointer is a {type(checkpointer).__name__}, not a Checkpointer. Fix: "
                "pass MemoryCheckpointer() or SqliteCheckpointer(path)"
            )
        self.spec = spec
        self.name = spec.name
        self.checkpointer = checkpointer
        self.interrupt_before = interrupt_before
        self.interrupt_after = interrupt_after

    def __repr__(self) -> str:
        return f"<CompiledGraph {self.name!r} nodes={list(self.spec.nodes)}>"

    # -- running ------------------------------------------------------------------------------

    def invoke(self, input: Any, **options: Any) -> dict[str, Any]:
        """Run to the end (or to an interrupt) and return the state values.

        ``input`` is a dict of state keys (or an instance of the state schema) to start a
        run; ``None`` continues the thread; ``Command(resume=...)`` resumes an interrupt.
        When the run pauses, the result has an ``"__interrupt__"`` list of ``Interrupt``.

        Raises:
            NodeError, StepLimitError, RunTimeoutError, ... (see ``orca.errors``).
        """
        return run_sync("invoke", self._ainvoke(input, options, inline=True))

    async def ainvoke(self, input: Any, **options: Any) -> dict[str, Any]:
        """Async ``invoke``."""
        return await self._ainvoke(input, options, inline=False)

    async def _ainvoke(
        self, input: Any, options: dict[str, Any], *, inline: bool
    ) -> dict[str, Any]:
        handle = self._begin(input, None, options, inline)
        try:
            values = await handle.result()
        except asyncio.CancelledError:  # whoever awaited the run was cancelled: so is the run
            await handle.stop()
            raise
        shown = self.spec.output_keys
        if shown is None:
            return values
        return {k: v for k, v in values.items() if k in shown or k == "__interrupt__"}

    def batch(
        self,
        inputs: Sequence[Any],
        options: Sequence[Mapping[str, Any]] | None = None,
        *,
        return_exceptions: bool = False,
        concurrency: int | None = None,
        **shared: Any,
    ) -> list[Any]:
        """Run each input as its own run, at most ``concurrency`` at once, and return
        their results in input order.

        Args:
            inputs: one run's input each (as ``invoke``'s).
            options: one dict of run options per input (a ``thread_id`` each, with a
                checkpointer), over ``shared``.
            return_exceptions: put a failed run's exception in its place in the results;
                otherwise every run finishes and the first failure, in input order, is
                raised.
            concurrency: runs at once (default: all).
            shared: run options for every input.
        """
        return run_sync(
            "batch",
            self.abatch(
                inputs,
                options,
                return_exceptions=return_exceptions,
                concurrency=concurrency,
                **shared,
            ),
        )

    async def abatch(
        self,
        inputs: Sequence[Any],
        options: Sequence[Mapping[str, Any]] | None = None,
        *,
        return_exceptions: bool = False,
        concurrency: int | None = None,
        **shared: Any,
    ) -> list[Any]:
        """Async ``batch``."""
        if isinstance(inputs, str | bytes | Mapping) or not isinstance(inputs, Sequence):
            raise InvalidInputError(
                f"batch takes a list of inputs, got {type(inputs).__name__}. Fix: pass "
                "[input, ...]; invoke runs one input"
            )
        per_input: list[Mapping[str, Any]]
        if options is None:
            per_input = [{}] * len(inputs)
        elif isinstance(options, Mapping) or not isinstance(options, Sequence):
            raise InvalidInputError(
                "batch's options is one dict of run options per input. Fix: pass "
                "options=[{...}, ...], or give options shared by every run as keywords"
            )
        elif len(options) != len(inputs):
            raise InvalidInputError(
                f"batch got {len(inputs)} inputs and {len(options)} options. Fix: pass one "
                "dict of options per input"
            )
        else:
            per_input = list(options)
        if concurrency is not None and (
            isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
        ):
            raise InvalidInputError(
                f"concurrency must be a positive int or None, got {concurrency!r}"
            )
        gate = asyncio.Semaphore(concurrency or max(len(inputs), 1))

        async def one(item: Any, own: Mapping[str, Any]) -> Any:
            async with gate:
                return await self._ainvoke(item, {**shared, **own}, inline=False)

        results = await asyncio.gather(
            *(one(item, own) for item, own in zip(inputs, per_input, strict=True)),
            return_exceptions=True,
        )
        if not return_exceptions:
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        return list(results)

    async def start(
        self,
        input: Any,
        *,
        mode: StreamMode | Sequence[StreamMode] | None = None,
        **options: Any,
    ) -> RunHandle:
        """Start a run and return its handle once it has begun: ``await
        handle.result()``, ``async for event in handle.events()`` (with ``mode=``, as
        ``astream``), ``handle.cancel()``. Takes the options of ``invoke``.

        Raises:
            InvalidInputError, ...: what stops the run before it begins.
        """
        handle = self._begin(input, mode, options, inline=False)
        await handle._wait_started()
        return handle

    def _begin(
        self,
        input: Any,
        mode: StreamMode | Sequence[StreamMode] | None,
        options: dict[str, Any],
        inline: bool,
    ) -> RunHandle:
        wanted = _wanted(mode) if mode is not None else frozenset()
        run = Run(self, self._options(options, inline), wanted=wanted)
        return RunHandle(run, input, streaming=mode is not None)

    def stream(
        self, input: Any, *, mode: StreamMode | Sequence[StreamMode] = "events", **options: Any
    ) -> Iterator[Event]:
        """Run and yield typed events as they happen (see ``orca.events``).

        Args:
            mode: ``"values"`` (state after each step), ``"updates"`` (each task's writes),
                ``"custom"`` (``ctx.write`` data), ``"tokens"`` (LLM tokens), ``"events"``
                (everything), or a list of them.
        """
        return iterate_sync("stream", self._astream(input, mode, options, inline=True))

    def astream(
        self, input: Any, *, mode: StreamMode | Sequence[StreamMode] = "events", **options: Any
    ) -> AsyncIterator[Event]:
        """Async ``stream``."""
        return self._astream(input, mode, options, inline=False)

    async def _astream(
        self,
        input: Any,
        mode: StreamMode | Sequence[StreamMode],
        options: dict[str, Any],
        *,
        inline: bool,
    ) -> AsyncIterator[Event]:
        handle = self._begin(input, mode, options, inline)
        try:
            async for event in handle.events():
                yield event
        finally:
            if not handle.done():  # the reader stopped early: the run stops with it
                await handle.stop()

    def _options(self, options: dict[str, Any], inline: bool) -> RunOptions:
        factory = service_factory()
        taken = factory.options if factory is not None else frozenset()
        allowed = (set(RunOptions.__dataclass_fields__) - {"inline"}) | taken
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise InvalidInputError(
                f"unknown run option {unknown[0]!r}{closest(unknown[0], sorted(allowed))}. "
                f"Fix: use one of {', '.join(sorted(allowed))}"
            )
        thread_id = options.get("thread_id")
        if thread_id is None:
            if self.checkpointer is not None:
                raise InvalidInputError(
                    "a graph with a checkpointer runs on a thread. Fix: pass thread_id='...'"
                )
            thread_id = EPHEMERAL_THREAD
        elif not isinstance(thread_id, str) or not thread_id:
            raise InvalidInputError(f"thread_id must be a non-empty string, got {thread_id!r}")
        durability = options.get("durability", "sync")
        if durability not in DURABILITY_MODES:
            raise InvalidInputError(
                f"durability={durability!r} is not one of {', '.join(DURABILITY_MODES)}"
            )
        max_steps = options.get("max_steps", 100)
        overrun = _flag(options, "overrun_step", False)
        if not isinstance(max_steps, int) or max_steps < (0 if overrun else 1):
            raise InvalidInputError(f"max_steps must be a positive int, got {max_steps!r}")
        concurrency = options.get("max_concurrency")
        if concurrency is not None and (not isinstance(concurrency, int) or concurrency < 1):
            raise InvalidInputError(
                f"max_concurrency must be a positive int or None, got {concurrency!r}"
            )
        deadline = options.get("deadline")
        if deadline is not None and not (isinstance(deadline, int | float) and deadline > 0):
            raise InvalidInputError(
                f"deadline must be a positive number of seconds, got {deadline!r}"
            )
        seed = options.get("seed", 0)
        if not isinstance(seed, int):
            raise InvalidInputError(f"seed must be an int, got {seed!r}")
        metadata = options.get("metadata")
        if metadata is not None and not (
            isinstance(metadata, Mapping) and all(isinstance(k, str) for k in metadata)
        ):
            raise InvalidInputError(
                f"metadata must be a dict with string keys, got {type(metadata).__name__}. "
                "Fix: pass metadata={'key': value, ...}"
            )
        return RunOptions(
            thread_id=thread_id,
            checkpoint_id=options.get("checkpoint_id"),
            run_id=options.get("run_id"),
            seed=seed,
            durability=durability,
            max_steps=max_steps,
            overrun_step=overrun,
            max_concurrency=concurrency,
            deadline=deadline,
            clock=options.get("clock", utc_now),
            # a node that calls models must not block the loop, or its tokens could not
            # stream while it runs
            inline=inline and not (taken | {"services"}) & options.keys(),
            services=_services(options, self.name),
            log_events=_flag(options, "log_events"),
            correlation_id=_correlation_id(options),
            subgraphs=_flag(options, "subgraphs", False),
            metadata=metadata,
            context=_context(self.spec.context_schema, options.get("context")),
        )

    # -- threads ------------------------------------------------------------------------------

    def _store(self) -> Checkpointer:
        if self.checkpointer is None:
            raise InvalidInputError(
                "this graph keeps no threads. Fix: compile(checkpointer=SqliteCheckpointer(path))"
            )
        return self.checkpointer

    def _checkpoint(self, thread_id: str, checkpoint_id: str | None) -> Checkpoint:
        cp = self._store().get(thread_id, checkpoint_id)
        if cp is None:
            raise CheckpointNotFoundError(thread_id, checkpoint_id)
        return cp

    async def _acheckpoint(self, thread_id: str, checkpoint_id: str | None) -> Checkpoint:
        cp = await self._store().aget(thread_id, checkpoint_id)
        if cp is None:
            raise CheckpointNotFoundError(thread_id, checkpoint_id)
        return cp

    def describe(self) -> dict[str, Any]:
        """The graph's shape as JSON-able data: state keys and reducers, nodes, static
        edges, joins and conditional edges (see ``orca.graph._describe``)."""
        from orca.graph._describe import describe

        return describe(self.spec)

    def get_graph(self, *, xray: bool | int = False) -> DrawableGraph:
        """The graph as nodes and edges, with ``draw_mermaid()`` and ``to_json()``.

        Args:
            xray: draw subgraphs' nodes inside their node: ``True`` at every depth, an
                int to that many levels (default: a subgraph is one node).
        """
        from orca.graph._drawing import build_drawing

        if isinstance(xray, bool) or not isinstance(xray, int):
            depth = -1 if xray is True else 0
        elif xray < 0:
            raise InvalidInputError(f"xray must be True, False or a depth >= 0, got {xray!r}")
        else:
            depth = xray
        subgraphs: dict[str, DrawableGraph] = {}
        if depth != 0:
            for name, node in self.spec.nodes.items():
                sub = getattr(node.callee.fn, "graph", None)
                if isinstance(sub, CompiledGraph):
                    subgraphs[name] = sub.get_graph(xray=True if depth < 0 else depth - 1)
        return build_drawing(self.spec, subgraphs)

    def get_state(
        self, thread_id: str, checkpoint_id: str | None = None, *, subgraphs: bool = False
    ) -> StateSnapshot:
        """The thread's state at its latest checkpoint (or at ``checkpoint_id``).

        With ``subgraphs=True``, ``snapshot.subgraphs`` holds the state of each subgraph
        that paused inside a next task (keyed by the task's id), itself with its own
        paused subgraphs.

        Raises:
            CheckpointNotFoundError: no such thread or checkpoint.
        """
        cp = self._checkpoint(thread_id, checkpoint_id)
        snapshot = _snapshot(cp, self.spec)
        if not subgraphs:
            return snapshot
        inner: dict[str, StateSnapshot] = {}
        for index, node in enumerate(t["node"] for t in cp.next):
            graph = getattr(self.spec.nodes[node].callee.fn, "graph", None)
            if not isinstance(graph, CompiledGraph):
                continue
            task_id = _ids.task_id(thread_id, snapshot.checkpoint_id, index, node)
            sub = subgraph_thread(thread_id, node, task_id)
            if self._store().get(sub) is not None:
                inner[task_id] = graph._with_store(self._store()).get_state(sub, subgraphs=True)
        return dataclasses.replace(snapshot, subgraphs=inner)

    def _with_store(self, store: Checkpointer) -> CompiledGraph:
        """This graph reading ``store`` (a subgraph's threads live in its parent's)."""
        if self.checkpointer is store:
            return self
        return CompiledGraph(
            self.spec,
            checkpointer=store,
            interrupt_before=self.interrupt_before,
            interrupt_after=self.interrupt_after,
        )

    def get_history(
        self, thread_id: str, *, limit: int | None = None, before: str | None = None
    ) -> list[CheckpointInfo]:
        """The thread's checkpoints, newest first, without values (one query per page).

        Page with ``before=<last checkpoint_id of the previous page>``; read a
        checkpoint's values with ``get_state(thread_id, checkpoint_id)``.
        """
        return self._store().history(thread_id, limit=limit, before=before)

    async def aget_state(self, thread_id: str, checkpoint_id: str | None = None) -> StateSnapshot:
        """Async ``get_state`` (the store is read off the event loop's thread)."""
        return await asyncio.to_thread(self.get_state, thread_id, checkpoint_id)

    async def aget_history(
        self, thread_id: str, *, limit: int | None = None, before: str | None = None
    ) -> list[CheckpointInfo]:
        """Async ``get_history``."""
        return await self._store().ahistory(thread_id, limit=limit, before=before)

    def update_state(
        self,
        thread_id: str,
        update: Mapping[str, Any],
        *,
        as_node: str | None = None,
        checkpoint_id: str | None = None,
    ) -> str:
        """Apply ``update`` through the reducers as a new checkpoint; returns its id.

        On a thread with no checkpoint yet it makes the first one: the update is then the
        thread's input (``START``'s edges run next) unless ``as_node`` says otherwise. On
        a thread paused in ``ctx.interrupt``, ``Command(resume=...)`` still resumes it: the
        node runs again on the edited state.

        Args:
            as_node: apply it as if this node (or ``START``) wrote it: the next tasks
                become that node's edges. Without it the next tasks stay as they were.
            checkpoint_id: update from this checkpoint instead of the latest (a fork).
        """
        return run_sync(
            "update_state", self._update(thread_id, update, as_node, checkpoint_id, None)
        )

    async def aupdate_state(
        self,
        thread_id: str,
        update: Mapping[str, Any],
        *,
        as_node: str | None = None,
        checkpoint_id: str | None = None,
    ) -> str:
        """Async ``update_state``."""
        return await self._update(thread_id, update, as_node, checkpoint_id, None)

    def fork(
        self,
        thread_id: str,
        checkpoint_id: str,
        *,
        to_thread: str | None = None,
        update: Mapping[str, Any] | None = None,
    ) -> str:
        """Branch from any checkpoint: a new head with its state (plus ``update``).

        With ``to_thread`` the branch starts a new thread; otherwise it becomes the head
        of ``thread_id`` and ``invoke(None, thread_id=...)`` continues from it. Returns
        the new checkpoint's id.
        """
        return run_sync(
            "fork", self._update(thread_id, update or {}, None, checkpoint_id, to_thread)
        )

    async def afork(
        self,
        thread_id: str,
        checkpoint_id: str,
        *,
        to_thread: str | None = None,
        update: Mapping[str, Any] | None = None,
    ) -> str:
        """Async ``fork``."""
        return await self._update(thread_id, update or {}, None, checkpoint_id, to_thread)

    async def _update(
        self,
        thread_id: str,
        update: Mapping[str, Any],
        as_node: str | None,
        checkpoint_id: str | None,
        to_thread: str | None,
    ) -> str:
        store = self._store()
        if not isinstance(update, Mapping):
            raise InvalidInputError(
                f"update must be a dict of state keys, got {type(update).__name__}"
            )
        if as_node is not None and as_node != START and as_node not in self.spec.nodes:
            raise InvalidInputError(
                f"as_node={as_node!r} is not a node{closest(as_node, list(self.spec.nodes))}"
            )
        # the store is used off the loop's thread: a slow disk stalls no other run
        fresh = checkpoint_id is None and to_thread is None
        found = await store.aget(thread_id, None) if fresh else None
        if fresh and found is None:
            # a thread's first checkpoint, as LangGraph makes it: without as_node the
            # update is the thread's input, and START's edges run next
            cp = Checkpoint(thread_id, "", None, -1, self.spec.state.initial_values(), [], {}, "")
            as_node = as_node or START
        else:
            cp = found or await self._acheckpoint(thread_id, checkpoint_id)
        self.spec.state.check_keys(update, None if as_node == START else as_node)
        writes = list(update.items())
        values, changed = apply_writes(
            self.spec.state.channels, cp.values, [(as_node or "update", writes)]
        )
        if not cp.checkpoint_id:
            changed = {k: None for k in values}
        nxt = cp.next
        if as_node is not None:
            ctx = RunContext(
                run_id="update",
                thread_id=thread_id,
                step=cp.step + 1,
                node=as_node,
                task_id=_ids.digest("update", thread_id, cp.checkpoint_id, as_node),
                seed=0,
                emitter=None,
                cancelled=threading.Event(),
                clock=utc_now,
                resumes={},
            )
            node = START_NODE if as_node == START else self.spec.nodes[as_node]
            task = Task(0, ctx.task_id, node, None, ctx, writes=writes)
            targets = await route(self.spec, task, values if as_node == START else cp.values)
            nxt, joins = plan_next(self.spec, [(as_node, targets)], values.get(JOINS))
            stored = values.get(JOINS)
            nxt, joins = hold_deferred(self.spec, nxt, stored if joins is None else joins)
            if joins is not None and joins != stored:
                values[JOINS] = joins
                changed[JOINS] = None
        target = to_thread or thread_id
        heads = await store.ahistory(target, limit=1)
        # a fork into another thread starts a fresh lineage there: every value is written
        parent = None if to_thread or not cp.checkpoint_id else cp.checkpoint_id
        if to_thread:
            changed = {k: None for k in values}
        source = "fork" if to_thread or checkpoint_id else "update"
        # editing the state at an interrupt_before pause keeps the pause answered: the
        # next invoke(None) runs the node it paused before
        carried = [
            PendingWrite(i.task_id, "interrupt", i.to_dict())
            for i in open_interrupts(cp)
            if i.when == "before" and as_node is None and not to_thread
        ]
        new_id = _ids.checkpoint_id(
            target, parent, cp.step + 1, f"{source}:{heads[0].checkpoint_id if heads else ''}"
        )
        await store.aput(
            CheckpointSave(
                thread_id=target,
                checkpoint_id=new_id,
                parent_id=parent,
                step=cp.step + 1,
                values=values,
                changed=changed,
                next=nxt,
                metadata={
                    "source": source,
                    "from": {"thread_id": thread_id, "checkpoint_id": cp.checkpoint_id}
                    if cp.checkpoint_id
                    else None,
                    "as_node": None if as_node == START else as_node,
                },
                created_at=utc_now().isoformat(),
                pending=carried,
            ),
        )
        return new_id

    def prune(self, thread_id: str, keep: int) -> int:
        """Keep the thread's newest ``keep`` checkpoints; returns how many were removed."""
        return self._store().prune(thread_id, keep)

    def delete_thread(self, thread_id: str) -> None:
        """Remove a thread and all its checkpoints, with its paused subgraphs' threads."""
        store = self._store()
        for sub in own_threads(store).get(thread_id, ()):
            store.delete_thread(sub)
        store.delete_thread(thread_id)

    # -- as a subgraph ------------------------------------------------------------------------

    def as_node(self, *, output: str = "changes") -> Callable[[Any, RunContext], Any]:
        """This graph as a node of another: it runs as one task, its writes flow out.

        It inherits the parent run's seed, clock and limits. Where the parent keeps
        checkpoints, the subgraph keeps its own in the parent's store, on the thread
        ``<parent thread>/<node>:<task id>``: an interrupt inside it pauses the parent,
        and the resume goes on inside the subgraph from where it paused (its finished
        nodes do not run again). Without a checkpointer, the resume runs the subgraph
        again from its start.

        Args:
            output: ``"changes"`` hands the parent the subgraph's writes, folded per key
                (each change is applied once by the parent's reducers); ``"state"``
                hands it the subgraph's final values of the keys they share, as
                LangGraph does (a parent reducer that appends then sees the items it
                passed in again).
        """
        if output not in ("changes", "state"):
            raise InvalidInputError(f"output must be 'changes' or 'state', got {output!r}")
        keys = self.spec.state.keys

        async def run_subgraph(state: Any, ctx: RunContext) -> SubgraphWrites | Command:
            if not isinstance(state, Mapping):
                state = {k: getattr(state, k) for k in keys if hasattr(state, k)}
            parent_opts = ctx._options
            at = ctx._owner()._calls_at
            store = at[0] if at is not None else None
            thread = subgraph_thread(ctx.thread_id, ctx.node, ctx.task_id)
            # with subgraphs=True its events go to the parent run's listener, told apart by
            # their thread_id (the subgraph's own thread)
            emitter = ctx.events
            streams = bool(parent_opts and parent_opts.subgraphs and emitter is not None)
            opts = RunOptions(
                thread_id=thread,
                run_id=f"{ctx.run_id}/{ctx.node}",
                seed=ctx.seed,
                # its steps' writes must all reach the store: "exit" would keep the last
                durability="async" if parent_opts and parent_opts.durability != "sync" else "sync",
                max_steps=parent_opts.max_steps if parent_opts else 100,
                overrun_step=parent_opts.overrun_step if parent_opts else False,
                max_concurrency=parent_opts.max_concurrency if parent_opts else None,
                clock=ctx._clock,
                services=parent_opts.services if parent_opts else None,
                log_events=False,
                context=parent_opts.context if parent_opts else None,
                subgraphs=streams,
            )
            given: Any = {k: v for k, v in state.items() if k in keys}
            before: list[tuple[str, Any]] = []
            if store is not None:
                given, before = await _continuation(store, thread, given, ctx._resumes)
            try:
                run = Run(
                    self,
                    opts,
                    parent=ctx,
                    store=store,
                    wanted=emitter.wanted if streams and emitter is not None else frozenset(),
                    sink=emitter.sink if streams and emitter is not None else None,
                )
                outcome = await run.execute(given)
            except ParentCommand as handed:  # the subgraph hands the parent a command
                if store is not None:
                    await asyncio.to_thread(store.delete_thread, thread)
                command = handed.command
                return Command(update=command.update, goto=command.goto)
            if outcome.interrupts:
                first = outcome.interrupts[0]
                raise NodeInterrupt(first.id, first.value, first.when)
            if store is not None:  # done: what it kept was only for resuming it
                await asyncio.to_thread(store.delete_thread, thread)
            if output == "state":
                return SubgraphWrites(list(outcome.values.items()))
            outcome.writes[:0] = before
            return SubgraphWrites(_collapse(self.spec, outcome))

        run_subgraph.graph = self  # type: ignore[attr-defined]
        return run_subgraph


def subgraph_thread(thread_id: str, node: str, task_id: str) -> str:
    """The thread where the subgraph run by task ``task_id`` of ``node`` keeps its
    checkpoints (a task run again, after a pause or a crash, has the same id)."""
    return f"{thread_id}/{node}:{task_id}"


# <parent thread>/<node>:<task id>, the task id 16 hex digits (engine._ids.digest)
_SUBGRAPH_SHAPE = re.compile(r".*/.*:[0-9a-f]{16}", re.DOTALL)


def own_threads(store: Checkpointer) -> dict[str, list[str]]:
    """The store's threads without those paused subgraphs keep under their parent's
    (what a listing shows: a subgraph's thread is its parent run's business), each with
    the subgraphs' threads under it, nested ones included (removed with it).

    A subgraph's thread is known by its checkpoints' ``parent_thread``, not by its name
    alone: a thread of yours named like one is yours."""
    threads = store.threads()
    known = set(threads)
    parents: dict[str, str] = {}
    for thread in threads:
        if not _SUBGRAPH_SHAPE.fullmatch(thread):
            continue
        head = store.get(thread)
        parent = head.metadata.get("parent_thread") if head is not None else None
        if isinstance(parent, str) and parent in known and thread.startswith(f"{parent}/"):
            parents[thread] = parent
    own: dict[str, list[str]] = {t: [] for t in threads if t not in parents}
    for thread, parent in parents.items():
        seen = {thread}
        while parent in parents and parent not in seen:  # nested: up to the listed one
            seen.add(parent)
            parent = parents[parent]
        if parent in own:
            own[parent].append(thread)
    return own


async def _continuation(
    store: Checkpointer, thread: str, given: dict[str, Any], resumes: Mapping[str, Any]
) -> tuple[Any, list[tuple[str, Any]]]:
    """What a subgraph's run starts from on its own thread: ``given`` on a new thread;
    on one where it paused, the resume (the parent's answers to its interrupts) or
    ``None``, and the writes its steps made before the pause."""
    head = await store.aget(thread)
    if head is None:
        return given, []
    if not head.next:  # it finished, but its parent's step never committed: run afresh
        await asyncio.to_thread(store.delete_thread, thread)
        return given, []
    waiting = [i.id for i in open_interrupts(head) if i.when == "during"]
    answers = {i: resumes[i] for i in waiting if i in resumes}
    before: list[tuple[str, Any]] = []
    for info in reversed(await store.ahistory(thread)):
        before.extend((k, v) for k, v in info.metadata.get("writes", ()))
    return (Command(resume=answers) if answers else None), before


def _collapse(spec: GraphSpec, outcome: RunOutcome) -> list[tuple[str, Any]]:
    """A subgraph's writes for its parent: one write per key where the reducer can fold
    them (overwrite: the last; append, merge, sum: folded), every write otherwise, so the
    parent's reducers see the subgraph's changes exactly once."""
    folded: dict[str, Any] = {}
    rest: list[tuple[str, Any]] = []
    for key, value in outcome.writes:
        reducer = spec.state.channels[key].reducer
        if reducer is reducers.overwrite:
            folded[key] = value
        elif reducer.empty is not None:
            folded[key] = reducer(folded[key], value) if key in folded else reducer(None, value)
        else:
            rest.append((key, value))
    return [*folded.items(), *rest]


def _context(schema: type | None, given: Any) -> Any:
    """The ``context`` option as the graph's ``context_schema`` (a dict becomes one)."""
    if given is None or schema is None:
        return given
    import typing_extensions

    if typing_extensions.is_typeddict(schema):  # a dict with the required keys
        required: frozenset[str] = getattr(schema, "__required_keys__", frozenset())
        missing = sorted(required - set(given)) if isinstance(given, Mapping) else []
        if not isinstance(given, Mapping) or missing:
            what = f"lacks {missing[0]!r}" if isinstance(given, Mapping) else "is not a dict"
            raise InvalidInputError(
                f"context does not fit {schema.__name__}: it {what}. Fix: pass a dict "
                f"with the keys of {schema.__name__}"
            )
        return dict(given)
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(schema).validate_python(given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "context"
        raise InvalidInputError(
            f"context does not fit {schema.__name__}: {where}: {first['msg']}. Fix: pass "
            f"context={schema.__name__}(...) or a dict with its fields"
        ) from None


def _wanted(mode: StreamMode | Sequence[StreamMode]) -> frozenset[str]:
    modes = [mode] if isinstance(mode, str) else list(mode)
    wanted: set[str] = set()
    for m in modes:
        if m not in STREAM_MODES:
            raise InvalidInputError(f"stream mode {m!r} is not one of {', '.join(STREAM_MODES)}")
        wanted |= STREAM_MODES[m]
    return frozenset(wanted)


def _snapshot(cp: Checkpoint, spec: GraphSpec) -> StateSnapshot:
    values, nxt = with_finished(spec, cp)
    return StateSnapshot(
        values={k: v for k, v in values.items() if k != JOINS},
        next=nxt,
        interrupts=tuple(open_interrupts(cp)),
        thread_id=cp.thread_id,
        checkpoint_id=cp.checkpoint_id,
        parent_id=cp.parent_id,
        step=cp.step,
        metadata=cp.metadata,
        created_at=cp.created_at,
    )


def with_finished(spec: GraphSpec, cp: Checkpoint) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A checkpoint's values with the writes of the tasks that finished in a step that
    paused or failed (its pending writes) folded in, and the tasks still to run: what
    LangGraph's ``get_state`` shows."""
    done = {p.task_id: p.value for p in cp.pending if p.kind == "writes"}
    commands = [p.value for p in cp.pending if p.kind == "command"]
    base, planned = cp.values, cp.next
    if commands:  # Commands given to invoke on this checkpoint, applied as a run does
        base, _, planned = fold_commands(spec, base, planned, commands)
    if not done:
        return base, tuple(t["node"] for t in planned)
    writes: list[tuple[str, list[tuple[str, Any]]]] = []
    left: list[str] = []
    for index, item in enumerate(planned):
        finished = done.get(_ids.task_id(cp.thread_id, cp.checkpoint_id, index, item["node"]))
        if finished is None:
            left.append(item["node"])
        else:
            writes.append((item["node"], [(k, v) for k, v in finished["writes"]]))
    try:
        values, _ = apply_writes(spec.state.channels, base, writes)
    except OrcaError:  # the step's writes conflict: the resume reports it
        values = base
    return values, tuple(left)
