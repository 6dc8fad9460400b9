"""A model answering from memory, for tests that need LLM calls without a server."""

from __future__ import annotations

from typing import Any

from orca.llm import ChatRequest, Delta, ProviderModel, Usage


class Echo(ProviderModel):
    """Three pieces ("a", "b", "c") and exact usage: 7 tokens in, 3 out."""

    async def _stream(self, request: ChatRequest, state: Any) -> Any:
        for piece in ("a", "b", "c"):
            state.text.append(piece)
            yield Delta(text=piece)
        state.stop_reason = "stop"
        state.usage = Usage(7, 3)
