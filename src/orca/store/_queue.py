"""The durable run queue as a repository protocol (``SqliteRunQueue``, ``PgRunQueue``),
its values and the pure rules both backends share: what may be enqueued, what a limit
is, in which order eligible items are claimed.

An item is a queued run, named by its ``run_id`` (one item per run, ever). A worker
``claim``\\ s the next eligible item for a lease of ``lease_s`` seconds, renews it with
``heartbeat`` while the run runs, and ends it with ``complete``, ``fail`` or ``release``
(back to the queue, e.g. at shutdown). A lease that is not renewed expires; the next
claim (any worker's) puts the item back first, so a run whose worker died is taken up
by another. Each claim counts in ``attempts``, which is also the item's fencing token: a
worker whose lease expired and was claimed again can no longer renew or end the item.

Which item a claim takes: among the queued items of the worker's queues whose
``available_at`` has come and whose queue, workflow and tenant are under their limits,
the one of the tenant with the fewest running items (so one tenant's flood does not
starve another), then the highest ``priority``, then the oldest.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import orjson

from orca.errors import InvalidInputError

QueueStatus = Literal["queued", "running", "done", "failed", "cancelled"]
QUEUE_STATUSES: tuple[QueueStatus, ...] = ("queued", "running", "done", "failed", "cancelled")
ENDED: tuple[QueueStatus, ...] = ("done", "failed", "cancelled")

DEFAULT_QUEUE = "default"
DEFAULT_TENANT = "default"
ANY = "*"
"""A limit's key for every queue, workflow or tenant not named on its own (each one
then has that limit)."""

MAX_NAME = 200
MAX_PRIORITY = 1_000_000
MAX_LEASE_S = 86_400.0
_NAME = re.compile(r"^[^\x00-\x1f\x7f]+$")


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A queued run as the queue keeps it.

    Attributes:
        run_id: the run (one item per run).
        queue, workflow, tenant: what limits and fairness count by.
        priority: higher first (among one tenant's turn).
        payload: what the enqueuer gave for the run (JSON values).
        status: queued, running, done, failed or cancelled.
        attempts: how many times it was claimed (the lease's fencing token).
        worker_id: who holds it while ``running``.
        lease_expires_at: when that lease runs out (epoch seconds, the store's clock).
        lease_s: the lease's length, which each heartbeat gives again.
        cancel_requested: a cancel asked for while it runs; its worker sees it at its
            next heartbeat and stops the run.
        enqueued_at, ended_at: ISO-8601 UTC times.
        error: why it failed.
        result: what its worker left for the enqueuer when it completed it (JSON).
    """

    run_id: str
    queue: str
    workflow: str
    tenant: str
    priority: int
    payload: dict[str, Any]
    status: QueueStatus
    attempts: int = 0
    worker_id: str | None = None
    lease_expires_at: float | None = None
    lease_s: float | None = None
    cancel_requested: bool = False
    enqueued_at: str = ""
    ended_at: str | None = None
    error: str | None = None
    result: Any = None


@dataclass(frozen=True, slots=True)
class Limits:
    """How many items may run at once, across every worker: per queue, per workflow,
    per tenant. A key ``"*"`` gives every one not named its own limit of that size
    (``tenants={"*": 4}``: each tenant at most 4). No entry: no limit."""

    queues: Mapping[str, int] = field(default_factory=dict)
    workflows: Mapping[str, int] = field(default_factory=dict)
    tenants: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for scope, limits in self.scopes():
            if not isinstance(limits, Mapping):
                raise InvalidInputError(f"limits of {scope}s must be a mapping of name to count")
            for key, n in limits.items():
                check_name(f"a {scope} limit's key", key)
                if not isinstance(n, int) or isinstance(n, bool) or not 0 < n < 2**31:
                    raise InvalidInputError(
                        f"the limit of {scope} {key!r} must be a whole number of 1 or more, "
                        f"got {n!r}. Fix: give a positive count, or leave the {scope} out"
                    )

    def scopes(self) -> tuple[tuple[str, Mapping[str, int]], ...]:
        return (("queue", self.queues), ("workflow", self.workflows), ("tenant", self.tenants))

    def rows(self) -> list[tuple[str, str, int]]:
        """Every limit as (scope, key, count), for SQL."""
        return [(scope, key, n) for scope, limits in self.scopes() for key, n in limits.items()]

    def of(self, scope: str, key: str) -> int | None:
        """The limit of ``key`` in ``scope`` (its own, else ``"*"``'s), or None."""
        limits = dict(self.scopes())[scope]
        own = limits.get(key)
        return own if own is not None else limits.get(ANY)

    def __bool__(self) -> bool:
        return any(limits for _, limits in self.scopes())


NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Beat:
    """What a heartbeat found: whether the worker still holds the item (its lease moved
    on), and whether a cancel was asked for."""

    held: bool
    cancel_requested: bool = False


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    """A worker process as the queue last saw it (``orca doctor`` lists them)."""

    worker_id: str
    host: str
    pid: int
    queues: tuple[str, ...]
    started_at: str
    last_seen_at: str
    stopped_at: str | None = None


