"""The budget ledger's figures.

budget_status_ms       read where a budget stands (one query), median per read
reserve_settle_ms      reserve -> record -> settle one call against a block budget on a
                       SQLite file (the settle fsyncs: durable), median per call
areserve_settle_ms     the same through the ledger's async methods (areserve, asettle),
                       whose SQLite work runs on the store's worker thread; the entry also
                       times the same calls handed to asyncio.to_thread, the alternative
metering_overhead_pct  what metering adds to a call made through ctx.worker (reserve,
                       record, settle, pricing, events), as a share of one local-engine call
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

IDS = ("budget_status_ms", "reserve_settle_ms", "areserve_settle_ms", "metering_overhead_pct")
STATUS_READS = 2000
SETTLES = 200
CALLS = 20  # LLM calls of each kind per repetition (even: both orders alike)
CALL_TOKENS = 128  # as in provider_stream_ratio
LIMITS = {
    "budget_status_ms": 0.5,
    "reserve_settle_ms": 2.0,
    "areserve_settle_ms": 2.0,
    "metering_overhead_pct": 3.0,
}


def _ledger(tmp: str) -> Any:
    from orca.cost import Budget
    from orca.store import user_store

    ledger = user_store(Path(tmp) / "orca.db").ledger
    ledger.budgets.create(Budget("bench", 10**15))  # block, active
    return ledger


def budget_status(reps: int) -> dict[str, Any]:
    """Median time of ``ledger.budgets.status`` with a few thousand usage rows."""
    from orca.cost import CallContext, Charge

    with tempfile.TemporaryDirectory() as tmp:
        ledger = _ledger(tmp)
        budgets = ledger.applicable()
        for i in range(2000):  # history to read past
            hold = ledger.reserve(budgets, {"usd": 10_000})
            ledger.settle(
                hold,
                Charge("openai", "m", 10, 10, cost_nano_usd=5_000),
                CallContext(node=f"n{i % 7}"),
            )
        samples = []
        for _ in range(reps):
            start = time.perf_counter()
            for _ in range(STATUS_READS):
                ledger.budgets.status("bench")
            samples.append((time.perf_counter() - start) * 1000 / STATUS_READS)
        ledger._db.close()
    return _entry("budget_status_ms", samples, "ms/read", usage_rows=2000)


def reserve_settle(reps: int) -> dict[str, Any]:
    """Median time of reserve + record + settle (three durable commits) per call."""
    from orca.cost import CallContext, Charge

    with tempfile.TemporaryDirectory() as tmp:
        ledger = _ledger(tmp)
        budgets = ledger.applicable()
        charge = Charge("openai", "m", 100, 50, cost_nano_usd=12_345)
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
        ledger._db.close()
    return _entry("reserve_settle_ms", samples, "ms/call", commits_per_call=3)


def areserve_settle(reps: int) -> dict[str, Any]:
    """Median time of ``areserve`` + ``asettle`` per call on an event loop, and of the
    same sync calls handed to ``asyncio.to_thread`` (the alternative to the store's own
    worker thread)."""
    from orca.cost import CallContext, Charge

    charge = Charge("openai", "m", 100, 50, cost_nano_usd=12_345)
    context = CallContext(run_id="r", node="n", role="worker")

    def record_and_settle(ledger: Any, hold: Any) -> None:  # what asettle does, in one hop
        ledger.record(hold, charge)
        ledger.settle(hold, charge, context)

    async def worker_thread(ledger: Any, budgets: Any) -> float:
        start = time.perf_counter()
        hold = await ledger.areserve(budgets, {"usd": 50_000, "tokens": 1_000}, context)
        await ledger.asettle(hold, charge, context)
        return (time.perf_counter() - start) * 1000

    async def to_thread(ledger: Any, budgets: Any) -> float:
        start = time.perf_counter()
        asks = {"usd": 50_000, "tokens": 1_000}
        hold = await asyncio.to_thread(ledger.reserve, budgets, asks, context)
        await asyncio.to_thread(record_and_settle, ledger, hold)
        return (time.perf_counter() - start) * 1000

    async def medians(ledger: Any) -> tuple[float, float]:
        budgets = await ledger.aapplicable()
        ours, theirs = [], []
        for _ in range(SETTLES):  # interleaved, so both see the same file and the same load
            ours.append(await worker_thread(ledger, budgets))
            theirs.append(await to_thread(ledger, budgets))
        return statistics.median(ours), statistics.median(theirs)

    with tempfile.TemporaryDirectory() as tmp:
        ledger = _ledger(tmp)
        pairs = [asyncio.run(medians(ledger)) for _ in range(reps)]
        ledger._db.close()
    return _entry(
        "areserve_settle_ms",
        [ours for ours, _ in pairs],
        "ms/call",
        commits_per_call=3,
        to_thread_ms=statistics.median(theirs for _, theirs in pairs),
    )


def metering_overhead(reps: int) -> dict[str, Any]:
    """What metering adds to one local-engine call, as a share of that call.

    The overhead is measured on a model that answers from memory (the same 128 pieces,
    no inference), metered through ``ctx.worker`` under a block budget vs iterated bare,
    in the same node, so nothing but Orca's own work is timed. The call it is a share of
    is the real one: the tiny model in-process, 128 tokens. (Timing the metered and bare
    real calls against each other instead gives the same answer, but single calls on
    this shared machine vary by +-30%, so the difference drowns in noise.)"""
    from typing import TypedDict

    from _instant import instant_model
    from orca import END, START, StateGraph
    from orca.cost import Price, PriceBook
    from orca.llm import ChatRequest, Message, ModelSpec
    from orca.llm.tiny import ensure_tiny_model

    class S(TypedDict, total=False):
        ms: list[list[float]]

    def request(i: int) -> ChatRequest:
        return ChatRequest((Message.user(f"Tell me about {i}."),), max_tokens=CALL_TOKENS, seed=i)

    async def both(state: S, ctx: Any) -> dict[str, Any]:
        # the same call through ctx.worker and on the bare model, taking turns
        metered, bare = [], []
        for i in range(CALLS * 5):
            start = time.perf_counter()
            await ctx.worker.acomplete(request(i))
            metered.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            async for _ in instant.stream(request(i)):
                pass
            bare.append((time.perf_counter() - start) * 1000)
        return {"ms": [metered, bare]}

    async def engine(state: S, ctx: Any) -> dict[str, Any]:
        times = []
        for i in range(CALLS):
            start = time.perf_counter()
            async for _ in local.stream(request(i)):
                pass
            times.append((time.perf_counter() - start) * 1000)
        return {"ms": [times]}

    def graph(node: Any) -> Any:
        g = StateGraph(S)
        g.add_node("n", node)
        g.add_edge(START, "n")
        g.add_edge("n", END)
        return g.compile()

    with tempfile.TemporaryDirectory() as tmp:
        ledger = _ledger(tmp)
        instant = instant_model("instant", "llamacpp", CALL_TOKENS)
        prices = PriceBook([Price("llamacpp", "instant", 1, 2)])
        options = {"models": {"worker": instant}, "prices": prices, "ledger": ledger}
        overhead = []
        for rep in range(reps + 1):  # the first is a warm-up
            metered, bare = graph(both).invoke({}, **options)["ms"]
            if rep:
                overhead.append(statistics.median(metered) - statistics.median(bare))
        calls = ledger._db.conn.execute("SELECT COUNT(*) FROM usage").fetchone()[0]
        ledger._db.close()

        path = ensure_tiny_model(seed=0, path=Path(tmp) / "tiny.gguf")
        local = ModelSpec("llamacpp", str(path), {"n_ctx": 1024}).build()
        call_ms = []
        for rep in range(reps + 1):
            [times] = graph(engine).invoke({}, ledger=False)["ms"]
            if rep:
                call_ms.append(statistics.median(times))
    typical = statistics.median(call_ms)
    entry = _entry("metering_overhead_pct", [o / typical * 100 for o in overhead], "%")
    entry.update(
        overhead_ms_per_call=statistics.median(overhead),
        local_call_ms=typical,
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
    ("areserve_settle_ms", areserve_settle),
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
        "areserve_settle_ms": "the same call through the ledger's async methods (`areserve`, "
        "`asettle`), the SQLite work on the store's one worker thread, never on the event "
        "loop; compared with handing the same sync calls to `asyncio.to_thread`",
        "metering_overhead_pct": "what metering adds to one call through `ctx.worker` under a "
        "block budget (reserve, record, settle, pricing, events; timed on a model answering "
        f"from memory), as a share of one local-engine call ({CALL_TOKENS} tokens, tiny model, "
        "in-process llama.cpp)",
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
        if figure_id == "areserve_settle_ms":
            extra = f" (asyncio.to_thread: {entry['to_thread_ms']:.3f} ms/call)"
        if figure_id == "metering_overhead_pct":
            extra = (
                f" ({entry['overhead_ms_per_call']:.2f} ms of metering per call, on a "
                f"{entry['local_call_ms']:.1f} ms local call)"
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
