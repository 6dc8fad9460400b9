"""What every server-sent event stream of the server shares: heartbeats while nothing
happens, so that proxies keep the connection."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any, TypeVar

T = TypeVar("T")

HEARTBEAT_S = 15.0
KEEP_ALIVE = b": keep-alive\n\n"
"""An SSE comment: a client ignores it, a proxy sees the connection in use."""


async def with_heartbeats(source: AsyncIterable[T]) -> AsyncIterator[T | None]:
    """``source``'s items, and None each time ``HEARTBEAT_S`` pass without one (the
    stream writes ``KEEP_ALIVE`` then). Closed early, it stops waiting for ``source``."""
    iterator = source.__aiter__()
    pending: asyncio.Future[Any] | None = None
    try:
        while True:
            pending = pending or asyncio.ensure_future(iterator.__anext__())
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_S)
            if not done:
                yield None
                continue
            try:
                item = pending.result()
            except StopAsyncIteration:
                return
            pending = None
            yield item
    finally:
        if pending is not None:
            pending.cancel()
