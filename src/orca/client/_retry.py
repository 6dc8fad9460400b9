"""When to try a request again, and after how long: pure functions over the answer's
status, headers and envelope, so the rules are testable without a network."""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
NOT_ACCEPTED = frozenset({429})  # the server refused it before doing anything
TRANSIENT = frozenset({429, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How the client retries.

    Attributes:
        attempts: tries in all (1: never retry).
        base_s: the first wait when the server names none; doubled each try.
        max_backoff_s: the longest wait the client picks itself.
        max_wait_s: the longest wait the server may ask for; a longer one is not waited
            out but raised (``ServerOverloadedError``), for the caller to decide.
        jitter: a wait is stretched by up to this fraction (never shortened: the
            server's advice is a floor), so that clients told the same do not return
            together.
    """

    attempts: int = 4
    base_s: float = 0.2
    max_backoff_s: float = 10.0
    max_wait_s: float = 60.0
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts is {self.attempts}. Fix: give 1 or more")
        if self.base_s < 0 or self.max_backoff_s < 0 or self.max_wait_s < 0 or self.jitter < 0:
            raise ValueError("waits and jitter must be zero or more")


NEVER = RetryPolicy(attempts=1)


def advised_wait_s(headers: Mapping[str, str], retry_after_ms: int | None) -> float | None:
    """The wait the server asked for: ``X-Backoff-Ms`` (the finest), else
    ``Retry-After`` (seconds, or an HTTP date), else the envelope's ``retry_after_ms``."""
    backoff = headers.get("x-backoff-ms")
    if backoff is not None:
        try:
            return max(0.0, float(backoff) / 1000)
        except ValueError:
            pass
    after = headers.get("retry-after")
    if after is not None:
        try:
            return max(0.0, float(after))
        except ValueError:
            when = email.utils.parsedate_to_datetime(after) if after.strip() else None
            if when is not None:
                return max(0.0, when.timestamp() - time.time())
    if retry_after_ms is not None and retry_after_ms >= 0:
        return retry_after_ms / 1000
    return None


def may_retry(method: str, status: int, retriable: bool, *, sent: bool = True) -> bool:
    """Whether a failed request may be sent again: an idempotent one after a transient
    answer (or one its envelope calls retriable, or no answer at all); any other only
    when the server did not accept it (429), or when it never reached the server
    (``sent`` false: the connection was refused)."""
    if not sent:
        return True
    if status in NOT_ACCEPTED:
        return True
    if method.upper() not in IDEMPOTENT:
        return False
    return status == 0 or status in TRANSIENT or (status >= 500 and retriable)


def wait_s(policy: RetryPolicy, attempt: int, advised: float | None) -> float:
    """The wait before try ``attempt + 1`` (``attempt`` counts from 1): the server's
    advice stretched by jitter, else exponential backoff with full jitter."""
    if advised is not None:
        return advised * (1 + random.uniform(0, policy.jitter))
    ceiling = min(policy.max_backoff_s, policy.base_s * 2 ** (attempt - 1))
    return random.uniform(ceiling / 2, ceiling)
