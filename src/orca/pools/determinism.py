"""The determinism suite: a corpus of prompts, sampling parameters and seeds, run on
every replica of a pool, each case twice; the token streams must be byte-identical.

The guarantee it checks (docs/pools.md, "Determinism"): identical {prompt, parameters,
seed, sampler_profile_version, engine version, model digest} on the same replica give
identical token streams. Across replicas of one pool the streams are compared too and
reported (``across_replicas``): on the CPU they match; on GPUs, kernels may differ by
device and batch, so the suite reports that and does not require it.

Run it on an idle pool: it calls each replica directly (not through dispatch), one case
at a time, to target every replica::

    report = await check_pool(manager, "tiny", CORPUS)
    assert report.ok, report.failures
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from orca.llm._types import ChatRequest, Message

SAMPLER_PROFILE_VERSION = "v1"


@dataclass(frozen=True, slots=True)
class Case:
    """One prompt with its sampling: what must stream the same each time."""

    prompt: str
    seed: int
    max_tokens: int = 32
    temperature: float = 0.8
    top_p: float | None = None

    def request(self) -> ChatRequest:
        return ChatRequest(
            (Message.user(self.prompt),),
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
        )


CORPUS: tuple[Case, ...] = (
    Case("Say hello.", seed=1),
    Case("Say hello.", seed=2),
    Case("List three colours.", seed=7, max_tokens=48),
    Case("Write one line about the sea.", seed=42, temperature=1.0),
    Case("Count: one, two,", seed=0, temperature=0.0),
    Case("Name a city in Peru.", seed=123, top_p=0.9),
    Case("Qu'est-ce qu'un graphe ?", seed=5, max_tokens=40),
    Case("日本の首都は", seed=9, max_tokens=24),
    Case("Continue: the budget guarantee means", seed=2024, temperature=1.5),
    Case("Why is determinism useful?", seed=31337, max_tokens=64, temperature=0.7),
)
"""The default corpus: short prompts in several scripts, greedy and sampled, with and
without top_p, different lengths."""


@dataclass
class Report:
    """What the suite saw: each replica's stream digest per case, and the failures."""

    pool: str
    engine: str
    engine_version: str
    model_digest: str
    sampler_profile_version: str = SAMPLER_PROFILE_VERSION
    streams: dict[int, list[str]] = field(default_factory=dict)
    """Replica index -> the sha256 of each case's token stream (in corpus order)."""
    failures: list[str] = field(default_factory=list)
    across_replicas: bool = True
    """Whether every replica streamed the same tokens as the first, case by case."""

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "pool": self.pool,
            "engine": self.engine,
            "engine_version": self.engine_version,
            "model_digest": self.model_digest,
            "sampler_profile_version": self.sampler_profile_version,
            "replicas": len(self.streams),
            "cases": len(next(iter(self.streams.values()), [])),
            "ok": self.ok,
            "across_replicas": self.across_replicas,
            "failures": self.failures,
        }


async def stream_tokens(client: Any, request: ChatRequest) -> list[str]:
    """The pieces one replica streams for ``request``, in order."""
    pieces = []
    async for delta in client.stream(request):
        if delta.text:
            pieces.append(delta.text)
    return pieces


def _digest(pieces: Sequence[str]) -> str:
    h = hashlib.sha256()
    for piece in pieces:
        data = piece.encode()
        h.update(len(data).to_bytes(4, "big"))  # piece boundaries count, not just text
        h.update(data)
    return h.hexdigest()


async def check_pool(
    manager: Any, name: str, corpus: Sequence[Case] = CORPUS, *, repeats: int = 2
) -> Report:
    """Run ``corpus`` ``repeats`` times on every ready replica of pool ``name``."""
    pool = manager.get(name)
    model = manager.model(name)
    replicas = [r for r in pool.replicas.replicas if r.ready]
    report = Report(
        name,
        pool.config.engine,
        str(pool.replicas.engine_version),
        pool.model.digest,
    )
    if not replicas:
        report.failures.append(f"pool {name!r} has no ready replica")
        return report
    for replica in replicas:
        client = model._client(replica.base_url)
        digests = []
        for i, case in enumerate(corpus):
            runs = [_digest(await stream_tokens(client, case.request())) for _ in range(repeats)]
            if len(set(runs)) != 1:
                report.failures.append(
                    f"replica {replica.index}: case {i} ({case.prompt!r}, seed {case.seed}) "
                    f"streamed {len(set(runs))} different token streams in {repeats} runs"
                )
            digests.append(runs[0])
        report.streams[replica.index] = digests
    first = next(iter(report.streams.values()))
    report.across_replicas = all(d == first for d in report.streams.values())
    return report
