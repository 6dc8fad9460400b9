"""Hands checkpoints to the store according to the run's durability mode."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal

from orca.checkpoint import Checkpointer, CheckpointSave, EventRecord, PendingWrite
from orca.events import RUN_STARTED

Durability = Literal["sync", "async", "exit"]
DURABILITY_MODES: tuple[Durability, ...] = ("sync", "async", "exit")


class Persister:
    """Hands a run's checkpoints, pending writes and events to the store's async methods,
    which apply them in order off the event loop's thread: a slow disk stalls no other
    run.

    ``sync``: each commit is done before the next step starts (``settle``). ``async``:
    commits overlap the next step, still in order, and the writer is never more than
    one step behind (``settle`` waits for all but the last hand-over: back-pressure on a
    store slower than the steps); a failed one surfaces at the next hand-over.
    ``exit``: only the latest checkpoint is kept in memory and committed when the run
    stops (done, failed or paused).

    ``private_loop``: the loop is the one a sync ``invoke`` made for this run alone, and
    runs nothing else; ``sync`` commits then run on it directly, sparing two thread
    switches per step (the commit is waited for either way)."""

    def __init__(
        self, store: Checkpointer, durability: Durability, *, private_loop: bool = False
    ) -> None:
        self.store = store
        self.durability = durability
        self.direct = private_loop and durability == "sync"
        self._inflight: list[Awaitable[None]] = []
        self.held: CheckpointSave | None = None

    def put(self, save: CheckpointSave) -> None:
        if self.durability != "exit":
            self._submit(self.store.put, self.store.aput, save)
            return
        if self.held is not None and self.held.events:  # the replaced save's events stay
            save = replace(save, events=[*self.held.events, *save.events])
        self.held = save

    def put_events(self, events: Sequence[Any]) -> None:
        """Log events outside a checkpoint, in order with the saves before them."""
        self._submit(self.store.put_events, self.store.aput_events, list(events))

    def put_pending(
        self, thread_id: str, checkpoint_id: str, writes: Sequence[PendingWrite]
    ) -> None:
        self._release_held()
        store = self.store
        self._submit(store.put_pending, store.aput_pending, thread_id, checkpoint_id, writes)

    def _submit(
        self,
        sync: Callable[..., None],
        asynchronous: Callable[..., Awaitable[None]],
        *args: Any,
    ) -> None:
        """Hand ``args`` to one of the store's async methods (``aput``, ...): the store
        applies calls in the order they were made, off the loop's thread. On the private
        loop, the sync twin runs here and now."""
        if self.direct:
            sync(*args)
            return
        # surface a failed commit at the next hand-over rather than at the end
        while self._inflight and _failed_or_done(self._inflight[0]):
            self._inflight.pop(0)
        self._inflight.append(asynchronous(*args))

    def _release_held(self) -> None:
        if self.held is not None:
            save, self.held = self.held, None
            self._submit(self.store.put, self.store.aput, save)

    async def settle(self) -> None:
        """At the end of a step. ``sync``: wait until what was handed over is committed.
        ``async``: wait until at most the last hand-over (this step's) is still to
        commit. Re-raises a store error."""
        if self.durability == "sync":
            await self._wait()
        elif self.durability == "async":
            await self._wait(keep=1)

    async def _wait(self, keep: int = 0) -> None:
        while len(self._inflight) > keep:
            # shielded: a run cancelled while it waits must not cancel the commit itself,
            # which the run's shutdown then waits for again
            await asyncio.shield(self._inflight[0])
            self._inflight.pop(0)

    async def flush(self) -> None:
        """Wait until everything handed over is committed; re-raises a store error."""
        self._release_held()
        await self._wait()


def _failed_or_done(call: Awaitable[None]) -> bool:
    """Whether a handed-over call has finished; raises its error if it failed."""
    if isinstance(call, asyncio.Future) and call.done():
        call.result()
        return True
    return False


INPUT_INLINE_BYTES = 1024
"""An input value larger than this (roughly) that the state holds as given is logged in
``run.started`` by reference: it is stored once, in the input checkpoint."""


def log_input_once(
    logged: list[EventRecord], run_id: str, values: Mapping[str, Any], given: Any
) -> None:
    """Rewrite the logged ``run.started`` of ``run_id`` so that the input values ``given``
    that the input checkpoint holds as they are (the same objects: written, not reduced)
    and that are large, or that held a credential (the log has them masked), are named
    in ``input_in_state`` instead of copied into the log. ``orca.replay`` reads them back
    from that checkpoint (the first of the run, ``source: input``), whole."""
    for i, record in enumerate(logged):
        if record.type != RUN_STARTED or record.run_id != run_id:
            continue
        shown = record.fields.get("input")
        if not isinstance(shown, dict) or not isinstance(given, dict):
            return
        moved = sorted(
            k
            for k, v in given.items()
            if k in values
            and values[k] is v
            and (shown.get(k) is not v or _weighs_more_than(v, INPUT_INLINE_BYTES))
        )
        if moved:
            kept = {k: v for k, v in shown.items() if k not in moved}
            fields = {**record.fields, "input": kept, "input_in_state": moved}
            logged[i] = record._replace(fields=fields)
        return


def _weighs_more_than(value: Any, limit: int) -> bool:
    """Whether ``value`` holds more than about ``limit`` bytes of content; walks at most
    ``limit`` items, so it costs little whatever the size."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str | bytes | bytearray):
            total += len(item)
        elif isinstance(item, Mapping):
            total += len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            total += len(item)
            stack.extend(item)
        else:
            total += 8
        if total > limit:
            return True
    return False
