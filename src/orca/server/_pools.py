"""Local engine pools over HTTP (the control plane of the pool requirements): create,
list, show, drain, reload, health, stop; ``GET /v1/replicasets``; and each pool's
admission queue, sized by its replicas' ready slots.

The pools belong to the installation (one host's engines), not to a tenant: reading
them takes ``read``, changing them ``admin``. A pool's tasks wait in the pool's own
queue (``queue`` of its definition; full: a 429), start when one of its ready slots
frees, and are refused before they queue when the pool cannot take them
(``POOL_UNAVAILABLE``, ``POOL_UNREADY``) or cannot finish them by their deadline
(``DEADLINE_UNMET``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from orca.errors import DeadlineUnmetError, PoolUnavailableError, PoolUnreadyError
from orca.pools import PoolConfig, PoolManager
from orca.server._admission import Admission
from orca.server._models import PathId
from orca.server._taskrun import Rates

log = logging.getLogger("orca.server")

DRAIN_DEADLINE_MS = 30_000


class PoolQueues:
    """The admission of each pool of ``manager``, resized as its capacity changes."""

    def __init__(self, manager: PoolManager, policy: str = "reject") -> None:
        self.manager = manager
        self.policy = policy
        self._queues: dict[str, Admission] = {}
        self.draining: set[str] = set()
        """Pools being drained: they take no new task, and finish the ones queued."""
        self.rates = Rates()
        """Each pool's measured decode speed, by pool name (its tasks add to it)."""

    def admission(self, name: str) -> Admission:
        pool = self.manager.get(name)
        found = self._queues.get(name)
        if found is None:
            found = self._queues[name] = Admission(
                f"pool:{name}",
                max_running=1,
                max_queued=pool.config.queue,
                policy=self.policy,  # type: ignore[arg-type]
            )
            found.resize(pool.capacity)
        return found

    def capacity_changed(self, pool: Any) -> None:
        """The manager's listener: the queue's running bound follows the ready slots."""
        queue = self._queues.get(pool.name)
        if queue is None:
            return
        queue.max_queued = pool.config.queue
        queue.resize(pool.capacity)
        if pool.state in ("stopped", "failed") and queue.depth:
            # what they waited for is gone: they end now, not at their deadline (or never)
            queue.refuse_waiting(
                PoolUnavailableError(
                    f"pool {pool.name!r} {pool.state} while the task waited for it",
                    pool=pool.name,
                    fix="send it again to a pool that runs",
                )
            )

    def check(self, name: str, admission: Admission, body: Any) -> None:
        """Refuse, before it queues, a task the pool cannot take now or cannot finish by
        its deadline.

        Raises:
            PoolUnavailableError: the pool drains, is reloading... or stopped.
            PoolUnreadyError: no replica of it is ready.
            DeadlineUnmetError: by its queue and measured decode speed, the task would
                end after its ``deadline_ms``.
        """
        pool = self.manager.get(name)
        if name in self.draining:
            raise PoolUnavailableError(
                f"pool {name!r} is draining", pool=name, fix="send the work to another pool"
            )
        if not pool.serving:
            raise PoolUnavailableError(
                f"pool {name!r} is {pool.state}", pool=name, fix="send the work to another pool"
            )
        if pool.capacity == 0:
            raise PoolUnreadyError(
                f"no replica of pool {name!r} is ready ({pool.state})",
                pool=name,
                fix="retry shortly: GET /v1/pools/{id}/health says when it is ready",
                retry_after=1.0,
            )
        deadline = getattr(body, "deadline_ms", None)
        rate = self.rates.by_engine.get(name)
        if deadline is None or not rate:
            return
        start = admission.predict_new(getattr(body, "priority", "interactive"))
        decode = math.ceil((getattr(body, "max_tokens", None) or 0) / rate * 1000)
        if start + decode > deadline:
            raise DeadlineUnmetError(
                f"pool {name!r} would finish this task in about {start + decode} ms "
                f"({start} ms to start, {decode} ms to decode {body.max_tokens} tokens at "
                f"{rate:.0f} tokens/s), after its deadline_ms of {deadline}",
                pool=name,
                fix="give a later deadline_ms, ask fewer max_tokens, or retry when the "
                "queue is shorter",
                retry_after=start / 1000 if start else None,
            )

    async def drain(self, name: str, deadline_s: float) -> dict[str, Any]:
        """Take no new task for pool ``name``; let the ones it accepted (queued or
        running) finish until ``deadline_s``; then stop its replicas (what still runs
        then ends WORKER_RESET)."""
        pool = self.manager.get(name)
        if pool.state != "running" or name in self.draining:
            raise PoolUnavailableError(
                f"pool {name!r} is {'draining' if name in self.draining else pool.state}",
                pool=name,
                fix="drain a running pool, once",
            )
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        self.draining.add(name)
        try:
            queue = self._queues.get(name)

            def busy() -> bool:
                return queue is not None and bool(queue.running or queue.depth)

            # the admission has no event of its own; its tickets end with their tasks
            while busy() and loop.time() < end:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            left = max(0.0, end - loop.time())
            return await self.manager.drain(name, left)
        finally:
            self.draining.discard(name)

    def snapshot(self, name: str) -> dict[str, Any] | None:
        queue = self._queues.get(name)
        return None if queue is None else queue.snapshot()

    async def close(self) -> None:
        """Stop every pool's engines (at the server's end)."""
        await self.manager.close()


