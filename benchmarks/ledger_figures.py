"""The budget ledger's figures.

budget_status_ms       read where a budget stands (one query), median per read
reserve_settle_ms      reserve -> record -> settle one call against a block budget on a
                       SQLite file (the settle fsyncs: durable), median per call
metering_overhead_pct  a local-engine LLM call made through ctx.worker (reserve, record,
                       settle, usage/token events, pricing) over the same call made on the
                       bare model, in the same node
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

IDS = ("budget_status_ms", "reserve_settle_ms", "metering_overhead_pct")
STATUS_READS = 2000
SETTLES = 200
CALLS = 10  # LLM calls of each kind per repetition
CALL_TOKENS = 128  # as in provider_stream_ratio
LIMITS = {"budget_status_ms": 0.5, "reserve_settle_ms": 2.0, "metering_overhead_pct": 3.0}


def _ledger(tmp: str) -> Any:
    from orca.cost import Budget, Ledger
    from orca.store import open_user_db

    ledger = Ledger(open_user_db(Path(tmp) / "orca.db"))
    ledger.budgets.create(Budget("bench", 10**15))  # block, active
    return ledger


def budget_status(reps: int) -> dict[str, Any]:
    """Median time of ``Budgets.status`` on a ledger with a few thousand usage rows."""
    from orca.cost import CallContext, Charge

    with tempfile.TemporaryDirectory() as tmp:
        ledger = _ledger(tmp)
        budgets = ledger.applicable()
        for i in range(2000):  # history to read past
            hold = ledger.reserve(budgets, {"usd": 10_000})
            ledger.settle(
                hold, Charge("openai", "m", 10, 10, cost_nano=5_000), CallContext(node=f"n{i % 7}")
            )
        samples = []
        for _ in range(reps):
            start = time.perf_counter()
            for _ in range(STATUS_READS):
                ledger.budgets.status("bench")
            samples.append((time.perf_counter() - start) * 1000 / STATUS_READS)
        ledger.conn.close()
    return _entry("budget_status_ms", samples, "ms/read", usage_rows=2000)


def reserve_settle(reps: int) -> dict[str, Any]:
    """Median time of reserve + record + settle (three durable commits) per call."""
    from orca.cost import CallContext, Charge

    with tempfile.TemporaryDirectory() as tmp:
        ledger = _ledger(tmp)
        budgets = ledger.applicable()
        charge = Charge("openai", "m", 100, 50, cost_nano=12_345)
        context = CallContext(run_id="r", node="n", role="worker")
        samples = []
        for _ in range(reps):
            per_call = []
            for _ in range(SETTLES):
                start = time.perf_counter()
                hold = ledger.reserve(budgets, {"usd": 50_000, "tokens": 1_000})
                ledger.record(hold, charge)
                ledger.settle(hold, charge, context)
                per_call.append((time.perf_counter() - start) * 1000)
            samples.append(statistics.median(per_call))
        ledger.conn.close()
    return _entry("reserve_settle_ms", samples, "ms/call", commits_per_call=3)


def metering_overhead(reps: int) -> dict[str, Any]:
    """Per-call time through ``ctx.worker`` (metered, block budget) over the bare model's
    ``stream`` in the same node, same model, same prompts; the two take turns."""
    from typing import TypedDict

    from orca import END, START, StateGraph
    from orca.cost import Price, PriceBook
    from orca.llm import ChatRequest, Message, ModelSpec, Profile
    from orca.llm.tiny import ensure_tiny_model

    class S(TypedDict, total=False):
        ms: list[float]

    with tempfile.TemporaryDirectory() as tmp:
        path = ensure_tiny_model(seed=0, path=Path(tmp) / "tiny.gguf")
        spec = ModelSpec("llamacpp", str(path), {"n_ctx": 1024})
        profile = Profile("bench", spec, spec)
        ledger = _ledger(tmp)
        prices = PriceBook([Price("llamacpp", "tiny.gguf", 1, 2)])
        model = spec.build()

        async def both(state: S, ctx: Any) -> dict[str, Any]:
            # the same prompts, alternating which goes first, so drift hits both alike
            metered, bare = [], []
            for i in range(CALLS):
                prompt = f"Tell me about {i}."
                for who in ("metered", "bare") if i % 2 else ("bare", "metered"):
                    start = time.perf_counter()
                    if who == "metered":
                        await ctx.worker.acomplete(prompt, max_tokens=CALL_TOKENS, seed=i)
                        metered.append(time.perf_counter() - start)
                    else:
                        request = ChatRequest(
                            (Message.user(prompt),), max_tokens=CALL_TOKENS, seed=i
                        )
                        async for _ in model.stream(request):
                            pass
                        bare.append(time.perf_counter() - start)
            return {"ms": [sum(metered) * 1000 / CALLS, sum(bare) * 1000 / CALLS]}

        g = StateGraph(S)
        g.add_node("n", both)
        g.add_edge(START, "n")
        g.add_edge("n", END)
        app = g.compile()
        options = {"profile": profile, "prices": prices, "ledger": ledger}
        times: dict[str, list[float]] = {"metered": [], "bare": []}
        for rep in range(reps + 1):  # the first is a warm-up
            metered_ms, bare_ms = app.invoke({}, **options)["ms"]
            if rep:
                times["metered"].append(metered_ms)
                times["bare"].append(bare_ms)
        calls = ledger.conn.execute("SELECT COUNT(*) FROM usage").fetchone()[0]
        ledger.conn.close()
    pct = [(m - b) / b * 100 for m, b in zip(times["metered"], times["bare"], strict=True)]
    entry = _entry("metering_overhead_pct", pct, "%")
    entry.update(
        metered_ms_per_call=statistics.median(times["metered"]),
        bare_ms_per_call=statistics.median(times["bare"]),
        tokens_per_call=CALL_TOKENS,
        ledger_rows=calls,
    )
    return entry


def _entry(figure: str, samples: list[float], unit: str, **more: Any) -> dict[str, Any]:
    value = statistics.median(samples)
    limit = LIMITS[figure]
    return {
        "value": value,
        "unit": unit,
        "min": min(samples),
        "max": max(samples),
        "reps": len(samples),
        "target": f"<= {limit:g} {unit.split('/')[0]}",
        "met": value <= limit,
        **more,
    }


FIGURES = (
    ("budget_status_ms", budget_status),
    ("reserve_settle_ms", reserve_settle),
    ("metering_overhead_pct", metering_overhead),
)


def run(reps: int, wanted: set[str] | None) -> dict[str, dict[str, Any]]:
    """The ledger figures in ``wanted`` (all when None)."""
    from _report import run_figures

    return run_figures(FIGURES, reps, wanted, "ledger")


def markdown(results: dict[str, Any]) -> list[str]:
    """The ledger section of RESULTS.md."""
    lines = ["", "## Budget ledger", ""]
    notes = {
        "budget_status_ms": "read a budget's status in its current period (one query; 2,000 "
        "usage rows in the ledger), median per read",
        "reserve_settle_ms": "reserve -> record -> settle one call against a block budget: "
        "three `BEGIN IMMEDIATE` transactions in WAL mode; reserve and record survive a "
        "killed process, the settle's fsync (synchronous=FULL) makes all three durable",
        "metering_overhead_pct": f"one local-engine call ({CALL_TOKENS} tokens, tiny model, "
        "in-process llama.cpp) through `ctx.worker` under a block budget, over the same call "
        "on the bare model in the same node",
    }
    for figure_id, _ in FIGURES:
        entry = results.get(figure_id)
        if not entry:
            continue
        lines.append(f"- `{figure_id}`: {notes[figure_id]}.")
        if "error" in entry:
            lines.append(f"  error: `{entry['error']}`")
            continue
        extra = ""
        if figure_id == "metering_overhead_pct":
            extra = (
                f" (metered {entry['metered_ms_per_call']:.2f} ms/call, bare "
                f"{entry['bare_ms_per_call']:.2f} ms/call)"
            )
        lines.append(
            f"  {entry['value']:.3f} {entry['unit']} (min {entry['min']:.3f}, max "
            f"{entry['max']:.3f}){extra}; target {entry['target']}: "
            f"{'met' if entry['met'] else 'NOT met'}."
        )
    return lines


if __name__ == "__main__":  # python benchmarks/ledger_figures.py: just these figures
    for key, entry in run(int(os.environ.get("REPS", "5")), None).items():
        print(key, entry)
