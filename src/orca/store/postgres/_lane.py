"""An ordered lane for a repository's async twins: calls run one at a time, off the event
loop, in the order they were made (the ``Checkpointer`` protocol's promise, which
``PgDb.submit``'s threads, running calls side by side, do not keep)."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

_NAME = "orca-pg-lane"


class Lane:
    """One worker thread, started on first use.

    Args:
        refused: the error a call gets when the lane was closed before it ran, given
            when ("after it was closed", "before this call ran").
    """

    def __init__(self, refused: Callable[[str], BaseException]) -> None:
        self._refused = refused
        self._closed = False
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> asyncio.Future[T]:
        """Queue ``fn(*args, **kwargs)`` now; a future of its result on the running loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            if not self._closed:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(1, thread_name_prefix=_NAME)
                call = functools.partial(self._run, fn, *args, **kwargs)
                return loop.run_in_executor(self._executor, call)
        future: asyncio.Future[T] = loop.create_future()
        future.set_exception(self._refused("after it was closed"))
        return future

    def _run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        if self._closed:  # close() came while this call waited its turn
            raise self._refused("before this call ran")
        return fn(*args, **kwargs)

    def close(self) -> None:
        """Refuse what is queued and what comes; wait for the call running to finish
        (unless called from that call)."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=not threading.current_thread().name.startswith(_NAME))
