"""Waiting out a store that went away, for the writes that must not be lost.

A paid call's settlement and its call record are written after the money is spent: if
the database server is restarting just then, giving up would lose the charge (and let a
resumed run pay for the call again). ``patiently`` retries such a write while the store
is unavailable, with growing pauses, for up to ``STORE_PATIENCE_S``. Only idempotent
writes go through it (a settle is keyed by its hold, a call record by its call), so a
retry after a commit whose answer was lost changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from orca.errors import StoreUnavailableError

T = TypeVar("T")

STORE_PATIENCE_S = 60.0
"""How long an idempotent write waits for its store to come back."""

log = logging.getLogger("orca.store")


async def patiently(
    write: Callable[[], Awaitable[T]], what: str, *, patience_s: float = STORE_PATIENCE_S
) -> T:
    """``await write()``, again while it raises ``StoreUnavailableError`` (pauses from
    0.1 s doubling to 2 s), until ``patience_s`` has passed; then the last error."""
    deadline = time.monotonic() + patience_s
    pause = 0.1
    while True:
        try:
            return await write()
        except StoreUnavailableError as exc:
            if time.monotonic() + pause > deadline:
                raise
            log.warning("%s: the store is unavailable, retrying in %.1f s (%s)", what, pause, exc)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 2.0)


def lost_store(error: BaseException | None) -> bool:
    """Whether ``error`` (or what caused it) is a store that went away: the run that
    raised it stopped as if its process had died, and resumes from its last checkpoint."""
    seen = 0
    while error is not None and seen < 16:
        if isinstance(error, StoreUnavailableError):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False
