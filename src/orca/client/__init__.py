"""A client of ``orca serve``: ``AsyncClient`` (httpx, async) and ``Client``, the same
calls for synchronous code. Typed results, the server's errors as typed exceptions
(``orca.errors.ServerError`` and its subclasses, carrying the envelope), retries that
honour ``Retry-After`` and ``X-Backoff-Ms``, event streams that resume with
``Last-Event-ID``, and ``safe_concurrency()`` from capabilities and backpressure.
See ``docs/client.md``."""

from orca.client._async import AsyncClient, event_of
from orca.client._concurrency import Backpressure, declared_capacity
from orca.client._core import Retry
from orca.client._retry import NEVER, RetryPolicy
from orca.client._sync import Client
from orca.client._types import (
    Budget,
    Capabilities,
    Checkpoint,
    Run,
    RunResult,
    StreamEvent,
    TaskAccepted,
    ThreadState,
    Workflow,
)
from orca.errors import (
    ServerAuthError,
    ServerConflictError,
    ServerError,
    ServerNotFoundError,
    ServerOverloadedError,
    ServerRequestError,
    ServerUnreachableError,
)

__all__ = [
    "NEVER",
    "AsyncClient",
    "Backpressure",
    "Budget",
    "Capabilities",
    "Checkpoint",
    "Client",
    "Retry",
    "RetryPolicy",
    "Run",
    "RunResult",
    "ServerAuthError",
    "ServerConflictError",
    "ServerError",
    "ServerNotFoundError",
    "ServerOverloadedError",
    "ServerRequestError",
    "ServerUnreachableError",
    "StreamEvent",
    "TaskAccepted",
    "ThreadState",
    "Workflow",
    "declared_capacity",
    "event_of",
]
