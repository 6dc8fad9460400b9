"""Observers: who gets a run's events live, besides the caller's stream."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from orca.events import Event

log = logging.getLogger("orca")
log.addHandler(logging.NullHandler())  # a library prints nothing unless the app asks


@dataclass(frozen=True, slots=True)
class RunInfo:
    """The run an observer watches. ``correlation_id`` ties it to the request or command
    that started it (``correlation``), else it is the run id."""

    run_id: str
    thread_id: str
    graph: str
    correlation_id: str


@runtime_checkable
class Observer(Protocol):
    """Gets the events of one run whose types are in ``types``, in order, on the run's
    event-loop thread. It must be quick and must not raise (an error is logged once and
    the observer dropped; the run goes on)."""

    types: frozenset[str]

    def __call__(self, event: Event, /) -> None: ...


ObserverFactory = Callable[[RunInfo], Observer | None]

_factories: list[ObserverFactory] = []
_lock = threading.Lock()
_correlation: ContextVar[str | None] = ContextVar("orca_correlation", default=None)


def add_observer(factory: ObserverFactory) -> Callable[[], None]:
    """Call ``factory(RunInfo)`` at the start of every run from now on; it returns an
    ``Observer`` for that run, or None to sit it out. Returns a function that removes it."""
    with _lock:
        _factories.append(factory)

    def remove() -> None:
        with _lock:
            if factory in _factories:
                _factories.remove(factory)

    return remove


def observers_for(info: RunInfo) -> list[Observer]:
    """The observers of one run (those whose factory returned one)."""
    with _lock:
        factories = list(_factories)
    found: list[Observer] = []
    for factory in factories:
        try:
            observer = factory(info)
            wanted = observer is not None and bool(observer.types)
        except Exception:  # a broken factory or observer costs its run nothing else
            log.exception(
                "observer factory %r failed; run %s goes on without it", factory, info.run_id
            )
            continue
        if wanted and observer is not None:
            found.append(observer)
    return found


@contextlib.contextmanager
def correlation(correlation_id: str) -> Iterator[str]:
    """Runs started inside this block carry ``correlation_id`` in their logs and spans."""
    token = _correlation.set(correlation_id)
    try:
        yield correlation_id
    finally:
        _correlation.reset(token)


def current_correlation() -> str | None:
    return _correlation.get()
