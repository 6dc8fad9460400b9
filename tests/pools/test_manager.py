"""The pool manager in a program: real llama.cpp replicas of the tiny model in CPU mode,
the catalog's trust on every start, the pool as a chat model (``pool:NAME``), a replica
failing under a call, and the determinism suite on every replica."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from orca.errors import (
    ConfigError,
    DecodeTimeoutError,
    PlacementError,
    PoolUnavailableError,
    PoolUnreadyError,
    ReplicaExhaustedError,
    UnknownPoolError,
    UntrustedArtifactError,
    WorkerResetError,
)
from orca.llm import ChatRequest, Message, make_model
from orca.llm.tiny import ensure_tiny_model, write_tiny_model
from orca.pools import PoolConfig, PoolManager, open_catalog
from orca.pools._inventory import simulated_inventory
from orca.pools.determinism import CORPUS, check_pool
from sandboxing import alive

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Any]:
    (tmp_path / ".orca").mkdir()
    found = open_catalog(tmp_path)
    path = ensure_tiny_model(seed=0, path=tmp_path / "tiny.gguf")
    found.add(str(path), name="tiny", state="active")
    found.verify("tiny")
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
async def manager(catalog: Any) -> AsyncIterator[PoolManager]:
    found = PoolManager(catalog, policy="strict")
    try:
        yield found
    finally:
        await found.close()
    for pool in found.pools.values():  # every engine is gone
        for replica in pool.replicas.replicas:
            assert replica.pid is None or not alive(replica.pid)


def _request(tokens: int = 12, seed: int = 3) -> ChatRequest:
    return ChatRequest((Message.user("hello"),), max_tokens=tokens, seed=seed, temperature=0.8)


def _cpu(name: str = "tiny", **more: Any) -> PoolConfig:
    return PoolConfig(name=name, model="tiny", mode="cpu", **more)


async def test_a_pool_serves_calls_as_a_chat_model(manager: PoolManager) -> None:
    pool = await manager.start(_cpu(replicas=2))
    assert pool.state == "running"
    assert pool.capacity >= 1
    model = manager.model("tiny")
    answer = await model.complete(_request())
    assert answer.provider == "pool"
    assert answer.model == "tiny"
    assert answer.text
    assert answer.usage.output_tokens >= 1
    # through the registry, as a profile's pool:tiny would
    with pytest.raises(ConfigError, match="no pool runs in this process"):
        make_model("pool", "tiny")
    manager.install()
    try:
        again = await make_model("pool", "tiny").complete(_request())
        assert again.text == answer.text  # the same seed on a CPU replica
    finally:
        await manager.close()
    with pytest.raises(ConfigError):
        make_model("pool", "tiny")


async def test_trust_is_checked_before_any_engine_starts(
    manager: PoolManager, catalog: Any, tmp_path: Path
) -> None:
    path = write_tiny_model(tmp_path / "draft.gguf", seed=4)
    catalog.add(str(path), name="draft")  # a draft, never verified
    with pytest.raises(UntrustedArtifactError):
        await manager.start(PoolConfig(name="d", model="draft", mode="cpu"))
    assert "d" not in manager.pools
    lenient = PoolManager(catalog, policy="permissive")
    try:
        pool = await lenient.start(PoolConfig(name="d", model="draft", mode="cpu"))
        assert pool.state == "running"
    finally:
        await lenient.close()
    data = bytearray(path.read_bytes())
    data[-1] ^= 1  # changed behind the catalog's back: untrusted under any policy
    path.write_bytes(bytes(data))
    again = PoolManager(catalog, policy="permissive")
    with pytest.raises(UntrustedArtifactError):
        await again.start(PoolConfig(name="d2", model="draft", mode="cpu"))


async def test_gpu_mode_is_placed_on_gpus_and_never_on_the_cpu(catalog: Any) -> None:
    none = PoolManager(catalog, inventory=simulated_inventory([]))
    with pytest.raises(PlacementError, match='mode = "cpu"'):
        await none.start(PoolConfig(name="g", model="tiny"))
    full = simulated_inventory([{"name": "Full", "total_mib": 8192, "free_mib": 1}])
    with pytest.raises(PlacementError):
        await PoolManager(catalog, inventory=full).start(PoolConfig(name="g", model="tiny"))
    two = simulated_inventory(
        [
            {"name": "Small", "total_mib": 8192, "free_mib": 8000},
            {"name": "Big", "total_mib": 24576, "free_mib": 8300},
        ]
    )
    checks = PoolManager(catalog, inventory=two).preflight(
        PoolConfig(name="g", model="tiny", replicas=2)
    )
    placed = [d for c, s, d in checks if s == "ok" and "replica" in d]
    assert placed
    assert "GPUs [1, 0]" in placed[0]


async def test_unknown_and_stopped_pools_refuse_work(manager: PoolManager) -> None:
    with pytest.raises(UnknownPoolError):
        manager.model("nope")
    await manager.start(_cpu())
    await manager.stop("tiny")
    assert manager.get("tiny").state == "stopped"
    with pytest.raises(PoolUnavailableError):
        manager.lease("tiny", None)
    await manager.start(_cpu())  # a stopped pool starts again under its name
    assert manager.get("tiny").state == "running"


async def test_a_lease_is_refused_with_its_reason_when_slots_are_full_or_none_ready(
    manager: PoolManager,
) -> None:
    pool = await manager.start(_cpu())
    held = manager.lease("tiny", "a")
    with pytest.raises(ReplicaExhaustedError) as full:
        manager.lease("tiny", "b")
    assert (full.value.code, full.value.retriable) == ("REPLICA_EXHAUSTED", True)
    held.release()
    manager.lease("tiny", "b").release()  # the slot given back is leased again
    [replica] = pool.replicas.replicas
    os.kill(replica.pid, signal.SIGKILL)
    for _ in range(400):  # noticed: unready while it restarts
        if not replica.ready:
            break
        await asyncio.sleep(0.01)
    with pytest.raises(PoolUnreadyError) as unready:
        manager.lease("tiny", None)
    assert (unready.value.code, unready.value.retriable) == ("POOL_UNREADY", True)


async def test_a_replica_killed_under_a_call_ends_it_worker_reset(manager: PoolManager) -> None:
    pool = await manager.start(_cpu())
    [replica] = pool.replicas.replicas
    os.kill(replica.pid, signal.SIGSTOP)
    call = asyncio.ensure_future(manager.model("tiny").complete(_request(tokens=64)))
    for _ in range(200):  # the call holds the replica's slot
        if replica.in_flight:
            break
        await asyncio.sleep(0.01)
    killed = replica.pid
    os.kill(killed, signal.SIGKILL)
    with pytest.raises(WorkerResetError) as caught:
        await call
    assert caught.value.code == "WORKER_RESET"
    assert caught.value.usage is not None
    for _ in range(1200):  # restarted: another process, answering its probe
        if replica.ready and replica.pid != killed:
            break
        await asyncio.sleep(0.05)
    assert (await manager.model("tiny").complete(_request())).text


async def test_a_replica_that_stops_sending_tokens_ends_the_call(manager: PoolManager) -> None:
    pool = await manager.start(_cpu(decode_timeout_s=1.0, probe_deadline_s=60.0))
    [replica] = pool.replicas.replicas
    os.kill(replica.pid, signal.SIGSTOP)
    try:
        with pytest.raises(DecodeTimeoutError) as caught:
            await manager.model("tiny").complete(_request())
        assert caught.value.code == "DECODE_TIMEOUT"
        assert replica.in_flight == 0  # the slot was given back
    finally:
        os.kill(replica.pid, signal.SIGCONT)


async def test_the_determinism_suite_passes_on_every_replica(manager: PoolManager) -> None:
    pool = await manager.start(_cpu(replicas=2))
    for _ in range(400):
        if pool.capacity == 2:
            break
        await asyncio.sleep(0.05)
    report = await check_pool(manager, "tiny", CORPUS)
    assert report.ok, report.failures
    assert sorted(report.streams) == [0, 1]
    assert all(len(d) == len(CORPUS) for d in report.streams.values())
    assert report.across_replicas  # on the CPU, replicas agree too
    assert report.model_digest == pool.model.digest
    assert report.engine_version
    # different seeds gave different streams: the suite can tell streams apart
    assert len(set(report.streams[0])) > 1
