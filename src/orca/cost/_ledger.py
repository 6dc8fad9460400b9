"""The ledger's values: where a charge comes from, what a call cost, a reservation, the
alerts and the result of settling it.

The ledger itself (reserve -> call -> record -> settle, holds that expire and a sweep
that releases them) is a repository of ``orca.store``; these are the values it takes
and gives back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

from orca.cost._budgets import Budget, BudgetStatus

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
    cost_nano: int = 0
    priced: bool = True
    estimated: bool = False

    def amount(self, unit: str) -> int:
        """What this charge counts against a budget in ``unit``."""
        return self.cost_nano if unit == "usd" else self.input_tokens + self.output_tokens


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
class Settlement:
    usage_id: str
    alerts: tuple[Alert, ...] = ()
    repeated: bool = False
    """True when the hold was settled before (settle is idempotent)."""


@dataclass(slots=True)
class SweepResult:
    expired: list[str] = field(default_factory=list)
    settled: list[str] = field(default_factory=list)


class _Closable(Protocol):
    def close(self) -> None: ...


@runtime_checkable
class Ledger(Protocol):
    """The synchronous face of a ledger that a run's meter calls today (what
    ``orca.store.SqliteLedger`` offers). The full repository, with its budgets and its
    async methods, is ``orca.store.LedgerRepository``; the meter moves to it and this
    protocol goes."""

    @property
    def conn(self) -> _Closable: ...

    def applicable(
        self,
        *,
        budget: str | None = None,
        workflow: str | None = None,
        run: str | None = None,
        session: str | None = None,
    ) -> list[Budget]: ...

    def status(self, budgets: Sequence[Budget]) -> list[BudgetStatus]: ...

    def reserve(
        self, budgets: Sequence[Budget], asks: Mapping[str, int], context: CallContext = ...
    ) -> Hold: ...

    def record(self, hold: Hold, charge: Charge) -> None: ...

    def settle(self, hold: Hold, charge: Charge, context: CallContext = ...) -> Settlement: ...

    def release(self, hold: Hold) -> None: ...

    def sweep(self) -> SweepResult: ...

    def try_now(self, fn: Callable[..., T], *args: Any) -> tuple[bool, T | None]: ...
