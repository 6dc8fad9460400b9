"""Run a two-replica pool and print its engines' pids, then wait to be killed.

Used by test_supervisor.py: ``python _pool_holder.py MODEL LOG_DIR``."""

from __future__ import annotations

import asyncio
import json
import sys

from orca.pools._engines import PoolSpec
from orca.pools._supervisor import ReplicaSet


async def main(model: str, log_dir: str) -> None:
    spec = PoolSpec(
        name="held",
        engine="llamacpp",
        provision="package",
        model_path=model,
        model_digest="sha256:held",
        replicas=2,
        n_ctx=256,
    )
    pool = ReplicaSet(spec, log_dir=log_dir)
    await pool.start()
    while not all(r.ready for r in pool.replicas):
        await pool.wait_changed(60)
    print(json.dumps([r.pid for r in pool.replicas]), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
