"""Running one task: the node call, its retries and timeout, then its routing."""

from __future__ import annotations

import asyncio
import contextvars
import os
import random
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from orca.engine import _ids
from orca.engine._algo import Target, Writes, apply_writes, normalize_targets
from orca.engine._context import RunContext
from orca.errors import (
    InvalidUpdateError,
    NodeError,
    NodeInterrupt,
    OrcaError,
    TaskTimeoutError,
)
from orca.events import TaskRetry
from orca.graph._builder import Callee, GraphSpec, NodeSpec
from orca.graph._running import _task as _running
from orca.graph._types import END, Command

_pool: ThreadPoolExecutor | None = None
POOL_SIZE = max(32, (os.cpu_count() or 1) + 4)


def thread_pool() -> ThreadPoolExecutor:
    """The shared pool sync nodes run in when a step has parallel work."""
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="orca-node")
    return _pool


def call_sync(callee: Callee, arg: Any, ctx: RunContext) -> Any:
    """Call a sync node with ``ctx`` as the running task (what ``interrupt()`` pauses)."""
    token = _running.set(ctx)
    try:
        return callee.call(arg, ctx)
    finally:
        _running.reset(token)


async def call_async(callee: Callee, arg: Any, ctx: RunContext) -> Any:
    """Await an async node with ``ctx`` as the running task."""
    token = _running.set(ctx)
    try:
        return await callee.call(arg, ctx)
    finally:
        _running.reset(token)


class SubgraphWrites(list[tuple[str, Any]]):
    """A subgraph's writes, in order, returned in place of a dict update."""


class ParentCommand(InvalidUpdateError):
    """A subgraph's node returned ``Command(graph=Command.PARENT, ...)``: the subgraph
    stops, and its node in the parent applies the command. It reaches the caller only
    when the graph is not a subgraph."""

    def __init__(self, node: str, command: Command) -> None:
        super().__init__(
            f"node {node!r} returned Command(graph=Command.PARENT), but its graph is not "
            "a subgraph. Fix: return a plain Command to route inside this graph",
            node=node,
        )
        self.command = command


@dataclass(slots=True)
class Task:
    """One task of a superstep and, once it ran, what it produced."""

    index: int
    id: str
    node: NodeSpec
    arg: Any
    ctx: RunContext
    writes: Writes = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    duration_ms: float = 0.0
    error: BaseException | None = None
    attempts: int = 0
    interrupt: NodeInterrupt | None = None
    reused: bool = False
    prerun: tuple[bool, Any, float] | None = (
        None  # first attempt run by a SyncBatch, and its seconds
    )


def to_writes(spec: GraphSpec, task: Task, output: Any) -> tuple[Writes, list[Target]]:
    """A node's return value as (writes, extra targets)."""
    name = task.node.name
    if output is None:
        return [], []
    if isinstance(output, SubgraphWrites):
        keys = spec.state.channels
        return [(k, v) for k, v in output if k in keys], []
    goto: list[Target] = []
    if isinstance(output, Command):
        if output.graph == Command.PARENT:
            raise ParentCommand(name, output)
        if output.graph is not None:
            raise InvalidUpdateError(
                f"node {name!r} returned Command(graph={output.graph!r}). Fix: leave graph "
                "out, or pass Command.PARENT",
                node=name,
            )
        goto = normalize_targets(spec, name, output.goto, None)
        if isinstance(output.update, list | tuple):
            # (key, value) pairs: a key may come twice, each write through its reducer
            pairs = update_pairs(output.update, name)
            spec.state.check_keys(dict(pairs), name)
            return pairs, goto
        output = output.update or {}
    if not isinstance(output, Mapping):
        raise InvalidUpdateError(
            f"node {name!r} returned a {type(output).__name__}. Fix: return a dict of state "
            f"keys to new values (e.g. {{{spec.state.keys[0]!r}: ...}}), a Command, or None",
            node=name,
        )
    spec.state.check_keys(output, name)
    return list(output.items()), goto


def update_pairs(update: Sequence[Any], node: str | None) -> Writes:
    """A ``Command``'s update given as ``(key, value)`` pairs, checked."""
    if not all(isinstance(w, tuple) and len(w) == 2 and isinstance(w[0], str) for w in update):
        raise InvalidUpdateError(
            f"Command(update=...) of {'node ' + repr(node) if node else 'the input'} is a "
            "list that is not of (key, value) pairs. Fix: pass a dict, or a list of "
            "(key, value) tuples",
            node=node,
        )
    return [(k, v) for k, v in update]


async def route(spec: GraphSpec, task: Task, values: dict[str, Any]) -> list[Target]:
    """The task's static edges and routers, routers seeing the state with its own writes."""
    name = task.node.name
    targets: list[Target] = [t for t in spec.edges.get(name, ()) if t != END]
    branches = spec.branches.get(name)
    if branches:
        local = values
        if task.writes:
            local, _ = apply_writes(spec.state.channels, values, [(name, task.writes)])
        view = spec.state.view(local, task.ctx.remaining_steps)
        for branch in branches:
            result = branch.callee.call(view, task.ctx)
            if branch.callee.is_async:
                result = await result
            targets.extend(normalize_targets(spec, name, result, branch))
    return targets


