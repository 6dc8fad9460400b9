"""Canonical JSON for checkpoints and events.

Values are encoded with orjson, keys sorted, so equal values give equal bytes. Types
JSON lacks travel as tagged objects ``{"__orca__": tag, "v": ...}`` and come back as
themselves: bytes, Decimal, datetime/date/time, set/frozenset, and module-level
dataclasses and pydantic models. Tuples come back as lists.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import importlib
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson

_TAG = "__orca__"
_TAG_BYTES = b'"__orca__"'
_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


class UnserializableError(TypeError):
    """Raised by ``dumps`` for a value it cannot encode; ``type_name`` names the culprit."""

    def __init__(self, type_name: str, detail: str = "") -> None:
        super().__init__(f"cannot serialise {type_name}{': ' + detail if detail else ''}")
        self.type_name = type_name
        self.detail = detail


def _class_path(cls: type) -> str:
    if "<locals>" in cls.__qualname__:
        raise UnserializableError(
            cls.__qualname__, "classes defined inside a function cannot be restored"
        )
    return f"{cls.__module__}:{cls.__qualname__}"


def _default(obj: Any) -> Any:
    if isinstance(obj, bytes | bytearray):
        return {_TAG: "bytes", "v": base64.b64encode(bytes(obj)).decode()}
    if isinstance(obj, Decimal):
        return {_TAG: "decimal", "v": str(obj)}
    if isinstance(obj, dt.datetime):
        return {_TAG: "datetime", "v": obj.isoformat()}
    if isinstance(obj, dt.date):
        return {_TAG: "date", "v": obj.isoformat()}
    if isinstance(obj, dt.time):
        return {_TAG: "time", "v": obj.isoformat()}
    if isinstance(obj, set | frozenset):
        items = sorted(obj, key=lambda x: orjson.dumps(x, default=_default, option=_OPTS))
        return {_TAG: "frozenset" if isinstance(obj, frozenset) else "set", "v": items}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        return {_TAG: "dataclass", "cls": _class_path(type(obj)), "v": fields}
    dump = getattr(obj, "model_dump", None)
    if dump is not None and hasattr(type(obj), "model_validate"):
        return {_TAG: "pydantic", "cls": _class_path(type(obj)), "v": dump(mode="python")}
    raise UnserializableError(type(obj).__qualname__)


def dumps(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes; raises UnserializableError."""
    try:
        return orjson.dumps(value, default=_default, option=_OPTS)
    except orjson.JSONEncodeError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, UnserializableError):
            raise cause from None
        raise UnserializableError(type(value).__qualname__, str(exc)) from None


_LOG_OPTS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def _default_or_repr(obj: Any) -> Any:
    try:
        return _default(obj)
    except UnserializableError:
        return repr(obj)


def dumps_lenient(value: Any) -> bytes:
    """Like ``dumps`` (tagged values, keys as given), but a value that cannot be encoded
    becomes its ``repr`` instead of an error: for logs, which must never fail a run."""
    return orjson.dumps(value, default=_default_or_repr, option=_LOG_OPTS)


def revive(value: Any) -> Any:
    """Decoded JSON with its tagged values restored (``loads`` does this itself)."""
    return _revive(value)


def loads(data: bytes | str) -> Any:
    """Decode bytes written by ``dumps``, restoring tagged values."""
    value = orjson.loads(data)
    raw = data if isinstance(data, bytes) else data.encode()
    return _revive(value) if _TAG_BYTES in raw else value


def _load_class(path: str, check: Callable[[type], bool]) -> type:
    module_name, _, qualname = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    if not isinstance(obj, type) or not check(obj):
        raise TypeError(f"{path} is not a class Orca may restore")
    return obj


def _revive(value: Any) -> Any:
    if isinstance(value, list):
        return [_revive(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {k: _revive(v) for k, v in value.items()}
    v = value["v"]
    if tag == "bytes":
        return base64.b64decode(v)
    if tag == "decimal":
        return Decimal(v)
    if tag == "datetime":
        return dt.datetime.fromisoformat(v)
    if tag == "date":
        return dt.date.fromisoformat(v)
    if tag == "time":
        return dt.time.fromisoformat(v)
    if tag == "set":
        return {_revive(x) for x in v}
    if tag == "frozenset":
        return frozenset(_revive(x) for x in v)
    if tag == "dataclass":
        cls = _load_class(value["cls"], dataclasses.is_dataclass)
        return cls(**_revive(v))
    if tag == "pydantic":
        cls = _load_class(value["cls"], lambda c: hasattr(c, "model_validate"))
        return cls.model_validate(_revive(v))  # type: ignore[attr-defined]
    raise ValueError(f"unknown serialised tag {tag!r}: written by a newer Orca?")
