"""The emitter: builds events only when someone listens, numbers them, and masks the
credentials they carry before anyone sees them."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from orca._redact import redact_secrets
from orca.checkpoint import EventRecord
from orca.events import TOKEN, Event
from orca.observe._core import Observer, log


class Emitter:
    """Delivers the events whose types are ``wanted`` to ``sink`` and those each observer
    asks for to it, on the loop's thread, and appends those of the ``logged`` types to
    ``log`` as ``EventRecord``s (no event object is built for the log alone)."""

    def __init__(
        self,
        run_id: str,
        thread_id: str,
        wanted: frozenset[str],
        sink: Callable[[Event], None] | None,
        *,
        log: list[EventRecord] | None = None,
        logged: frozenset[str] = frozenset(),
        observers: Sequence[Observer] = (),
        first_seq: int = 0,
    ) -> None:
        self.run_id = run_id
        self.thread_id = thread_id
        self.wanted = wanted
        self._sink = sink
        self.log = log
        self._logged = logged if log is not None else frozenset()
        self._observers = tuple(observers)
        self._built = wanted.union(*(o.types for o in self._observers))
        self._any = self._built | self._logged
        self._seq = first_seq
        self.handed_over = 0  # events sent from other threads, delivered by the loop later
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()

    @property
    def sink(self) -> Callable[[Event], None] | None:
        """Where the wanted events go (a subgraph's run streams there too)."""
        return self._sink

    def wants(self, cls: type[Event]) -> bool:
        return cls.type in self._any

    def skip(self) -> None:
        """An event nobody wants was not built: it still takes its place in ``seq``, so
        that the numbering is the same whoever listens (tokens aside: they are numbered
        only when someone streams them)."""
        if threading.get_ident() != self._thread:
            self._hand_over(self._bump)
        else:
            self._seq += 1

    def _hand_over(self, fn: Callable[..., None], *args: Any) -> None:
        """From another thread: ``fn`` runs on the loop's thread, in order. A thread that
        outlived its run (a timed-out sync node) finds the loop closed: what it emits
        then is dropped."""
        self.handed_over += 1
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(fn, *args)

    def _bump(self) -> None:
        self._seq += 1

    def emit(
        self, cls: type[Event], step: int, log_fields: dict[str, Any] | None = None, **fields: Any
    ) -> None:
        """``log_fields`` replace some of ``fields`` in the event log only (the whole
        value where listeners see it redacted: the log keeps what checkpoints keep).
        Credentials in the event's ``redacted`` fields are masked in both before the
        event goes anywhere."""
        if cls.type not in self._any:
            if cls.type != TOKEN:
                self.skip()
            return
        if threading.get_ident() != self._thread:
            self._hand_over(self._deliver, cls, step, fields, log_fields)
        else:
            self._deliver(cls, step, fields, log_fields)

    def _deliver(
        self,
        cls: type[Event],
        step: int,
        fields: dict[str, Any],
        log_fields: dict[str, Any] | None = None,
    ) -> None:
        seq, ts = self._seq, time.time()
        self._seq += 1
        if cls.redacted:  # once, here: live listeners, observers and the log agree
            fields = _redacted(fields, cls.redacted)
            if log_fields is not None:
                log_fields = _redacted(log_fields, cls.redacted)
        if self.log is not None and cls.type in self._logged:
            kept = fields if log_fields is None else {**fields, **log_fields}
            self.log.append(EventRecord(cls.type, self.run_id, self.thread_id, step, seq, ts, kept))
        if cls.type not in self._built:
            return
        event = cls(run_id=self.run_id, thread_id=self.thread_id, step=step, seq=seq, ts=ts,
                    **fields)  # fmt: skip
        if self._sink is not None and cls.type in self.wanted:
            self._sink(event)
        for observer in self._observers:
            if cls.type in observer.types:
                try:
                    observer(event)
                except Exception:
                    self._observers = tuple(o for o in self._observers if o is not observer)
                    log.exception("observer %r failed on %s; dropped for run %s", observer,
                                  cls.type, self.run_id)  # fmt: skip


def _redacted(fields: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """``fields`` with the credentials in ``names`` masked; the same dict when none."""
    out = fields
    for name in names:
        if name in fields:
            value = fields[name]
            masked = redact_secrets(value)
            if masked is not value:
                if out is fields:
                    out = dict(fields)
                out[name] = masked
    return out
