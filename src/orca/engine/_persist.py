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
    """Hands a run's checkpoints, pending writes and events to the store, in order, on one
    writer thread of the run's own: the store's blocking I/O never runs on the event
    loop's thread, so a slow disk stalls no other run.

    ``sync``: each commit is done before the next step starts (``settle``). ``async``:
    commits overlap the next step, still in order; a failed one surfaces at the next
    hand-over. ``exit``: only the latest checkpoint is kept in memory and committed when
    the run stops (done, failed or paused).

    ``private_loop``: the loop is the one a sync ``invoke`` made for this run alone, and
    runs nothing else; ``sync`` commits then run on it directly, sparing two thread
    switches per step (the commit is waited for either way)."""

    def __init__(
        self, store: Checkpointer, durability: Durability, *, private_loop: bool = False
    ) -> None:
        self.store = store
        self.durability = durability
        self.direct = private_loop and durability == "sync"
        self._writer: ThreadPoolExecutor | None = None
        self._inflight: list[Future[None]] = []
        self.held: CheckpointSave | None = None

    def put(self, save: CheckpointSave) -> None:
        if self.direct:
            self.store.put(save)
            return
        if self.durability != "exit":
            self._submit(self.store.put, save)
            return
        if self.held is not None and self.held.events:  # the replaced save's events stay
            save = replace(save, events=[*self.held.events, *save.events])
        self.held = save

    def put_events(self, events: Sequence[Any]) -> None:
        """Log events outside a checkpoint, in order with the saves before them."""
        self._submit(self.store.put_events, list(events))

    def put_pending(
        self, thread_id: str, checkpoint_id: str, writes: Sequence[PendingWrite]
    ) -> None:
        self._release_held()
        self._submit(self.store.put_pending, thread_id, checkpoint_id, writes)

    def _submit(self, fn: Any, *args: Any) -> None:
        if self.direct:
            fn(*args)
            return
        # surface a failed commit at the next hand-over rather than at the end
        while self._inflight and self._inflight[0].done():
            self._inflight.pop(0).result()
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orca-writer")
        self._inflight.append(self._writer.submit(fn, *args))

    def _release_held(self) -> None:
        if self.held is not None:
            save, self.held = self.held, None
            self._submit(self.store.put, save)

    async def settle(self) -> None:
        """Under ``sync`` durability: wait until what was handed over is committed;
        re-raises a store error."""
        if self.durability == "sync":
            await self._wait()

    async def _wait(self) -> None:
        while self._inflight:
            await asyncio.wrap_future(self._inflight[0])
            self._inflight.pop(0)

    async def flush(self) -> None:
        """Wait until everything handed over is committed; re-raises a store error."""
        self._release_held()
        try:
            await self._wait()
        finally:
            if self._writer is not None and not self._inflight:
                self._writer.shutdown(wait=False)
                self._writer = None
