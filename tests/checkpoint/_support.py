"""Helpers shared by the checkpoint store tests."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypedDict, cast

from pydantic import BaseModel

from orca.checkpoint import (
    Checkpointer,
    CheckpointSave,
    MemoryCheckpointer,
    PendingWrite,
    TaskRecord,
)
from orca.graph import StateGraph
from orca.store import SqliteCheckpointer

STORE_KINDS = ("memory", "sqlite", "postgres")
FACES = ("sync", "async")
ASYNC_TWINS = (
    "put",
    "put_pending",
    "put_events",
    "get",
    "history",
    "read_events",
    "begin_run",
    "renew_lease",
    "end_run",
    "put_tasks",
    "get_run",
    "list_runs",
    "run_tasks",
    "put_call",
    "calls",
    "drop_calls",
)
"""The methods with an async twin (``aput`` for ``put``, ...)."""


class ThroughAsync:
    """A store used through its async face: calling ``put`` (or any method with a twin)
    awaits ``aput`` on an event loop of its own, so a test written against the sync
    methods checks the async ones with the same assertions. Other methods pass through."""

    def __init__(self, inner: Checkpointer) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        if name not in ASYNC_TWINS:
            return getattr(self.inner, name)
        twin: Callable[..., Awaitable[Any]] = getattr(self.inner, "a" + name)

        def call(*args: Any, **kwargs: Any) -> Any:
            async def main() -> Any:
                return await twin(*args, **kwargs)

            return asyncio.run(main())

        return call


class StoreUnderTest:
    """One checkpoint store, and a way to read it through a fresh instance.

    ``reopen()`` closes a SQLite store and opens the same file again, or a PostgreSQL
    store and connects to the same database again (so values must come from the
    database, and the new instance has no memory of the chains it extends); a memory
    store has nothing to reopen and stays the same object. ``another()`` is a second
    instance over the same data (a second process would open it so). With
    ``face="async"`` the store is used through its async methods (``ThroughAsync``).
    """

    def __init__(self, kind: str, path: Path, face: str = "sync", url: str = "") -> None:
        self.kind = kind
        self.path = path
        self.url = url  # the database of a PostgreSQL store
        self.face = face
        self.cp: Checkpointer = self._open()

    def _open(self) -> Checkpointer:
        cp = self.another()
        return cast(Checkpointer, ThroughAsync(cp)) if self.face == "async" else cp

    def another(self) -> Checkpointer:
        """A new instance over the same data (the same object for a memory store)."""
        if self.kind == "memory":
            made: Checkpointer | None = getattr(self, "cp", None)
            if made is None:
                return MemoryCheckpointer()
            return cast(Checkpointer, made.inner) if isinstance(made, ThroughAsync) else made
        if self.kind == "postgres":
            from orca.store.postgres import PgCheckpointer

            return PgCheckpointer(self.url)
        return SqliteCheckpointer(self.path)

    def reopen(self) -> Checkpointer:
        if self.kind != "memory":
            self.cp.close()
            self.cp = self._open()
        return self.cp

    def views(self) -> Iterator[Checkpointer]:
        """The store as written, then (SQLite, PostgreSQL) a new instance reading the
        same data."""
        yield self.cp
        yield self.reopen()

    def close(self) -> None:
        self.cp.close()


def make_save(
    thread_id: str,
    checkpoint_id: str,
    parent_id: str | None,
    step: int,
    values: Mapping[str, Any],
    changed: Mapping[str, list[Any] | None] | None = None,
    *,
    pending: Sequence[PendingWrite] = (),
    tasks: Sequence[TaskRecord] = (),
    next: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
) -> CheckpointSave:
    """A CheckpointSave; ``changed`` defaults to every key of ``values`` (full values)."""
    return CheckpointSave(
        thread_id=thread_id,
        checkpoint_id=checkpoint_id,
        parent_id=parent_id,
        step=step,
        values=dict(values),
        changed=dict(changed) if changed is not None else {k: None for k in values},
        next=next if next is not None else [],
        metadata=metadata if metadata is not None else {"step": step},
        created_at=f"2024-01-01T00:00:{step % 60:02d}+00:00",
        pending=pending,
        tasks=tasks,
    )


@dataclass(frozen=True)
class Point:
    """A module-level dataclass, as users store in state."""

    x: int
    y: Decimal
    label: str = ""


@dataclass
class Track:
    """A dataclass holding other supported values, including another dataclass."""

    name: str
    points: list[Point]
    started: dt.datetime
    tags: set[str] = field(default_factory=set)


class Reading(BaseModel):
    """A module-level pydantic model."""

    sensor: str
    value: Decimal
    taken: dt.datetime
    raw: bytes = b""
    history: list[int] = []


class DeclaresValueTypes(TypedDict):
    """A state schema naming the classes above: checkpoints restore only the dataclasses
    and models that a graph's state schema declares (docs/checkpoints.md)."""

    point: Point
    track: Track
    reading: Reading


StateGraph(DeclaresValueTypes)
