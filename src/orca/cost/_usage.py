"""Usage reports as values: one group of a report, one line of a run's breakdown, and
the checks on what a report may ask for (the queries are the usage repository's, in
``orca.store``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal, get_args

from orca.errors import InvalidInputError

GroupBy = Literal["model", "node", "role", "day", "run", "workflow", "session"]
GROUPINGS: tuple[str, ...] = get_args(GroupBy)
Bucket = Literal["hour", "day"]
BUCKETS: tuple[str, ...] = get_args(Bucket)


@dataclass(frozen=True, slots=True)
class UsageRow:
    """One group of a usage report."""

    key: str
    calls: int
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cost_nano_usd: int
    unpriced_calls: int
    estimated_calls: int
    bucket: str | None = None
    """The start of its time bucket (ISO 8601, UTC) when the report is a series."""

    def as_dict(self) -> dict[str, Any]:
        return {
            **({} if self.bucket is None else {"bucket": self.bucket}),
            "key": self.key,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "cost_nano_usd": self.cost_nano_usd,
            "unpriced_calls": self.unpriced_calls,
            "estimated_calls": self.estimated_calls,
        }


@dataclass(frozen=True, slots=True)
class RunUsage:
    """What one run spent on one model in one node and role (None where not known)."""

    node: str | None
    role: str | None
    model: str
    calls: int
    input_tokens: int
    output_tokens: int
    cost_nano_usd: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "role": self.role,
            "model": self.model,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost_nano_usd": self.cost_nano_usd,
        }


def check_report(
    by: str, since: dt.datetime | None, until: dt.datetime | None, bucket: str | None = None
) -> None:
    """What every usage report checks first.

    Raises:
        InvalidInputError: ``by`` is not one of the groupings, ``bucket`` not one of the
            buckets, or a time is naive.
    """
    if by not in GROUPINGS:
        raise InvalidInputError(
            f"cannot group usage by {by!r}. Fix: use one of {', '.join(GROUPINGS)}"
        )
    if bucket is not None and bucket not in BUCKETS:
        raise InvalidInputError(
            f"cannot bucket usage by {bucket!r}. Fix: use one of {', '.join(BUCKETS)}"
        )
    for when in (since, until):
        if when is not None and when.tzinfo is None:
            raise InvalidInputError("report times need a time zone. Fix: pass aware datetimes")
