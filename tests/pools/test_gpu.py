"""On a machine with an NVIDIA GPU (benchmarks/gpu_check.sh): two models placed on the
GPUs in gpu mode, llama.cpp offloading their layers, and the determinism corpus on every
replica. Without a GPU these skip, unless ``ORCA_REQUIRE_GPU`` is set: then they fail."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from orca.llm.tiny import ensure_tiny_model, write_tiny_model
from orca.pools import PoolConfig, PoolManager, detect_inventory, open_catalog
from orca.pools.determinism import check_pool

pytestmark = [pytest.mark.gpu, pytest.mark.timeout(600)]


@pytest.fixture
async def on_gpus(tmp_path: Path) -> AsyncIterator[PoolManager]:
    inventory = detect_inventory()
    if not inventory.devices:
        if os.environ.get("ORCA_REQUIRE_GPU"):
            pytest.fail(f"ORCA_REQUIRE_GPU is set and no GPU was found: {inventory.describe()}")
        pytest.skip(f"no NVIDIA GPU on this machine ({inventory.describe()})")
    (tmp_path / ".orca").mkdir()
    catalog = open_catalog(tmp_path)
    for name, path in (
        ("tiny", ensure_tiny_model(seed=0, path=tmp_path / "tiny.gguf")),
        ("tiny2", write_tiny_model(tmp_path / "tiny2.gguf", seed=2)),
    ):
        catalog.add(str(path), name=name, state="active")
        catalog.verify(name)
    manager = PoolManager(catalog, inventory=inventory)
    try:
        yield manager
    finally:
        await manager.close()
        catalog.close()


async def test_two_models_are_placed_on_the_gpus_and_stream_the_same_tokens(
    on_gpus: PoolManager,
) -> None:
    assert shutil.which("nvidia-smi") is not None
    gpus = {d.index for d in on_gpus.inventory().devices}
    pools = [
        await on_gpus.start(PoolConfig(name=name, model=name, mode="gpu", replicas=2, seed=1))
        for name in ("tiny", "tiny2")
    ]
    for pool in pools:
        assert pool.devices
        assert set(pool.devices) <= gpus  # every replica on a GPU, none on the CPU
        assert pool.vram_bytes
        for replica in pool.replicas.replicas:
            log = await asyncio.to_thread(Path(replica.log_path).read_text, errors="replace")
            assert "CUDA" in log, log[-2000:]  # llama.cpp found the GPU
        report = await check_pool(on_gpus, pool.name)
        print("determinism", report.as_dict())  # benchmarks/gpu_check.sh keeps the output
        assert report.ok, report.failures
