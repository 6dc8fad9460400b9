"""Orca's snapshots and interrupts in LangGraph's shapes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from orca.compat.langgraph._config import thread_config
from orca.compat.langgraph._nodes import GraphInfo
from orca.compat.langgraph.types import Interrupt, PregelTask, StateSnapshot
from orca.graph._types import Interrupt as NativeInterrupt
from orca.graph._types import StateSnapshot as NativeSnapshot

# checkpoint metadata Orca keeps for itself, not shown in LangGraph's metadata
_OWN_METADATA = frozenset({"nodes", "run_id", "from", "as_node"})


def interrupt_of(native: NativeInterrupt | dict[str, Any]) -> Interrupt:
    if isinstance(native, dict):
        return Interrupt(value=native.get("value"), id=str(native.get("id", "")))
    return Interrupt(value=native.value, id=native.id)


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


def snapshot_of(snap: NativeSnapshot, info: GraphInfo) -> StateSnapshot:
    interrupts = interrupts_of(snap.interrupts)
    tasks = []
    for index, node in enumerate(snap.next):
        mine = [i for i in snap.interrupts if i.node == node]
        task_id = mine[0].task_id if mine else _task_id(snap, node, index)
        tasks.append(
            PregelTask(
                id=task_id,
                name=node,
                path=("__pregel_pull", node),
                interrupts=tuple(interrupt_of(i) for i in mine),
            )
        )
    return StateSnapshot(
        values=info.ordered(dict(snap.values)),
        next=tuple(snap.next),
        config=thread_config(snap.thread_id, snap.checkpoint_id),
        metadata=metadata_of(snap),
        created_at=snap.created_at or None,
        parent_config=(
            thread_config(snap.thread_id, snap.parent_id) if snap.parent_id is not None else None
        ),
        tasks=tuple(tasks),
        interrupts=tuple(interrupts),
    )


def _task_id(snap: NativeSnapshot, node: str, index: int) -> str:
    seed = f"{snap.thread_id}\x00{snap.checkpoint_id}\x00{node}\x00{index}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]
