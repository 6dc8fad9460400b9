"""A model answering from memory, for tests that need LLM calls without a server, and a
one-node workflow file for tests that drive the ``orca`` command."""

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


FLOW = """\
from typing import TypedDict

from orca import END, START, StateGraph


class S(TypedDict):
    x: int


def inc(s: S) -> dict:
    return {"x": s["x"] + 1}


graph = StateGraph(S, name="flow")
graph.add_node("inc", inc)
graph.add_edge(START, "inc")
graph.add_edge("inc", END)
"""
"""The text of a workflow module: ``graph`` adds 1 to ``x``."""