@dataclass(frozen=True, slots=True)
class QueueCount:
    """How many items of one queue, workflow and tenant are in one status."""

    queue: str
    workflow: str
    tenant: str
    status: QueueStatus
    count: int


@runtime_checkable
class RunQueue(Protocol):
    """Queued runs shared by every worker of a store. Every backend passes
    ``tests/store/test_run_queue.py``."""

    def enqueue(
        self,
        run_id: str,
        *,
        workflow: str,
        queue: str = DEFAULT_QUEUE,
        tenant: str = DEFAULT_TENANT,
        priority: int = 0,
        payload: Mapping[str, Any] | None = None,
        delay_s: float = 0.0,
    ) -> bool:
        """Queue run ``run_id`` (claimable after ``delay_s``); False, and nothing changed,
        when it has an item already (enqueueing is idempotent: a run is queued once).

        Raises:
            InvalidInputError: a bad name, priority or payload (nothing is stored).
        """
        ...

    def claim(
        self,
        worker_id: str,
        lease_s: float,
        limits: Limits = NO_LIMITS,
        *,
        queues: tuple[str, ...] = (DEFAULT_QUEUE,),
    ) -> QueueItem | None:
        """The next eligible item of ``queues`` (see the module), now ``running`` and
        held by ``worker_id`` for ``lease_s`` seconds; None when there is none. Expired
        leases are put back first. ``limits`` hold across every worker at once."""
        ...

    def heartbeat(self, worker_id: str, item: QueueItem) -> Beat:
        """Renew the lease of ``item`` for its ``lease_s``; ``held`` is False when the
        worker no longer holds it (it expired and was claimed again, or it ended)."""
        ...

    def complete(self, worker_id: str, item: QueueItem, result: Any = None) -> bool:
        """The run ended (done, interrupted or cancelled: it needs no worker any more),
        leaving ``result`` (JSON values) for whoever reads the item; False when the
        worker no longer held it.

        Raises:
            InvalidInputError: ``result`` is not JSON (nothing changed)."""
        ...

    def fail(self, worker_id: str, item: QueueItem, error: str) -> bool:
        """The run could not be run (``error`` says why); False when not held."""
        ...

    def release(self, worker_id: str, item: QueueItem, *, delay_s: float = 0.0) -> bool:
        """Give the item back to the queue (claimable again after ``delay_s``), e.g. a
        worker stopping; False when not held."""
        ...

    def reclaim(self) -> list[str]:
        """Put every item whose lease expired back in the queue; their run ids."""
        ...

    def cancel(self, run_id: str) -> QueueStatus | None:
        """Cancel the item: a queued one is ``cancelled`` at once; a running one gets
        ``cancel_requested`` (its worker stops the run); returns its status after, or
        None when there is no such item."""
        ...

    def get(self, run_id: str) -> QueueItem | None: ...

    def worker_seen(self, worker_id: str, host: str, pid: int, queues: tuple[str, ...]) -> None:
        """Note that worker ``worker_id`` is alive now (its start, then each heartbeat)."""
        ...

    def worker_stopped(self, worker_id: str) -> None:
        """Note that worker ``worker_id`` stopped cleanly."""
        ...

    def workers(self) -> list[WorkerSeen]:
        """Every worker seen, the latest first."""
        ...

    def counts(self) -> list[QueueCount]:
        """How many items there are per queue, workflow, tenant and status."""
        ...

    def wait(self, timeout_s: float) -> bool:
        """Block until an item may have been enqueued (True), or ``timeout_s`` passed
        (False); an idle worker's sleep."""
        ...

    def announce(self, run_id: str) -> None:
        """Tell the streams of run ``run_id``, in any process, that it committed events
        (PostgreSQL: ``NOTIFY orca_events``; nothing on SQLite, whose readers poll)."""
        ...

    def follow(self, callback: Callable[[str], None]) -> Callable[[], None] | None:
        """Call ``callback(run_id)`` (from a thread of the store) at each ``announce``
        of any process; returns what stops it, or None when the backend cannot
        (SQLite: readers poll)."""
        ...

    def close(self) -> None: ...


def check_name(what: str, value: Any) -> str:
    """``value`` as a queue, workflow, tenant or run name. Raises ``InvalidInputError``."""
    if not isinstance(value, str):
        raise InvalidInputError(f"{what} must be a string, got {type(value).__name__}")
    if not value or len(value) > MAX_NAME or not _NAME.match(value):
        raise InvalidInputError(
            f"{what} {value[:40]!r} must be 1 to {MAX_NAME} characters with no control "
            "characters. Fix: use a plain name"
        )
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what} holds a lone surrogate. Fix: pass valid Unicode") from None
    return value


def check_seconds(what: str, value: Any, *, low: float = 0.0, high: float = MAX_LEASE_S) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInputError(f"{what} must be a number of seconds, got {value!r}")
    if not low <= value <= high:
        raise InvalidInputError(f"{what} must be between {low} and {high} seconds, got {value}")
    return float(value)


