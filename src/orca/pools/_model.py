"""A pool as a chat model: provider ``pool``, model the pool's name (``pool:NAME`` in a
profile or a task's ``model_ref``).

Each call takes a slot on a ready replica (``PoolManager.lease``, with the session of
``SESSION`` for affinity), streams from that replica through the OpenAI-compatible
adapter of its engine, and gives the slot back. A replica that dies or is replaced
under the call, or stops answering mid-stream, ends it with ``WorkerResetError``; one
that sends no token for the pool's ``decode_timeout_s`` with ``DecodeTimeoutError``.
Both carry the text and the (estimated) usage spent, so the meter records them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import replace
from typing import Any

from orca.errors import (
    DecodeTimeoutError,
    LLMTimeoutError,
    ProviderServerError,
    ProviderUnreachableError,
    StreamInterruptedError,
    WorkerResetError,
)
from orca.llm._base import ChatStream, estimate_tokens
from orca.llm._types import ChatRequest, ChatResponse, Delta, Usage

PROVIDER = "pool"
SESSION: ContextVar[str | None] = ContextVar("orca_pool_session", default=None)
"""The session a pool call belongs to (its replica keeps the session's KV cache warm)."""
CALL: ContextVar[dict[str, Any] | None] = ContextVar("orca_pool_call", default=None)
"""Where a pool call says which replica took it (``replica``, ``pid``) and whether the
session's KV cache was warm there (``kv_warmth``: 1.0 the same replica process as the
session's last call, else 0.0), for the caller's metrics."""
SESSIONS_KEPT = 10_000  # sessions whose last replica a pool model remembers

# what a replica failing under a call looks like from its client
_REPLICA_FAILED = (
    ProviderUnreachableError,
    StreamInterruptedError,
    LLMTimeoutError,
    ProviderServerError,
)


class PoolModel:
    """The chat model of pool ``name`` of ``manager`` (a ``ChatModel``)."""

    provider = PROVIDER

    def __init__(self, manager: Any, name: str) -> None:
        self.manager = manager
        self.model = name
        self.params: dict[str, Any] = {}
        self._clients: dict[str, Any] = {}
        self._last: dict[str, tuple[int, int | None]] = {}  # session -> (replica, pid)

    def warmth(self, session: str | None, replica: int, pid: int | None) -> float:
        """1.0 when ``session``'s last call ran on this replica's process, else 0.0;
        remembers this call."""
        if session is None:
            return 0.0
        warm = self._last.pop(session, None) == (replica, pid)
        self._last[session] = (replica, pid)
        while len(self._last) > SESSIONS_KEPT:
            del self._last[next(iter(self._last))]
        return 1.0 if warm else 0.0

    def __repr__(self) -> str:
        return f"PoolModel(pool={self.model!r})"

    def _client(self, base_url: str) -> Any:
        """The adapter that calls one replica (one per replica URL)."""
        from orca.llm import make_model
        from orca.pools._engines import adapter

        client = self._clients.get(base_url)
        if client is None:
            pool = self.manager.get(self.model)
            # a restarted or reloaded replica has a new URL: its old client goes
            serving = {r.base_url for r in pool.replicas.replicas}
            for gone in [u for u in self._clients if u not in serving]:
                del self._clients[gone]
            url = base_url.rstrip("/").removesuffix("/v1") + "/v1"
            params = {"base_url": url, "max_retries": 0, "timeout": 3600.0}
            provider = adapter(pool.config.engine).provider
            client = self._clients[base_url] = make_model(provider, self.model, params)
        return client

    async def complete(self, request: ChatRequest) -> ChatResponse:
        return await self.stream(request).final()

    def stream(self, request: ChatRequest) -> PoolStream:
        return PoolStream(self, request)


class PoolStream(ChatStream):
    """One call's stream through a leased replica: a ``ChatStream`` (iterate it, then
    ``response``) whose pieces come from the replica the lease names."""

    def __init__(self, model: PoolModel, request: ChatRequest) -> None:
        self._pool = model
        self._request = request
        self._response: ChatResponse | None = None
        self._started = False

    async def _run(self) -> AsyncIterator[Delta]:
        model = self._pool
        pool = model.manager.get(model.model)
        timeout = pool.config.decode_timeout_s
        session = SESSION.get()
        lease = model.manager.lease(model.model, session)
        loop = asyncio.get_running_loop()
        watch: asyncio.Task[Any] | None = None
        it: Any = None
        try:  # from here on, whatever fails gives the slot back
            replica = lease.replica
            call = CALL.get()
            if call is not None:
                call["replica"] = replica.index
                call["pid"] = replica.pid
                call["kv_warmth"] = model.warmth(session, replica.index, replica.pid)
            client = model._client(lease.base_url)
            pieces: list[str] = []
            inner = client.stream(self._request)
            it = inner.__aiter__()
            # one deadline per piece, cut short when the lease is lost: no task per token
            waiting: list[asyncio.Timeout] = []

            def lost_now() -> None:
                for deadline in waiting:
                    deadline.reschedule(loop.time())

            watch = loop.create_task(lease.lost.wait())
            watch.add_done_callback(lambda _: lost_now())
            while True:
                if lease.lost.is_set():
                    raise await self._failed(WorkerResetError, client, pieces, "replaced")
                try:
                    async with asyncio.timeout(timeout) as deadline:
                        waiting.append(deadline)
                        try:
                            delta = await it.__anext__()
                        finally:
                            waiting.pop()
                except StopAsyncIteration:
                    break
                except _REPLICA_FAILED as exc:  # (its LLMTimeoutError before our deadline's)
                    raise await self._failed(WorkerResetError, client, pieces, str(exc)) from exc
                except TimeoutError:  # our deadline: no piece in time, or the lease lost
                    if lease.lost.is_set():
                        raise await self._failed(
                            WorkerResetError, client, pieces, "replaced"
                        ) from None
                    raise await self._failed(
                        DecodeTimeoutError, client, pieces, f"no token for {timeout:g}s"
                    ) from None
                if delta.text:
                    pieces.append(delta.text)
                yield delta
        finally:
            if watch is not None:
                watch.cancel()
            if it is not None:
                # the adapter's own stream is closed; its failure is the one raised above
                with contextlib.suppress(Exception):
                    await it.aclose()
            lease.release()
        self._response = replace(inner.response, provider=PROVIDER, model=model.model)

    async def _failed(
        self, kind: type[StreamInterruptedError], client: Any, pieces: list[str], why: str
    ) -> StreamInterruptedError:
        # counted here, not by the replica's tokenizer: the replica is the one that failed
        text = "".join(pieces)
        prompt = "".join(m.text for m in self._request.messages)
        out = len(pieces) if getattr(client, "piece_per_token", False) else estimate_tokens(text)
        usage = Usage(estimate_tokens(prompt), out, estimated=True)
        what = "the replica died or was replaced" if kind is WorkerResetError else "decode stalled"
        return kind(
            f"{what} ({why})",
            provider=PROVIDER,
            model=self._pool.model,
            text=text,
            usage=usage,
        )
