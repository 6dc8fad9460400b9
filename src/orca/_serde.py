"""Canonical JSON for checkpoints and events.

Values are encoded with orjson, keys sorted, so equal values give equal bytes. Types
JSON lacks travel as tagged objects ``{"__orca__": tag, "v": ...}`` and come back as
themselves: bytes, Decimal, datetime/date/time, set/frozenset, and dataclasses and
pydantic models that a graph's state schema declares (``declare``). Tuples come back as
lists.

Data never becomes code: a user dict that holds the key ``"__orca__"`` is written
escaped (``{"__orca__": "map", "v": [[key, value], ...]}``), so it comes back exactly as
it went in; reading imports only the modules Orca's code names (``declare_importable``),
and restores only the classes declared. A tagged dataclass or model whose class was not
declared comes back as its plain field dict.
Damaged data (not JSON, a known tag with a malformed value) raises ``CorruptValueError``.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
import importlib
import types
import typing
from collections.abc import Callable, Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

_TAG = "__orca__"
_TAG_BYTES = b'"__orca__"'
_TAG_KEY = b'"__orca__":'  # the tag as an object key: keys are never escaped this way
_OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
_LOG_OPTS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
LOG_MAX_DEPTH = 200
"""Deeper parts of a logged value are replaced by a marker (orjson stops at 255)."""


class UnserializableError(TypeError):
    """Raised by ``dumps`` for a value it cannot encode; ``type_name`` names the culprit."""

    def __init__(self, type_name: str, detail: str = "") -> None:
        super().__init__(f"cannot serialise {type_name}{': ' + detail if detail else ''}")
        self.type_name = type_name
        self.detail = detail


class CorruptValueError(ValueError):
    """Raised by ``loads`` for bytes that are not what ``dumps`` writes: not JSON, or a
    tagged value whose payload is damaged."""


# -- declared classes ---------------------------------------------------------------------

_declared: dict[str, type] = {}


def declare(*hints: Any) -> None:
    """Allow the dataclasses and pydantic models named in ``hints`` (type hints, walked
    through generics, unions, ``Annotated`` and the fields of each class found) to be
    restored by ``loads``. Graphs declare their state schema's types when built."""
    seen: set[int] = set()
    stack = list(hints)
    while stack:
        hint = stack.pop()
        if id(hint) in seen:
            continue
        seen.add(id(hint))
        stack.extend(typing.get_args(hint))
        if not isinstance(hint, type) or isinstance(hint, types.GenericAlias):
            continue
        is_model = hasattr(hint, "model_validate") and hasattr(hint, "model_fields")
        if not (dataclasses.is_dataclass(hint) or is_model):
            continue
        if "<locals>" not in hint.__qualname__:
            _declared[_class_path(hint)] = hint
        try:
            stack.extend(typing.get_type_hints(hint).values())
        except Exception:  # an unresolvable annotation only limits what is restored
            continue


# LangChain's message classes, which graphs using ``add_messages`` keep in their state
_importable: set[str] = {
    f"langchain_core.messages.{module}:{name}{suffix}"
    for module, name in (
        ("human", "HumanMessage"),
        ("ai", "AIMessage"),
        ("system", "SystemMessage"),
        ("tool", "ToolMessage"),
        ("function", "FunctionMessage"),
        ("chat", "ChatMessage"),
    )
    for suffix in ("", "Chunk")
} | {"langchain_core.messages.modifier:RemoveMessage"}


def declare_importable(*paths: str) -> None:
    """Allow the classes named ``"module:QualName"`` to be restored by ``loads``, their
    module imported when a stored value first names one: for libraries whose import is
    too slow to do up front (LangChain's messages are listed already). The names come
    from Orca's code, never from the data read; a module that is not installed restores
    plain dicts."""
    _importable.update(paths)


def _lookup(path: str) -> type | None:
    """The declared class at ``path``, importing an importable one on first need."""
    cls = _declared.get(path)
    if cls is not None or path not in _importable:
        return cls
    module_name, _, qualname = path.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
    except ImportError:
        return None
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if not isinstance(found, type):
        return None
    _declared[path] = found
    return found


def _class_path(cls: type) -> str:
    if "<locals>" in cls.__qualname__:
        raise UnserializableError(
            cls.__qualname__, "classes defined inside a function cannot be restored"
        )
    return f"{cls.__module__}:{cls.__qualname__}"


# -- writing ------------------------------------------------------------------------------


