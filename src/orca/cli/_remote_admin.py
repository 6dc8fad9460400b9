"""Budgets and usage on an ``orca serve`` (its admin endpoints), as the values the
``budget`` and ``usage`` commands print here: ``BudgetStatus`` and ``UsageRow`` made
from the server's JSON, which is their own ``as_dict()`` form."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orca.client import Client
    from orca.cost import Budget, BudgetStatus, UsageRow


def _when(text: str | None) -> dt.datetime | None:
    return None if text is None else dt.datetime.fromisoformat(text)


def status_of(d: dict[str, Any]) -> BudgetStatus:
    """A budget's status from its JSON (``BudgetStatus.as_dict()``, with ``thresholds``
    and ``timezone`` when the server sent them)."""
    from orca.cost import Budget, BudgetStatus

    budget = Budget(
        d["name"],
        max(1, int(d["limit"])),
        d["unit"],
        d["kind"],
        d.get("period"),
        d["enforcement"],
        tuple(d.get("thresholds") or (80, 100)),
        d.get("timezone") or "UTC",
        d["scope"],
        d.get("scope_ref"),
        bool(d.get("active")),
    )
    return BudgetStatus(
        budget,
        _when(d.get("period_start")),
        _when(d.get("period_end")),
        int(d["limit"]),
        int(d["spent"]),
        int(d["reserved"]),
        bool(d.get("overdrawn")),
        int(d.get("overdraft") or 0),
    )


def usage_row_of(d: dict[str, Any]) -> UsageRow:
    from orca.cost import UsageRow

    return UsageRow(
        key=str(d["key"]),
        calls=int(d.get("llm_calls", d.get("calls", 0))),
        input_tokens=int(d["input_tokens"]),
        output_tokens=int(d["output_tokens"]),
        reasoning_tokens=int(d.get("reasoning_tokens", 0)),
        cost_nano_usd=int(d["cost_nano_usd"]),
        unpriced_calls=int(d.get("unpriced_calls", 0)),
        estimated_calls=int(d.get("estimated_calls", 0)),
    )


def _amount(budget: Budget) -> str:
    """A budget's amount as the server takes it: dollars, or a count of tokens."""
    if budget.unit == "usd":
        return format(Decimal(budget.amount).scaleb(-9).normalize(), "f")
    return str(budget.amount)


class RemoteBudgets:
    """``orca.manage.budgets``' calls, answered by a server."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def create(self, budget: Budget, *, activate: bool) -> BudgetStatus:
        scope: dict[str, Any] = {} if budget.scope == "global" else {budget.scope: budget.scope_ref}
        body = {
            "name": budget.name,
            "amount": _amount(budget),
            "unit": budget.unit,
            "type": budget.kind,
            "period": budget.period,
            "enforcement": budget.enforcement,
            "thresholds": list(budget.thresholds),
            "timezone": budget.timezone,
            "activate": activate,
            **scope,
        }
        return status_of(self.client.request("POST", "/v1/budgets", body=body))

    def statuses(self, *, every: bool) -> list[BudgetStatus]:
        return [status_of(b.raw) for b in self.client.budgets(all=every)]

    def status(self, name: str) -> BudgetStatus:
        return status_of(self.client.budget(name).raw)

    def current(self, name: str | None) -> BudgetStatus | None:
        if name is not None:
            return status_of(self.client.request("GET", f"/v1/budgets/{_p(name)}/status"))
        active = [b for b in self.client.budgets() if b.active]
        return self.current(active[0].name) if active else None

    def get(self, name: str) -> BudgetStatus:
        return self.status(name)

    def use(self, name: str) -> str:
        return str(self.client.use_budget(name)["active"])

    def raise_(
        self, name: str, *, by: str | None, to: str | None, spell: Any = None
    ) -> BudgetStatus:
        return status_of(self.client.raise_budget(name, by=by, to=to).raw)

    def delete(self, name: str) -> None:
        self.client.delete_budget(name)

    def usage(
        self, by: str, *, since: str | None, until: str | None, run_id: str | None
    ) -> list[UsageRow]:
        found = self.client.usage(by, since=since, until=until, run_id=run_id)
        return [usage_row_of(r) for r in found]


def _p(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
