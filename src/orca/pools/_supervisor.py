"""A pool's replicas under supervision: started, probed, restarted, replaced, drained,
reloaded, and leased to calls.

Each replica is one engine process (or, for provision ``external``, one URL). A replica
is *ready* only after a real inference answered: a one-token ``POST /v1/completions``
within ``probe_deadline_s``. While it runs it is probed every ``probe_interval_s``. A
replica whose process exits has crashed: the calls leased on it are told (``Lease.lost``)
and it is started again after an exponential backoff; after ``max_quick_failures``
failures in a row without staying ready for ``stable_s`` it is ``failed`` and left
alone. A replica that misses a probe's deadline has hung: it is marked ``unready``,
its process group is killed and it is started again the same way.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from orca.errors import (
    ConfigError,
    PoolError,
    PoolUnavailableError,
    PoolUnreadyError,
    ReloadFailedError,
)
from orca.pools._engines import EngineAdapter, PoolSpec, adapter
from orca.pools._placement import Affinity
from orca.pools._process import (
    accepts,
    cap_log,
    free_port,
    is_stopped,
    kill_group,
    log_tail,
    spawn,
)
from orca.pools._replica import Lease, Replica, ReplicaState, SupervisorPolicy

__all__ = ["Lease", "Replica", "ReplicaSet", "ReplicaState", "SupervisorPolicy"]

_AFFINITY_SESSIONS = 10_000  # sessions remembered for affinity (least recently used go)


def _noting(error: PoolError, tail: str) -> PoolError:
    """The error, with the engine's last log lines as a note (``error.__notes__``)."""
    if tail:
        error.add_note(f"the engine's log ends with:\n{tail}")
    return error


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:64]


