"""Rows of several tables written by one statement: a data-modifying CTE per table, all
run to completion whether read or not (foreign keys are checked at the end of the
statement, when every CTE's rows are there). One statement in autocommit is atomic as a
transaction is, and costs one round trip and one commit.

A part's rows come as ``VALUES`` when they are few (the common superstep: one checkpoint,
a blob or two, an event batch), and as ``unnest`` of an array per column when they are
many (a fan-out's tasks): arrays cost the server more per statement, ``VALUES`` more per
row. Rows are inserted in the order given (``ord``). A statement's text depends only on
the parts and their row counts (up to ``FEW``), so psycopg prepares each shape once per
connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

FEW = 8
"""Up to this many rows a part is written as ``VALUES``; more as arrays."""


class Part(NamedTuple):
    """``INSERT INTO {into} SELECT {select} FROM rows AS u ({columns}, ord) {join}
    ORDER BY u.ord {tail}``; ``columns`` are (name, SQL type) pairs, each row a tuple of
    their values."""

    into: str
    select: str
    columns: tuple[tuple[str, str], ...]
    join: str = ""
    tail: str = ""


_STATEMENTS: dict[tuple[tuple[str, int], ...], bytes] = {}


def statement(
    parts: dict[str, Part], rows: Sequence[tuple[str, Sequence[Sequence[Any]]]]
) -> tuple[bytes, list[Any]]:
    """The statement writing ``rows`` ((part name, its rows), in ``parts``' order, none
    empty) and its parameters."""
    shape = tuple((name, len(r) if len(r) <= FEW else 0) for name, r in rows)
    args: list[Any] = []
    for _, part_rows in rows:
        if len(part_rows) <= FEW:
            for row in part_rows:
                args.extend(row)
        else:
            args.extend(list(column) for column in zip(*part_rows, strict=True))
    found = _STATEMENTS.get(shape)
    if found is None:
        ctes = ", ".join(f"{name} AS ({_cte(parts[name], n)})" for name, n in shape)
        found = _STATEMENTS[shape] = f"WITH {ctes} SELECT 1".encode()
    return found, args


def _cte(part: Part, count: int) -> str:
    names = ", ".join(name for name, _ in part.columns)
    if count:
        values = ", ".join(
            "(" + ", ".join(f"%s::{kind}" for _, kind in part.columns) + f", {i})"
            for i in range(count)
        )
        source = f"(VALUES {values})"
    else:
        arrays = ", ".join(f"%s::{kind}[]" for _, kind in part.columns)
        source = f"unnest({arrays}) WITH ORDINALITY"
    return (
        f"INSERT INTO {part.into} SELECT {part.select} FROM {source} AS u ({names}, ord) "
        f"{part.join} ORDER BY u.ord {part.tail}"
    )
