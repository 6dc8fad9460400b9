"""Views over a project's runs for people looking at many at once (the web UI's runs
page, its counters and its search): a repository protocol (the SQLite one is
``orca.store.sqlite.SqliteRunViews``), the values it answers and the pure rules the
backends share: how a search matches an event, and the excerpt it shows.

A search reads the event log as it was written (tool arguments and results redacted by
the tool policy); what it matches and shows is redacted again (``redact_text``) so that
no secret an event kept can be found or read through it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import orjson

from orca._redact import redact_text
from orca.checkpoint import RunRecord
from orca.errors import InvalidInputError

MAX_RUNS_LISTED = 1000
"""The most runs one ``find_runs`` answers."""
MAX_TEXT = 200
"""The longest search text taken (characters)."""
SCANNED_RUNS = 2000
"""A text search looks into the event logs of the newest this many runs (that pass the
other filters), no more: its cost is bounded whatever the store holds."""
STATS_RUNS = 5000
"""``node_times`` reads the tasks of the newest this many runs of the workflow."""
EXCERPT_CHARS = 60
"""Characters of context an excerpt shows on each side of the match."""


@dataclass(frozen=True, slots=True)
class RunFilter:
    """Which runs to list, newest first (by ``started_at``, then by when stored).

    Attributes:
        statuses: any of these statuses (empty: every status).
        graph: runs of this workflow (its graph's name; a name without ``@VERSION``
            takes the runs of its saved versions too).
        thread_id: runs on this thread.
        since, until: started at or after ``since`` and before ``until`` (aware times).
        min_cost_nano_usd, max_cost_nano_usd: cost bounds, both inclusive.
        text: a case-insensitive substring of one of the run's logged events.
        before: the run id of the last run of the page before (a cursor: the page goes
            on after it).
        limit: at most this many.
    """

    statuses: tuple[str, ...] = ()
    graph: str | None = None
    thread_id: str | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    min_cost_nano_usd: int | None = None
    max_cost_nano_usd: int | None = None
    text: str | None = None
    before: str | None = None
    limit: int = 50

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            when = getattr(self, name)
            if when is not None and when.tzinfo is None:
                raise InvalidInputError(f"RunFilter.{name} needs a time zone. Fix: pass UTC")
        if not 0 < self.limit <= MAX_RUNS_LISTED:
            raise InvalidInputError(
                f"RunFilter.limit is {self.limit}. Fix: ask for 1 to {MAX_RUNS_LISTED} runs"
            )
        if self.text is not None:
            check_text(self.text, "text")


@dataclass(frozen=True, slots=True)
class RunStats:
    """Counts of runs by status, and their cost and tokens (integer nano-USD), all time
    and over the last day (runs started in it)."""

    by_status: dict[str, int] = field(default_factory=dict)
    total: int = 0
    cost_nano_usd: int = 0
    cost_nano_usd_24h: int = 0
    tokens_24h: int = 0
    runs_24h: int = 0


@dataclass(frozen=True, slots=True)
class EventHit:
    """A logged event that matched a search, with its text around the match."""

    run_id: str
    seq: int
    type: str
    ts: float
    node: str | None
    excerpt: str


@dataclass(frozen=True, slots=True)
class NodeTimes:
    """What one node of a workflow did over its runs: in how many runs it ran, how many
    times (tasks), how many failed, and its task durations in milliseconds (sorted)."""

    node: str
    runs: int
    calls: int
    errors: int
    durations_ms: tuple[float, ...]

    def percentile(self, p: int) -> float | None:
        """The ``p``-th percentile of its durations (nearest rank), None with none."""
        if not self.durations_ms:
            return None
        rank = max(1, -(-p * len(self.durations_ms) // 100))  # ceil without floats
        return self.durations_ms[rank - 1]


def check_text(text: str, name: str) -> str:
    """``text`` as a search takes it: 1 to ``MAX_TEXT`` characters, no NUL.

    Raises:
        InvalidInputError: it is not.
    """
    if not text or len(text) > MAX_TEXT or "\x00" in text:
        raise InvalidInputError(
            f"{name} is {len(text)} characters. Fix: search for 1 to {MAX_TEXT} characters (no NUL)"
        )
    return text


def json_needle(text: str) -> str:
    """``text`` as it appears inside a JSON string (quotes and backslashes escaped): what
    a search looks for in an event's JSON."""
    return orjson.dumps(text).decode()[1:-1]


