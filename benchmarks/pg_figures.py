"""The scale-out figures on PostgreSQL, beside the engine workloads b_pg, c_pg, d_pg.

pg_reserve_settle_ms   the budget ledger: one reserve + settle pair, median ms
                       (``pg_ledger.py``: durable private cluster, with the bare commit
                       floor timed after every pair); target <= 3 ms.
workers_scaling        runs/s of 1, 2 and 4 ``orca worker`` processes from one
                       PostgreSQL run queue (``workers_scaling.py``), with the efficiency;
                       reported, no target (this machine's cores bound it).
"""

from __future__ import annotations

import statistics
from typing import Any

import pg_ledger
import workers_scaling

IDS = ("pg_reserve_settle_ms", "workers_scaling")


def reserve_settle(reps: int) -> dict[str, Any]:
    """``reps`` rounds of ``pg_ledger.PAIRS // 4`` pairs each on one cluster; the median
    of the rounds' medians."""
    rounds = [pg_ledger.run(pg_ledger.PAIRS // 4) for _ in range(reps)]
    value = statistics.median(r[pg_ledger.ID] for r in rounds)
    return {
        "value": value,
        "unit": "ms",
        "p95": statistics.median(r["p95"] for r in rounds),
        "commit_floor_ms": statistics.median(r["commit_floor_ms"] for r in rounds),
        "commits_per_pair": 2,
        "pairs_per_round": pg_ledger.PAIRS // 4,
        "reps": reps,
        "target": f"<= {pg_ledger.LIMIT:g} ms",
        "met": value <= pg_ledger.LIMIT,
        "settings": rounds[0]["settings"],
    }


def scaling(reps: int) -> dict[str, Any]:
    """One measurement per worker count (each a few hundred runs; ``reps`` is not
    used: the rates are medians of nothing but long runs)."""
    out = workers_scaling.scaling()
    return {**out, "value": out["runs_per_s"]["4"], "unit": "runs/s (4 workers)", "met": None}


def run(reps: int, wanted: set[str] | None) -> dict[str, dict[str, Any]]:
    from _report import run_figures

    figures = (("pg_reserve_settle_ms", reserve_settle), ("workers_scaling", scaling))
    return run_figures(figures, reps, wanted, "pg")


def markdown(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    ledger, scale = results.get("pg_reserve_settle_ms"), results.get("workers_scaling")
    if not ledger and not scale:
        return lines
    lines += ["", "## PostgreSQL: the ledger and the workers", ""]
    if ledger:
        if "error" in ledger:
            lines.append(f"- `pg_reserve_settle_ms`: error `{ledger['error']}`")
        else:
            lines.append(
                f"- `pg_reserve_settle_ms`: {ledger['value']:.2f} ms per reserve + settle "
                f"pair (p95 {ledger['p95']:.2f} ms), medians of {ledger['reps']} rounds of "
                f"{ledger['pairs_per_round']} pairs on a durable private cluster; each pair "
                f"is two commits, and a bare one-row commit took {ledger['commit_floor_ms']:.2f}"
                f" ms on the same disk meanwhile. Target {ledger['target']}: "
                f"{'met' if ledger['met'] else 'NOT met'}."
            )
    if scale:
        if "error" in scale:
            lines.append(f"- `workers_scaling`: error `{scale['error']}`")
        else:
            rates, eff = scale["runs_per_s"], scale["efficiency"]
            lines.append(
                f"- `workers_scaling`: {scale['runs']} two-node runs from one PostgreSQL "
                f"queue: {rates['1']} runs/s with 1 worker, {rates['2']} with 2 "
                f"(efficiency {eff['2']}), {rates['4']} with 4 (efficiency {eff['4']}). "
                f"This machine has {scale['cores']} cores, shared by PostgreSQL, the "
                "workers and the client: the cores bound it, not the queue."
            )
    return lines
