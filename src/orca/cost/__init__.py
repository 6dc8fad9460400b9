"""Money and cost: prices per 1M tokens, exact costs in integer nano-USD, re-pricing,
budgets and the usage ledger."""

from orca.cost._budgets import Budget, Budgets, BudgetStatus, period_bounds
from orca.cost._ledger import Alert, CallContext, Charge, Hold, Ledger, Settlement, SweepResult
from orca.cost._money import NANO_PER_USD, format_usd, to_nano, to_usd
from orca.cost._pricing import (
    LOCAL_PROVIDERS,
    Price,
    PriceBook,
    Repricing,
    TokenCounts,
    delete_overrides,
    load_overrides,
    save_override,
)
from orca.cost._usage import UsageRow, usage_report

__all__ = [
    "LOCAL_PROVIDERS",
    "NANO_PER_USD",
    "Alert",
    "Budget",
    "BudgetStatus",
    "Budgets",
    "CallContext",
    "Charge",
    "Hold",
    "Ledger",
    "Price",
    "PriceBook",
    "Repricing",
    "Settlement",
    "SweepResult",
    "TokenCounts",
    "UsageRow",
    "delete_overrides",
    "format_usd",
    "load_overrides",
    "period_bounds",
    "save_override",
    "to_nano",
    "to_usd",
    "usage_report",
]
