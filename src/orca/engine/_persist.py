"""Hands checkpoints to the store according to the run's durability mode."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Literal

from orca.checkpoint import Checkpointer, CheckpointSave, PendingWrite

Durability = Literal["sync", "async", "exit"]
DURABILITY_MODES: tuple[Durability, ...] = ("sync", "async", "exit")


class Persister:
    """``sync``: commit before the next step starts. ``async``: commit on one writer thread,
    overlapped with the next step, still in order. ``exit``: keep only the latest
    checkpoint in memory and commit it when the run stops (done, failed or paused)."""

    def __init__(self, store: Checkpointer, durability: Durability) -> None:
        self.store = store
        self.durability = durability
        self._writer: ThreadPoolExecutor | None = None
        self._inflight: list[Future[None]] = []
        self.held: CheckpointSave | None = None

    def put(self, save: CheckpointSave) -> None:
        if self.durability == "sync":
            self.store.put(save)
        elif self.durability == "async":
            self._submit(self.store.put, save)
        else:
            if self.held is not None and self.held.events:  # the replaced save's events stay
                save = replace(save, events=[*self.held.events, *save.events])
            self.held = save

    def put_events(self, events: Sequence[Any]) -> None:
        """Log events outside a checkpoint, in order with the saves before them."""
        if self.durability == "async":
            self._submit(self.store.put_events, list(events))
        else:
            self.store.put_events(list(events))

    def put_pending(
        self, thread_id: str, checkpoint_id: str, writes: Sequence[PendingWrite]
    ) -> None:
        self._release_held()
        if self.durability == "async":
            self._submit(self.store.put_pending, thread_id, checkpoint_id, writes)
        else:
            self.store.put_pending(thread_id, checkpoint_id, writes)

    def _submit(self, fn: object, *args: object) -> None:
        # surface a failed commit at the next step rather than at the end
        while self._inflight and self._inflight[0].done():
            self._inflight.pop(0).result()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orca-writer")
        self._inflight.append(self._writer.submit(fn, *args))  # type: ignore[arg-type]

    def _release_held(self) -> None:
        if self.held is not None:
            save, self.held = self.held, None
            self.store.put(save)

    async def flush(self) -> None:
        """Wait until everything handed over is committed; re-raises a store error."""
        self._release_held()
        if self._writer is not None:
            inflight, writer = self._inflight, self._writer
            self._writer, self._inflight = None, []
            writer.shutdown(wait=False)
            for future in inflight:
                await asyncio.wrap_future(future)
