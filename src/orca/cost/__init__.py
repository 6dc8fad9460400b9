"""Money and cost: prices per 1M tokens, exact costs in integer nano-USD, re-pricing."""

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

__all__ = [
    "LOCAL_PROVIDERS",
    "NANO_PER_USD",
    "Price",
    "PriceBook",
    "Repricing",
    "TokenCounts",
    "delete_overrides",
    "format_usd",
    "load_overrides",
    "save_override",
    "to_nano",
    "to_usd",
]
