"""``RunContext``: what a node receives as ``ctx``."""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orca.engine import _ids
from orca.errors import InvalidInputError, NodeInterrupt, RunCancelledError
from orca.events import Custom

if TYPE_CHECKING:
    from orca.engine._emit import Emitter
    from orca.llm._bound import LLM
    from orca.tools import BoundTools


class RunContext:
    """The run as one task sees it. Nodes take it as a second parameter named ``ctx``.

    Time, randomness and ids come from here, never from globals, so a run with the same
    inputs and seed behaves the same.

    Attributes:
        run_id, thread_id, step, node, task_id: where this task runs.
        seed: the run's seed.
        attempt: 1 on the first attempt, 2 on the first retry, ...
    """

    __slots__ = (
        "_cancelled",
        "_clock",
        "_emitter",
        "_interrupts",
        "_options",
        "_parent",
        "_random",
        "_resumes",
        "_timed_out",
        "attempt",
        "node",
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
        self._options = options  # the run's RunOptions, inherited by subgraphs
        self._timed_out = False
        self._random: random.Random | None = None

    def _begin_attempt(self, attempt: int) -> None:
        """Each attempt replays the node from the start: interrupts count from zero again."""
        self.attempt = attempt
        self._interrupts = 0
        self._timed_out = False

    @property
    def random(self) -> random.Random:
        """A random generator seeded from the run's seed and this task's id."""
        if self._random is None:
            self._random = random.Random(f"{self.seed}:{self.task_id}")
        return self._random

    def now(self) -> dt.datetime:
        """The run clock's time (the wall clock unless the run was given ``clock=``)."""
        return self._clock()

    def write(self, data: Any) -> None:
        """Emit a ``custom`` event carrying ``data`` (stream mode ``custom``)."""
        if self._parent is not None:
            self._parent.write(data)
        elif self._emitter is not None:
            self._emitter.emit(Custom, self.step, task_id=self.task_id, node=self.node, data=data)

    def interrupt(self, value: Any = None) -> Any:
        """Pause the run, showing ``value`` to whoever resumes it.

        On resume (``invoke(Command(resume=...))``) the node runs again from the start and
        this call returns the resume value. A node may call it several times; each call
        pauses once, in order.
        """
        if self._parent is not None:
            return self._parent.interrupt(value)
        iid = _ids.interrupt_id(self.task_id, self._interrupts)
        self._interrupts += 1
        if iid in self._resumes:
            return self._resumes[iid]
        raise NodeInterrupt(iid, value)

    @property
    def tools(self) -> BoundTools:
        """The run's tools (the ``tools=`` run option), bound to this task: ``await
        ctx.tools.acall(name, **args)`` returns a tool's value; every execution is
        policy-checked, audited and reported as a ``tool.call`` event.

        Raises:
            InvalidInputError: the run was given no tools.
        """
        from orca.tools import BoundTools

        root = self
        while root._parent is not None:
            root = root._parent
        toolbox = root._options.toolbox if root._options is not None else None
        if toolbox is None:
            raise InvalidInputError(
                "this run has no tools. Fix: pass tools=[...] (functions or Tool objects) "
                "to invoke/stream"
            )
        return BoundTools(toolbox, root)

    @property
    def planner(self) -> LLM:
        """The profile's planner model, bound to this task (calls are streamed as
        ``token`` events, priced, and reported as ``usage`` events)."""
        return self.llm("planner")

    @property
    def worker(self) -> LLM:
        """The profile's worker model, bound to this task."""
        return self.llm("worker")

    def llm(self, name: str) -> LLM:
        """The run's model called ``name`` (``planner``, ``worker`` or one passed with
        ``models=``), bound to this task.

        Raises:
            ConfigError: the run has no model of that name.
        """
        from orca.llm._bound import LLM
        from orca.llm._meter import meter_for_run

        root = self
        while root._parent is not None:  # a subgraph's calls belong to the parent's task
            root = root._parent
        meter = root._options.meter if root._options is not None else None
        if meter is None:  # a context made outside a run (tests, tools)
            meter = meter_for_run()
        return LLM(meter.models.get(name), name, meter, root)

    @property
    def cancelled(self) -> bool:
        """True once the run is cancelled or this task ran past its timeout; long sync
        nodes should check it and return."""
        return self._timed_out or self._cancelled.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise ``RunCancelledError`` if the run was cancelled."""
        if self.cancelled:
            raise RunCancelledError(f"run {self.run_id} was cancelled")
