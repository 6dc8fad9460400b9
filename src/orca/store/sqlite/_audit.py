"""The tool-execution audit in a project database (``tool_executions``)."""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orca.errors import CorruptDatabaseError, InvalidInputError
from orca.store._audit import ToolExecution
from orca.store.sqlite import _db
from orca.store.sqlite._schema import PROJECT_COMPONENT, PROJECT_MIGRATIONS

_COLUMNS = (
    "tool, arguments, result_summary, status, duration_ms, created_at, run_id, thread_id, node"
)


class SqliteAudit:
    """``ToolAudit`` over the project database at ``path`` (created, or migrated, when
    opened).

    Raises:
        CorruptDatabaseError: the file is not an Orca database, or is damaged.
        SchemaVersionError: the file was written by a newer Orca.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._conn = _db.connect(self.path)
        self._lock = threading.Lock()
        try:
            with self._errors():
                _db.prepare(self._conn, self.path, PROJECT_COMPONENT, PROJECT_MIGRATIONS)
        except BaseException:
            self._conn.close()
            raise

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "malformed" not in str(exc):
                raise
            raise CorruptDatabaseError(
                self.path,
                f"the database is damaged or not SQLite ({exc})",
                "restore the file from a backup or point Orca at a new file",
            ) from exc

    def __repr__(self) -> str:
        return f"<SqliteAudit {self.path!r}>"

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

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> SqliteAudit:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
