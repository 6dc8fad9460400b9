"""Node caching: a node with a ``CachePolicy`` whose input was seen before (within the
policy's time to live) returns what it returned then, without running."""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from orca import _serde
from orca.errors import GraphError


def input_key(value: Any) -> str | None:
    """The default cache key: a digest of the node's input in canonical JSON (None, so
    no caching, for an input that cannot be serialised)."""
    try:
        return hashlib.sha256(_serde.dumps(value)).hexdigest()
    except (_serde.UnserializableError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """Cache a node's results: ``add_node(..., cache_policy=CachePolicy(ttl=600))``,
    with ``compile(cache=MemoryCache())``.

    Attributes:
        key_func: the node's input -> its cache key (``None``: do not cache this call);
            default: a digest of the input's canonical JSON.
        ttl: seconds a result stays fresh (None: until the cache is cleared).
    """

    key_func: Callable[[Any], str | None] = input_key
    ttl: float | None = None

    def __post_init__(self) -> None:
        if self.ttl is not None and not self.ttl > 0:
            raise GraphError(
                f"CachePolicy.ttl is {self.ttl!r}",
                fix="pass a positive number of seconds, or None to keep results until cleared",
            )


class Cache(Protocol):
    """Where cached node results live."""

    def get(self, key: str) -> tuple[bool, Any]:
        """``(True, value)`` for a fresh entry, else ``(False, None)``."""

    def set(self, key: str, value: Any, ttl: float | None) -> None:
        """Keep ``value`` under ``key`` for ``ttl`` seconds (None: for good)."""

    def clear(self) -> None:
        """Forget every entry."""


class MemoryCache:
    """A process-local cache of node results (copies in, copies out)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: dict[str, tuple[float | None, Any]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: str) -> tuple[bool, Any]:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return False, None
            expires, value = entry
            if expires is not None and self._clock() >= expires:
                del self._entries[key]
                return False, None
        return True, copy.deepcopy(value)

    def set(self, key: str, value: Any, ttl: float | None) -> None:
        kept = copy.deepcopy(value)
        with self._lock:
            self._entries[key] = (None if ttl is None else self._clock() + ttl, kept)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def cached_call(
    node: str, call: Callable[[Any, Any], Any], is_async: bool, policy: CachePolicy, cache: Cache
) -> Callable[[Any, Any], Any]:
    """``call(arg, ctx)`` answered from ``cache`` when the input's key is fresh there."""

    def key_of(arg: Any) -> str | None:
        key = policy.key_func(arg)
        return None if key is None else f"{node}:{key}"

    if is_async:

        async def cached_async(arg: Any, ctx: Any) -> Any:
            key = key_of(arg)
            if key is not None:
                hit, value = cache.get(key)
                if hit:
                    ctx._cache_hit = True
                    return value
            value = await call(arg, ctx)
            if key is not None:
                cache.set(key, value, policy.ttl)
            return value

        return cached_async

    def cached_sync(arg: Any, ctx: Any) -> Any:
        key = key_of(arg)
        if key is not None:
            hit, value = cache.get(key)
            if hit:
                ctx._cache_hit = True
                return value
        value = call(arg, ctx)
        if key is not None:
            cache.set(key, value, policy.ttl)
        return value

    return cached_sync
