"""The transport under every call: one httpx connection pool, the bearer token, a
correlation id, retries that honour the server's advice, and event streams that resume
where they broke."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx

from orca.client._concurrency import Backpressure
from orca.client._errors import from_response, unreachable
from orca.client._retry import RetryPolicy, advised_wait_s, may_retry, wait_s
from orca.client._sse import parse_lines
from orca.client._types import StreamEvent
from orca.errors import ServerError, ServerOverloadedError

DEFAULT_URL_ENV = "ORCA_SERVER"
TOKEN_ENV = "ORCA_TOKEN"
# a stream with nothing for this long is taken as dropped (the server's heartbeat
# comes every 15 s) and resumed
STREAM_IDLE_S = 45.0
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout)


@dataclass(frozen=True, slots=True)
class Retry:
    """A retry about to happen, for ``on_retry``: the try that failed (from 1), the wait
    before the next, and why."""

    attempt: int
    wait_s: float
    error: ServerError


class Transport:
    """Requests to one server. ``base_url`` defaults to ``ORCA_SERVER``, ``token`` to
    ``ORCA_TOKEN``."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        token: str | None = None,
        retry: RetryPolicy | None = None,
        timeout_s: float = 30.0,
        correlation_id: str | None = None,
        on_retry: Callable[[Retry], None] | None = None,
        stream_reconnects: int = 5,
    ) -> None:
        url = base_url or os.environ.get(DEFAULT_URL_ENV)
        if not url:
            raise ValueError(
                "no server named. Fix: pass base_url='http://127.0.0.1:8700', or set ORCA_SERVER"
            )
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"server URL {url!r} is not http(s). Fix: http://HOST:PORT")
        self.base_url = url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.on_retry = on_retry
        self.stream_reconnects = stream_reconnects
        self.timeout_s = timeout_s
        self.pressure: Backpressure | None = None  # set by safe_concurrency()
        headers = {"User-Agent": "orca-client"}
        secret = token if token is not None else os.environ.get(TOKEN_ENV)
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        if correlation_id:
            headers["X-Correlation-Id"] = correlation_id
        self.http = httpx.AsyncClient(
            base_url=self.base_url, headers=headers, timeout=timeout_s, follow_redirects=False
        )

    async def close(self) -> None:
        await self.http.aclose()

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        wait: bool = False,
        idempotent: bool = False,
    ) -> Any:
        """Send a request, retrying as the policy allows; the answer's JSON (None for an
        empty one). ``wait``: no read timeout (the server answers when a run stops).
        ``idempotent``: a POST that may be sent again whatever happened (the server
        takes the same one twice as one, e.g. a task with its ``task_id``).

        Raises:
            ServerError: the server's error (its subclass by status), after the retries.
        """
        params = {k: v for k, v in (params or {}).items() if v is not None}
        timeout: Any = (
            httpx.Timeout(self.timeout_s, read=None) if wait else httpx.USE_CLIENT_DEFAULT
        )
        kind = "PUT" if idempotent else method  # retried as an idempotent call
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self.http.request(
                    method, path, params=params, json=body, timeout=timeout
                )
            except httpx.TransportError as exc:
                error: ServerError = unreachable(self.base_url, exc)
                sent = not isinstance(exc, _NOT_SENT)
                if attempt >= self.retry.attempts or not may_retry(kind, 0, True, sent=sent):
                    raise error from exc
                advised = None
            else:
                self._observe(response.status_code)
                if response.status_code < 400:
                    return response.json() if response.content else None
                error = from_response(response)
                if attempt >= self.retry.attempts or not may_retry(
                    kind, response.status_code, error.retriable
                ):
                    raise error
                advised = advised_wait_s(response.headers, error.retry_after_ms)
                if advised is not None and advised > self.retry.max_wait_s:
                    raise error  # longer than the caller agreed to wait: theirs to decide
            await self._pause(Retry(attempt, wait_s(self.retry, attempt, advised), error))

    def _observe(self, status: int) -> None:
        if self.pressure is not None:
            if status in (429, 503):
                self.pressure.refused()
            elif status < 400:
                self.pressure.accepted()

    async def _pause(self, retry: Retry) -> None:
        if self.on_retry is not None:
            self.on_retry(retry)
        await asyncio.sleep(retry.wait_s)

    async def stream(
        self,
        path: str,
        *,
        last_event_id: str | None = None,
        ends: frozenset[str] = frozenset({"end"}),
    ) -> AsyncIterator[StreamEvent]:
        """The server-sent events at ``path`` until one named in ``ends`` (included).
        A connection that drops (reset, cut mid-event, silent past ``STREAM_IDLE_S``,
        closed before the end) is opened again with ``Last-Event-ID``: no event is lost
        and none comes twice. Gives up after ``stream_reconnects`` failures in a row.

        Raises:
            ServerError: the server refused the stream (no such run...), or it could not
                be reopened.
        """
        last = last_event_id
        failures = 0
        timeout = httpx.Timeout(self.timeout_s, read=STREAM_IDLE_S)
        while True:
            headers = {"Accept": "text/event-stream"}
            if last is not None:
                headers["Last-Event-ID"] = last
            error: ServerError
            advised = None
            try:
                async with self.http.stream("GET", path, headers=headers, timeout=timeout) as r:
                    if r.status_code >= 400:
                        await r.aread()
                        error = from_response(r)
                        if not may_retry("GET", r.status_code, error.retriable):
                            raise error
                        advised = advised_wait_s(r.headers, error.retry_after_ms)
                    else:
                        async for raw in parse_lines(r.aiter_lines()):
                            if raw.id is not None:
                                last = raw.id
                            failures = 0
                            data = json.loads(raw.data) if raw.data else None
                            yield StreamEvent(raw.event, data, raw.id)
                            if raw.event in ends:
                                return
                        error = unreachable(self.base_url, EOFError("the stream closed early"))
            except httpx.TransportError as exc:
                error = unreachable(self.base_url, exc)
            failures += 1
            if failures > self.stream_reconnects:
                raise error
            await self._pause(Retry(failures, wait_s(self.retry, failures, advised), error))


def overloaded(error: BaseException) -> bool:
    """Whether ``error`` is the server's backpressure (429/503)."""
    return isinstance(error, ServerOverloadedError)
