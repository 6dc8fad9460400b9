"""Admission control: a bounded number of things running at once, bounded FIFO queues
in front of them (interactive before batch), and a clear refusal when both are full.

One ``Admission`` per kind of work (runs, LLM tasks). It decides *when* work starts and
predicts *how long* queued work will wait; it keeps nothing durable: its owners store
the work they accepted (a run's record says ``queued``) and admit it again at start-up.

Tenants share it fairly: a free slot goes to the tenant running the fewest, and each
tenant may hold at most its share of the slots and of the queue (``tenant_max_running``,
``tenant_max_queued``), so one tenant's flood neither starves another's work nor fills
the queue against it.

Predictions come from measured service times: each released ticket's running time feeds
a moving average, and a queued ticket's start is simulated over the running tickets'
expected ends and the tickets ahead of it (``predicted_start_ms``).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Literal

from orca.errors import OrcaError

Priority = Literal["interactive", "batch"]
PRIORITIES: tuple[Priority, ...] = ("interactive", "batch")
Policy = Literal["reject", "drop-lru", "shed-low-priority"]
POLICIES: tuple[Policy, ...] = ("reject", "drop-lru", "shed-low-priority")

_SMOOTHING = 0.2  # weight of the newest service time in the moving average


class Overloaded(OrcaError):
    """The work was not accepted: what runs and what waits are both at their bounds.
    Nothing was stored; send it again after ``retry_after_ms``."""

    def __init__(self, queue: str, policy: str, retry_after_ms: int, depth: int) -> None:
        self.queue = queue
        self.policy = policy
        self.retry_after_ms = retry_after_ms
        self.depth = depth
        super().__init__(
            f"the {queue} queue is full ({depth} waiting). Fix: retry after "
            f"{retry_after_ms} ms, or send fewer at once"
        )


class Evicted(OrcaError):
    """A queued ticket gave its place to newer or more urgent work (``drop-lru``,
    ``shed-low-priority``)."""

    def __init__(self, queue: str, policy: str) -> None:
        self.queue = queue
        self.policy = policy
        super().__init__(
            f"dropped from the {queue} queue by the {policy} policy to admit other work. "
            "Fix: send it again later, or at interactive priority"
        )


@dataclass(eq=False)
class Ticket:
    """One piece of work's place: queued, then running, then released."""

    key: str
    priority: Priority
    admitted_at: float
    tenant: str = "default"
    queue_position: int = 0
    """Tickets ahead of it when admitted (0: it started at once)."""
    predicted_start_ms: int = 0
    backoff_ms: int = 0
    """How long the client should wait before sending more (0: no pressure)."""
    started_at: float | None = None
    granted: asyncio.Future[None] = field(default_factory=lambda: _future())
    """Set when it may run; set to ``Evicted`` when it lost its place."""

    @property
    def running(self) -> bool:
        return self.started_at is not None


def _future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


