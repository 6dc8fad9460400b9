"""Text no repository stores: the NUL character (U+0000). PostgreSQL's ``TEXT`` cannot
hold it, so every backend refuses it the same way, before writing anything, naming the
field; binary content belongs in the ``bytes`` fields (an artifact's content) and JSON
documents escape it (``\\u0000``), so neither is affected."""

from __future__ import annotations

from orca.errors import InvalidFieldError

NUL = "\x00"


def refuse_nul(field: str, value: str | None) -> None:
    """Raise unless ``value`` is free of NUL characters (None passes).

    Raises:
        InvalidFieldError: ``value`` holds one (``field`` names it).
    """
    if value is not None and NUL in value:
        raise InvalidFieldError(
            f"{field} holds a NUL character (U+0000), which Orca never stores",
            field=field,
            fix="leave the NUL characters out (send binary data as an artifact's content, "
            "or escape it, as JSON does: \\u0000)",
        )


def has_nul(*values: str | None) -> bool:
    """Whether any of ``values`` holds a NUL character: a key no row can have."""
    return any(v is not None and NUL in v for v in values)
