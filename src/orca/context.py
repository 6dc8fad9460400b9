"""What a task sees, and what a run's services offer: the protocols between the engine and
the packages that serve runs (models and metering in ``orca.llm``, tools in
``orca.tools``).

The engine runs graphs; it never builds a model, a meter or a tool. It receives a run's
services (``RunServices``) from a ``ServiceFactory`` (the default one is installed by
``import orca``; ``orca._services``) or from the ``services=`` run option, and hands each
task a context (``TaskContext``) through which the services reach the run: its ids, step,
clock, seeded randomness, ``interrupt`` and the event stream. Services see tasks only
through this module, never through the engine's private attributes.

This module imports nothing of Orca at run time (the event model for its types only).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from orca.events import Event


class EventSink(Protocol):
    """A run's event stream as services write to it."""

    def wants(self, cls: type[Event]) -> bool:
        """Whether anyone (a stream, an observer, the event log) takes events of ``cls``:
        when nobody does, a service may skip building the event (and calls ``skip``)."""
        ...

    def skip(self) -> None:
        """An event nobody wants was not built: it still takes its place in ``seq``."""
        ...

    def emit(
        self,
        cls: type[Event],
        step: int,
        log_fields: dict[str, Any] | None = None,
        **fields: Any,
    ) -> None:
        """Emit an event of type ``cls`` at ``step``; ``log_fields`` replace some fields
        in the event log only (the whole value where listeners see it redacted). Safe
        from any thread."""
        ...


class CallLog(Protocol):
    """The calls one task completed, kept by the run's checkpointer, so the task run
    again (after an interrupt, a budget pause, a crash or a sibling's failure: its step
    starts from the same checkpoint) is answered from them instead of paying again.

    A call is keyed by its kind (``llm`` or ``tool``), a digest of what it asks, and its
    occurrence: the n-th call with that digest in the task matches the n-th record."""

    async def lookup(self, kind: str, digest: str) -> tuple[int, dict[str, Any] | None]:
        """Take the next occurrence of ``(kind, digest)`` in this attempt of the task:
        returns it and the recorded value of that occurrence, or None (call for real)."""
        ...

    async def record(
        self,
        kind: str,
        digest: str,
        occurrence: int,
        value: dict[str, Any],
        paid: PaidAnswer | None = None,
    ) -> bool:
        """Keep what a completed call returned (committed before this returns); False
        (and a ``warning`` event) when it could not be kept: the call then runs again
        if the task does.

        ``paid``: the call's answer as its ledger hold records it. It is written in the
        same transaction as the record where the checkpointer keeps the ledger's tables
        too (one PostgreSQL database: a process killed at any point has both or
        neither), else before the record (a process killed between the two has paid,
        and the task run again calls once more)."""
        ...


class PaidAnswer(Protocol):
    """A paid call's answer as the run's meter records it on the call's ledger hold, so
    that a process killed before the settle is charged from it (``orca.llm``'s meter
    makes them). ``ledger``, ``hold`` and ``charge`` are opaque here: a checkpointer
    that keeps ``ledger``'s tables writes the answer with the call's record."""

    @property
    def ledger(self) -> Any: ...

    @property
    def hold(self) -> Any: ...

    @property
    def charge(self) -> Any: ...

    async def arecord(self) -> None:
        """Record the answer on its hold, alone (committed when this returns)."""
        ...


@runtime_checkable
class TaskContext(Protocol):
    """One task of a run, as services see it (the engine's ``RunContext`` is one)."""

    run_id: str
    thread_id: str
    step: int
    node: str
    task_id: str
    seed: int

    @property
    def random(self) -> random.Random:
        """Randomness seeded from the run's seed and the task's id."""
        ...

    @property
    def events(self) -> EventSink | None:
        """The run's event stream, or None when nobody listens."""
        ...

    @property
    def calls(self) -> CallLog | None:
        """The task's completed calls (None when the run keeps none: no checkpointer)."""
        ...

    def now(self) -> dt.datetime:
        """The run clock's time."""
        ...

    def interrupt(self, value: Any = None) -> Any:
        """Pause the run showing ``value``; on resume, returns the resume value."""
        ...


@dataclass(frozen=True, slots=True)
class RunTotals:
    """What a run's metered calls came to: computed once, by the run's services, and
    carried by ``run.finished`` and the run record."""

    llm_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nano_usd: int = 0


@runtime_checkable
class RunServices(Protocol):
    """What one run's nodes may call, bound to a task on each use. A subgraph shares its
    parent's services; calls made inside it belong to the parent's task."""

    def llm(self, name: str, task: TaskContext) -> Any:
        """The model called ``name`` (``planner``, ``worker`` or another), bound to
        ``task``: ``ctx.llm(name)`` returns it. Raises ``ConfigError`` when the run has
        no model of that name."""
        ...

    def tools(self, task: TaskContext) -> Any:
        """The run's tools bound to ``task`` (``ctx.tools``). Raises ``InvalidInputError``
        when the run was given none."""
        ...

    def totals(self) -> RunTotals:
        """The run's metered calls so far."""
        ...

    async def close(self) -> None:
        """The run has stopped: report what the services owe the stream (budget status
        after the run) and release what they opened (a ledger)."""
        ...


class ServiceFactory(Protocol):
    """Builds a run's services from the run options that name them."""

    options: frozenset[str]
    """The run options the factory takes (``profile``, ``models``, ``tools``, ...)."""

    def __call__(self, options: Mapping[str, Any], *, workflow: str) -> RunServices:
        """The services of one run of graph ``workflow``. Raises ``InvalidInputError``
        (or ``ConfigError``) for an option it cannot use, naming the option."""
        ...


_factory: ServiceFactory | None = None


def install_services(factory: ServiceFactory) -> None:
    """Make ``factory`` build the services of every run not given ``services=``."""
    global _factory
    _factory = factory


def service_factory() -> ServiceFactory | None:
    """The installed factory (``import orca`` installs Orca's own)."""
    return _factory
