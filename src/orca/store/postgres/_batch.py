"""Rows of several tables written by one statement: a data-modifying CTE per table, all
run to completion whether read or not (foreign keys are checked at the end of the
statement, when every CTE's rows are there). One statement in autocommit is atomic as a
transaction is, and costs one round trip and one commit.

A part's rows come as ``VALUES`` when they are few (the common superstep: one checkpoint,
a blob or two, an event batch), and as one JSON array of rows when they are many (a
fan-out's tasks): one parameter, encoded by orjson and taken apart by the server, where
arrays of parameters would cost the client a Python call per value. Text is written
NUL-safe either way (``_text``), bytes as base64 inside JSON. Rows are inserted in the
order given (``ord``). A statement's text depends only on
the parts and their row counts (up to ``FEW``), so psycopg prepares each shape once per
connection.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson
from psycopg.types.json import Json

from orca.store.postgres._text import encode

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
            args.append(Json([[_plain(v) for v in row] for row in part_rows], dumps=orjson.dumps))
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
        source = f"(VALUES {values}) AS u ({names}, ord)"
    else:
        fields = ", ".join(
            f"decode(x.r->>{i}, 'base64')" if kind == "bytea" else f"(x.r->>{i})::{kind}"
            for i, (_, kind) in enumerate(part.columns)
        )
        source = (
            f"(SELECT {fields}, x.ord FROM json_array_elements(%s::json) WITH ORDINALITY "
            f"AS x (r, ord)) AS u ({names}, ord)"
        )
    return (
        f"INSERT INTO {part.into} SELECT {part.select} FROM {source} {part.join} "
        f"ORDER BY u.ord {part.tail}"
    )


def _plain(value: Any) -> Any:
    """A value as the JSON of many rows holds it."""
    if isinstance(value, str):
        return encode(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, float):
        return repr(value)  # exact, and NaN and infinities too, which JSON lacks
    return value