def check_enqueue(
    run_id: str,
    queue: str,
    workflow: str,
    tenant: str,
    priority: int,
    payload: Mapping[str, Any] | None,
    delay_s: float,
) -> str:
    """Check what ``enqueue`` was given; the payload as JSON text."""
    check_name("run_id", run_id)
    check_name("queue", queue)
    check_name("workflow", workflow)
    check_name("tenant", tenant)
    if (
        not isinstance(priority, int)
        or isinstance(priority, bool)
        or not -MAX_PRIORITY <= priority <= MAX_PRIORITY
    ):
        raise InvalidInputError(
            f"priority must be a whole number from {-MAX_PRIORITY} to {MAX_PRIORITY}, "
            f"got {priority!r}"
        )
    check_seconds("delay_s", delay_s)
    if payload is not None and not isinstance(payload, Mapping):
        raise InvalidInputError(
            f"payload must be a dict of JSON values, got {type(payload).__name__}"
        )
    try:
        return orjson.dumps(dict(payload or {})).decode()
    except TypeError as exc:
        raise InvalidInputError(
            f"payload is not JSON ({exc}). Fix: keep only str keys and JSON values"
        ) from None


def check_claim(worker_id: str, lease_s: float, limits: Limits, queues: tuple[str, ...]) -> None:
    check_name("worker_id", worker_id)
    check_seconds("lease_s", lease_s, low=0.001)
    if not isinstance(limits, Limits):
        raise InvalidInputError(f"limits must be a Limits, got {type(limits).__name__}")
    if isinstance(queues, str) or not queues:
        raise InvalidInputError("queues must be a non-empty tuple of queue names")
    for q in queues:
        check_name("queue", q)


def item_of(row: tuple[Any, ...], where: str) -> QueueItem:
    """A row of ``COLUMNS`` as an item."""
    from orca.errors import CorruptDatabaseError

    try:
        payload = orjson.loads(row[5])
    except (TypeError, orjson.JSONDecodeError) as exc:
        raise CorruptDatabaseError(
            where,
            f"the queue item of run {row[0]!r} has a damaged payload ({exc})",
            "cancel the run and queue it again",
        ) from None
    return QueueItem(
        run_id=row[0],
        queue=row[1],
        workflow=row[2],
        tenant=row[3],
        priority=int(row[4]),
        payload=payload if isinstance(payload, dict) else {},
        status=row[6],
        attempts=int(row[7]),
        worker_id=row[8],
        lease_expires_at=None if row[9] is None else float(row[9]),
        lease_s=None if row[10] is None else float(row[10]),
        cancel_requested=bool(row[11]),
        enqueued_at=row[12],
        ended_at=row[13],
        error=row[14],
        result=None if row[15] is None else _json(row[15]),
    )


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


COLUMNS = (
    "run_id, queue, workflow, tenant, priority, payload, status, attempts, worker_id, "
    "lease_expires_at, lease_s, cancel_requested, enqueued_at, ended_at, error, result"
)


def error_text(error: Any) -> str:
    """``fail``'s reason as text every backend keeps: a NUL (which PostgreSQL's TEXT
    cannot hold) becomes U+FFFD, a lone surrogate ``?``."""
    text = str(error).encode("utf-8", "replace").decode("utf-8")
    return text.replace("\x00", "\ufffd")


def result_text(result: Any) -> str | None:
    """``complete``'s result as JSON text (None for none). Raises ``InvalidInputError``."""
    if result is None:
        return None
    try:
        return orjson.dumps(result).decode()
    except TypeError as exc:
        raise InvalidInputError(f"result is not JSON ({exc})") from None


def held_by(item: QueueItem, worker_id: str) -> tuple[str, str, int]:
    """The (run_id, worker_id, attempts) a heartbeat or an end matches on."""
    if not isinstance(item, QueueItem):
        raise InvalidInputError(f"expected a QueueItem, got {type(item).__name__}")
    return item.run_id, worker_id, item.attempts


def limit_keys(limits: Limits, queue: str, workflow: str, tenant: str) -> list[tuple[str, str]]:
    """The (scope, key) pairs limited for an item of ``queue``, ``workflow``, ``tenant``."""
    keys = [("queue", queue), ("workflow", workflow), ("tenant", tenant)]
    return [(scope, key) for scope, key in keys if limits.of(scope, key) is not None]


def under_limits(
    limits: Limits,
    running: Mapping[tuple[str, str], int],
    queue: str,
    workflow: str,
    tenant: str,
) -> bool:
    """Whether one more item of ``queue``, ``workflow``, ``tenant`` keeps every limit,
    given the ``running`` count of each (scope, key)."""
    for scope, key in limit_keys(limits, queue, workflow, tenant):
        limit = limits.of(scope, key)
        if limit is not None and running.get((scope, key), 0) + 1 > limit:
            return False
    return True
