"""The ledger's values: where a charge comes from, what a call cost, a reservation, the
alerts and the result of settling it.

The ledger itself (reserve -> call -> record -> settle, holds that their holder renews
while its call runs, that expire when the holder dies, and a sweep that releases them)
is a repository of ``orca.store``; these are the values it takes and gives back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

from orca.cost._tokens import Usage

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CallContext:
    """Where a charge comes from (every field optional)."""

    run_id: str | None = None
    thread_id: str | None = None
    workflow: str | None = None
    session: str | None = None
    node: str | None = None
    task_id: str | None = None
    role: str | None = None


@dataclass(frozen=True, slots=True)
class Charge:
    """What one call used and cost."""

    provider: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_nano_usd: int = 0
    priced: bool = True
    estimated: bool = False
    over_bound: bool = False
    """The provider reported more than the call's reservation allowed (its bound)."""

    @classmethod
    def of(
        cls, provider: str, model: str, usage: Usage, cost_nano_usd: int, priced: bool
    ) -> Charge:
        """The charge of one call that used ``usage`` and cost ``cost_nano_usd``."""
        return cls(
            provider,
            model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            reasoning_tokens=usage.reasoning_tokens,
            cost_nano_usd=cost_nano_usd,
            priced=priced,
            estimated=usage.estimated,
        )

    def amount(self, unit: str) -> int:
        """What this charge counts against a budget in ``unit``."""
        return self.cost_nano_usd if unit == "usd" else self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True)
class Hold:
    """A reservation; ``parts`` are ``(period id, amount)`` per budget it touches (none
    when no budget covers the call, and then nothing was written)."""

    id: str
    parts: tuple[tuple[int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class Alert:
    """A budget crossed one of its thresholds (once per period)."""

    budget: str
    unit: str
    threshold_pct: int
    spent: int
    limit: int


@dataclass(frozen=True, slots=True)
class Overdraft:
    """A block budget was charged more than it could afford (a hold that expired before
    its call settled, or a provider that reported more than the reservation): the charge
    is recorded all the same, ``amount`` of it went past the limit, and the budget is
    overdrawn (every later reservation refused) until it is raised."""

    budget: str
    unit: str
    amount: int
    spent: int
    limit: int


@dataclass(frozen=True, slots=True)
class Settlement:
    usage_id: str
    alerts: tuple[Alert, ...] = ()
    repeated: bool = False
    """True when the hold was settled before (settle is idempotent)."""
    overdrafts: tuple[Overdraft, ...] = ()
    over_bound: bool = False
    """The charge was above what the hold reserved for it in some block budget (or the
    caller flagged it so): it was recorded at its true cost."""


@dataclass(slots=True)
class SweepResult:
    expired: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)
