"""``RunHandle``: a run in progress, to await, stream and cancel from outside it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from orca.engine._loop import Run, RunOutcome
from orca.errors import InvalidInputError, RunCancelledError
from orca.events import Event

_DONE = object()


class RunHandle:
    """A run started with ``await graph.start(input, ...)``.

    ``await handle.result()`` gives what ``ainvoke`` returns; ``async for event in
    handle.events()`` streams the events of the modes it was started with (once: one
    reader); ``handle.cancel()`` stops it (cooperatively and promptly: async nodes are
    cancelled where they wait, sync nodes see ``ctx.cancelled``), and the run is recorded
    as ``cancelled`` in its ``run.finished`` event and its record.

    ``invoke``, ``stream`` and their async twins are built on it, so every run, from the
    library, the CLI or a server, goes through one path.
    """

    def __init__(self, run: Run, input: Any, *, streaming: bool) -> None:
        self._run = run
        self._queue: asyncio.Queue[Any] | None = asyncio.Queue() if streaming else None
        if streaming:
            run.sink = self._queue.put_nowait  # type: ignore[union-attr]
        loop = asyncio.get_running_loop()
        self._started: asyncio.Future[None] = loop.create_future()
        run.on_start = self._on_start
        self._read = False
        self._task: asyncio.Task[RunOutcome] = asyncio.ensure_future(self._drive(input))

    def __repr__(self) -> str:
        state = "done" if self._task.done() else "running"
        return f"<RunHandle {self.run_id or '?'} thread={self.thread_id!r} {state}>"

    @property
    def run_id(self) -> str:
        """The run's id (known once ``start`` has returned)."""
        return self._run.run_id

    @property
    def thread_id(self) -> str:
        return self._run.opts.thread_id

    def done(self) -> bool:
        """Whether the run has stopped (done, paused, failed or cancelled)."""
        return self._task.done()

    def _on_start(self) -> None:
        if not self._started.done():
            self._started.set_result(None)

    async def _drive(self, input: Any) -> RunOutcome:
        try:
            return await self._run.execute(input)
        finally:
            self._on_start()
            if self._queue is not None:
                self._queue.put_nowait(_DONE)

    async def _wait_started(self) -> None:
        """Until the run has begun; raises what stopped it before it began (bad input, a
        busy thread)."""
        either: list[asyncio.Future[Any]] = [self._started, self._task]
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if self._task.done() and not self._task.cancelled() and self._task.exception():
            self._task.result()

    def cancel(self) -> None:
        """Stop the run. ``result()`` then raises ``RunCancelledError``; what the run
        committed stays, and its event log and record say ``cancelled``."""
        if self._task.done():
            return
        self._run.cancelled.set()
        self._task.cancel()

    async def result(self) -> dict[str, Any]:
        """The run's state values when it stops (with ``"__interrupt__"`` when it paused).

        Raises:
            RunCancelledError: the run was cancelled.
            NodeError, StepLimitError, ...: what the run failed with.
        """
        try:
            outcome = await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if self._task.cancelled():  # the run was cancelled, not whoever awaits it
                raise RunCancelledError(f"run {self.run_id} was cancelled") from None
            raise
        values = dict(outcome.values)
        if outcome.interrupts:
            values["__interrupt__"] = list(outcome.interrupts)
        return values

    async def events(self) -> AsyncIterator[Event]:
        """The run's events as they happen, then the run's error if it failed.

        Raises:
            InvalidInputError: the run was started without ``mode=``.
        """
        queue = self._queue
        if queue is None:
            raise InvalidInputError(
                "this run was started without a stream mode. Fix: start(..., mode='events')"
            )
        if self._read:
            raise InvalidInputError(
                "the run's events are being read already. Fix: read them once, in one place"
            )
        self._read = True
        while True:
            item = await queue.get()
            if item is _DONE:
                break
            yield item
        await self.result()

    async def stop(self) -> None:
        """Cancel the run if it still runs, and wait until it has stopped."""
        self.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
