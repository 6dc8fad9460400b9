"""A model that answers from memory: what the benchmarks time Orca's own per-call work
against (no inference, no network)."""

from typing import Any


def instant_model(name: str, provider: str, tokens: int) -> Any:
    """A ``ProviderModel`` answering every request at once with ``tokens`` pieces and
    exact usage (12 in, ``tokens`` out)."""
    from orca.llm import ChatRequest, Delta, ProviderModel, Usage

    class Instant(ProviderModel):
        async def _stream(self, request: ChatRequest, state: Any) -> Any:
            for _ in range(tokens):
                state.text.append(" word")
                yield Delta(text=" word")
            state.stop_reason = "length"
            state.usage = Usage(12, tokens)

    return Instant(name, provider=provider)