class Admission:
    """At most ``max_running`` tickets run; at most ``max_queued`` wait (both queues
    together). When full, ``policy`` says what gives:

    - ``reject``: the new work is refused (``Overloaded``, an HTTP 429);
    - ``drop-lru``: the ticket of the same priority that has waited longest is evicted
      to make room (refused when that queue is empty);
    - ``shed-low-priority``: interactive work evicts the batch ticket that has waited
      least; batch work is refused.
    """

    def __init__(
        self,
        name: str,
        *,
        max_running: int,
        max_queued: int,
        policy: Policy = "reject",
        service_ms: float = 1000.0,
        tenant_max_running: int | None = None,
        tenant_max_queued: int | None = None,
    ) -> None:
        if max_running < 1 or max_queued < 0:
            raise ValueError(f"{name}: max_running must be >= 1 and max_queued >= 0")
        if (tenant_max_running is not None and tenant_max_running < 1) or (
            tenant_max_queued is not None and tenant_max_queued < 0
        ):
            raise ValueError(f"{name}: a tenant's max_running must be >= 1, max_queued >= 0")
        if policy not in POLICIES:
            raise ValueError(f"{name}: policy {policy!r} is not one of {', '.join(POLICIES)}")
        self.name = name
        self.max_running = max_running
        self.max_queued = max_queued
        # one tenant's share at most (None: the whole): its flood cannot fill the queue
        # or every slot, and a free slot goes to the tenant running the fewest
        self.tenant_max_running = tenant_max_running or max_running
        self.tenant_max_queued = max_queued if tenant_max_queued is None else tenant_max_queued
        self.policy = policy
        self.service_ms = service_ms
        """The moving average of measured service times (the prior until one is)."""
        self.measured = 0
        self._queues: dict[Priority, OrderedDict[int, Ticket]] = {
            p: OrderedDict() for p in PRIORITIES
        }
        self._running: dict[int, Ticket] = {}
        self.rejected = 0
        self._metrics = _admission_metrics()

    # -- the state ---------------------------------------------------------------------

    @property
    def depth(self) -> int:
        return sum(len(q) for q in self._queues.values())

    @property
    def running(self) -> int:
        return len(self._running)

    def snapshot(self) -> dict[str, Any]:
        """Where the queue stands, for ``/v1/capabilities``, metrics frames and tests."""
        return {
            "queue": self.name,
            "running": self.running,
            "max_running": self.max_running,
            "queue_depth": {p: len(q) for p, q in self._queues.items()},
            "max_queued": self.max_queued,
            "policy": self.policy,
            "mean_service_ms": round(self.service_ms, 3),
            "rejected": self.rejected,
        }

    def resize(self, max_running: int) -> None:
        """Change how many tickets may run (a pool's ready slots: 0 while none is
        ready, when tickets wait); more room starts queued tickets at once, less lets
        the running ones finish."""
        if max_running < 0:
            raise ValueError(f"{self.name}: max_running must be >= 0")
        grew = max_running > self.max_running
        self.max_running = max_running
        self.tenant_max_running = max(max_running, 1)
        if grew:
            self._fill()

    def refuse_waiting(self, error: Exception) -> int:
        """End every queued ticket with ``error`` (what they waited for is gone: a pool
        that stopped); returns how many. Running tickets are not touched."""
        refused = 0
        for queue in self._queues.values():
            for ticket in list(queue.values()):
                del queue[id(ticket)]
                if not ticket.granted.done():
                    ticket.granted.set_exception(error)
                    ticket.granted.exception()  # its owner may have stopped listening
                refused += 1
        self._gauges()
        return refused

    # -- admitting ---------------------------------------------------------------------

    def admit(
        self, key: str, priority: Priority = "interactive", tenant: str = "default"
    ) -> Ticket:
        """A place for ``key`` of ``tenant``: running at once when a slot is free and
        nobody it would overtake waits, else at the back of its priority's queue.

        Raises:
            ValueError: ``priority`` is not interactive or batch.
            Overloaded: both bounds are reached and the policy keeps what is queued, or
                the tenant has its whole share of the queue waiting.
        """
        if priority not in PRIORITIES:
            raise ValueError(f"priority {priority!r} is not one of {', '.join(PRIORITIES)}")
        ticket = Ticket(key, priority, time.monotonic(), tenant)
        mine = sum(1 for t in self._running.values() if t.tenant == tenant)
        if (
            self.running < self.max_running
            and mine < self.tenant_max_running
            and not any(self._startable(t) for q in self._queues.values() for t in q.values())
        ):
            self._start(ticket)
            return ticket
        waiting = sum(1 for q in self._queues.values() for t in q.values() if t.tenant == tenant)
        if self.tenant_max_queued < self.max_queued and waiting >= self.tenant_max_queued:
            self.rejected += 1
            self._metrics.rejected.labels(self.name, self.policy).inc()
            raise Overloaded(f"tenant's {self.name}", self.policy, self.slot_ms(), waiting)
        if self.depth >= self.max_queued:
            self._make_room(priority)
        ahead = self._ahead(priority)
        self._queues[priority][id(ticket)] = ticket
        ticket.queue_position = len(ahead)
        ticket.predicted_start_ms = self._predict(len(ahead) + 1)
        fill = self.depth / self.max_queued if self.max_queued else 1.0
        ticket.backoff_ms = self.slot_ms() if fill >= 0.5 else 0
        self._gauges()
        return ticket

    def _make_room(self, priority: Priority) -> None:
        victim: Ticket | None = None
        if self.policy == "drop-lru" and self._queues[priority]:
            victim = next(iter(self._queues[priority].values()))
        elif (
            self.policy == "shed-low-priority"
            and priority == "interactive"
            and self._queues["batch"]
        ):
            victim = next(reversed(self._queues["batch"].values()))
        if victim is None:
            self.rejected += 1
            self._metrics.rejected.labels(self.name, self.policy).inc()
            raise Overloaded(self.name, self.policy, self.slot_ms(), self.depth)
        del self._queues[victim.priority][id(victim)]
        self._metrics.evicted.labels(self.name, self.policy).inc()
        if not victim.granted.done():
            victim.granted.set_exception(Evicted(self.name, self.policy))
            victim.granted.exception()  # its owner may have stopped listening

    def _ahead(self, priority: Priority) -> list[Ticket]:
        """The queued tickets that start before a new one of ``priority``."""
        order = PRIORITIES[: PRIORITIES.index(priority) + 1]
        return [t for p in order for t in self._queues[p].values()]

    def slot_ms(self) -> int:
        """About when the next slot frees: the mean service time over the slots."""
        return max(1, math.ceil(self.service_ms / max(self.max_running, 1)))

    def _predict(self, nth: int) -> int:
        """When the ``nth`` ticket in line (1 = next) starts, in ms from now: the slots
        free up as their running tickets reach the mean service time, and each started
        ticket holds its slot for the mean service time."""
        now = time.monotonic()
        mean = self.service_ms / 1000
        free = [
            max(0.0, t.started_at + mean - now)
            for t in self._running.values()
            if t.started_at is not None
        ]
        free += [0.0] * (self.max_running - len(free))
        if not free:  # no slot now (a pool whose replicas are starting): one, once it is
            free = [mean]
        heapq.heapify(free)
        at = 0.0
        for _ in range(nth):
            at = heapq.heappop(free)
            heapq.heappush(free, at + mean)
        return math.ceil(at * 1000)

    def predict_new(self, priority: Priority = "interactive") -> int:
        """When work of ``priority`` admitted now would start, in ms from now."""
        if self.running < self.max_running and not self.depth:
            return 0
        return self._predict(len(self._ahead(priority)) + 1)

    def position(self, ticket: Ticket) -> int:
        """Tickets ahead of a queued ``ticket`` now (0 when it runs)."""
        if ticket.running:
            return 0
        ahead = self._ahead(ticket.priority)
        return ahead.index(ticket) if ticket in ahead else 0

    def predicted_start_ms(self, ticket: Ticket) -> int:
        return 0 if ticket.running else self._predict(self.position(ticket) + 1)

    async def slot(self, ticket: Ticket) -> None:
        """Wait until ``ticket`` may run. Cancelled while queued, it leaves the queue.

        Raises:
            Evicted: the policy gave its place to other work.
        """
        try:
            await asyncio.shield(ticket.granted)
        except asyncio.CancelledError:
            self.release(ticket)
            raise

    def release(self, ticket: Ticket) -> None:
        """``ticket`` stopped (or left the queue): its slot goes to the next in line; a
        ticket that ran adds its running time to the measured service time."""
        if self._queues[ticket.priority].pop(id(ticket), None) is not None:
            self._gauges()
            return
        if self._running.pop(id(ticket), None) is None:
            return
        assert ticket.started_at is not None
        took_ms = (time.monotonic() - ticket.started_at) * 1000
        self.measured += 1
        self.service_ms += _SMOOTHING * (took_ms - self.service_ms)
        if self.measured == 1:
            self.service_ms = took_ms
        self._fill()

    def _startable(self, ticket: Ticket, running: dict[str, int] | None = None) -> bool:
        """Whether ``ticket``'s tenant is under its share of the slots."""
        if running is None:
            running = self._by_tenant()
        return running.get(ticket.tenant, 0) < self.tenant_max_running

    def _by_tenant(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for t in self._running.values():
            counts[t.tenant] = counts.get(t.tenant, 0) + 1
        return counts

    def _next(self) -> Ticket | None:
        """The ticket a free slot goes to: of the most urgent priority that has one a
        tenant may start, the one of the tenant running the fewest (the longest waiting
        among equals). With one tenant: first come, first served."""
        running = self._by_tenant()
        for queue in self._queues.values():
            best: Ticket | None = None
            for ticket in queue.values():
                if not self._startable(ticket, running):
                    continue
                if best is None or running.get(ticket.tenant, 0) < running.get(best.tenant, 0):
                    best = ticket
            if best is not None:
                return best
        return None

    def _fill(self) -> None:
        while self.running < self.max_running:
            ticket = self._next()
            if ticket is None:
                break
            del self._queues[ticket.priority][id(ticket)]
            self._start(ticket)
        self._gauges()

    def _start(self, ticket: Ticket) -> None:
        ticket.started_at = time.monotonic()
        self._running[id(ticket)] = ticket
        if not ticket.granted.done():
            ticket.granted.set_result(None)
        self._metrics.wait.labels(self.name, ticket.priority).observe(
            ticket.started_at - ticket.admitted_at
        )
        self._gauges()

    def _gauges(self) -> None:
        m = self._metrics
        m.running.labels(self.name).set(self.running)
        for p, q in self._queues.items():
            m.depth.labels(self.name, p).set(len(q))


@dataclass
class _Series:
    depth: Any
    running: Any
    wait: Any
    rejected: Any
    evicted: Any


def _admission_metrics() -> _Series:
    """The admission series, in the registry of the runs' metrics."""
    from orca.observe._metrics import more_series

    def build(registry: Any) -> _Series:
        from prometheus_client import Counter, Gauge, Histogram

        return _Series(
            Gauge("orca_admission_queue_depth", "Work waiting to start, by queue and priority.",
                  ("queue", "priority"), registry=registry),
            Gauge("orca_admission_running", "Work running now, by queue.", ("queue",),
                  registry=registry),
            Histogram("orca_admission_wait_seconds", "Time from admission to start.",
                      ("queue", "priority"), registry=registry,
                      buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800)),
            Counter("orca_admission_rejected", "Work refused with a 429, by queue and policy.",
                    ("queue", "policy"), registry=registry),
            Counter("orca_admission_evicted", "Queued work evicted by the policy.",
                    ("queue", "policy"), registry=registry),
        )  # fmt: skip

    return more_series("admission", build)