class ReplicaSet:
    """The replicas of one pool, supervised on the running event loop.

    Args:
        spec: what to run.
        devices: the GPU of each replica (from placement) in GPU mode; empty in CPU mode.
        policy: probe interval, backoff and stop grace.
        log_dir: where each replica's log goes (``POOL-gG-rI.log``); a new temporary
            directory when None.
        on_change: called (on the loop) whenever a replica's state or load changes.
    """

    def __init__(
        self,
        spec: PoolSpec,
        *,
        devices: Sequence[int | None] = (),
        policy: SupervisorPolicy | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        on_change: Callable[[ReplicaSet], None] | None = None,
    ) -> None:
        self.spec = spec
        self.adapter: EngineAdapter = adapter(spec.engine)
        self.policy = policy or SupervisorPolicy()
        self.devices = self._devices(spec, devices)
        self.log_dir = Path(log_dir) if log_dir else Path(tempfile.mkdtemp(prefix="orca-pool-"))
        self.on_change = on_change
        self.engine_version = ""
        self.replicas: list[Replica] = []
        self.draining = False
        self.leases_lost = 0
        self._retiring: list[Replica] = []
        self._candidates: list[Replica] = []
        self._tasks: dict[Replica, asyncio.Task[None]] = {}
        self._spawns: set[asyncio.Task[asyncio.subprocess.Process]] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._affinity = Affinity(_AFFINITY_SESSIONS)
        self._event = asyncio.Event()
        self._client: Any = None
        self._generation = 0
        self._started = False
        self._stopped = False
        self._reloading = False

    @staticmethod
    def _devices(spec: PoolSpec, devices: Sequence[int | None]) -> list[int | None]:
        if not devices:
            return [None] * spec.replicas
        if len(devices) != spec.replicas:
            raise ConfigError(
                f"pool {spec.name!r}: {len(devices)} device(s) for {spec.replicas} replica(s)",
                key="devices",
                fix="give one device per replica (placement's answer), or none in CPU mode",
            )
        return list(devices)

    # -- what the manager reads ------------------------------------------------------------

    @property
    def capacity(self) -> int:
        """Slots of the ready replicas (0 while draining)."""
        return 0 if self.draining else sum(r.slots for r in self.replicas if r.ready)

    @property
    def in_flight(self) -> int:
        return sum(r.in_flight for r in self._members())

    def health(self) -> dict[str, Any]:
        """``live`` (supervised, some replica not failed), ``ready`` (a replica can take a
        call), ``draining``, each replica's snapshot and the pool's metrics."""
        ready = [r for r in self.replicas if r.ready]
        probed = [r.last_probe_ms for r in ready if r.last_probe_ms is not None]
        return {
            "pool": self.spec.name,
            "engine": self.spec.engine,
            "provider": self.adapter.provider,
            "provision": self.spec.provision,
            "mode": self.spec.mode,
            "model_digest": self.spec.model_digest,
            "engine_version": self.engine_version,
            "live": self._started
            and not self._stopped
            and any(r.state != "failed" for r in self.replicas),
            "ready": bool(ready) and not self.draining and not self._stopped,
            "draining": self.draining,
            "replicas": [r.snapshot() for r in (*self.replicas, *self._retiring)],
            "metrics": {
                "replicas": len(self.replicas),
                "replicas_ready": len(ready),
                "slots": self.capacity,
                "in_flight": self.in_flight,
                "restarts": sum(r.restarts for r in self.replicas),
                "leases_lost": self.leases_lost,
                "probe_ms_max": round(max(probed), 3) if probed else None,
            },
        }

    async def wait_changed(self, timeout_s: float | None = None) -> bool:
        """Wait until a replica's state or load changes; False when ``timeout_s`` passed."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def _changed(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()
        if self.on_change is not None:
            self.on_change(self)

    def _members(self) -> list[Replica]:
        return [*self.replicas, *self._retiring, *self._candidates]

    # -- dispatch --------------------------------------------------------------------------

    def acquire(self, session: str | None = None) -> Lease | None:
        """A slot on a ready replica (the session's own while it has room, else the least
        loaded), or None when none is free, the pool is draining or not running."""
        if not self._started or self._stopped or self.draining:
            return None
        replica = self._affinity.choose(self.replicas, session)
        if replica is None:
            return None
        lease = Lease(replica, session, on_release=self._changed)
        replica.in_flight += 1
        replica.leased += 1
        replica._leases.add(lease)
        self._changed()
        return lease

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the replicas; return once one is ready. Raises PoolUnavailableError when
        the preflight finds problems (each named with its fix), PoolUnreadyError when
        none is ready within ``start_deadline_s`` or all failed (the replicas are stopped
        then; a note on the error holds the engine's last log lines)."""
        if self._started:
            raise RuntimeError(f"pool {self.spec.name!r} was started already")
        # off the loop: a preflight may run the engine's tools (nvidia-smi, a probe import)
        problems = await asyncio.to_thread(self.adapter.preflight, self.spec)
        if problems:
            listed = "; ".join(f"{p.message} (fix: {p.fix})" for p in problems)
            raise PoolUnavailableError(
                f"pool {self.spec.name!r} cannot start its engine: {listed}",
                pool=self.spec.name,
                fix="repair each problem named (orca doctor lists them)",
            )
        self._started = True
        self.engine_version = await self._version(self.spec, self.adapter)
        self.replicas = self._new_generation(self.spec, self.devices)
        for replica in self.replicas:
            self._supervise(replica, self.spec, self.adapter)
        deadline = time.monotonic() + self.spec.start_deadline_s
        while not any(r.ready for r in self.replicas):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or all(r.state == "failed" for r in self.replicas):
                break
            if self._stopped:  # stopped while it started: nothing will become ready
                raise PoolUnavailableError(
                    f"pool {self.spec.name!r} was stopped while it started",
                    pool=self.spec.name,
                    fix="start it again",
                )
            await self.wait_changed(remaining)
        else:
            return
        failed = [r for r in self.replicas if r.last_error] or self.replicas
        tail = log_tail(failed[0].log_path, self.policy.log_tail_lines)
        await self.stop()
        raise _noting(
            PoolUnreadyError(
                f"pool {self.spec.name!r}: no replica became ready within "
                f"{self.spec.start_deadline_s:g}s (replica {failed[0].index}: "
                f"{failed[0].last_error})",
                pool=self.spec.name,
                fix=f"read the engine's log ({failed[0].log_path}); check the model and engine",
            ),
            tail,
        )

    async def stop(self) -> None:
        """Kill every engine process of the pool (their whole groups); calls still leased
        are lost. Idempotent."""
        self._stopped = True
        for task in (*self._tasks.values(), *self._background):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), *self._background, return_exceptions=True)
        await asyncio.gather(*self._spawns, return_exceptions=True)
        members = self._members()
        await asyncio.gather(*(self._end(r, grace_s=self.policy.stop_grace_s) for r in members))
        self._retiring.clear()
        self._candidates.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        self._changed()

    async def drain(self, deadline_s: float) -> dict[str, int]:
        """Accept no new call, let the leased ones finish for up to ``deadline_s``, then
        stop. Returns how many leases ``completed`` and how many were ``lost``."""
        self.draining = True
        for replica in self.replicas:
            replica._retired = True
            replica._set("draining", "the pool drains")
        self._changed()
        before = self.in_flight
        deadline = time.monotonic() + deadline_s
        while self.in_flight and (remaining := deadline - time.monotonic()) > 0:
            await self.wait_changed(remaining)
        lost = self.in_flight
        await self.stop()
        return {"completed": before - lost, "lost": lost}

    async def reload(
        self, spec: PoolSpec, *, devices: Sequence[int | None] = (), drain_s: float = 60.0
    ) -> None:
        """Serve ``spec`` (a new model, context...) atomically: start its replicas beside
        the old ones and probe them; when all are ready, dispatch moves to them and the
        old ones drain (up to ``drain_s``) and stop. Otherwise the new ones are stopped,
        the old ones serve on, and ReloadFailedError is raised (a note on it holds the
        engine's last log lines)."""
        name = self.spec.name
        if not self._started or self._stopped or self.draining:
            raise PoolUnavailableError(
                f"pool {name!r} is not serving", pool=name, fix="start it first"
            )
        if self._reloading:
            raise ReloadFailedError(
                f"pool {name!r} is reloading already", pool=name, fix="wait for that reload"
            )
        if spec.name != name:
            raise ConfigError(
                f"pool {name!r} cannot reload as {spec.name!r}",
                key="name",
                fix="reload with the pool's own name (create a new pool for a new name)",
            )
        engine = adapter(spec.engine)
        problems = await asyncio.to_thread(engine.preflight, spec)
        if problems:
            listed = "; ".join(f"{p.message} (fix: {p.fix})" for p in problems)
            raise ReloadFailedError(
                f"pool {name!r} cannot reload: {listed}; the old replicas serve on",
                pool=name,
                fix="repair each problem named",
            )
        self._reloading = True
        try:
            await self._reload(spec, engine, self._devices(spec, devices), drain_s)
        finally:
            self._reloading = False

    async def _reload(
        self, spec: PoolSpec, engine: EngineAdapter, devices: list[int | None], drain_s: float
    ) -> None:
        version = await self._version(spec, engine)
        candidates = self._new_generation(spec, devices, version=version)
        self._candidates = candidates
        for replica in candidates:
            replica._restartable = False  # one try each: a failure is the reload's failure
            self._supervise(replica, spec, engine)
        deadline = time.monotonic() + spec.start_deadline_s
        while not all(r.ready for r in candidates):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopped or any(r.state == "failed" for r in candidates):
                break
            await self.wait_changed(remaining)
        if not all(r.ready for r in candidates) or self._stopped:
            bad = next((r for r in candidates if r.state == "failed"), candidates[0])
            error = bad.last_error or f"not ready within {spec.start_deadline_s:g}s"
            tail = log_tail(bad.log_path, self.policy.log_tail_lines)
            await asyncio.gather(*(self._retire(r) for r in candidates))
            self._candidates = []
            raise _noting(
                ReloadFailedError(
                    f"pool {self.spec.name!r}: the new replicas of {spec.model_path} did not "
                    f"become ready (replica {bad.index}: {error}); they were stopped and the "
                    "old ones serve on",
                    pool=self.spec.name,
                    fix=f"read the engine's log ({bad.log_path}); check the model file",
                ),
                tail,
            )
        old = self.replicas
        for replica in candidates:
            replica._restartable = True
        self.replicas, self._candidates = candidates, []
        self.spec, self.adapter, self.devices = spec, engine, devices
        self.engine_version = version
        self._affinity = Affinity(_AFFINITY_SESSIONS)  # the new replicas' caches are cold
        for replica in old:
            replica._retired = True
            replica._set("draining", "replaced by a reload")
        self._retiring += old
        self._changed()
        task = asyncio.ensure_future(self._drain_old(old, drain_s))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _drain_old(self, old: list[Replica], drain_s: float) -> None:
        deadline = time.monotonic() + drain_s
        while any(r.in_flight for r in old) and (remaining := deadline - time.monotonic()) > 0:
            await self.wait_changed(remaining)
        await asyncio.gather(*(self._retire(r) for r in old))
        self._retiring = [r for r in self._retiring if r not in old]
        self._changed()

    async def _retire(self, replica: Replica) -> None:
        replica._retired = True
        task = self._tasks.pop(replica, None)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        # a process being spawned when the task was cancelled is recorded once spawned
        await asyncio.gather(*self._spawns, return_exceptions=True)
        await self._end(replica, grace_s=self.policy.stop_grace_s)

    async def _end(self, replica: Replica, *, grace_s: float) -> None:
        # the calls still leased are lost before the engine hears SIGTERM: a graceful
        # engine finishes its requests on SIGTERM, and a stop must not wait on them
        self._lose_leases(replica)
        await self._kill(replica, grace_s=grace_s)
        replica._set("stopped", "stopped")

    # -- one replica's life ------------------------------------------------------------------

    def _new_generation(
        self, spec: PoolSpec, devices: Sequence[int | None], *, version: str | None = None
    ) -> list[Replica]:
        self._generation += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        return [
            Replica(
                i,
                spec,
                device=devices[i],
                log_path=self.log_dir / f"{_safe(spec.name)}-g{self._generation}-r{i}.log",
                version=self.engine_version if version is None else version,
            )
            for i in range(spec.replicas)
        ]

    @staticmethod
    async def _version(spec: PoolSpec, engine: EngineAdapter) -> str:
        if spec.provision == "external":
            return "external"
        return await asyncio.to_thread(engine.version, spec)

    def _supervise(self, replica: Replica, spec: PoolSpec, engine: EngineAdapter) -> None:
        self._tasks[replica] = asyncio.ensure_future(self._run(replica, spec, engine))

    async def _run(self, replica: Replica, spec: PoolSpec, engine: EngineAdapter) -> None:
        try:
            await self._life(replica, spec, engine)
        except Exception as exc:  # a supervisor's bug must show, not leave a replica hanging
            replica.last_error = f"the supervisor failed: {type(exc).__name__}: {exc}"
            replica._set("failed", replica.last_error)
            await self._kill(replica)
            self._lose_leases(replica)
            self._changed()

    async def _life(self, replica: Replica, spec: PoolSpec, engine: EngineAdapter) -> None:
        """Start, watch, restart: until the replica is retired or has failed too often."""
        failures = 0
        while True:
            if await self._launch(replica, spec, engine):
                replica._set("ready", "probe answered")
                self._changed()
                ready_at = time.monotonic()
                why = await self._watch(replica, spec)
                if time.monotonic() - ready_at >= self.policy.stable_s:
                    failures = 0
                replica.last_error = why
            failures += 1
            external = spec.provision == "external"
            if not external:
                replica._set("unready", replica.last_error or "")
                self._changed()
                await self._kill(replica)
            self._lose_leases(replica)
            give_up = failures >= self.policy.max_quick_failures and not external
            if replica._retired or not replica._restartable or give_up:
                replica._set("stopped" if replica._retired else "failed", replica.last_error or "")
                self._changed()
                return
            replica._set("unready", replica.last_error or "")
            self._changed()
            await asyncio.sleep(self.policy.backoff(failures))
            if replica._retired:  # drained or replaced while it waited
                replica._set("stopped", "retired before its restart")
                self._changed()
                return
            replica.restarts += 1

    async def _launch(self, replica: Replica, spec: PoolSpec, engine: EngineAdapter) -> bool:
        """Start the engine (none for external) and probe it until it answers; False when
        it exited or did not answer within ``start_deadline_s``."""
        replica._set("starting", "launch")
        self._changed()
        if spec.provision == "external":
            url = spec.urls[replica.index].rstrip("/")
            replica.base_url = url if url.endswith("/v1") else f"{url}/v1"
        else:
            replica.port = free_port()
            replica.base_url = f"http://127.0.0.1:{replica.port}/v1"
            command = engine.command(spec, port=replica.port, device=replica.device)
            env = {
                **os.environ,
                **engine.environment(spec, device=replica.device),
                "ORCA_POOL_REPLICA": f"{spec.name}/{replica.index}",
            }
            cap_log(replica.log_path, self.policy.log_max_bytes)
            with replica.log_path.open("ab") as log:
                log.write(f"--- orca: starting {' '.join(command)}\n".encode())
            # shielded: a process once spawned is recorded, even if this task is cancelled
            spawning = asyncio.ensure_future(self._spawn(replica, command, env))
            self._spawns.add(spawning)
            spawning.add_done_callback(self._spawns.discard)
            try:
                await asyncio.shield(spawning)
            except OSError as exc:  # not executable, exec format error, no such file...
                replica.last_error = f"the engine could not be started: {exc}"
                return False
        deadline = time.monotonic() + spec.start_deadline_s
        while (remaining := deadline - time.monotonic()) > 0:
            if replica._exited is not None and replica._exited.done():
                replica.last_error = f"the engine exited with status {replica._exited.result()}"
                return False
            if await self._probe(replica, min(spec.probe_deadline_s, remaining)):
                return True
            if replica._exited is not None:
                await asyncio.wait([replica._exited], timeout=0.1)
            else:
                await asyncio.sleep(min(0.5, self.policy.probe_interval_s))
        replica.last_error = f"no probe answered within start_deadline_s={spec.start_deadline_s:g}"
        return False

    async def _spawn(
        self, replica: Replica, command: list[str], env: dict[str, str]
    ) -> asyncio.subprocess.Process:
        process = await spawn(command, env=env, log_path=replica.log_path)
        replica._process, replica.pid = process, process.pid
        replica._exited = asyncio.ensure_future(process.wait())
        return process

    async def _watch(self, replica: Replica, spec: PoolSpec) -> str:
        """Probe a ready replica until it exits or misses a probe; returns why."""
        while True:
            interval = self.policy.probe_interval_s
            if replica._exited is not None:
                await asyncio.wait([replica._exited], timeout=interval)
                if replica._exited.done():
                    return f"the engine exited with status {replica._exited.result()}"
            else:
                await asyncio.sleep(interval)
            if replica.in_flight >= replica.slots:
                # every slot is busy: a probe would queue behind the calls, so only ask the
                # kernel whether the process is stopped, or an external server whether it
                # still accepts connections
                if replica.pid is not None and is_stopped(replica.pid):
                    return "the engine process is stopped (SIGSTOP) with calls in flight"
                if replica._process is None and not await accepts(
                    replica.base_url, spec.probe_deadline_s
                ):
                    return f"{replica.base_url} refuses connections with calls in flight"
                continue
            cap_log(replica.log_path, self.policy.log_max_bytes)
            leased = replica.leased
            if not await self._probe(replica, spec.probe_deadline_s):
                if replica._exited is not None and replica._exited.done():
                    return f"the engine exited with status {replica._exited.result()}"
                missed = (replica.last_error or "").startswith("probe missed")
                if replica.leased != leased and missed:
                    # a call took the slot while the probe was sent: the probe may have
                    # waited behind it, which says nothing of a hang
                    if replica.pid is not None and is_stopped(replica.pid):
                        return "the engine process is stopped (SIGSTOP)"
                    continue
                return replica.last_error or "probe failed"

    async def _probe(self, replica: Replica, timeout_s: float) -> bool:
        """One real inference: a one-token completion, answered within ``timeout_s``."""
        import httpx

        if self._client is None:
            # loopback and operator URLs: never through a proxy from the environment
            self._client = httpx.AsyncClient(trust_env=False)
        body = {"model": replica.model, "prompt": "ping", "max_tokens": 1, "temperature": 0}
        began = time.monotonic()
        try:
            answer = await asyncio.wait_for(
                self._client.post(
                    f"{replica.base_url}/completions", json=body, timeout=httpx.Timeout(timeout_s)
                ),
                timeout_s,
            )
            choices = answer.json().get("choices") if answer.status_code == 200 else None
        except (httpx.HTTPError, TimeoutError, ValueError, AttributeError) as exc:
            if isinstance(exc, TimeoutError | httpx.TimeoutException):
                replica.last_error = f"probe missed its {timeout_s:g}s deadline"
            else:
                replica.last_error = f"probe failed: {type(exc).__name__}: {exc}"[:300]
            return False
        if not isinstance(choices, list) or not choices:
            replica.last_error = f"probe answered {answer.status_code} without a completion"
            return False
        replica._probed((time.monotonic() - began) * 1000)
        return True

    async def _kill(self, replica: Replica, *, grace_s: float = 0.0) -> None:
        process, exited = replica._process, replica._exited
        if process is None or exited is None:
            return
        await kill_group(process, exited, grace_s=grace_s)
        replica._process = replica._exited = None
        replica.pid = None

    def _lose_leases(self, replica: Replica) -> None:
        if not replica._leases:
            return
        for lease in replica._leases:
            lease._lose()
        self.leases_lost += len(replica._leases)
        replica._leases.clear()
        replica.in_flight = 0
        self._changed()
