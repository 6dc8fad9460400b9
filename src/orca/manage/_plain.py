"""Plain data and text for people, the same from every face: amounts (``$4.50``),
counts, times as people write them (``7d``, an ISO date), and JSON-ready values
(``Decimal`` as a string, never a float)."""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from orca.errors import InvalidFieldError


def usd(nano: int) -> str:
    """An amount of nano-USD for people, in a precision that fits its size: cents from
    a dollar up (``$1,234.50``), three significant digits below (``$0.0123``,
    ``$0.00000150``), never more than nano-dollars. Exact amounts are in ``--json``."""
    value = Decimal(nano).scaleb(-9)
    if value == 0:
        return "$0.00"
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value >= 1:
        return f"{sign}${value:,.2f}"
    places = min(9, max(2, 2 - value.adjusted()))
    return f"{sign}${_trimmed(f'{value:,.{places}f}')}"


def usd_decimal(nano: int) -> str:
    """Integer nano-USD as the exact decimal string of dollars every JSON answer writes:
    no exponent, at least cents, no trailing zeros past them (``0.00``, ``1.50``,
    ``0.000012345``)."""
    whole, _, frac = f"{Decimal(nano).scaleb(-9):f}".partition(".")
    return f"{whole}.{frac.rstrip('0').ljust(2, '0')}"


def per_mtok(value: Decimal | None) -> str:
    """A price in USD per 1M tokens, one way everywhere: at least cents, every digit
    it has (``$2.50``, ``$0.075``); ``-`` for none."""
    return "-" if value is None else f"${_trimmed(f'{value:,f}')}"


def _trimmed(number: str) -> str:
    """``number`` without trailing zeros past the cents (``0.0150`` -> ``0.015``)."""
    whole, _, cents = number.partition(".")
    cents = cents.rstrip("0")
    return f"{whole}.{cents.ljust(2, '0')}"


def count(n: int, noun: str) -> str:
    """``1 call``, ``2 calls``, ``1,200 tokens``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def in_unit(budget: Any, n: int) -> str:
    """``n`` in ``budget``'s unit, for people (``$4.50``, ``1,200 tokens``)."""
    return usd(n) if budget.unit == "usd" else count(n, "token")


def llm_calls(row: dict[str, Any]) -> dict[str, Any]:
    """A row of the usage ledger with its count of calls named as in every ``--json``
    (``llm_calls``)."""
    return {("llm_calls" if k == "calls" else k): v for k, v in row.items()}


_SPAN = re.compile(r"(\d+)([hdw])")


def parse_time(text: str | None, field: str = "--since") -> dt.datetime | None:
    """``7d``, ``12h``, ``2w`` ago, or an ISO date/time (UTC unless it says).

    Raises:
        InvalidFieldError: ``text`` is neither.
    """
    if text is None:
        return None
    now = dt.datetime.now(dt.UTC)
    match = _SPAN.fullmatch(text.strip())
    if match:
        n, unit = int(match.group(1)), match.group(2)
        hours = {"h": 1, "d": 24, "w": 168}[unit]
        return now - dt.timedelta(hours=n * hours)
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidFieldError(
            f"{field} {text!r} is not a time",
            field=field,
            fix=f"write {field} 7d, 12h or 2026-11-01",
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "to_dict"):
        return value.to_dict()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(data: Any, *, indent: int | None = None) -> str:
    """``data`` as the JSON every face writes: ``Decimal`` as a string, datetimes as ISO,
    keys sorted."""
    return json.dumps(data, default=_default, indent=indent, sort_keys=True)


def jsonable(data: Any) -> Any:
    """``data`` as the JSON values ``dumps`` writes (for a face that encodes itself)."""
    return json.loads(dumps(data))
