"""Checkpoint stores: the ``Checkpointer`` protocol and its in-memory and SQLite stores."""

from orca.checkpoint._base import (
    Checkpoint,
    Checkpointer,
    CheckpointInfo,
    CheckpointSave,
    EventRecord,
    PendingWrite,
)
from orca.checkpoint._memory import MemoryCheckpointer
from orca.checkpoint._sqlite import SqliteCheckpointer

__all__ = [
    "Checkpoint",
    "CheckpointInfo",
    "CheckpointSave",
    "Checkpointer",
    "EventRecord",
    "MemoryCheckpointer",
    "PendingWrite",
    "SqliteCheckpointer",
]