def open_pools(settings: Any, repository: Any) -> PoolQueues:
    """The pools of the server of ``settings`` (none started yet), over the model catalog
    in ``repository`` (the default tenant's store's)."""
    from orca.pools import Catalog, PoolManager

    queues: PoolQueues
    manager = PoolManager(
        Catalog(repository),
        policy=settings.trust,
        inventory=settings.inventory,
        on_capacity=lambda pool: queues.capacity_changed(pool),
    )
    queues = PoolQueues(manager, settings.admission_policy)
    return queues


# -- HTTP --------------------------------------------------------------------------------


class DrainBody(BaseModel):
    """How long a drain lets the work in flight finish."""

    model_config = ConfigDict(extra="forbid")

    deadline_ms: int = Field(default=DRAIN_DEADLINE_MS, ge=0, le=3_600_000)


class ReloadBody(BaseModel):
    """The catalogued model a pool serves after a reload."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1, max_length=256, description="a catalog id or name")


def _pools(request: Request) -> PoolQueues:
    queues: PoolQueues = request.app.state.pools
    return queues


def router() -> APIRouter:
    api = APIRouter()

    @api.get("/v1/pools", tags=["pools"])
    async def list_pools(request: Request) -> list[dict[str, Any]]:
        """Every pool of this server, with its state and ready capacity."""
        manager = _pools(request).manager
        shown = [manager.pools[n].describe() for n in sorted(manager.pools)]
        return shown + manager.failures()

    @api.post("/v1/pools", status_code=201, tags=["pools"])
    async def create_pool(request: Request, body: PoolConfig) -> dict[str, Any]:
        """Start a pool (the fields of a ``[pools.NAME]`` table, with ``name``); answers
        once a replica has answered its probe."""
        body.check("pool")
        pool = await _pools(request).manager.start(body)
        return pool.describe()

    @api.get("/v1/pools/{pool_id}", tags=["pools"])
    async def get_pool(pool_id: PathId, request: Request) -> dict[str, Any]:
        queues = _pools(request)
        shown = queues.manager.get(pool_id).describe()
        shown["queue_now"] = queues.snapshot(pool_id)
        shown["tokens_per_s"] = queues.rates.by_engine.get(pool_id)
        return shown

    @api.delete("/v1/pools/{pool_id}", tags=["pools"])
    async def stop_pool(pool_id: PathId, request: Request) -> dict[str, Any]:
        """Stop a pool now: its engines are killed, work in flight ends WORKER_RESET
        (drain first to let it finish)."""
        pool = await _pools(request).manager.stop(pool_id)
        return pool.describe()

    @api.post("/v1/pools/{pool_id}/drain", tags=["pools"])
    async def drain_pool(pool_id: PathId, request: Request, body: DrainBody) -> dict[str, Any]:
        """Take no new work, let the work in flight finish (until ``deadline_ms``), then
        stop the replicas."""
        return await _pools(request).drain(pool_id, body.deadline_ms / 1000)

    @api.post("/v1/pools/{pool_id}/reload", tags=["pools"])
    async def reload_pool(pool_id: PathId, request: Request, body: ReloadBody) -> dict[str, Any]:
        """Serve another catalogued model, atomically; on failure the pool rolls back and
        keeps serving its model (``RELOAD_FAILED``)."""
        pool = await _pools(request).manager.reload(pool_id, body.model)
        return pool.describe()

    @api.get("/v1/pools/{pool_id}/health", tags=["pools"])
    async def pool_health(pool_id: PathId, request: Request) -> dict[str, Any]:
        """``live``, ``ready``, ``draining``, the replicas and their metrics."""
        queues = _pools(request)
        seen = queues.manager.health(pool_id)
        seen["queue"] = queues.snapshot(pool_id)
        seen["tokens_per_s"] = queues.rates.by_engine.get(pool_id)
        return seen

    @api.get("/v1/replicasets", tags=["pools"])
    async def replicasets(request: Request) -> list[dict[str, Any]]:
        """Each pool's engine, model digest, capacity, load, slots, and an SLO snapshot
        (queue, decode speed, mean service time)."""
        queues = _pools(request)
        out = queues.manager.replicasets()
        for entry in out:
            snap = queues.snapshot(entry["pool"]) or {}
            entry["slo"] = {
                "tokens_per_s": queues.rates.by_engine.get(entry["pool"]),
                "mean_service_ms": snap.get("mean_service_ms"),
                "queue_depth": sum((snap.get("queue_depth") or {}).values()),
                "max_queued": snap.get("max_queued"),
                "rejected": snap.get("rejected"),
            }
        return out

    return api


async def start_configured(queues: PoolQueues, configs: list[Any]) -> None:
    """Start the pools of ``[pools.NAME]`` at the server's start, together; the server
    is ready once each has a replica answering its probe, or has failed (its state says
    why: ``failed``, with ``error``; its tasks are refused POOL_UNAVAILABLE)."""

    async def one(config: Any) -> None:
        try:
            await queues.manager.start(config, remember_failure=True)
        except Exception as exc:
            log.error("pool %s did not start: %s", config.name, exc)

    await asyncio.gather(*(one(c) for c in configs))
