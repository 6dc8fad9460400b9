"""Local engine pools: a catalog of model files by digest, supervised engine replicas
(llama.cpp, vLLM) placed on the GPUs, their health, and dispatch to them (docs/pools.md)."""

from orca.pools._engines import ENGINES, EngineAdapter, PoolSpec, Problem, adapter
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
from orca.pools._supervisor import Lease, Replica, ReplicaSet, SupervisorPolicy

__all__ = [
    "CALL",
    "ENGINES",
    "SESSION",
    "SIMULATED_GPUS_ENV",
    "Affinity",
    "Device",
    "EngineAdapter",
    "Inventory",
    "Lease",
    "Pool",
    "PoolConfig",
    "PoolManager",
    "PoolModel",
    "PoolSpec",
    "Problem",
    "Replica",
    "ReplicaSet",
    "SupervisorPolicy",
    "VramEstimate",
    "adapter",
    "choose_replica",
    "detect_inventory",
    "estimate_vram",
    "parse_nvidia_smi",
    "place_replicas",
    "pool_configs",
    "shape_of",
    "simulated_inventory",
]
