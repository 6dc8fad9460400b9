"""Local engine pools: a catalog of model files by digest, supervised engine replicas
(llama.cpp, vLLM) placed on the GPUs, their health, and dispatch to them (docs/pools.md)."""

from orca.pools._inventory import (
    SIMULATED_GPUS_ENV,
    Device,
    Inventory,
    detect_inventory,
    parse_nvidia_smi,
    simulated_inventory,
)
from orca.pools._manager import Pool, PoolConfig, PoolManager, pool_configs
from orca.pools._model import CALL, SESSION, PoolModel
from orca.pools._placement import (
    Affinity,
    VramEstimate,
    choose_replica,
    estimate_vram,
    place_replicas,
    shape_of,
)

__all__ = [
    "CALL",
    "SESSION",
    "SIMULATED_GPUS_ENV",
    "Affinity",
    "Device",
    "Inventory",
    "Pool",
    "PoolConfig",
    "PoolManager",
    "PoolModel",
    "VramEstimate",
    "choose_replica",
    "detect_inventory",
    "estimate_vram",
    "parse_nvidia_smi",
    "place_replicas",
    "pool_configs",
    "shape_of",
    "simulated_inventory",
]