def like_pattern(text: str) -> str:
    """A ``LIKE ... ESCAPE '\\'`` pattern a backend may pre-filter raw JSON batches with:
    it matches wherever ``text`` may be. SQL's LIKE folds ASCII case only, so each other
    character becomes ``_`` (any one character); the exact match decides after."""
    needle = json_needle(text)
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%" + "".join(c if c.isascii() else "_" for c in escaped) + "%"


def _raw_text(fields: dict[str, Any]) -> str:
    shown = {k: v for k, v in fields.items() if k not in ("schema", "run_id", "thread_id")}
    return orjson.dumps(shown, default=repr).decode()


def event_text(fields: dict[str, Any]) -> str:
    """An event as a search reads it: its fields as JSON, secrets redacted."""
    return redact_text(_raw_text(fields))


def _redacted_if_holds(fields: dict[str, Any], needle: str) -> str | None:
    """The event's redacted text when it holds ``needle`` (lower-cased), else None. The
    raw text is looked at first: most events do not hold it, and redacting costs more."""
    raw = _raw_text(fields)
    if needle not in raw.lower():
        return None
    text = redact_text(raw)
    return text if needle in text.lower() else None


def excerpt(text: str, needle: str) -> str | None:
    """``text`` around the first case-insensitive occurrence of ``needle`` (``...`` where
    cut), or None when it does not occur."""
    at = text.lower().find(needle.lower())
    if at < 0:
        return None
    start, end = max(0, at - EXCERPT_CHARS), min(len(text), at + len(needle) + EXCERPT_CHARS)
    return ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")


def holds(events: Sequence[dict[str, Any]], text: str) -> bool:
    """Whether one of the events (``Event.to_dict()`` forms) holds ``text`` in its
    redacted JSON, case-insensitively."""
    needle = json_needle(text).lower()
    return any(_redacted_if_holds(e, needle) is not None for e in events)


def hits(events: Sequence[dict[str, Any]], text: str, types: Sequence[str]) -> list[EventHit]:
    """The events (``Event.to_dict()`` forms) of ``types`` (all when empty) whose
    redacted JSON holds ``text``, case-insensitively, latest first."""
    needle = json_needle(text)
    found = []
    for e in reversed(events):
        if types and e.get("type") not in types:
            continue
        redacted = _redacted_if_holds(e, needle.lower())
        shown = None if redacted is None else excerpt(redacted, needle)
        if shown is not None:
            node = e.get("node")
            found.append(
                EventHit(
                    str(e.get("run_id")),
                    int(e.get("seq", 0)),
                    str(e.get("type")),
                    float(e.get("ts", 0.0)),
                    node if isinstance(node, str) else None,
                    shown,
                )
            )
    return found


@runtime_checkable
class RunViews(Protocol):
    """Reads over a project's runs and event log for listing, counting and searching."""

    def find_runs(self, query: RunFilter) -> list[RunRecord]:
        """The runs ``query`` selects, newest first.

        Raises:
            InvalidInputError: ``query.before`` names no run.
        """

    def stats(self, now: dt.datetime) -> RunStats:
        """Counts and totals of every run, and of those started in the day before ``now``."""

    def search_events(
        self,
        text: str,
        *,
        types: Sequence[str] = (),
        run_id: str | None = None,
        limit: int = 50,
    ) -> list[EventHit]:
        """Logged events holding ``text`` (case-insensitive, in their redacted JSON),
        latest first, of ``types`` and of one run when given, ``limit`` at most; from the
        event logs of the newest ``SCANNED_RUNS`` runs (or of the one run)."""

    def node_times(self, graph: str, *, since: dt.datetime | None = None) -> list[NodeTimes]:
        """Per node of the workflow ``graph`` (with its saved versions when it names none),
        by node name, from the task records of its newest ``STATS_RUNS`` runs started at
        or after ``since``."""

    def close(self) -> None:
        """Release resources."""
