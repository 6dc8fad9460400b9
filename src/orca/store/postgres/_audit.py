"""The tool-execution audit in PostgreSQL (``tool_executions``, of the project
component)."""

from __future__ import annotations

import uuid

import psycopg

from orca.errors import InvalidInputError
from orca.store._audit import ToolExecution
from orca.store.postgres import _text
from orca.store.postgres._db import PgDb
from orca.store.postgres._schema import PROJECT_COMPONENT, PROJECT_MIGRATIONS

_COLUMNS = (
    "tool, arguments, result_summary, status, duration_ms, created_at, run_id, thread_id, node"
)


class PgAudit:
    """``ToolAudit`` over the PostgreSQL database of ``db`` (its tables created, or
    migrated, when opened).

    Raises:
        StoreUnavailableError, SchemaVersionError, CorruptDatabaseError: as ``PgDb.prepare``.
    """

    def __init__(self, db: PgDb) -> None:
        self.db = db
        db.prepare([(PROJECT_COMPONENT, PROJECT_MIGRATIONS)])

    def __repr__(self) -> str:
        return f"<PgAudit {self.db.where}>"

    def record(self, execution: ToolExecution) -> None:
        e = execution
        try:
            with self.db.transaction() as conn:
                _text.cursor(conn).execute(
                    f"INSERT INTO tool_executions (id, {_COLUMNS}) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
        except psycopg.DataError as exc:
            raise InvalidInputError(f"{self.db.where} refused a tool execution: {exc}") from exc

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
                where.append(f"{column} = %s")
                args.append(value)
        sql = f"SELECT {_COLUMNS} FROM tool_executions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, seq DESC"
        if limit is not None:
            sql += " LIMIT %s"
            args.append(limit)
        with self.db.read() as conn:
            rows = _text.cursor(conn).execute(sql.encode(), args).fetchall()
        return [ToolExecution(*r) for r in rows]

    def close(self) -> None:
        """Nothing of its own to release: the pool is the store's."""

    def __enter__(self) -> PgAudit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
