"""Local engine pools: a catalog of model files by sha256 digest (their GGUF metadata,
lifecycle and trust), supervised engine replicas (llama.cpp, vLLM) placed on the GPUs,
their health, and dispatch to them (docs/pools.md).

Everything here runs on the installation's host; nothing imports the server or the
command line."""

from __future__ import annotations

from orca.pools._engines import ENGINES, EngineAdapter, PoolSpec, Problem, adapter
from orca.pools._gguf import GGUFInfo, read_gguf
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
from orca.pools.catalog import (
    LIFECYCLE,
    TRUST,
    TRUST_POLICIES,
    Catalog,
    CatalogModel,
    TrustPolicy,
    UntrustedArtifactError,
    file_digest,
    open_catalog,
)

__all__ = [
    "CALL",
    "ENGINES",
    "LIFECYCLE",
    "SESSION",
    "SIMULATED_GPUS_ENV",
    "TRUST",
    "TRUST_POLICIES",
    "Affinity",
    "Catalog",
    "CatalogModel",
    "Device",
    "EngineAdapter",
    "GGUFInfo",
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
    "TrustPolicy",
    "UntrustedArtifactError",
    "VramEstimate",
    "adapter",
    "choose_replica",
    "detect_inventory",
    "estimate_vram",
    "file_digest",
    "open_catalog",
    "parse_nvidia_smi",
    "place_replicas",
    "pool_configs",
    "read_gguf",
    "shape_of",
    "simulated_inventory",
]
