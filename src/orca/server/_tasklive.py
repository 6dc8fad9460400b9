"""One LLM task this server holds: its stream as readers follow it, and the cancel that
no token passes.

Race-free cancel, by construction: every event enters the stream through ``emit``, under
the task's lock, and a token is refused there once ``cancel`` (which takes the same lock)
has set ``cancelled``. So once ``cancel`` returns, no token is ever appended, and what is
stored is only ever taken from the stream (``unstored``)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson

from orca.store._tasks import StreamItem, TaskRecord

if TYPE_CHECKING:
    from orca.server._admission import Admission, Ticket

TERMINAL = frozenset({"end", "error"})


def to_json(value: Any) -> str:
    return orjson.dumps(value, default=repr).decode()


class LiveTask:
    """A task accepted by this server and not yet ended: its record as accepted, its
    admission ticket, and its stream so far."""

    def __init__(self, record: TaskRecord, ticket: Ticket) -> None:
        self.record = record
        self.ticket = ticket
        self.admission: Admission | None = None  # the queue it waits in (its pool's)
        self.admitted = ticket.admitted_at  # time.monotonic() when admitted
        self.items: list[StreamItem] = []
        self.stored = 0  # items[:stored] are in the store
        self.tokens = 0
        self.cancelled = False
        self.deadline_hit = False
        self.ended = False
        self._lock = threading.Lock()
        self._changed = asyncio.Event()
        self.finished = asyncio.Event()  # its end is stored: its record says how it ended
        self.closed = False  # the server stops: readers are let go
        self.runner: asyncio.Task[None] | None = None
        self.waiting: asyncio.Future[Any] | None = None  # what cancel interrupts
        self.flusher: asyncio.Task[None] | None = None

    @property
    def task_id(self) -> str:
        return self.record.task_id

    def emit(self, kind: str, data: dict[str, Any]) -> bool:
        """Append an event; False (and nothing appended) when the stream has ended, or
        for a token when the task is cancelled."""
        with self._lock:
            if self.ended or (kind == "token" and self.cancelled):
                return False
            if kind == "token":
                self.tokens += 1
            self.items.append((len(self.items), kind, to_json(data)))
            if kind in TERMINAL:
                self.ended = True
        self._changed.set()
        return True

    def cancel(self) -> tuple[bool, int]:
        """Refuse every later token; returns whether the task was still going and the
        tokens streamed (final: no token follows)."""
        with self._lock:
            going = not self.ended and not self.cancelled
            self.cancelled = True
            tokens = self.tokens
        if going and self.waiting is not None:
            self.waiting.cancel()
        return going, tokens

    def close_readers(self) -> None:
        """The server stops: every reader's stream ends where it is (a client resumes
        it from the log, with Last-Event-ID, once the server is back)."""
        self.closed = True
        self._changed.set()
        self.finished.set()

    def unstored(self) -> list[StreamItem]:
        """The events not yet stored (then counted as stored: the caller stores them)."""
        with self._lock:
            batch = self.items[self.stored :]
            self.stored = len(self.items)
        return batch

    async def follow(self, after: int) -> AsyncIterator[list[StreamItem]]:
        """The events after seq ``after``, live, until the terminal one: in batches of
        what has come since the last (a reader slower than the model is sent several
        tokens at once, not one write each)."""
        sent = after + 1
        while True:
            self._changed.clear()
            batch = self.items[sent : len(self.items)]
            sent += len(batch)
            end = next((n for n, item in enumerate(batch) if item[1] in TERMINAL), None)
            if end is not None:
                if end:
                    yield batch[:end]
                await self.finished.wait()  # who saw the end finds it in the record
                yield batch[end : end + 1]
                return
            if batch:
                yield batch
            if self.closed or (self.ended and sent >= len(self.items)):
                return
            if sent >= len(self.items):
                await self._changed.wait()
