"""Local engine pools: a catalog of model files by digest, supervised engine replicas
(llama.cpp, vLLM) placed on the GPUs, their health, and dispatch to them (docs/pools.md)."""

from orca.pools._manager import Pool, PoolConfig, PoolManager, pool_configs
from orca.pools._model import CALL, SESSION, PoolModel

__all__ = [
    "CALL",
    "SESSION",
    "Pool",
    "PoolConfig",
    "PoolManager",
    "PoolModel",
    "pool_configs",
]
