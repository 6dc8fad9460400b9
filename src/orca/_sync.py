"""The thin sync face: run Orca's async core from plain synchronous code."""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")
_local = threading.local()


def _runner() -> asyncio.Runner:
    runner: asyncio.Runner | None = getattr(_local, "runner", None)
    if runner is None:
        runner = asyncio.Runner()
        _local.runner = runner
        if threading.current_thread() is threading.main_thread():
            atexit.register(runner.close)
    return runner


def _check_no_loop(name: str) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return
    raise RuntimeError(
        f"{name}() cannot run inside a running event loop. Fix: from async code use "
        "await graph.ainvoke(...) or async for ... in graph.astream(...), or call "
        f"{name}() from a thread without a running loop"
    )


def run_sync(name: str, coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on this thread's private event loop."""
    try:
        _check_no_loop(name)
    except RuntimeError:
        coro.close()
        raise
    # the caller's context (a correlation id, an active span), not the one the thread's
    # runner copied at its first run
    return _runner().run(coro, context=contextvars.copy_context())


def iterate_sync(name: str, agen: AsyncIterator[T]) -> Iterator[T]:
    """Iterate an async iterator from sync code on this thread's private event loop."""
    _check_no_loop(name)
    runner = _runner()

    async def next_item() -> T:
        return await agen.__anext__()

    try:
        while True:
            try:
                yield runner.run(next_item(), context=contextvars.copy_context())
            except StopAsyncIteration:
                return
    finally:
        close = getattr(agen, "aclose", None)
        if close is not None:
            runner.run(close())


# Sync calls from a thread that already runs an event loop (a sync node run inline by the
# engine) go to this pool, whose threads have no loop of their own.
_handoff = ThreadPoolExecutor(max_workers=4, thread_name_prefix="orca-handoff")


def off_loop(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` on a thread without an event loop, waited for here."""
    return _handoff.submit(fn, *args, **kwargs).result()
