"""Keeps the ledger holds of a meter's calls in flight alive while they run.

A hold expires when it is not renewed for the ledger's ``hold_ttl_s``; its holder renews
it every third of that while the call runs, so that only the holds of holders that died
expire. The renewals run on a thread of their own, not on the event loop: a loop busy
with a sync node or a slow import for longer than a TTL must not cost a live call its
hold, and a process that is alive is a holder that is alive. A call shorter than a
third of the TTL is added and removed without a single store write; the thread sleeps
until the first renewal is due and ends when it has had nothing to renew for a while.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orca.cost import Hold
    from orca.store import LedgerRepository

log = logging.getLogger("orca.llm")

IDLE_S = 5.0
"""How long the renewal thread waits with nothing to renew before it ends."""


class Renewer:
    """The holds of calls in flight, each renewed every third of its ledger's TTL until
    it is removed (settled or released)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        # hold id -> (when its next renewal is due, on time.monotonic(); hold; ledger)
        self._due: dict[str, tuple[float, Hold, LedgerRepository]] = {}
        self._thread: threading.Thread | None = None
        self._wakes_at = 0.0  # when the thread wakes up next, if nobody wakes it sooner
        self._closed = False

    def add(self, ledger: LedgerRepository, hold: Hold) -> None:
        """Renew ``hold`` every third of ``ledger``'s TTL from now on, until removed."""
        due = time.monotonic() + ledger.hold_ttl_s / 3
        with self._cond:
            self._closed = False  # (a meter used again after it was closed)
            self._due[hold.id] = (due, hold, ledger)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="orca-hold-renewal", daemon=True
                )
                self._wakes_at = due
                self._thread.start()
            elif due < self._wakes_at:
                self._cond.notify()  # sleeping past this one's first renewal

    def remove(self, hold: Hold) -> None:
        """Stop renewing ``hold`` (its call settled or was released)."""
        with self._cond:
            self._due.pop(hold.id, None)

    def close(self) -> None:
        """Stop renewing every hold; the thread ends (a later ``add`` starts again)."""
        with self._cond:
            self._closed = True
            self._due.clear()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                due = self._next_due()
                if due is None:
                    return
            self._renew(due)

    def _next_due(self) -> list[tuple[Hold, LedgerRepository]] | None:
        """Wait (holding the condition) until renewals are due; None when the thread
        should end (closed, or idle too long)."""
        while not self._closed:
            now = time.monotonic()
            if not self._due:
                self._wakes_at = now + IDLE_S
                self._cond.wait(IDLE_S)
                if not self._due and time.monotonic() >= self._wakes_at:
                    break
                continue
            ready = [(hold, ledger) for at, hold, ledger in self._due.values() if at <= now]
            if ready:
                for hold, ledger in ready:  # the next one, counted from this renewal
                    self._due[hold.id] = (now + ledger.hold_ttl_s / 3, hold, ledger)
                return ready
            self._wakes_at = min(at for at, _, _ in self._due.values())
            self._cond.wait(self._wakes_at - now)
        self._thread = None
        return None

    def _renew(self, due: list[tuple[Hold, LedgerRepository]]) -> None:
        by_ledger: dict[int, tuple[LedgerRepository, list[Hold]]] = {}
        for hold, ledger in due:
            by_ledger.setdefault(id(ledger), (ledger, []))[1].append(hold)
        for ledger, holds in by_ledger.values():
            try:
                held = set(ledger.renew(holds))
            except Exception:  # a busy or closed database: the next renewal tries again
                log.warning("renewing the holds of running calls failed", exc_info=True)
                continue
            with self._cond:  # (a hold settled meanwhile is not held, and not lost)
                lost = [h.id for h in holds if h.id not in held and h.id in self._due]
                for hold_id in lost:
                    self._due.pop(hold_id)
            if lost:
                # swept, and the budgets could not take them again: their settle checks
                # the budget (and records any overdraft); renewing them is over
                log.warning("holds of running calls expired: %s", ", ".join(lost))
