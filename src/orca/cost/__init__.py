"""Money and cost, as pure logic: prices per 1M tokens, exact costs in integer nano-USD,
re-pricing, budgets and their periods and thresholds, and the ledger's values. Where
they are stored (budgets, holds, usage, price overrides) is ``orca.store``'s business."""

from orca.cost._budgets import Budget, BudgetStatus, crossed_thresholds, period_bounds
from orca.cost._ledger import (
    Alert,
    CallContext,
    Charge,
    Hold,
    Overdraft,
    Settlement,
    SweepResult,
)
from orca.cost._money import NANO_PER_USD, format_usd, to_nano, to_usd
from orca.cost._pricing import LOCAL_PROVIDERS, Price, PriceBook, Repricing, TokenCounts
from orca.cost._tokens import Usage
from orca.cost._usage import Bucket, GroupBy, RunUsage, UsageRow, check_report

__all__ = [
    "LOCAL_PROVIDERS",
    "NANO_PER_USD",
    "Alert",
    "Bucket",
    "Budget",
    "BudgetStatus",
    "CallContext",
    "Charge",
    "GroupBy",
    "Hold",
    "Overdraft",
    "Price",
    "PriceBook",
    "Repricing",
    "RunUsage",
    "Settlement",
    "SweepResult",
    "TokenCounts",
    "Usage",
    "UsageRow",
    "check_report",
    "crossed_thresholds",
    "format_usd",
    "period_bounds",
    "to_nano",
    "to_usd",
]