async def run_task(
    spec: GraphSpec,
    task: Task,
    values: dict[str, Any],
    *,
    inline: bool,
    semaphore: asyncio.Semaphore | None,
) -> None:
    """Run ``task`` to completion, recording its writes, targets, interrupt or error."""
    node = task.node
    policies = node.retry
    started = time.perf_counter() - (task.prerun[2] if task.prerun else 0.0)
    replay = True  # whether this attempt is answered from the last one's calls
    while True:
        task.attempts += 1
        task.ctx._begin_attempt(task.attempts, replay)
        try:
            output = await _attempt(task, inline=inline, semaphore=semaphore)
            task.writes, goto = to_writes(spec, task, output)
            task.targets = [*goto, *await route(spec, task, values)]
            break
        except NodeInterrupt as signal:
            task.interrupt = signal
            break
        except Exception as exc:
            # a subgraph's node failing is the subgraph node's own failure, as in LangGraph
            own = exc.__cause__ if isinstance(exc, NodeError) else exc
            if not isinstance(own, Exception):
                own = exc
            retryable = not isinstance(own, OrcaError) or isinstance(own, TaskTimeoutError)
            policy = policies
            if isinstance(policy, tuple):  # several: the first whose retry_on matches applies
                policy = next((p for p in policy if p.should_retry(own)), None)
            # the node's own code failed: the answers it got may be why, so it asks again
            replay = isinstance(own, OrcaError) or (policy is not None and policy.reuse_calls)
            if not replay:
                await task.ctx._forget_calls()
            if (
                policy is not None
                and retryable
                and task.attempts < policy.max_attempts
                and policy.should_retry(own)
            ):
                draw = random.Random(_ids.digest(str(task.ctx.seed), task.id, str(task.attempts)))
                delay = policy.delay(task.attempts, draw.random())
                emitter = task.ctx.events
                if emitter is not None:
                    emitter.emit(
                        TaskRetry,
                        task.ctx.step,
                        task_id=task.id,
                        node=node.name,
                        attempt=task.attempts,
                        error=f"{type(exc).__name__}: {exc}",
                        delay_s=round(delay, 6),
                    )
                await asyncio.sleep(delay)
                continue
            task.error = exc
            break
    task.duration_ms = (time.perf_counter() - started) * 1000


async def _attempt(task: Task, *, inline: bool, semaphore: asyncio.Semaphore | None) -> Any:
    if semaphore is None:
        return await _call(task, inline)
    async with semaphore:
        return await _call(task, inline)


async def _call(task: Task, inline: bool) -> Any:
    if task.prerun is not None:
        (ok, outcome, _), task.prerun = task.prerun, None
        if ok:
            return outcome
        raise outcome
    callee = task.node.callee
    timeout = task.node.timeout
    if callee.is_async:
        coro = call_async(callee, task.arg, task.ctx)
        if timeout is None:
            return await coro
        try:
            return await asyncio.wait_for(coro, timeout)
        except TimeoutError:
            task.ctx._timed_out = True
            raise TaskTimeoutError(task.node.name, timeout) from None
    if inline and timeout is None:
        emitter = task.ctx.events
        handed = emitter.handed_over if emitter is not None else 0
        output = call_sync(callee, task.arg, task.ctx)
        if emitter is not None and emitter.handed_over != handed:
            # events the node's helpers sent from other threads wait in the loop's queue;
            # let them out before the task's own end is reported
            await asyncio.sleep(0)
        return output
    loop = asyncio.get_running_loop()
    # the thread runs in a copy of this context: the caller's variables reach the node
    future = loop.run_in_executor(
        thread_pool(), contextvars.copy_context().run, call_sync, callee, task.arg, task.ctx
    )
    if timeout is None:
        return await future
    try:
        return await asyncio.wait_for(future, timeout)
    except TimeoutError:
        task.ctx._timed_out = True  # the thread cannot be stopped; tell the node to return
        raise TaskTimeoutError(task.node.name, timeout) from None


class SyncBatch:
    """Runs the first attempt of many sync tasks on the thread pool with few hand-offs.

    Worker threads pull tasks from one queue, and a new worker joins while work is
    queued (up to ``limit``), so blocking nodes still run ``limit`` at a time; the event
    loop is woken once, when the last task is done, instead of once per task.
    """

    def __init__(self, tasks: list[Task], limit: int) -> None:
        self._queue = deque(tasks)
        self._lock = threading.Lock()
        self._limit = limit
        self._workers = 0
        self._left = len(tasks)
        self._loop = asyncio.get_running_loop()
        self._context = contextvars.copy_context()  # each task runs in a copy of it
        self.done: asyncio.Future[None] = self._loop.create_future()

    async def run(self) -> None:
        with self._lock:
            self._spawn()
        try:
            await asyncio.shield(self.done)
        except asyncio.CancelledError:
            with self._lock:
                self._queue.clear()  # workers stop after their current task
            raise

    def _spawn(self) -> None:
        self._workers += 1
        thread_pool().submit(self._work)

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._workers -= 1
                    return
                task = self._queue.popleft()
                if self._queue and self._workers < self._limit:
                    self._spawn()
            started = time.perf_counter()
            try:
                output = self._context.copy().run(call_sync, task.node.callee, task.arg, task.ctx)
                task.prerun = (True, output, time.perf_counter() - started)
            except BaseException as exc:  # handed to run_task, which decides what it means
                task.prerun = (False, exc, time.perf_counter() - started)
            with self._lock:
                self._left -= 1
                last = self._left == 0
            if last:
                self._loop.call_soon_threadsafe(self._finish)

    def _finish(self) -> None:
        if not self.done.done():
            self.done.set_result(None)