def _tagged(obj: Any, escape: bool) -> Any:
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
        items = sorted(obj, key=_sort_key)
        return {_TAG: "frozenset" if isinstance(obj, frozenset) else "set", "v": items}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
        v = _escape(fields) if escape else fields
        return {_TAG: "dataclass", "cls": _class_path(type(obj)), "v": v}
    dump = getattr(obj, "model_dump", None)
    if dump is not None and hasattr(type(obj), "model_validate"):
        fields = dump(mode="python")
        v = _escape(fields) if escape else fields
        return {_TAG: "pydantic", "cls": _class_path(type(obj)), "v": v}
    raise UnserializableError(type(obj).__qualname__)


def _sort_key(item: Any) -> bytes:
    return orjson.dumps(item, default=lambda o: _tagged(o, False), option=_OPTS)


def _escape(value: Any) -> Any:
    """A copy of ``value`` whose dicts holding the tag key are written as ``map`` tags.
    Only called on values orjson could encode, hence at most 255 levels deep."""
    if isinstance(value, dict):
        if _TAG in value:
            return {_TAG: "map", "v": [[k, _escape(v)] for k, v in sorted(value.items())]}
        return {k: _escape(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_escape(v) for v in value]
    return value


def _encode(value: Any, option: int, fallback: Callable[[Any], Any] | None = None) -> bytes:
    """orjson with tags; re-encodes with user dicts escaped when one holds the tag key."""
    made = 0

    def default(obj: Any) -> Any:
        nonlocal made
        try:
            out = _tagged(obj, False)
        except UnserializableError:
            if fallback is None:
                raise
            return fallback(obj)
        made += 1
        return out

    raw = orjson.dumps(value, default=default, option=option)
    # every tag key in the output is one we made, unless a user dict holds one
    if _TAG_KEY not in raw or raw.count(_TAG_KEY) == made:
        return raw

    def escaping(obj: Any) -> Any:
        try:
            return _tagged(obj, True)
        except UnserializableError:
            if fallback is None:
                raise
            return fallback(obj)

    return orjson.dumps(_escape(value), default=escaping, option=option)


def dumps(value: Any) -> bytes:
    """Encode ``value`` as canonical JSON bytes; raises UnserializableError."""
    try:
        return _encode(value, _OPTS)
    except orjson.JSONEncodeError as exc:
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, UnserializableError):
            raise cause from None
        raise UnserializableError(type(value).__qualname__, str(exc)) from None


def _safe_repr(obj: Any) -> str:
    try:
        return repr(obj)
    except Exception as exc:  # a repr that raises (or recurses too deep) is no log line
        return f"<{type(obj).__qualname__}: repr failed: {type(exc).__name__}>"


def dumps_lenient(value: Any) -> bytes:
    """Like ``dumps`` (tagged values, keys as given), but never raises: for logs, which
    must never fail a run. A value it cannot encode is logged as its ``repr``: an
    object of an unknown type, a dict with a key that is not a string, an int beyond 64
    bits; parts nested deeper than ``LOG_MAX_DEPTH`` become a marker string."""
    try:
        return _encode(value, _LOG_OPTS, _safe_repr)
    except (orjson.JSONEncodeError, RecursionError):
        pass
    try:
        return _encode(_loggable(value), _LOG_OPTS, _safe_repr)
    except (orjson.JSONEncodeError, RecursionError) as exc:  # pragma: no cover - defensive
        return orjson.dumps(f"<unloggable {type(value).__qualname__}: {exc}>")


_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _loggable(value: Any, max_depth: int = LOG_MAX_DEPTH) -> Any:
    """A copy of ``value`` that JSON can hold, built without recursion: dicts with a key
    that is not a string and ints beyond 64 bits become their ``repr``, parts nested
    deeper than ``max_depth`` a marker. Other values are kept as they are."""
    root: list[Any] = [None]
    # (value, depth, container to fill, key or index in it)
    stack: list[tuple[Any, int, Any, Any]] = [(value, 0, root, 0)]
    while stack:
        item, depth, parent, slot = stack.pop()
        if isinstance(item, bool) or not isinstance(item, dict | list | tuple | int):
            parent[slot] = item
        elif isinstance(item, int):
            parent[slot] = item if _INT_MIN <= item <= _INT_MAX else repr(item)
        elif depth >= max_depth:
            parent[slot] = f"<{type(item).__name__} nested deeper than {max_depth} levels>"
        elif isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                parent[slot] = _safe_repr(item)
                continue
            out: dict[str, Any] = dict.fromkeys(item)
            parent[slot] = out
            stack.extend((v, depth + 1, out, k) for k, v in item.items())
        else:
            seq: list[Any] = [None] * len(item)
            parent[slot] = seq
            stack.extend((v, depth + 1, seq, i) for i, v in enumerate(item))
    return root[0]


