"""The tool-execution audit: one row per tool run, as a repository protocol (the SQLite
one is ``orca.store.sqlite.SqliteAudit``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@dataclass(frozen=True, slots=True)
class ToolExecution:
    """One tool execution as the audit keeps it. ``arguments`` (JSON text) and
    ``result`` (a summary) come already redacted and cut by the tool registry."""

    tool: str
    arguments: str
    result: str
    status: str
    duration_ms: float
    created_at: str
    run_id: str | None = None
    thread_id: str | None = None
    node: str | None = None


@runtime_checkable
class ToolAudit(Protocol):
    """Where tool executions are recorded. Safe to share between threads."""

    def record(self, execution: ToolExecution) -> None:
        """Store one execution."""

    def executions(
        self,
        *,
        run_id: str | None = None,
        tool: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[ToolExecution]:
        """Recorded executions, newest first, matching every filter given."""

    def close(self) -> None:
        """Release resources."""
