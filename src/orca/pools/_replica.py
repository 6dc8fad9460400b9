"""A replica of a pool and a call's lease on it: the values dispatch reads and the
supervisor (``_supervisor.ReplicaSet``) updates, and the rule that picks a replica."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from orca.pools._engines import PoolSpec

__all__ = ["Lease", "Replica", "ReplicaState", "SupervisorPolicy"]

ReplicaState = Literal["starting", "ready", "unready", "draining", "stopped", "failed"]


@dataclass(frozen=True, slots=True)
class SupervisorPolicy:
    """How a ReplicaSet watches its replicas.

    Attributes:
        probe_interval_s: time between probes of a running replica.
        backoff_base_s: the wait before the first restart; doubled at each failure
            in a row, up to ``backoff_max_s``.
        max_quick_failures: failures in a row after which a replica is ``failed``.
        stable_s: a replica ready this long has its failure count reset.
        stop_grace_s: SIGTERM to SIGKILL at stop().
        log_tail_lines: lines of an engine's log kept in errors.
        log_max_bytes: a replica's log past this size is copied to ``.1`` and emptied.
    """

    probe_interval_s: float = 5.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    max_quick_failures: int = 5
    stable_s: float = 60.0
    stop_grace_s: float = 5.0
    log_tail_lines: int = 30
    log_max_bytes: int = 16 << 20

    def backoff(self, failures: int) -> float:
        """The wait before restart number ``failures`` (1, 2, ...)."""
        return float(min(self.backoff_base_s * 2 ** max(0, failures - 1), self.backoff_max_s))


class Replica:
    """One engine replica of a pool; the dispatcher reads ``ready``, ``draining``,
    ``in_flight`` and ``slots`` (placement's ReplicaView)."""

    def __init__(
        self, index: int, spec: PoolSpec, *, device: int | None, log_path: Path, version: str
    ) -> None:
        self.index = index
        self.device = device
        self.slots = spec.slots
        self.model = spec.name  # the name the engine serves the model under
        self.model_digest = spec.model_digest
        self.engine_version = version
        self.log_path = log_path
        self.port: int | None = None
        self.base_url = ""  # the OpenAI API base (".../v1"), as orca.llm's providers take it
        self.pid: int | None = None
        self.in_flight = 0
        self.leased = 0  # leases ever taken on this replica
        self.restarts = 0
        self.last_probe_ms: float | None = None
        self.last_error: str | None = None
        self.ready = False
        self.draining = False
        self.history: deque[tuple[float, str, str]] = deque(maxlen=50)  # (monotonic, state, why)
        self._state: ReplicaState = "starting"
        self._ready_since: float | None = None
        self._probe_total_ms = 0.0
        self._probes = 0
        self._leases: set[Lease] = set()
        self._process: asyncio.subprocess.Process | None = None
        self._exited: asyncio.Future[int] | None = None
        self._restartable = True
        self._retired = False  # draining or stopped for good: never started again

    @property
    def state(self) -> ReplicaState:
        return self._state

    def _set(self, state: ReplicaState, why: str = "") -> None:
        if self._retired and state in ("starting", "ready", "unready"):
            state = "draining"
        self._state = state
        self.ready = state == "ready"
        self.draining = state == "draining"
        self._ready_since = time.monotonic() if state == "ready" else None
        self.history.append((time.monotonic(), state, why))

    def _probed(self, ms: float) -> None:
        self.last_probe_ms = ms
        self._probe_total_ms += ms
        self._probes += 1

    def snapshot(self) -> dict[str, Any]:
        """The replica as health() and the API show it."""
        return {
            "index": self.index,
            "state": self._state,
            "ready": self.ready,
            "draining": self.draining,
            "pid": self.pid,
            "port": self.port,
            "base_url": self.base_url,
            "device": self.device,
            "slots": self.slots,
            "in_flight": self.in_flight,
            "restarts": self.restarts,
            "model_digest": self.model_digest,
            "engine_version": self.engine_version,
            "last_probe_ms": _rounded(self.last_probe_ms),
            "probe_ms_mean": _rounded(self._probe_total_ms / max(1, self._probes) or None),
            "ready_for_s": _rounded(
                None if self._ready_since is None else time.monotonic() - self._ready_since
            ),
            "last_error": self.last_error,
            "log_path": str(self.log_path),
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


class Lease:
    """One call's hold on a slot of a replica, from acquire() to release().

    ``lost`` is set when the replica died or was replaced under the call: its answer will
    not come (the call ends with WORKER_RESET, which is retriable)."""

    def __init__(
        self, replica: Replica, session: str | None, *, on_release: Callable[[], None]
    ) -> None:
        self.replica = replica
        self.base_url = replica.base_url
        self.model = replica.model
        self.session = session
        self.lost = asyncio.Event()
        self._on_release = on_release
        self._held = True

    def release(self) -> None:
        """Give the slot back (idempotent; nothing to give after the lease was lost)."""
        if not self._held:
            return
        self._held = False
        self.replica.in_flight -= 1
        self.replica._leases.discard(self)
        self._on_release()

    def _lose(self) -> None:
        self._held = False
        self.lost.set()

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
