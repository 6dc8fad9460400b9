"""Text as PostgreSQL keeps it: any Python string, NUL included.

A PostgreSQL ``TEXT`` value cannot hold U+0000, which SQLite (and Orca's callers) allow
in ids, names and messages. The repositories here pass strings through ``cursor(conn)``,
whose adapters write U+0000 as the pair ``ESC '0'`` and ``ESC`` itself as ``ESC '1'``
(``ESC`` is U+FFFF, a noncharacter no text is expected to hold), and read them back.
The mapping is one to one, so equality, keys and lookups behave as on SQLite; strings
without either character (all but hostile ones) are stored as they are.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg.types.string import StrDumperUnknown, TextLoader

ESC = "\uffff"
_ENCODED = re.compile(ESC + "([01])")


def encode(text: str) -> str:
    if "\x00" not in text and ESC not in text:
        return text
    return text.replace(ESC, ESC + "1").replace("\x00", ESC + "0")


def decode(text: str) -> str:
    if ESC not in text:
        return text
    return _ENCODED.sub(lambda m: "\x00" if m[1] == "0" else ESC, text)


class _Dumper(StrDumperUnknown):
    def dump(self, obj: str) -> Any:
        return super().dump(encode(obj))


class _Loader(TextLoader):
    def load(self, data: Any) -> str:
        return decode(str(super().load(data)))


def cursor(conn: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    """A cursor of ``conn`` that writes and reads strings NUL-safe (the connection, shared
    by the pool, keeps its own adapters)."""
    cur = conn.cursor()
    _nul_safe(cur.adapters)
    return cur


def server_cursor(conn: psycopg.Connection[Any], name: str) -> psycopg.ServerCursor[Any]:
    """A server-side cursor (rows fetched as they are read; inside a transaction) that
    writes and reads strings NUL-safe."""
    cur = conn.cursor(name)
    _nul_safe(cur.adapters)
    return cur


def _nul_safe(adapters: psycopg.adapt.AdaptersMap) -> None:
    adapters.register_dumper(str, _Dumper)
    adapters.register_loader("text", _Loader)
