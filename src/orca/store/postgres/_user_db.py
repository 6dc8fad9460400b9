"""What the user repositories of a PostgreSQL store share: creating their tables, reading
their JSON columns, and PostgreSQL's one limit on text that SQLite does not have.

PostgreSQL's ``TEXT`` cannot hold the NUL character. So that text never reaches a query
as a raw driver error: a lookup by a name holding NUL finds nothing (nothing stored
holds one), a setting holding one is refused with the repository's own error
(``refuse_nul``), and the labels of a charge (run, node, model, ...) keep every other
character, NUL becoming U+FFFD: what a call cost is always recorded."""

from __future__ import annotations

import json
from typing import Any

from orca.errors import ConfigError, CorruptDatabaseError
from orca.store.postgres._db import PgDb
from orca.store.postgres._schema import USER_COMPONENT, USER_MIGRATIONS

NUL = "\x00"


def prepare_user(db: PgDb) -> None:
    """Create or migrate the user tables (once per ``PgDb``)."""
    db.prepare([(USER_COMPONENT, USER_MIGRATIONS)])


def json_value(text: str, what: str, where: str) -> Any:
    """A JSON column's value; a damaged one raises ``CorruptDatabaseError`` naming
    ``what``."""
    try:
        return json.loads(text)
    except (TypeError, ValueError) as exc:
        raise CorruptDatabaseError(
            where,
            f"{what} is damaged ({exc})",
            "re-create what it names, or restore the database from a backup; "
            "`orca doctor` checks the store",
        ) from None


def has_nul(*values: object) -> bool:
    """Whether one of ``values`` is text holding NUL (which no row holds)."""
    return any(isinstance(v, str) and NUL in v for v in values)


def refuse_nul(error: type[ConfigError], fields: dict[str, object]) -> None:
    """Raise ``error`` naming the first of ``fields`` (key -> value) holding NUL."""
    for key, value in fields.items():
        if has_nul(value):
            raise error(
                f"{key} {value!r} holds a NUL character, which PostgreSQL cannot store",
                key=key,
                fix="remove the NUL character (\\x00)",
            )


def label(value: str | None) -> str | None:
    """A charge's label as stored: NUL (which PostgreSQL cannot store) as U+FFFD."""
    return value.replace(NUL, "\ufffd") if value is not None and NUL in value else value
