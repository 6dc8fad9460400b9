"""How many requests a client should have in flight: the capacity the server declares
(``GET /v1/capabilities``), lowered when it pushes back (429/503) and raised again, one
at a time, while it accepts (additive increase, multiplicative decrease)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# where a capabilities document may state its capacity, most specific first
_CAPACITY_KEYS = (
    "max_running_{kind}",
    "max_concurrent_{kind}",
    "max_running",
    "max_concurrency",
    "concurrency",
    "slots",
)


def declared_capacity(capabilities: Mapping[str, Any], kind: str = "tasks") -> int | None:
    """The number of ``kind`` (tasks or runs) to keep in flight, as the capabilities
    document states it: for tasks, ``concurrency.safe`` (what the server runs and queues
    at once: a client within it never meets a 429 of its own making), else a
    ``max_running`` at the top or under ``admission``, ``limits``, ``rate_limits`` or
    ``kind``; None when it states none."""
    concurrency = capabilities.get("concurrency")
    if kind == "tasks" and isinstance(concurrency, Mapping):
        safe = concurrency.get("safe")
        if isinstance(safe, int) and not isinstance(safe, bool) and safe > 0:
            return safe
    places: list[Mapping[str, Any]] = [capabilities]
    for key in ("admission", "limits", "rate_limits", kind):
        nested = capabilities.get(key)
        if isinstance(nested, Mapping):
            places.append(nested)
            inner = nested.get(kind)
            if isinstance(inner, Mapping):
                places.insert(0, inner)
    for pattern in _CAPACITY_KEYS:
        key = pattern.format(kind=kind)
        for place in places:
            value = place.get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return None


class Backpressure:
    """The client's concurrency limit: starts at the server's capacity, halves at each
    refusal, and grows by one after a full window of accepted requests.

    Attributes:
        ceiling: the most it returns to (the declared capacity).
        limit: the concurrency to use now.
    """

    def __init__(self, ceiling: int) -> None:
        if ceiling < 1:
            raise ValueError(f"ceiling is {ceiling}. Fix: give 1 or more")
        self.ceiling = ceiling
        self.limit = ceiling
        self._accepted = 0

    def refused(self) -> None:
        """The server answered 429 or 503."""
        self.limit = max(1, self.limit // 2)
        self._accepted = 0

    def accepted(self) -> None:
        """The server accepted a request."""
        self._accepted += 1
        if self._accepted >= self.limit and self.limit < self.ceiling:
            self.limit += 1
            self._accepted = 0
