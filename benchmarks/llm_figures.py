"""The LLM layer's figures: the cost of pricing one call, and the provider layer's
streaming throughput over the direct ``openai`` SDK against the same local server.

cost_calc_us           price one call and build its usage record (median per call)
provider_stream_ratio  tokens/s through Orca's OpenAIModel / tokens/s through AsyncOpenAI
cached_call_us         answer a recorded call when its task runs again after a resume
                       (median per call, SQLite checkpointer)
langchain_cached_call_us  the same for a LangChain chat model's call under metered(ctx),
                       beside the call made bare (no Orca) and metered and kept
"""

import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypedDict


class _S(TypedDict, total=False):
    us: list[float]


IDS = ("cost_calc_us", "provider_stream_ratio", "cached_call_us", "langchain_cached_call_us")
COST_CALLS = 2000  # calls per repetition
STREAM_TOKENS = 128
STREAM_ROUNDS = 4  # streams per engine per repetition
COST_LIMIT_US = 20.0
STREAM_LIMIT = 0.95
CACHED_CALLS = 50  # calls per task per repetition
CACHED_LIMIT_US = 250.0


def cost_calc(reps: int) -> dict[str, Any]:
    """Median microseconds to price one call (catalog price, warm cache) and build the
    ``usage`` event that records it; the genai-prices package's own calc_price is timed
    beside it for scale."""
    from genai_prices import Usage as CatalogUsage
    from genai_prices import calc_price

    from orca import events
    from orca.cost import PriceBook
    from orca.llm import Usage

    book = PriceBook()
    usages = [
        Usage(input_tokens=1000 + i, output_tokens=200 + i % 50, cache_read_tokens=i % 300)
        for i in range(COST_CALLS)
    ]

    def orca_round() -> float:
        start = time.perf_counter_ns()
        for i, usage in enumerate(usages):
            cost, price = book.cost_nano(usage, "openai", "gpt-4o")
            events.Usage(
                run_id="r",
                thread_id="t",
                step=1,
                seq=i,
                ts=0.0,
                task_id="k",
                node="n",
                provider="openai",
                model="gpt-4o",
                role="worker",
                input_tokens=usage.input_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                output_tokens=usage.output_tokens,
                reasoning_tokens=usage.reasoning_tokens,
                cost_nano_usd=cost,
                priced=price.priced,
                estimated=usage.estimated,
            )
        return (time.perf_counter_ns() - start) / 1e3 / COST_CALLS

    def catalog_round() -> float:
        sample = usages[:200]
        start = time.perf_counter_ns()
        for u in sample:
            calc_price(
                CatalogUsage(input_tokens=u.input_tokens, output_tokens=u.output_tokens),
                "gpt-4o",
                provider_id="openai",
            )
        return (time.perf_counter_ns() - start) / 1e3 / len(sample)

    orca_round(), catalog_round()  # warm-up: catalog loaded, price cached
    orca = [orca_round() for _ in range(reps)]
    catalog = [catalog_round() for _ in range(reps)]
    value = statistics.median(orca)
    return {
        "value": value,
        "unit": "us/call",
        "min": min(orca),
        "max": max(orca),
        "reps": reps,
        "genai_prices_calc_price_us": statistics.median(catalog),
        "target": f"<= {COST_LIMIT_US:g} us",
        "met": value <= COST_LIMIT_US,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def local_server(model: Path) -> Iterator[str]:
    """``python -m llama_cpp.server`` on loopback with the tiny model; yields its /v1 URL."""
    port = _free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(model)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024"]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/v1/models", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the llama.cpp server did not start") from None
                time.sleep(0.2)
        yield f"{url}/v1"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def _sdk_stream(client: Any, model: str) -> tuple[int, float]:
    start = time.perf_counter()
    stream = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Tell me a story."}],
        max_tokens=STREAM_TOKENS,
        seed=7,
        temperature=0.8,
        stream=True,
        stream_options={"include_usage": True},
    )
    pieces = 0
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces += 1
    return pieces, time.perf_counter() - start


