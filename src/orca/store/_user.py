"""The user database's repositories, as protocols: the ledger (budgets, their periods,
holds and usage), price overrides, LLM profiles, configurations and usage reports.

A backend implements each of them (``orca.store.sqlite`` today); the conformance suites
in ``tests/store/`` run unchanged against every backend. Nothing here knows how a
backend stores anything: no connection, no pragma, no lock.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from orca.cost import (
    Bucket,
    Budget,
    BudgetStatus,
    CallContext,
    Charge,
    GroupBy,
    Hold,
    Price,
    RunUsage,
    Settlement,
    SweepResult,
    UsageRow,
)
from orca.errors import ConfigError

Scope = Literal["workflow", "run", "session"]

_PROFILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_CONFIG_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
MAX_CONFIG_VALUE = 65536
"""The longest configuration value, in characters (settings, not documents)."""


# -- profiles as records ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """One model of a stored profile: provider, model and params (a JSON object)."""

    provider: str
    model: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def check(self, where: str) -> None:
        """Raise ``ConfigError`` naming ``where`` unless this can be stored."""
        for key in ("provider", "model"):
            value = getattr(self, key)
            if not isinstance(value, str) or not value:
                raise ConfigError(
                    f"{where}.{key} is {value!r}",
                    key=f"{where}.{key}",
                    fix=f"give {where} a non-empty {key} name",
                )
        if not isinstance(self.params, Mapping):
            raise ConfigError(
                f"{where}.params is a {type(self.params).__name__}",
                key=f"{where}.params",
                fix="give params as a mapping of option names to values",
            )
        try:
            json.dumps(dict(self.params), sort_keys=True, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"{where}.params cannot be stored ({exc})",
                key=f"{where}.params",
                fix="use only strings, numbers, booleans, lists and tables in params",
            ) from None


@dataclass(frozen=True, slots=True)
class ProfileRecord:
    """A stored profile: a name, a planner and a worker model. ``orca.llm.Profile`` is
    the face users see; this is what a repository keeps.

    Raises:
        ConfigError: a name outside 1-64 letters, digits, '-', '_' or '.', or a model
            that cannot be stored.
    """

    name: str
    planner: ModelRecord
    worker: ModelRecord
    description: str = ""
    active: bool = False

    def __post_init__(self) -> None:
        check_profile_name(self.name)
        if not isinstance(self.description, str):
            raise ConfigError(
                f"profile {self.name!r} has a description of type "
                f"{type(self.description).__name__}",
                key="description",
                fix="give the description as text",
            )
        self.planner.check("planner")
        self.worker.check("worker")


def check_profile_name(name: object) -> None:
    """Raise ``ConfigError`` (key ``name``) unless ``name`` is a valid profile name."""
    if not isinstance(name, str) or not _PROFILE_NAME.fullmatch(name):
        raise ConfigError(
            f"profile name {name!r} is not valid",
            key="name",
            fix="use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
        )


def check_config_key(key: object) -> None:
    """Raise ``ConfigError`` (key ``key``) unless ``key`` is a valid configuration key."""
    if not isinstance(key, str) or not _CONFIG_KEY.fullmatch(key):
        raise ConfigError(
            f"configuration key {key!r} is not valid",
            key="key",
            fix="use 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
        )


def check_config_value(key: str, value: object) -> None:
    """Raise ``ConfigError`` (naming ``key``) unless ``value`` is text Orca will keep."""
    if not isinstance(value, str):
        raise ConfigError(
            f"configuration {key!r} is a {type(value).__name__}, not text",
            key=key,
            fix="store text (serialise other values, e.g. as JSON, first)",
        )
    if len(value) > MAX_CONFIG_VALUE or "\x00" in value:
        raise ConfigError(
            f"configuration {key!r} is {len(value)} characters"
            + (" with a NUL character" if "\x00" in value else ""),
            key=key,
            fix=f"keep a setting under {MAX_CONFIG_VALUE} characters, without NUL",
        )


# -- the repositories ---------------------------------------------------------------------


class BudgetRepository(Protocol):
    """Budgets: CRUD, the one active budget, and where each stands in its period."""

    def create(self, budget: Budget, *, activate: bool = False) -> Budget:
        """Store a new budget (with its id filled in); the first global budget becomes
        the active one.

        Raises:
            InvalidBudgetError: the name is taken, or a scoped budget asked to be active.
        """
        ...

    def get(self, name: str) -> Budget:
        """Raises ``UnknownBudgetError`` (naming the closest) if there is none."""
        ...

    def all(self) -> list[Budget]:
        """Every budget, by name."""
        ...

    def names(self) -> list[str]: ...

    def active(self) -> Budget | None: ...

    def use(self, name: str) -> Budget:
        """Make the global budget ``name`` the one active budget."""
        ...

    def scoped(self, scope: Scope, ref: str) -> list[Budget]:
        """The budgets covering every call of one workflow, run or session."""
        ...

    def raise_(self, name: str, *, by: int | None = None, to: int | None = None) -> Budget:
        """Change the amount for the current and future periods (past ones keep theirs)."""
        ...

    def delete(self, name: str) -> None:
        """Delete a budget with its periods; its usage rows stay."""
        ...

    def status(self, name: str, *, at: dt.datetime | None = None) -> BudgetStatus:
        """Where ``name`` stands in the period holding ``at`` (default: now)."""
        ...


class LedgerRepository(Protocol):
    """Budgets' money: reserve -> call -> record -> settle, or release. The holder of a
    live call renews its hold; holds that are not renewed for ``hold_ttl_s`` (their
    holder died) expire and ``sweep`` gives them back (or settles them when recorded).

    Invariants every backend keeps: a block budget's period never has spent + reserved
    above its amount because of a reservation, whatever runs at the same time in other
    threads or processes; a charge is never capped, and one that a block budget cannot
    afford (its hold expired, or it is above what was held) is recorded with its
    overdraft and leaves the period overdrawn, refusing every reservation until the
    budget is raised; so spent <= amount unless the period is overdrawn. Settling is
    idempotent by hold id; a hold's money is released once. The async methods never
    block the event loop's thread.
    """

    @property
    def budgets(self) -> BudgetRepository: ...

    @property
    def hold_ttl_s(self) -> float:
        """How long a hold lives unless renewed (its holder renews well within it)."""
        ...

    def applicable(
        self,
        *,
        budget: str | None = None,
        workflow: str | None = None,
        run: str | None = None,
        session: str | None = None,
    ) -> list[Budget]:
        """The budgets covering a call: ``budget`` (by name) or else the active one, plus
        every budget scoped to this workflow, run or session.

        Raises:
            UnknownBudgetError: ``budget`` names no budget.
        """
        ...

    def status(self, budgets: Sequence[Budget]) -> list[BudgetStatus]: ...

    def reserve(
        self, budgets: Sequence[Budget], asks: Mapping[str, int], context: CallContext = ...
    ) -> Hold:
        """Hold ``asks[unit]`` in every block budget of ``budgets`` (warn budgets take
        part with 0), all or nothing.

        Raises:
            BudgetExceeded: a block budget cannot afford its ask, or is overdrawn
                (``overdrawn``); nothing was held.
        """
        ...

    def renew(self, holds: Sequence[Hold]) -> list[str]:
        """Keep the holds of calls still running alive for another ``hold_ttl_s``; a
        hold already swept is taken again if its budgets still afford it. Returns the
        ids of the holds that are held now."""
        ...

    def record(self, hold: Hold, charge: Charge) -> None:
        """Keep the answer's usage on the hold (one that expired too), so that a process
        that dies before settling is settled from it by ``sweep``."""
        ...

    def settle(self, hold: Hold, charge: Charge, context: CallContext = ...) -> Settlement:
        """Write the usage and charge every budget the hold touches, releasing what it
        held. The charge is never capped: above what the hold still holds (``over_bound``
        when above what it reserved), the excess must fit the budget as a reservation
        would; what does not is returned as ``overdrafts`` and the period is overdrawn.
        Settling a hold again returns the first settlement (``repeated``)."""
        ...

    def release(self, hold: Hold) -> None:
        """Give back what an unanswered call held (once)."""
        ...

    def sweep(self) -> SweepResult:
        """Release expired holds never answered; settle expired holds recorded (also
        those whose answer was recorded after they expired)."""
        ...

    async def aapplicable(
        self,
        *,
        budget: str | None = None,
        workflow: str | None = None,
        run: str | None = None,
        session: str | None = None,
    ) -> list[Budget]: ...

    async def astatus(self, budgets: Sequence[Budget]) -> list[BudgetStatus]: ...

    async def areserve(
        self, budgets: Sequence[Budget], asks: Mapping[str, int], context: CallContext = ...
    ) -> Hold: ...

    async def arecord(self, hold: Hold, charge: Charge) -> None:
        """``record``, off the event loop."""
        ...

    async def asettle(self, hold: Hold, charge: Charge, context: CallContext = ...) -> Settlement:
        """``record`` then ``settle``, as one trip off the event loop."""
        ...

    async def arelease(self, hold: Hold) -> None: ...

    async def arenew(self, holds: Sequence[Hold]) -> list[str]: ...

    async def asweep(self) -> SweepResult: ...


class PriceRepository(Protocol):
    """The user's price overrides, any number of versions per model (``effective_from``;
    ``None`` means "always")."""

    def load(self) -> list[Price]:
        """Every stored version (``source='user'``), in no particular order."""
        ...

    def save(self, price: Price, *, note: str = "") -> None:
        """Store ``price``, replacing the version with the same provider, model and
        ``effective_from``."""
        ...

    def delete(self, provider: str, model: str) -> int:
        """Remove every version for a model; returns how many were removed."""
        ...


class ProfileRepository(Protocol):
    """LLM profiles: CRUD and the one active profile."""

    def create(self, profile: ProfileRecord, *, activate: bool = False) -> ProfileRecord:
        """Store a new profile (the first one becomes active).

        Raises:
            ConfigError: a profile with this name exists.
        """
        ...

    def get(self, name: str) -> ProfileRecord:
        """Raises ``UnknownProfileError`` (naming the closest) if there is none."""
        ...

    def all(self) -> list[ProfileRecord]: ...

    def names(self) -> list[str]: ...

    def active(self) -> ProfileRecord | None: ...

    def use(self, name: str) -> ProfileRecord:
        """Make ``name`` the one active profile."""
        ...

    def update(
        self,
        name: str,
        *,
        planner: ModelRecord | None = None,
        worker: ModelRecord | None = None,
        description: str | None = None,
    ) -> ProfileRecord: ...

    def delete(self, name: str) -> None: ...


class ConfigurationRepository(Protocol):
    """Named settings Orca keeps for itself (text; never secrets)."""

    def get(self, key: str) -> str | None: ...

    def set(self, key: str, value: str) -> None:
        """Raises ``ConfigError`` naming the key for a bad key or value."""
        ...

    def delete(self, key: str) -> bool:
        """Whether there was a setting to delete."""
        ...

    def all(self) -> dict[str, str]: ...


class UsageRepository(Protocol):
    """Reports over the usage the ledger wrote."""

    def report(
        self,
        by: GroupBy,
        *,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        run_id: str | None = None,
        workflow: str | None = None,
        bucket: Bucket | None = None,
    ) -> list[UsageRow]:
        """Usage grouped ``by`` one key, most expensive first (days in date order), from
        ``since`` (inclusive) to ``until`` (exclusive), of one run and one workflow when
        given (a workflow named without ``@VERSION``: its saved versions too). With
        ``bucket`` (hour or day), a series: grouped by the bucket's start
        (``UsageRow.bucket``, ISO 8601 UTC) and the key, buckets in time order.

        Raises:
            InvalidInputError: ``by`` is not a grouping, ``bucket`` not a bucket, or a
                time is naive.
        """
        ...

    def of_run(self, run_id: str) -> list[RunUsage]:
        """One run's usage by node, role and model."""
        ...

    def charges(self, run_id: str) -> list[Charge]:
        """Each call of one run as charged (for re-pricing it)."""
        ...


class UserStore(Protocol):
    """The user database's repositories, over one store."""

    @property
    def ledger(self) -> LedgerRepository: ...

    @property
    def prices(self) -> PriceRepository: ...

    @property
    def profiles(self) -> ProfileRepository: ...

    @property
    def configurations(self) -> ConfigurationRepository: ...

    @property
    def usage(self) -> UsageRepository: ...

    def close(self) -> None: ...