# -- reading ------------------------------------------------------------------------------


def revive(value: Any) -> Any:
    """Decoded JSON with its tagged values restored (``loads`` does this itself);
    raises CorruptValueError for a damaged tag."""
    try:
        return _revive(value)
    except RecursionError:
        raise CorruptValueError("the value is nested too deep to be one Orca wrote") from None


def loads(data: bytes | str) -> Any:
    """Decode bytes written by ``dumps``, restoring tagged values; raises
    CorruptValueError when they are not JSON or hold a damaged tag."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CorruptValueError(f"not valid JSON ({exc})") from None
    raw = data if isinstance(data, bytes) else data.encode()
    return revive(value) if _TAG_BYTES in raw else value


def _revive(value: Any) -> Any:
    if isinstance(value, list):
        return [_revive(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(_TAG)
    if tag is None:
        return {k: _revive(v) for k, v in value.items()}
    reader = _READERS.get(tag) if isinstance(tag, str) else None
    if reader is None:
        # not a tag this Orca writes: data stored before user dicts were escaped
        return {k: _revive(v) for k, v in value.items()}
    try:
        return reader(value)
    except CorruptValueError:
        raise
    except Exception as exc:
        raise CorruptValueError(
            f"a stored {tag} value is damaged ({type(exc).__name__}: {exc})"
        ) from None


def _text(value: dict[str, Any]) -> str:
    v = value["v"]
    if not isinstance(v, str):
        raise TypeError(f"expected a string, found {type(v).__name__}")
    return v


def _items(value: dict[str, Any]) -> list[Any]:
    v = value["v"]
    if not isinstance(v, list):
        raise TypeError(f"expected a list, found {type(v).__name__}")
    return [_revive(x) for x in v]


def _map(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in value["v"]:
        key, item = pair
        if not isinstance(key, str):
            raise TypeError(f"a key is a {type(key).__name__}")
        out[key] = _revive(item)
    return out


def _fields(value: dict[str, Any]) -> dict[str, Any]:
    fields = _revive(value["v"])
    if not isinstance(fields, dict):
        raise TypeError(f"fields are a {type(fields).__name__}, not an object")
    return fields


def _dataclass(value: dict[str, Any]) -> Any:
    fields = _fields(value)
    cls = _lookup(value["cls"])
    if cls is None or not dataclasses.is_dataclass(cls):
        return fields  # not declared by any graph: plain data, nothing imported
    # fields the constructor does not take (init=False) are set as they were stored
    takes = {f.name for f in dataclasses.fields(cls) if f.init}
    made = cls(**{k: v for k, v in fields.items() if k in takes})
    for name, v in fields.items():
        if name not in takes:
            object.__setattr__(made, name, v)
    return made


def _pydantic(value: dict[str, Any]) -> Any:
    fields = _fields(value)
    cls = _lookup(value["cls"])
    if cls is None or not hasattr(cls, "model_validate"):
        return fields
    return cls.model_validate(fields)


def _decimal(value: dict[str, Any]) -> Decimal:
    try:
        return Decimal(_text(value))
    except InvalidOperation:
        raise ValueError(f"{value['v']!r} is not a decimal") from None


def _bytes(value: dict[str, Any]) -> bytes:
    try:
        return base64.b64decode(_text(value), validate=True)
    except binascii.Error as exc:
        raise ValueError(str(exc)) from None


def _set_of(items: Iterable[Any]) -> set[Any]:
    return set(items)


_READERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "bytes": _bytes,
    "decimal": _decimal,
    "datetime": lambda v: dt.datetime.fromisoformat(_text(v)),
    "date": lambda v: dt.date.fromisoformat(_text(v)),
    "time": lambda v: dt.time.fromisoformat(_text(v)),
    "set": lambda v: _set_of(_items(v)),
    "frozenset": lambda v: frozenset(_items(v)),
    "map": _map,
    "dataclass": _dataclass,
    "pydantic": _pydantic,
}
