"""``RunContext``: what a node receives as ``ctx``."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orca.context import RunServices, service_factory
from orca.engine import _ids
from orca.errors import ConfigError, NodeInterrupt, RunCancelledError
from orca.events import Custom

if TYPE_CHECKING:
    from orca.checkpoint import Checkpointer
    from orca.engine._calls import TaskCalls
    from orca.engine._emit import Emitter


class RunContext:
    """The run as one task sees it. Nodes take it as a second parameter named ``ctx``.

    Time, randomness and ids come from here, never from globals, so a run with the same
    inputs and seed behaves the same. It is the engine's ``orca.context.TaskContext``:
    the run's services (models, tools) reach the run through it.

    Attributes:
        run_id, thread_id, step, node, task_id: where this task runs.
        seed: the run's seed.
        attempt: 1 on the first attempt, 2 on the first retry, ...
    """

    __slots__ = (
        "_cache_hit",
        "_calls",
        "_calls_at",
        "_cancelled",
        "_clock",
        "_emitter",
        "_interrupts",
        "_options",
        "_parent",
        "_pauses_here",
        "_random",
        "_resumes",
        "_services",
        "_timed_out",
        "attempt",
        "node",
        "remaining_steps",
        "run_id",
        "seed",
        "step",
        "task_id",
        "thread_id",
    )

    def __init__(
        self,
        *,
        run_id: str,
        thread_id: str,
        step: int,
        node: str,
        task_id: str,
        seed: int,
        emitter: Emitter | None,
        cancelled: threading.Event,
        clock: Callable[[], dt.datetime],
        resumes: dict[str, Any],
        parent: RunContext | None = None,
        options: Any = None,
        services: RunServices | None = None,
        calls_at: tuple[Checkpointer, str] | None = None,
        pauses_here: bool = False,
    ) -> None:
        self.run_id = run_id
        self.thread_id = thread_id
        self.step = step
        self.node = node
        self.task_id = task_id
        self.seed = seed
        self.attempt = 1
        self._emitter = emitter
        self._cancelled = cancelled
        self._clock = clock
        self._resumes = resumes
        self._interrupts = 0
        self._parent = parent
        # a subgraph that keeps checkpoints pauses in its own run (and resumes there);
        # one that keeps none passes its interrupts to the parent's task
        self._pauses_here = pauses_here
        self._cache_hit = False  # the node's result came from the node cache
        # the supersteps the run may still take, this one included (None outside a run)
        self.remaining_steps: int | None = None
        self._options = options  # the run's RunOptions, whose limits subgraphs inherit
        self._services = services
        self._timed_out = False
        self._random: random.Random | None = None
        # where the task's call records live: the run's store, and the checkpoint the
        # task's step started from
        self._calls_at = calls_at
        self._calls: TaskCalls | None = None

    def _begin_attempt(self, attempt: int, replay: bool = True) -> None:
        """Each attempt runs the node from the start: interrupts and calls count from zero
        again. ``replay``: the last attempt's calls were kept, and this one draws the same
        randomness (so asks its models the same way and is answered from them); else it
        draws on (and its calls are new)."""
        self.attempt = attempt
        self._interrupts = 0
        self._timed_out = False
        if attempt > 1:
            if self._calls is not None:
                self._calls.restart()
            if replay:
                self._random = None

    async def _forget_calls(self) -> None:
        """The attempt failed in the node's own code: its calls are made again."""
        if self._calls is not None:
            await self._calls.forget()

    @property
    def random(self) -> random.Random:
        """A random generator seeded from the run's seed and this task's id."""
        if self._random is None:
            self._random = random.Random(f"{self.seed}:{self.task_id}")
        return self._random

    @property
    def events(self) -> Emitter | None:
        """The run's event stream (None when nobody listens): what services emit to."""
        return self._emitter

    @property
    def calls(self) -> TaskCalls | None:
        """The task's completed LLM and tool calls (None without a checkpointer): what
        the run's services answer a call from when the task runs again."""
        owner = self._owner()
        if owner._calls is None and owner._calls_at is not None:
            from orca.engine._calls import TaskCalls

            store, checkpoint_id = owner._calls_at
            owner._calls = TaskCalls(
                store,
                thread_id=owner.thread_id,
                checkpoint_id=checkpoint_id,
                task_id=owner.task_id,
                run_id=owner.run_id,
                node=owner.node,
                step=owner.step,
                clock=owner._clock,
                emitter=owner._emitter,
            )
        return owner._calls

    @property
    def context(self) -> Any:
        """The run's ``context=`` option, as the graph's ``context_schema`` (None when
        the run was given none); a subgraph sees its parent run's."""
        options = self._owner()._options
        return getattr(options, "context", None)

    def now(self) -> dt.datetime:
        """The run clock's time (the wall clock unless the run was given ``clock=``)."""
        return self._clock()

    def write(self, data: Any) -> None:
        """Emit a ``custom`` event carrying ``data`` (stream mode ``custom``)."""
        if self._emitter is not None:  # a subgraph streaming its own events, or the run
            self._emitter.emit(Custom, self.step, task_id=self.task_id, node=self.node, data=data)
        elif self._parent is not None:
            self._parent.write(data)

    def interrupt(self, value: Any = None) -> Any:
        """Pause the run, showing ``value`` to whoever resumes it.

        On resume (``invoke(Command(resume=...))``) the node runs again from the start and
        this call returns the resume value. A node may call it several times; each call
        pauses once, in order.
        """
        if self._parent is not None and not self._pauses_here:
            return self._parent.interrupt(value)
        iid = _ids.interrupt_id(self.task_id, self._interrupts)
        self._interrupts += 1
        if iid in self._resumes:
            return self._resumes[iid]
        raise NodeInterrupt(iid, value)

    def _owner(self) -> RunContext:
        """The task that calls made here belong to: a subgraph's are its parent task's."""
        owner = self
        while owner._parent is not None:
            owner = owner._parent
        return owner

    def _services_of(self) -> RunServices:
        owner = self._owner()
        if owner._services is None:  # a context made outside a run: the default services
            factory = service_factory()
            if factory is None:
                raise ConfigError(
                    "no run services are installed",
                    key="services",
                    fix="import orca (it installs them), or pass services= to the run",
                )
            owner._services = factory({}, workflow=owner.node)
        return owner._services

    @property
    def services(self) -> RunServices:
        """The run's services (models, metering, tools) that ``llm`` and ``tools`` reach:
        for integrations that meter calls made around them (``orca.compat.langchain``)."""
        return self._services_of()

    @property
    def task(self) -> RunContext:
        """The task that calls made here belong to: this one, or for a node of a subgraph,
        the parent's task that runs the subgraph."""
        return self._owner()

    @property
    def tools(self) -> Any:
        """The run's tools (the ``tools=`` run option), bound to this task: ``await
        ctx.tools.acall(name, **args)`` returns a tool's value; every execution is
        policy-checked, audited and reported as a ``tool.call`` event.

        Raises:
            InvalidInputError: the run was given no tools.
        """
        return self._services_of().tools(self._owner())

    @property
    def planner(self) -> Any:
        """The profile's planner model, bound to this task (calls are streamed as
        ``token`` events, priced, and reported as ``usage`` events)."""
        return self.llm("planner")

    @property
    def worker(self) -> Any:
        """The profile's worker model, bound to this task."""
        return self.llm("worker")

    def llm(self, name: str) -> Any:
        """The run's model called ``name`` (``planner``, ``worker`` or one passed with
        ``models=``), bound to this task (an ``orca.llm.LLM``).

        Raises:
            ConfigError: the run has no model of that name.
        """
        return self._services_of().llm(name, self._owner())

    @property
    def cancelled(self) -> bool:
        """True once the run is cancelled or this task ran past its timeout; long sync
        nodes should check it and return."""
        return self._timed_out or self._cancelled.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise ``RunCancelledError`` if the run was cancelled."""
        if self.cancelled:
            raise RunCancelledError(f"run {self.run_id} was cancelled")
