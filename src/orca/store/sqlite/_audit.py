"""The tool-execution audit in a project database (``tool_executions``)."""

from __future__ import annotations

import uuid
from pathlib import Path

from orca.errors import InvalidInputError
from orca.store._audit import ToolExecution
from orca.store.sqlite import _db
from orca.store.sqlite._schema import PROJECT_COMPONENT, PROJECT_MIGRATIONS
from orca.store.sqlite._tables import SqliteTables

_COLUMNS = (
    "tool, arguments, result_summary, status, duration_ms, created_at, run_id, thread_id, node"
)


class SqliteAudit(SqliteTables):
    """``ToolAudit`` over the project database at ``path`` (created, or migrated, when
    opened).

    Raises:
        CorruptDatabaseError: the file is not an Orca database, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """

    COMPONENTS = ((PROJECT_COMPONENT, PROJECT_MIGRATIONS),)

    def __init__(self, path: str | Path) -> None:  # stamps no times: takes no clock
        super().__init__(path)

    def record(self, execution: ToolExecution) -> None:
        e = execution
        with self._lock, self._errors(), _db.transaction(self._conn):
            self._conn.execute(
                f"INSERT INTO tool_executions (id, {_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    str(uuid.uuid4()),
                    e.tool,
                    e.arguments,
                    e.result,
                    e.status,
                    e.duration_ms,
                    e.created_at,
                    e.run_id,
                    e.thread_id,
                    e.node,
                ),
            )

    def executions(
        self,
        *,
        run_id: str | None = None,
        tool: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[ToolExecution]:
        if limit is not None and limit < 1:
            raise InvalidInputError(f"executions limit must be at least 1, got {limit}")
        where: list[str] = []
        args: list[object] = []
        for column, value in (("run_id", run_id), ("tool", tool), ("status", status)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        sql = f"SELECT {_COLUMNS} FROM tool_executions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        with self._lock, self._errors():
            rows = self._conn.execute(sql, args).fetchall()
        return [ToolExecution(*r) for r in rows]
