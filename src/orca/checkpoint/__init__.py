"""Checkpoints: the ``Checkpointer`` protocol, the values that cross it, the row logic
backends share, and the in-memory store (the SQLite one is ``orca.store.SqliteCheckpointer``)."""

from orca.checkpoint._base import (
    CallKind,
    CallRecord,
    Checkpoint,
    Checkpointer,
    CheckpointInfo,
    CheckpointSave,
    EventRecord,
    Lease,
    PendingWrite,
    RunRecord,
    RunStatus,
    TaskRecord,
    TaskStatus,
    lease_owner,
    owner_alive,
)
from orca.checkpoint._memory import MemoryCheckpointer

__all__ = [
    "CallKind",
    "CallRecord",
    "Checkpoint",
    "CheckpointInfo",
    "CheckpointSave",
    "Checkpointer",
    "EventRecord",
    "Lease",
    "MemoryCheckpointer",
    "PendingWrite",
    "RunRecord",
    "RunStatus",
    "TaskRecord",
    "TaskStatus",
    "lease_owner",
    "owner_alive",
]
