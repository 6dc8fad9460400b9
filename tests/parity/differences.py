"""Known differences between LangGraph and ``orca.compat.langgraph``, case by case.

kind "on purpose": Orca is stricter or safer here by design; the reason must appear
word for word in docs/langgraph.md ("Differences"). kind "not yet": to be built; the
reason says what differs. A listed case that starts to match fails its test until it is
removed from this list.
"""

from __future__ import annotations

ON_PURPOSE = "on purpose"
NOT_YET = "not yet"

DIFFERENCES: dict[str, tuple[str, str]] = {}
