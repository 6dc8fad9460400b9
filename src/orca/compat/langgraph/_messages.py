"""Stream mode ``messages``: LangChain chat models' output as ``(message, metadata)``.

While a run streams ``messages``, each node's LangChain config carries a callback
handler that hands every token chunk (or, from a model that does not stream, its whole
answer) to the run's ``MessageSink``; messages a node returns that no model produced in
this run are handed over when it returns. The stream interleaves them with the run's
events, each before the events of its step's barrier, as LangGraph shows them.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import threading
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

NOSTREAM = "nostream"  # a model call tagged with it is left out, as in LangGraph


class MessageSink:
    """One run's ``messages`` chunks, handed from nodes (any thread) to the stream."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[tuple[Any, dict[str, Any]]] = asyncio.Queue()
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def put(self, message: Any, metadata: dict[str, Any]) -> None:
        ident = getattr(message, "id", None)
        if ident is not None:
            with self._lock:
                self._seen.add(ident)
        item = (message, metadata)
        try:
            here = asyncio.get_running_loop() is self.loop
        except RuntimeError:
            here = False
        if here:
            self.queue.put_nowait(item)
        else:
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)

    def seen(self, ident: str | None) -> bool:
        with self._lock:
            return ident is not None and ident in self._seen

    def mark_seen(self, messages: Iterator[Any]) -> None:
        with self._lock:
            self._seen.update(m.id for m in messages if getattr(m, "id", None) is not None)

    def drain(self) -> list[tuple[Any, dict[str, Any]]]:
        out = []
        while not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out


def messages_in(value: Any) -> Iterator[Any]:
    """The LangChain messages in a state or update: values that are messages, or lists
    or dicts of them (nothing without LangChain loaded)."""
    module = sys.modules.get("langchain_core.messages")
    base = getattr(module, "BaseMessage", None)
    if base is None:
        return
    values = value.values() if isinstance(value, Mapping) else [value]
    for item in values:
        if isinstance(item, base):
            yield item
        elif isinstance(item, list | tuple):
            yield from (m for m in item if isinstance(m, base))
        elif isinstance(item, Mapping):
            yield from (m for m in item.values() if isinstance(m, base))


def handler(sink: MessageSink, node_metadata: dict[str, Any]) -> Any:
    """A LangChain callback handler that hands the node's model output to ``sink``."""
    return _handler_class()(sink, node_metadata)


@functools.cache
def _handler_class() -> type:
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.outputs import ChatGenerationChunk, LLMResult

    class MessagesHandler(BaseCallbackHandler):
        run_inline = True  # in the model's own thread, so chunks keep their order

        def __init__(self, sink: MessageSink, node_metadata: dict[str, Any]) -> None:
            self.sink = sink
            self.node_metadata = node_metadata
            self.runs: dict[Any, dict[str, Any]] = {}
            self.streamed: set[Any] = set()

        def on_chat_model_start(
            self,
            serialized: Any,
            messages: Any,
            *,
            run_id: Any,
            tags: list[str] | None = None,
            metadata: dict[str, Any] | None = None,
            **kwargs: Any,
        ) -> None:
            if tags and NOSTREAM in tags:
                return
            shown = {**self.node_metadata, **(metadata or {})}
            shown["checkpoint_ns"] = shown.get("langgraph_checkpoint_ns", "")
            self.runs[run_id] = shown

        # with these two a chat model streams even when called with invoke(): LangChain
        # streams for handlers that can tap a stream
        def tap_output_iter(self, run_id: Any, output: Iterator[Any]) -> Iterator[Any]:
            return output

        def tap_output_aiter(self, run_id: Any, output: AsyncIterator[Any]) -> AsyncIterator[Any]:
            return output

        def on_llm_new_token(
            self, token: Any, *, chunk: Any = None, run_id: Any, **kwargs: Any
        ) -> None:
            shown = self.runs.get(run_id)
            if shown is None or not isinstance(chunk, ChatGenerationChunk):
                return
            self.streamed.add(run_id)
            self.sink.put(chunk.message, shown)

        def on_llm_end(self, response: LLMResult, *, run_id: Any, **kwargs: Any) -> None:
            shown = self.runs.pop(run_id, None)
            if shown is None or run_id in self.streamed:
                self.streamed.discard(run_id)
                return
            for generations in response.generations:
                for generation in generations:
                    message = getattr(generation, "message", None)
                    if message is not None and not self.sink.seen(getattr(message, "id", None)):
                        self.sink.put(message, shown)

        def on_llm_error(self, error: BaseException, *, run_id: Any, **kwargs: Any) -> None:
            self.runs.pop(run_id, None)
            self.streamed.discard(run_id)

    return MessagesHandler
