"""The pools of one installation: each a catalogued model served by N supervised engine
replicas, placed on the GPUs (or, explicitly, the CPU), with its trust checked on every
start and reload.

``PoolConfig`` is what defines a pool (a ``[pools.NAME]`` table of ``orca.toml``, or the
body of ``POST /v1/pools``); ``PoolManager`` starts, stops, drains and reloads pools and
answers what they hold (``health``, ``replicasets``). Admission (how many tasks wait
for a pool, and when a 429 comes) is the server's: it sizes each pool's queue from the
``capacity`` this reports.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from orca.errors import (
    ConfigError,
    PlacementError,
    PoolError,
    PoolUnavailableError,
    PoolUnreadyError,
    ReloadFailedError,
    UnknownPoolError,
)

if TYPE_CHECKING:
    from orca.pools._engines import PoolSpec
    from orca.pools._inventory import Inventory
    from orca.pools._model import PoolModel
    from orca.pools._supervisor import Lease, ReplicaSet
    from orca.pools.catalog import Catalog, CatalogModel, TrustPolicy

log = logging.getLogger("orca.pools")

KEPT_RELOADS = 50  # the earlier models a pool remembers
POOL_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
Mode = Literal["gpu", "cpu"]


class PoolConfig(BaseModel):
    """One pool: which catalogued model, on which engine, how many replicas, where."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the pool's name: 1-63 of a-z, 0-9, '.', '_', '-'")
    model: str = Field(description="the catalog's id or name of the model it serves")
    engine: Literal["llamacpp", "llama-server", "vllm"] = Field(
        default="llamacpp",
        description="llamacpp (llama.cpp through llama-cpp-python's server), llama-server "
        "(llama.cpp's own server binary) or vllm",
    )
    provision: Literal["package", "binary", "external"] = Field(
        default="package",
        description="package (the Python package Orca runs), binary (the executable at "
        "binary), external (servers you run, at urls)",
    )
    mode: Mode = Field(
        default="gpu",
        description="gpu (the default; never falls back to the CPU) or cpu (development, "
        "machines without a GPU)",
    )
    replicas: int = Field(default=1, ge=1, le=64)
    slots: int = Field(default=1, ge=1, le=256, description="sequences one replica decodes at once")
    n_ctx: int = Field(default=2048, ge=16, le=1 << 20, description="context per slot, in tokens")
    queue: int = Field(default=64, ge=0, le=100_000, description="tasks that may wait")
    binary: str | None = Field(default=None, description="provision binary: the executable")
    urls: list[str] = Field(default_factory=list, description="provision external: one per replica")
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    extra_args: list[str] = Field(default_factory=list, description="more engine arguments")
    probe_deadline_s: float = Field(default=10.0, gt=0, le=600)
    start_deadline_s: float = Field(default=120.0, gt=0, le=3600)
    decode_timeout_s: float = Field(
        default=60.0, gt=0, le=3600, description="no token for this long: DECODE_TIMEOUT"
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not POOL_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a pool name: use 1-63 of a-z, 0-9, '.', '_', '-', "
                "starting with a letter or digit"
            )
        return value

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, where: str) -> PoolConfig:
        """A pool from a table or body; ``where`` prefixes the field in errors.

        Raises:
            ConfigError: a wrong field (its ``key`` names it) or combination.
        """
        try:
            config = cls.model_validate(dict(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join(str(p) for p in first["loc"])
            key = f"{where}.{path}" if path else where
            raise ConfigError(f"{key}: {first['msg']}", key=key, fix=_fix_of(first, path)) from None
        config.check(where)
        return config

    def check(self, where: str) -> None:
        """The combinations a single field cannot say are wrong."""
        if self.provision == "binary" and not self.binary:
            raise ConfigError(
                f"{where}: provision binary needs the engine's executable",
                key=f"{where}.binary",
                fix='write binary = "/path/to/llama-server"',
            )
        if self.provision == "external" and len(self.urls) != self.replicas:
            raise ConfigError(
                f"{where}: provision external takes one URL per replica ({self.replicas} "
                f"replicas, {len(self.urls)} urls)",
                key=f"{where}.urls",
                fix='list the servers you run: urls = ["http://127.0.0.1:8080"]',
            )
        if self.engine == "llamacpp" and self.provision == "binary":
            raise ConfigError(
                f"{where}: engine llamacpp is the Python package; a binary is llama-server",
                key=f"{where}.engine",
                fix='write engine = "llama-server" with binary = "...", or provision = "package"',
            )


def _fix_of(error: Any, path: str) -> str:
    kind = str(error.get("type", ""))
    if kind == "extra_forbidden":
        known = ", ".join(PoolConfig.model_fields)
        return f"remove {path!r}; a pool takes {known}"
    if kind == "missing":
        return f"give {path}"
    return f"give {path} as the field's description says (orca pool create --help)"


def pool_configs(tables: Mapping[str, Any]) -> list[PoolConfig]:
    """The pools of ``[pools.NAME]`` tables (the table's name is the pool's).

    Raises:
        ConfigError: a table is not a table, or has a wrong field.
    """
    found = []
    for name, table in sorted(tables.items()):
        where = f"pools.{name}"
        if not isinstance(table, Mapping):
            raise ConfigError(
                f"{where} is not a table",
                key=where,
                fix=f'write [{where}] with model = "..." (a model of orca model list)',
            )
        data = dict(table)
        if data.setdefault("name", name) != name:
            raise ConfigError(
                f"{where}.name is {data['name']!r}: a table's name is its pool's",
                key=f"{where}.name",
                fix="remove name from the table",
            )
        found.append(PoolConfig.parse(data, where=where))
    return found


@dataclass
class Pool:
    """A started pool: its definition, the model it serves and its replicas."""

    config: PoolConfig
    model: CatalogModel
    replicas: ReplicaSet
    devices: list[int | None]
    vram_bytes: int | None
    state: Literal["starting", "running", "draining", "reloading", "stopped", "failed"] = "starting"
    error: str | None = None
    """Why it failed to start (state ``failed``)."""
    previous: list[dict[str, Any]] = field(default_factory=list)
    """The models it served before its reloads, oldest first (``model``, ``digest``; the
    last ``KEPT_RELOADS``)."""

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def serving(self) -> bool:
        """Whether it takes work now (starting, running or reloading)."""
        return self.state in ("starting", "running", "reloading")

    @property
    def capacity(self) -> int:
        """Slots of the replicas that are ready now (what may run at once)."""
        if not self.serving:
            return 0
        return int(self.replicas.capacity)

    def describe(self) -> dict[str, Any]:
        c = self.config
        return {
            "id": c.name,
            "name": c.name,
            "state": self.state,
            "engine": c.engine,
            "provision": c.provision,
            "mode": c.mode,
            "model": {"id": self.model.id, "name": self.model.name, "digest": self.model.digest},
            "replicas": c.replicas,
            "slots": c.slots,
            "n_ctx": c.n_ctx,
            "queue": c.queue,
            "devices": self.devices,
            "vram_bytes_per_replica": self.vram_bytes,
            "capacity": self.capacity,
            "previous": self.previous[-10:],
            "error": self.error,
        }


Listener = Callable[[Pool], None]


class PoolManager:
    """Every pool of this installation.

    Args:
        catalog: the model catalog (``orca.pools.catalog.Catalog``): a pool serves only
            what it holds and the trust policy lets load.
        policy: the trust policy (``strict`` or ``permissive``).
        inventory: the GPUs (default: detected now; a simulated one in tests).
        on_capacity: called with a pool whenever its ready capacity may have changed
            (a replica ready, lost, replaced; a drain; a reload).
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        policy: TrustPolicy = "strict",
        inventory: Inventory | None = None,
        on_capacity: Listener | None = None,
    ) -> None:
        self.catalog = catalog
        self.policy = policy
        self._inventory = inventory
        self.on_capacity = on_capacity
        self.pools: dict[str, Pool] = {}
        self.failed: dict[str, tuple[PoolConfig, str]] = {}
        """Configured pools that could not start before any replica ran (untrusted model,
        engine missing, no room on the GPUs), with why: shown, and refused with it."""
        self._models: dict[str, PoolModel] = {}
        self._lock = asyncio.Lock()

    # -- what there is ------------------------------------------------------------------

    def inventory(self) -> Inventory:
        if self._inventory is None:
            from orca.pools._inventory import detect_inventory

            self._inventory = detect_inventory()
        return self._inventory

    def get(self, name: str) -> Pool:
        """Pool ``name``, in any state once its replicas were made (a stopped or failed
        one is shown until it is started again).

        Raises:
            UnknownPoolError: no pool of that name is known here.
            PoolUnavailableError: a configured pool that failed before its replicas were
                made (untrusted model, no room on the GPUs): why it failed.
        """
        pool = self.pools.get(name)
        if pool is None and name in self.failed:
            raise PoolUnavailableError(
                f"pool {name!r} failed to start: {self.failed[name][1]}",
                pool=name,
                fix="correct what the error names, then start it again (orca pool create, "
                "or restart the server)",
            )
        if pool is None:
            known = ", ".join(sorted(self.pools)) or "none"
            raise UnknownPoolError(
                f"no pool {name!r} runs here (pools: {known})",
                pool=name,
                fix="orca pool list shows the pools; orca pool create NAME --model M starts one",
            )
        return pool

    def health(self, name: str) -> dict[str, Any]:
        """``GET /v1/pools/{id}/health``: ``live``, ``ready``, ``draining`` and metrics."""
        pool = self.get(name)
        seen = dict(pool.replicas.health())
        seen.update(
            {
                "pool": name,
                "state": pool.state,
                "live": pool.state != "stopped" and bool(seen.get("live", True)),
                "ready": pool.capacity > 0,
                "draining": pool.state == "draining",
                "capacity": pool.capacity,
                "model_digest": pool.model.digest,
            }
        )
        return seen

    def replicasets(self) -> list[dict[str, Any]]:
        """``GET /v1/replicasets``: each pool's engine, model digest, capacity, load,
        slots and replicas."""
        out = []
        for name in sorted(self.pools):
            pool = self.pools[name]
            if pool.state == "stopped":
                continue
            replicas = [r.snapshot() for r in pool.replicas.replicas]
            load = sum(r.in_flight for r in pool.replicas.replicas)
            slots = sum(r.slots for r in pool.replicas.replicas)
            out.append(
                {
                    "id": name,
                    "pool": name,
                    "engine": pool.config.engine,
                    "engine_version": pool.replicas.engine_version,
                    "model": pool.model.name,
                    "model_digest": pool.model.digest,
                    "mode": pool.config.mode,
                    "state": pool.state,
                    "capacity": pool.capacity,
                    "slots": slots,
                    "load": load,
                    "n_ctx": pool.config.n_ctx,
                    "replicas": replicas,
                }
            )
        return out

    def preflight(self, config: PoolConfig) -> list[tuple[str, str, str]]:
        """What starting ``config``'s pool would meet, without starting it (``orca
        doctor``): (check, ``ok``/``fail``, detail with the fix) for the model's trust,
        the engine's needs and, in GPU mode, the placement on this machine's GPUs."""
        from orca.errors import OrcaError

        check = f"pool {config.name}"
        try:
            model = self.catalog.usable(config.model, self.policy)
        except OrcaError as exc:
            return [(check, "fail", str(exc))]
        found = [(check, "ok", f"model {model.name} ({model.digest[:19]}), trusted")]
        spec = self._spec(config, model)
        from orca.pools._engines import adapter

        problems = adapter(spec.engine).preflight(spec)
        found += [(check, "fail", f"{p.message}. Fix: {p.fix}") for p in problems]
        if not problems:
            found.append((check, "ok", f"engine {config.engine} ({config.provision}) ready"))
        try:
            devices, need = self._place(config, model)
        except OrcaError as exc:
            found.append((check, "fail", str(exc)))
        else:
            where = "the CPU" if need is None else f"GPUs {devices}, {need >> 20} MiB each"
            found.append((check, "ok", f"{config.replicas} replica(s) on {where}"))
        return found

    # -- starting and stopping ----------------------------------------------------------

    def failures(self) -> list[dict[str, Any]]:
        """The configured pools that failed before a replica ran, as ``describe`` shows a
        pool (``state`` failed, ``error`` why)."""
        return [
            {"id": name, "name": name, "state": "failed", "error": error,
             "engine": config.engine, "mode": config.mode, "model": {"name": config.model},
             "replicas": config.replicas, "capacity": 0}
            for name, (config, error) in sorted(self.failed.items())
        ]  # fmt: skip

    async def start(self, config: PoolConfig, *, remember_failure: bool = False) -> Pool:
        """Start ``config``'s pool: trust, preflight, placement, replicas; returns once a
        replica answers its probe.

        Raises:
            ConfigError: a pool of that name runs already, or the engine's preflight
                found problems (each with its fix).
            UntrustedArtifactError: the trust policy refuses the model.
            PlacementError: gpu mode and the replicas do not fit the GPUs.
            PoolUnreadyError: no replica answered its probe by ``start_deadline_s``.
        """
        async with self._lock:
            found = self.pools.get(config.name)
            if found is not None and found.state not in ("stopped", "failed"):
                raise ConfigError(
                    f"pool {config.name!r} runs already",
                    key="name",
                    fix="choose another name, or reload it: orca pool reload NAME --model M",
                )
            try:
                model = await asyncio.to_thread(self.catalog.usable, config.model, self.policy)
                devices, need = await asyncio.to_thread(self._place, config, model)
                spec = self._spec(config, model)
            except Exception as exc:
                if remember_failure:
                    self.failed[config.name] = (config, str(exc))
                raise
            self.failed.pop(config.name, None)
            replicas = self._replica_set(spec, devices)
            pool = Pool(config, model, replicas, devices, need)
            self.pools[config.name] = pool
        try:
            await replicas.start()
        except BaseException as exc:
            pool.state, pool.error = "failed", str(exc) or type(exc).__name__
            await replicas.stop()
            self._changed(pool)
            raise
        pool.state = "running"
        self._changed(pool)
        return pool

    async def stop(self, name: str) -> Pool:
        """Stop the pool now (its engines are killed; work in flight ends WORKER_RESET)."""
        pool = self.get(name)
        pool.state = "stopped"
        self._changed(pool)
        await pool.replicas.stop()
        return pool

    async def drain(self, name: str, deadline_s: float) -> dict[str, Any]:
        """Take no new work, let what runs finish (until ``deadline_s``), then stop."""
        pool = self._serving(name)
        pool.state = "draining"
        self._changed(pool)
        ended = await pool.replicas.drain(deadline_s)
        pool.state = "stopped"
        self._changed(pool)
        return {"pool": name, "state": "stopped", **ended}

    async def reload(self, name: str, model_ref: str) -> Pool:
        """Serve another catalogued model, atomically: the new replicas start and answer
        their probes before the old ones drain; if they fail, the old ones keep serving.

        Raises:
            UntrustedArtifactError: the trust policy refuses the new model.
            ReloadFailedError: the new model failed to start (rolled back).
        """
        pool = self._serving(name)
        pool.state = "reloading"  # at once: a drain, stop or second reload now sees it
        try:
            model = await asyncio.to_thread(self.catalog.usable, model_ref, self.policy)
            config = pool.config.model_copy(update={"model": model_ref})
            # the new replicas load while the old ones still hold their memory
            devices, need = await asyncio.to_thread(self._place, config, model)
            await pool.replicas.reload(self._spec(config, model), devices=devices)
        except BaseException as exc:
            if pool.state == "reloading":
                pool.state = "running"
            self._changed(pool)
            if isinstance(exc, PoolError) or not isinstance(exc, Exception):
                raise  # a pool's own refusal (untrusted, no room, failed to load) as it is
            raise ReloadFailedError(
                f"pool {name!r} could not load {model_ref!r} ({exc}); it still serves "
                f"{pool.model.name!r}",
                pool=name,
                fix="orca model verify the new model, check the engine's log, and reload again",
            ) from exc
        pool.previous.append({"model": pool.model.name, "digest": pool.model.digest})
        del pool.previous[:-KEPT_RELOADS]
        pool.config, pool.model, pool.devices, pool.vram_bytes = config, model, devices, need
        if pool.state == "reloading":
            pool.state = "running"
        self._changed(pool)
        return pool

    async def close(self) -> None:
        """Stop every pool (at the server's end)."""
        from orca.llm import _registry

        if _registry._pools == self.model:
            _registry.serve_pools(None)
        for pool in list(self.pools.values()):
            if pool.state != "stopped":
                pool.state = "stopped"
                await pool.replicas.stop()

    # -- dispatch -----------------------------------------------------------------------

    def model(self, name: str) -> PoolModel:
        """Pool ``name`` as a chat model (provider ``pool``; one per pool).

        Raises:
            PoolUnavailableError: no such pool runs here.
        """
        from orca.pools._model import PoolModel

        self.get(name)
        found = self._models.get(name)
        if found is None:
            found = self._models[name] = PoolModel(self, name)
        return found

    def install(self) -> None:
        """Let ``pool:NAME`` models of this process (profiles, ``make_model("pool",
        NAME)``) resolve to these pools; ``close`` undoes it."""
        from orca.llm._registry import serve_pools

        serve_pools(self.model)

    def lease(self, name: str, session: str | None) -> Lease:
        """A slot on a ready replica of pool ``name`` (session affinity first).

        Raises:
            PoolUnavailableError: no such pool, or it is draining or stopped.
            PoolUnreadyError: none of its replicas is ready.
            ReplicaExhaustedError: every ready replica's slots are taken.
        """
        from orca.errors import ReplicaExhaustedError

        pool = self.get(name)
        if not pool.serving:
            raise PoolUnavailableError(
                f"pool {name!r} is {pool.state}", pool=name, fix="send the work to another pool"
            )
        if not any(r.ready for r in pool.replicas.replicas):
            raise PoolUnreadyError(
                f"no replica of pool {name!r} is ready", pool=name, fix="retry shortly",
                retry_after=1.0,
            )  # fmt: skip
        lease = pool.replicas.acquire(session)
        if lease is None:
            raise ReplicaExhaustedError(
                f"every ready replica of pool {name!r} is busy", pool=name, fix="retry shortly",
                retry_after=1.0,
            )  # fmt: skip
        return lease

    # -- parts ----------------------------------------------------------------------------

    def _serving(self, name: str) -> Pool:
        """Pool ``name``, running (else PoolUnavailableError)."""
        pool = self.get(name)
        if pool.state != "running":
            raise PoolUnavailableError(
                f"pool {name!r} is {pool.state}",
                pool=name,
                fix="wait until it runs (orca pool show NAME), or start it again",
            )
        return pool

    def _place(
        self, config: PoolConfig, model: CatalogModel
    ) -> tuple[list[int | None], int | None]:
        """The device of each replica (None: the CPU, in cpu mode), and the memory one
        replica needs on its GPU. The inventory is read once, before this manager's first
        pool: the memory of the pools it started since is reserved here."""
        if config.mode == "cpu" or config.provision == "external":
            return [None] * config.replicas, None
        from orca.pools._placement import estimate_vram, place_replicas, shape_of

        need = estimate_vram(
            shape_of(model.metadata),
            file_size=model.size_bytes,
            n_ctx=config.n_ctx,
            slots=config.slots,
        ).total_bytes
        taken: dict[int, int] = {}
        for other in self.pools.values():
            if other.state in ("stopped", "failed") or other.vram_bytes is None:
                continue
            for device in other.devices:
                if device is not None:
                    taken[device] = taken.get(device, 0) + other.vram_bytes
        try:
            return list(place_replicas(need, config.replicas, self.inventory(), taken)), need
        except PlacementError as exc:
            exc.pool = config.name
            raise

    def _spec(self, config: PoolConfig, model: CatalogModel) -> PoolSpec:
        from orca.pools._engines import PoolSpec

        return PoolSpec(
            name=config.name,
            engine=config.engine,
            provision=config.provision,
            model_path=model.path,
            model_digest=model.digest,
            replicas=config.replicas,
            slots=config.slots,
            n_ctx=config.n_ctx,
            mode=config.mode,
            binary=config.binary,
            urls=tuple(config.urls),
            seed=config.seed,
            extra_args=tuple(config.extra_args),
            probe_deadline_s=config.probe_deadline_s,
            start_deadline_s=config.start_deadline_s,
        )

    def _replica_set(self, spec: PoolSpec, devices: Sequence[int | None]) -> ReplicaSet:
        from orca.pools._supervisor import ReplicaSet

        name = spec.name

        def changed(_: Any) -> None:
            pool = self.pools.get(name)
            if pool is not None:
                self._changed(pool)

        return ReplicaSet(spec, devices=devices, on_change=changed)

    def _changed(self, pool: Pool) -> None:
        if self.on_capacity is not None:
            try:
                self.on_capacity(pool)
            except Exception:  # a listener's failure must not stop the pool
                log.exception("a pool capacity listener failed")