async def _orca_stream(model: Any) -> tuple[int, float]:
    from orca.llm import ChatRequest, Message

    request = ChatRequest(
        (Message.user("Tell me a story."),), max_tokens=STREAM_TOKENS, seed=7, temperature=0.8
    )
    start = time.perf_counter()
    pieces = 0
    async for delta in model.stream(request):
        if delta.text:
            pieces += 1
    return pieces, time.perf_counter() - start


def provider_stream(reps: int) -> dict[str, Any]:
    """Tokens per second streamed from one local llama.cpp server, through Orca's
    provider layer and through the ``openai`` SDK directly, taking turns."""
    import openai

    from orca.llm.providers.openai import OpenAIModel
    from orca.llm.tiny import ensure_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        path = ensure_tiny_model(seed=0, path=Path(tmp) / "tiny.gguf")
        with local_server(path) as base_url:

            async def measure() -> tuple[list[float], list[float]]:
                client = openai.AsyncOpenAI(base_url=base_url, api_key="x", max_retries=0)
                model = OpenAIModel("tiny", provider="llamacpp-server", base_url=base_url)
                sdk, orca = [], []
                for rep in range(reps + 1):  # the first is a warm-up
                    rates: dict[str, list[float]] = {"sdk": [], "orca": []}
                    for i in range(STREAM_ROUNDS):
                        order = ("sdk", "orca") if (rep + i) % 2 == 0 else ("orca", "sdk")
                        for who in order:
                            if who == "sdk":
                                n, s = await _sdk_stream(client, "tiny")
                            else:
                                n, s = await _orca_stream(model)
                            rates[who].append(n / s)
                    if rep:
                        sdk.append(statistics.median(rates["sdk"]))
                        orca.append(statistics.median(rates["orca"]))
                await client.close()
                return sdk, orca

            sdk, orca = asyncio.run(measure())
    ratio = statistics.median(o / s for o, s in zip(orca, sdk, strict=True))
    return {
        "orca": statistics.median(orca),
        "openai_sdk": statistics.median(sdk),
        "unit": "tokens/s",
        "ratio": ratio,
        "reps": reps,
        "tokens_per_stream": STREAM_TOKENS,
        "target": f"ratio >= {STREAM_LIMIT:g}",
        "met": ratio >= STREAM_LIMIT,
    }


def cached_call(reps: int) -> dict[str, Any]:
    """Median microseconds for ``ctx.worker.acomplete`` to answer a call from the task's
    call records, when the task runs again after a resume; the same calls made fresh
    (metered, no ledger, kept in the records) are timed beside it for scale, on a model
    that answers from memory so that only Orca's work is timed."""
    from _instant import instant_model
    from orca.llm import ChatRequest, Message

    async def calls(ctx: Any) -> list[float]:
        times = []
        for i in range(CACHED_CALLS):
            request = ChatRequest((Message.user(f"Tell me about {i}."),), max_tokens=STREAM_TOKENS)
            start = time.perf_counter_ns()
            await ctx.worker.acomplete(request)
            times.append((time.perf_counter_ns() - start) / 1000)
        return times

    async def pausing(state: _S, ctx: Any) -> dict[str, Any]:
        times = await calls(ctx)
        ctx.interrupt("again")  # resumed, the node runs again: every call is recorded
        return {"us": times}

    async def straight(state: _S, ctx: Any) -> dict[str, Any]:
        return {"us": await calls(ctx)}

    options = {
        "models": {"worker": instant_model("instant", "bench", STREAM_TOKENS)},
        "ledger": False,
    }
    plain = _graph(straight).compile()
    cached, fresh, bare = _resumed(
        pausing, straight, lambda: plain.invoke({}, **options)["us"], options, reps
    )
    record_us = statistics.median(f - b for f, b in zip(fresh, bare, strict=True))
    return _paid_once(cached, fresh, reps, record_us=record_us)


