"""Local engine pool figures: real llama.cpp replicas (CPU mode, the tiny model), in one
process with the pool manager, the way ``orca serve`` holds them.

pool_dispatch_overhead_ms  one call through a pool's admission, dispatch (a replica's
                           slot, session affinity) and its chat model, minus the same
                           call made to the replica's adapter directly; median of 40
                           calls each a repetition, the two taking turns (8 tokens each)
pool_tokens_ratio          tokens/s of 8 concurrent calls through the pool (2 replicas,
                           admission holding the ones without a slot) over tokens/s of
                           the same 8 calls made directly, 4 to each replica at once
replica_recovery_s         a replica SIGKILLed -> restarted and answering its probe again
pool_gpu                   (only when asked for: --only pool_gpu, on a machine with an
                           NVIDIA GPU) tokens/s of one replica in gpu mode over one in
                           cpu mode, and the determinism corpus on the GPU replicas
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

IDS = ("pool_dispatch_overhead_ms", "pool_tokens_ratio", "replica_recovery_s", "pool_gpu")
OVERHEAD_LIMIT_MS = 2.0
RATIO_LIMIT = 0.95
CALLS = 40
CONCURRENT = 8
TOKENS = 8
LONG_TOKENS = 96


def _request(tokens: int, seed: int) -> Any:
    from orca.llm import ChatRequest, Message

    return ChatRequest(
        (Message.user("Tell me about the sea."),), max_tokens=tokens, seed=seed, temperature=0.8
    )


async def _drain(stream: Any) -> int:
    n = 0
    async for delta in stream:
        n += bool(delta.text)
    return n


class _Bench:
    """A manager with one pool of 2 CPU replicas over a catalog in a temp project."""

    def __init__(self, tmp: Path) -> None:
        from orca.llm.tiny import ensure_tiny_model
        from orca.pools import PoolManager, open_catalog

        path = ensure_tiny_model(seed=0, path=tmp / "tiny.gguf")
        (tmp / ".orca").mkdir()
        self.catalog = catalog = open_catalog(tmp)
        catalog.add(str(path), name="tiny", state="active")
        catalog.verify("tiny")
        self.manager = PoolManager(catalog, policy="strict")

    async def start(self, name: str = "bench", mode: str = "cpu", replicas: int = 2) -> Any:
        from orca.pools import PoolConfig

        config = PoolConfig(name=name, model="tiny", mode=mode, replicas=replicas, queue=64, seed=1)
        pool = await self.manager.start(config)
        for _ in range(400):  # every replica ready
            if pool.capacity == replicas:
                break
            await asyncio.sleep(0.05)
        return pool


@contextlib.asynccontextmanager
async def _running(
    name: str = "bench", mode: str = "cpu", replicas: int = 2
) -> AsyncIterator[tuple[_Bench, Any]]:
    """A bench with one pool started, stopped (engines and catalog) at the end."""
    with tempfile.TemporaryDirectory() as tmp:
        bench = _Bench(Path(tmp))
        try:
            yield bench, await bench.start(name, mode, replicas)
        finally:
            await bench.manager.close()
            bench.catalog.close()


async def _admitted(admission: Any, key: str, stream: Any) -> int:
    """``stream``'s tokens, once ``admission`` gave it a slot (as a server's task)."""
    ticket = admission.admit(key)
    await admission.slot(ticket)
    try:
        return await _drain(stream)
    finally:
        admission.release(ticket)


async def _overhead(reps: int) -> dict[str, Any]:
    from orca.server._admission import Admission

    async with _running() as (bench, pool):
        model = bench.manager.model("bench")
        admission = Admission("pool:bench", max_running=2, max_queued=64)
        direct = model._client(pool.replicas.replicas[0].base_url)

        async def through_pool(i: int) -> float:
            start = time.perf_counter()
            await _admitted(admission, f"t{i}", model.stream(_request(TOKENS, i)))
            return (time.perf_counter() - start) * 1000

        async def straight(i: int) -> float:
            start = time.perf_counter()
            await _drain(direct.stream(_request(TOKENS, i)))
            return (time.perf_counter() - start) * 1000

        for i in range(5):  # warm-up: connections, caches
            await through_pool(i)
            await straight(i)
        samples, pooled_ms, direct_ms = [], [], []
        for _ in range(reps):
            a, b = [], []
            for i in range(CALLS):  # the two take turns
                a.append(await through_pool(i))
                b.append(await straight(i))
            pooled_ms.append(statistics.median(a))
            direct_ms.append(statistics.median(b))
            samples.append(statistics.median(a) - statistics.median(b))
    value = statistics.median(samples)
    return {
        "value": round(value, 3),
        "unit": "ms",
        "pool_ms": round(statistics.median(pooled_ms), 3),
        "direct_ms": round(statistics.median(direct_ms), 3),
        "min": round(min(samples), 3),
        "max": round(max(samples), 3),
        "reps": reps,
        "calls_per_rep": CALLS,
        "target": f"<= {OVERHEAD_LIMIT_MS:g} ms",
        "met": value <= OVERHEAD_LIMIT_MS,
    }


async def _ratio(reps: int) -> dict[str, Any]:
    from orca.server._admission import Admission

    async with _running() as (bench, pool):
        model = bench.manager.model("bench")
        admission = Admission("pool:bench", max_running=2, max_queued=64)
        clients = [model._client(r.base_url) for r in pool.replicas.replicas]

        async def per_replica(client: Any, seeds: range) -> int:
            return sum([await _drain(client.stream(_request(LONG_TOKENS, i))) for i in seeds])

        async def pooled() -> float:
            start = time.perf_counter()
            counts = await asyncio.gather(
                *(
                    _admitted(admission, f"t{i}", model.stream(_request(LONG_TOKENS, i)))
                    for i in range(CONCURRENT)
                )
            )
            return sum(counts) / (time.perf_counter() - start)

        async def direct() -> float:
            half = CONCURRENT // 2
            start = time.perf_counter()
            counts = await asyncio.gather(
                per_replica(clients[0], range(half)),
                per_replica(clients[1], range(half, CONCURRENT)),
            )
            return sum(counts) / (time.perf_counter() - start)

        await pooled(), await direct()  # warm-up
        ratios, rates = [], []
        for _ in range(reps):
            a, b = await pooled(), await direct()
            ratios.append(a / b)
            rates.append((a, b))
    value = statistics.median(ratios)
    return {
        "value": round(value, 3),
        "unit": "ratio",
        "pool_tokens_per_s": round(statistics.median(r[0] for r in rates), 1),
        "direct_tokens_per_s": round(statistics.median(r[1] for r in rates), 1),
        "min": round(min(ratios), 3),
        "max": round(max(ratios), 3),
        "reps": reps,
        "calls": CONCURRENT,
        "target": f">= {RATIO_LIMIT:g}",
        "met": value >= RATIO_LIMIT,
    }


async def _recovery(reps: int) -> dict[str, Any]:
    samples = []
    for _ in range(reps):  # a fresh pool each time: a replica killed again and again
        # within a minute is given up on (the supervisor's failure limit), by design
        async with _running() as (_, pool):
            replica = pool.replicas.replicas[0]
            pid = replica.pid
            start = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            while not (replica.ready and replica.pid not in (None, pid)):
                await asyncio.sleep(0.01)
                if time.perf_counter() - start > 120:
                    raise RuntimeError("the replica did not come back in 120 s")
            samples.append(time.perf_counter() - start)
    value = statistics.median(samples)
    return {
        "value": round(value, 3),
        "unit": "s",
        "min": round(min(samples), 3),
        "max": round(max(samples), 3),
        "reps": reps,
        "target": "report",
        "met": None,
    }


async def _gpu(reps: int) -> dict[str, Any]:
    from orca.pools import detect_inventory
    from orca.pools.determinism import check_pool

    inventory = detect_inventory()
    if not inventory.devices:
        raise RuntimeError(f"no NVIDIA GPU here: {inventory.describe()}")
    rates: dict[str, list[float]] = {"gpu": [], "cpu": []}
    async with _running("gpu", "gpu", 1) as (bench, _):
        await bench.start("cpu", "cpu", 1)
        for mode in ("gpu", "cpu"):
            model = bench.manager.model(mode)
            await _drain(model.stream(_request(LONG_TOKENS, 0)))  # warm-up
            for _ in range(reps):
                start = time.perf_counter()
                n = 0
                for i in range(4):
                    n += await _drain(model.stream(_request(LONG_TOKENS, i)))
                rates[mode].append(n / (time.perf_counter() - start))
        report = await check_pool(bench.manager, "gpu")
    gpu, cpu = statistics.median(rates["gpu"]), statistics.median(rates["cpu"])
    return {
        "value": round(gpu / cpu, 3),
        "unit": "ratio",
        "gpu_tokens_per_s": round(gpu, 1),
        "cpu_tokens_per_s": round(cpu, 1),
        "gpus": inventory.describe(),
        "determinism": report.as_dict(),
        "min": round(min(rates["gpu"]) / cpu, 3),
        "max": round(max(rates["gpu"]) / cpu, 3),
        "reps": reps,
        "target": "report; the determinism corpus passes on the GPU",
        "met": report.ok,
    }


def pool_dispatch_overhead_ms(reps: int) -> dict[str, Any]:
    return asyncio.run(_overhead(reps))


def pool_tokens_ratio(reps: int) -> dict[str, Any]:
    return asyncio.run(_ratio(reps))


def replica_recovery_s(reps: int) -> dict[str, Any]:
    return asyncio.run(_recovery(reps))


def pool_gpu(reps: int) -> dict[str, Any]:
    return asyncio.run(_gpu(reps))


FIGURES = (
    ("pool_dispatch_overhead_ms", pool_dispatch_overhead_ms),
    ("pool_tokens_ratio", pool_tokens_ratio),
    ("replica_recovery_s", replica_recovery_s),
)


def run(reps: int, wanted: set[str] | None) -> dict[str, dict[str, Any]]:
    """The pool figures in ``wanted`` (all when None); pool_gpu only when named (it needs
    an NVIDIA GPU)."""
    from _report import run_figures

    found = run_figures(FIGURES, reps, wanted, "pools")
    if wanted is not None and "pool_gpu" in wanted:
        found.update(run_figures((("pool_gpu", pool_gpu),), reps, wanted, "pool_gpu"))
    return found


def markdown(results: dict[str, Any]) -> list[str]:
    """The local engine pools section of RESULTS.md."""
    lines = ["", "## Local engine pools (CPU mode, the tiny model, 2 replicas)", ""]
    described = {
        "pool_dispatch_overhead_ms": "one call through the pool's admission, dispatch and "
        "chat model minus the same call to the replica's adapter directly (8 tokens, "
        f"median of {CALLS} calls a repetition)",
        "pool_tokens_ratio": f"tokens/s of {CONCURRENT} concurrent calls through the pool "
        "over the same calls made directly, half to each replica",
        "replica_recovery_s": "a replica SIGKILLed -> restarted and answering its probe",
        "pool_gpu": "tokens/s of one gpu-mode replica over one cpu-mode replica, with the "
        "determinism corpus run on the GPU (benchmarks/gpu_check.sh)",
    }
    for figure_id, what in described.items():
        entry = results.get(figure_id)
        if not entry:
            continue
        if "error" in entry:
            lines.append(f"- `{figure_id}`: error `{entry['error']}`")
            continue
        verdict = "" if entry["met"] is None else (": met" if entry["met"] else ": NOT met")
        lines.append(
            f"- `{figure_id}`: {entry['value']} {entry['unit']} (min {entry['min']}, max "
            f"{entry['max']}; target {entry['target']}{verdict}): {what}."
        )
    if "pool_gpu" not in results:
        lines.append(
            "- `pool_gpu`: not measured: no machine with an NVIDIA GPU has run "
            "`benchmarks/gpu_check.sh` yet (it builds llama.cpp with CUDA, places two models "
            "on the GPUs, runs the determinism corpus there and this figure)."
        )
    return lines


if __name__ == "__main__":  # python benchmarks/pool_figures.py: just these figures
    import json

    sys.path.insert(0, str(Path(__file__).parent))
    print(json.dumps(run(int(os.environ.get("REPS", "3")), None), indent=2))
