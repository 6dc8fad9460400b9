"""Orca's snapshots and interrupts in LangGraph's shapes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from orca.checkpoint import Checkpoint
from orca.compat.langgraph._config import thread_config
from orca.compat.langgraph._nodes import GraphInfo
from orca.compat.langgraph.types import Interrupt, PregelTask, StateSnapshot
from orca.engine._ids import task_id as engine_task_id
from orca.events import INTERRUPT, STEP_STARTED
from orca.graph._types import Interrupt as NativeInterrupt
from orca.graph._types import StateSnapshot as NativeSnapshot

# checkpoint metadata Orca keeps for itself, not shown in LangGraph's metadata
_OWN_METADATA = frozenset({"nodes", "run_id", "from", "as_node"})


def interrupt_of(native: NativeInterrupt | dict[str, Any]) -> Interrupt:
    if isinstance(native, dict):
        return Interrupt(value=native.get("value"), id=str(native.get("id", "")))
    return Interrupt(value=native.value, id=native.id)


def raised(natives: Iterable[Any]) -> list[Any]:
    """The interrupts a node raised: a static breakpoint (``interrupt_before`` /
    ``interrupt_after``) pauses the run, but LangGraph shows no interrupt for it."""
    return [
        i
        for i in natives
        if (i.get("when", "during") if isinstance(i, dict) else i.when) == "during"
    ]


def interrupts_of(natives: Iterable[Any]) -> list[Interrupt]:
    return [interrupt_of(i) for i in natives]


def empty_snapshot(thread_id: str) -> StateSnapshot:
    """What LangGraph's ``get_state`` returns for a thread with no checkpoint."""
    return StateSnapshot(
        values={},
        next=(),
        config={"configurable": {"thread_id": thread_id}},
        metadata=None,
        created_at=None,
        parent_config=None,
        tasks=(),
        interrupts=(),
    )


def metadata_of(snap: NativeSnapshot) -> dict[str, Any]:
    source = snap.metadata.get("source", "loop")
    # Orca's first checkpoint holds the input applied: LangGraph's step-0 "loop" one
    shown = {k: v for k, v in snap.metadata.items() if k not in _OWN_METADATA}
    shown.update(source="loop" if source == "input" else source, step=snap.step, parents={})
    return shown


@dataclass(slots=True)
class StepLog:
    """What the event log says of the step that ran from one checkpoint: its tasks'
    ids in plan order and the interrupts they raised. (Not their writes: the log keeps
    which keys a task wrote, their values are in the checkpoint.)"""

    tasks: list[tuple[str, str]] = field(default_factory=list)  # (task id, node)
    interrupts: dict[str, list[Interrupt]] = field(default_factory=dict)


def read_step(
    store: Any,
    run_ids: Iterable[str | None],
    step: int,
    cache: dict[str, list[dict[str, Any]]] | None = None,
) -> StepLog:
    """The event log's account of ``step`` in the runs ``run_ids`` (the run that made a
    checkpoint and the one that ran on from it), where the store keeps events; ``cache``
    keeps each run's events for the next snapshot of a history."""
    log = StepLog()
    cache = {} if cache is None else cache
    for run_id in dict.fromkeys(r for r in run_ids if r):
        if run_id not in cache:
            try:
                cache[run_id] = store.read_events(run_id, types=(STEP_STARTED, INTERRUPT))
            except NotImplementedError:  # a store without an event log: it says less
                cache[run_id] = []
        for event in cache[run_id]:
            if event.get("step") != step:
                continue
            kind = event.get("type")
            if kind == STEP_STARTED and not log.tasks:
                log.tasks = [(str(t["id"]), str(t["node"])) for t in event.get("tasks", ())]
            elif kind == INTERRUPT:
                for one in raised(event.get("interrupts", ())):
                    task = str(one.get("task_id"))
                    log.interrupts.setdefault(task, []).append(interrupt_of(one))
    return log


def snapshot_of(
    snap: NativeSnapshot,
    info: GraphInfo,
    log: StepLog | None = None,
    step: Checkpoint | None = None,
    order: Sequence[str] = (),
) -> StateSnapshot:
    """``snap`` as LangGraph's snapshot; ``log`` (the next step's account) gives its
    tasks their ids and the interrupts they raised. With ``step`` (the stored
    checkpoint: its whole plan and its finished tasks) and ``order`` (the nodes in the
    order they were added), the tasks are LangGraph's: every task of the step, those
    that finished before it paused or failed too, nodes' own in ``order``, then those a
    ``Send`` started; ``next`` lists those still to run."""
    log = log or StepLog()
    if step is not None and step.next:
        tasks, nxt = _planned(snap, step, log, order)
    else:
        tasks, nxt = _pending(snap, log), tuple(snap.next)
    return StateSnapshot(
        values=info.ordered(dict(snap.values)),
        next=nxt,
        config=thread_config(snap.thread_id, snap.checkpoint_id),
        metadata=metadata_of(snap),
        created_at=snap.created_at or None,
        parent_config=(
            thread_config(snap.thread_id, snap.parent_id) if snap.parent_id is not None else None
        ),
        tasks=tuple(tasks),
        interrupts=tuple(i for t in tasks for i in t.interrupts),
    )


def _pending(snap: NativeSnapshot, log: StepLog) -> list[PregelTask]:
    planned = log.tasks if [n for _, n in log.tasks] == list(snap.next) else []
    tasks = []
    for index, node in enumerate(snap.next):
        pending = [i for i in raised(snap.interrupts) if i.node == node]
        if planned:
            task_id = planned[index][0]
        elif pending:
            task_id = pending[0].task_id
        else:
            task_id = _task_id(snap, node, index)
        shown = log.interrupts.get(task_id) or [interrupt_of(i) for i in pending]
        tasks.append(
            PregelTask(
                id=task_id,
                name=node,
                path=("__pregel_pull", node),
                interrupts=tuple(shown),
            )
        )
    return tasks


def _planned(
    snap: NativeSnapshot, step: Checkpoint, log: StepLog, order: Sequence[str]
) -> tuple[list[PregelTask], tuple[str, ...]]:
    done = {p.task_id for p in step.pending if p.kind == "writes"}
    raised_by: dict[str, list[Interrupt]] = {}
    for one in raised(snap.interrupts):
        raised_by.setdefault(one.task_id, []).append(interrupt_of(one))
    rank = {node: i for i, node in enumerate(order)}
    entries = []
    for index, item in enumerate(step.next):
        node = str(item["node"])
        task_id = engine_task_id(snap.thread_id, step.checkpoint_id, index, node)
        push = "arg" in item
        shown = log.interrupts.get(task_id) or raised_by.get(task_id, [])
        path = ("__pregel_push", index) if push else ("__pregel_pull", node)
        task = PregelTask(id=task_id, name=node, path=path, interrupts=tuple(shown))
        key = (1, index) if push else (0, rank.get(node, len(rank)))
        entries.append((key, task, task_id in done))
    entries.sort(key=lambda e: e[0])
    return [t for _, t, _ in entries], tuple(t.name for _, t, finished in entries if not finished)


def _task_id(snap: NativeSnapshot, node: str, index: int) -> str:
    seed = f"{snap.thread_id}\x00{snap.checkpoint_id}\x00{node}\x00{index}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]