def _paid_once(cached: list[float], fresh: list[float], reps: int, **more: Any) -> dict[str, Any]:
    """A paid-once figure: the median µs of a call answered from its record, against
    the ``cached_call_us`` target, with the same call made fresh and ``more``."""
    value = statistics.median(cached)
    return {
        "value": value,
        "unit": "µs/call",
        "min": min(cached),
        "max": max(cached),
        "reps": reps,
        "fresh_call_us": statistics.median(fresh),
        **more,
        "calls_per_task": CACHED_CALLS,
        "target": f"<= {CACHED_LIMIT_US:g} µs",
        "met": value <= CACHED_LIMIT_US,
    }


def _graph(node: Any) -> Any:
    """START -> node -> END."""
    from orca import END, START, StateGraph

    g = StateGraph(_S)
    g.add_node("n", node)
    g.add_edge(START, "n")
    g.add_edge("n", END)
    return g


def _resumed(
    pausing: Any, straight: Any, alone: Any, options: dict[str, Any], reps: int
) -> tuple[list[float], list[float], list[float]]:
    """Per repetition (after a warm-up), the median µs of a call: answered from its
    record (``pausing`` resumed: it made its calls, paused, and runs again), made fresh
    and kept (``straight`` on the checkpointer), and made by ``alone()``."""
    from orca import Command
    from orca.store import SqliteCheckpointer

    cached, fresh, bare = [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteCheckpointer(Path(tmp) / "cp.db")
        app = _graph(pausing).compile(checkpointer=store)
        kept = _graph(straight).compile(checkpointer=store)
        for rep in range(reps + 1):  # the first is a warm-up
            thread = f"t{rep}"
            app.invoke({}, thread_id=thread, **options)
            done = app.invoke(Command(resume=True), thread_id=thread, **options)
            recorded = kept.invoke({}, thread_id=f"k{rep}", **options)["us"]
            unrecorded = alone()
            if rep:
                cached.append(statistics.median(done["us"]))
                fresh.append(statistics.median(recorded))
                bare.append(statistics.median(unrecorded))
        store.close()
    return cached, fresh, bare


def langchain_cached_call(reps: int) -> dict[str, Any]:
    """Median microseconds for a LangChain chat model's ``invoke`` under ``metered(ctx)``
    to be answered from the task's call records when the task runs again after a resume;
    beside it, the same calls made bare (``invoke`` with no Orca: LangChain's own cost)
    and made fresh in a node (metered, no ledger, kept), on a model answering from
    memory, so that only LangChain's and Orca's work is timed. The target is
    ``cached_call_us``'s: a recorded answer costs the same bound through either face."""
    from langchain_core.language_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    from orca.compat.langchain import metered

    usage = {"input_tokens": 8, "output_tokens": STREAM_TOKENS, "total_tokens": 136}

    class Instant(BaseChatModel):
        max_tokens: int = STREAM_TOKENS

        @property
        def _llm_type(self) -> str:
            return "instant"

        @property
        def _identifying_params(self) -> dict[str, Any]:
            return {"model": "bench", "max_tokens": self.max_tokens}

        def _generate(self, messages: Any, *args: Any, **kwargs: Any) -> ChatResult:
            message = AIMessage("word " * STREAM_TOKENS, usage_metadata=usage)
            return ChatResult(generations=[ChatGeneration(message=message)])

    model = Instant()

    def calls() -> list[float]:
        times = []
        for i in range(CACHED_CALLS):
            start = time.perf_counter_ns()
            model.invoke(f"Tell me about {i}.")
            times.append((time.perf_counter_ns() - start) / 1000)
        return times

    def pausing(state: _S, ctx: Any) -> dict[str, Any]:
        with metered(ctx):
            times = calls()
        ctx.interrupt("again")  # resumed, the node runs again: every call is recorded
        return {"us": times}

    def straight(state: _S, ctx: Any) -> dict[str, Any]:
        with metered(ctx):
            return {"us": calls()}

    cached, fresh, bare = _resumed(pausing, straight, calls, {"ledger": False}, reps)
    return _paid_once(cached, fresh, reps, bare_call_us=statistics.median(bare))


def run(reps: int, wanted: set[str] | None) -> dict[str, dict[str, Any]]:
    """The LLM figures in ``wanted`` (all when None)."""
    from _report import run_figures

    return run_figures(
        (
            ("cost_calc_us", cost_calc),
            ("provider_stream_ratio", provider_stream),
            ("cached_call_us", cached_call),
            ("langchain_cached_call_us", langchain_cached_call),
        ),
        reps,
        wanted,
        "llm",
    )


def markdown(results: dict[str, Any]) -> list[str]:
    """The LLM section of RESULTS.md."""
    lines = ["", "## LLM layer", ""]
    cost = results.get("cost_calc_us")
    if cost:
        lines += [
            "`cost_calc_us`: price one call from the catalog (warm) and build its usage "
            "record, median per call.",
            "",
        ]
        if "error" in cost:
            lines.append(f"- error: `{cost['error']}`")
        else:
            lines.append(
                f"- Orca {cost['value']:.2f} µs/call (min {cost['min']:.2f}, max "
                f"{cost['max']:.2f}); target {cost['target']}: "
                f"{'met' if cost['met'] else 'NOT met'}. For scale, genai-prices' own "
                f"calc_price takes {cost['genai_prices_calc_price_us']:.1f} µs/call."
            )
    stream = results.get("provider_stream_ratio")
    if stream:
        lines += [
            "",
            "`provider_stream_ratio`: tokens/s streamed from one local llama.cpp server "
            f"(tiny model, {STREAM_TOKENS} tokens, seed 7) through Orca's provider layer "
            "over the same through the `openai` SDK directly; the two take turns.",
            "",
        ]
        if "error" in stream:
            lines.append(f"- error: `{stream['error']}`")
        else:
            lines.append(
                f"- Orca {stream['orca']:.0f} tokens/s, openai SDK {stream['openai_sdk']:.0f} "
                f"tokens/s, ratio {stream['ratio']:.3f}; target {stream['target']}: "
                f"{'met' if stream['met'] else 'NOT met'}."
            )
    cached = results.get("cached_call_us")
    if cached:
        lines += [
            "",
            "`cached_call_us`: a task run again after a resume asks for the "
            f"{CACHED_CALLS} calls it made before; each is answered from its call record "
            "(SQLite checkpointer): no provider call, no charge. Median per call through "
            "`ctx.worker.acomplete`.",
            "",
        ]
        if "error" in cached:
            lines.append(f"- error: `{cached['error']}`")
        else:
            lines.append(
                f"- {cached['value']:.1f} µs/call (min {cached['min']:.1f}, max "
                f"{cached['max']:.1f}); the same call made fresh (metered and recorded, on "
                f"a model answering {STREAM_TOKENS} tokens from memory) takes "
                f"{cached['fresh_call_us']:.0f} µs, of which keeping its record is "
                f"{cached['record_us']:.0f} µs; target {cached['target']}: "
                f"{'met' if cached['met'] else 'NOT met'}."
            )
    lc = results.get("langchain_cached_call_us")
    if lc:
        lines += [
            "",
            "`langchain_cached_call_us`: the same for a LangChain chat model's `invoke` "
            f"under `metered(ctx)`: a task run again asks its {CACHED_CALLS} calls, each "
            "answered from its call record through the cache `metered` installs. Beside "
            "it, the call made bare (LangChain alone, no Orca) and made fresh in a node "
            "(metered, kept), on a model answering from memory.",
            "",
        ]
        if "error" in lc:
            lines.append(f"- error: `{lc['error']}`")
        else:
            lines.append(
                f"- {lc['value']:.0f} µs/call (min {lc['min']:.0f}, max {lc['max']:.0f}); "
                f"bare {lc['bare_call_us']:.0f} µs, fresh (metered and kept) "
                f"{lc['fresh_call_us']:.0f} µs; target {lc['target']}: "
                f"{'met' if lc['met'] else 'NOT met'}."
            )
    return lines


if __name__ == "__main__":  # python benchmarks/llm_figures.py: just these figures, printed
    for key, entry in run(int(os.environ.get("REPS", "5")), None).items():
        print(key, entry)
