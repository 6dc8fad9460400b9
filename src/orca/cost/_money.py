"""Money: exact ``Decimal`` arithmetic, stored as integer nano-USD (1e-9 USD)."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from orca.errors import InvalidFieldError

NANO_PER_USD = 1_000_000_000
_ONE = Decimal(1)


MAX_NANO = 2**63 - 1
"""The largest amount a ledger column holds (a signed 64-bit integer of nano-USD)."""


def to_nano(usd: Decimal | int | str) -> int:
    """USD (a ``Decimal``, an int or a decimal string; never a float) as integer nano-USD,
    rounded half to even.

    Raises:
        TypeError: ``usd`` is a float (floats cannot hold money exactly).
        ValueError: ``usd`` is not a finite number.
    """
    if isinstance(usd, float):
        raise TypeError("money is never a float: pass a Decimal or a decimal string")
    try:
        value = Decimal(usd)
    except InvalidOperation:
        raise ValueError(f"{usd!r} is not a number of dollars") from None
    if not value.is_finite():
        raise ValueError(f"{usd!r} is not a finite amount")
    try:
        nano = int((value * NANO_PER_USD).quantize(_ONE, rounding=ROUND_HALF_EVEN))
    except ArithmeticError:  # more digits than the context holds, or an overflow
        raise ValueError(f"{usd!r} is too large an amount") from None
    if abs(nano) > MAX_NANO:
        raise ValueError(f"{usd!r} is too large an amount (at most ${MAX_NANO // NANO_PER_USD:,})")
    return nano


def to_usd(nano: int) -> Decimal:
    """Integer nano-USD as an exact ``Decimal`` of dollars."""
    return Decimal(nano).scaleb(-9)


def format_usd(nano: int, *, places: int = 6) -> str:
    """``$0.001234``: nano-USD for people (rounded for display only)."""
    return f"${to_usd(nano):,.{places}f}"


def parse_usd(text: str, field: str, *, zero: bool = False) -> Decimal:
    """A dollar amount as people write it (``5.00``, ``$5``): a decimal number above
    zero (or zero too, with ``zero``). ``field`` names where it came from (``--amount``,
    ``amount``) in the error.

    Raises:
        InvalidFieldError: ``text`` is not a number, not finite, negative, or zero
            without ``zero``.
    """
    example = "2.50" if zero else "5.00"
    try:
        value = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        raise InvalidFieldError(
            f"{field} {text!r} is not a number", field=field, fix=f"write {field} {example}"
        ) from None
    if not value.is_finite() or value < 0 or (value == 0 and not zero):
        bound = "zero or more" if zero else "above zero"
        raise InvalidFieldError(
            f"{field} must be {bound} (got {text})", field=field, fix=f"write {field} {example}"
        )
    return value
