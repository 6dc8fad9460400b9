"""State schemas: a TypedDict, dataclass or pydantic model becomes channels with reducers."""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import typing_extensions

from orca import _serde
from orca.errors import GraphError, InvalidInputError, UnknownStateKeyError
from orca.graph import reducers
from orca.graph._types import Managed
from orca.graph.reducers import Reducer

SchemaKind = Literal["typeddict", "dataclass", "pydantic"]


@dataclass(frozen=True, slots=True)
class Channel:
    """One state key: how writes combine and what it starts as."""

    name: str
    reducer: Reducer
    initial: Callable[[], Any] | None

    @property
    def strict(self) -> bool:
        """Overwrite channels reject two writes in one superstep."""
        return self.reducer is reducers.overwrite

    @property
    def appends(self) -> bool:
        return self.reducer is reducers.append


def _pydantic_base() -> type | None:
    try:
        from pydantic import BaseModel
    except ImportError:  # pragma: no cover - pydantic is a dependency
        return None
    return BaseModel


_REQUIRED_MARKS = frozenset(
    {
        typing.Required,
        typing.NotRequired,
        typing_extensions.Required,
        typing_extensions.NotRequired,
    }
)
# abstract collection types a key may be declared as, and the concrete type that starts it
_CONCRETE: dict[Any, type] = {
    collections.abc.Sequence: list,
    collections.abc.MutableSequence: list,
    collections.abc.Set: set,
    collections.abc.MutableSet: set,
    collections.abc.Mapping: dict,
    collections.abc.MutableMapping: dict,
}


def _unwrap(hint: Any) -> tuple[Any, tuple[Any, ...]]:
    """A key's type without ``Annotated``, ``Required`` and ``NotRequired`` (in any
    nesting), and the ``Annotated`` metadata found on the way."""
    metadata: tuple[Any, ...] = ()
    while True:
        origin = typing.get_origin(hint)
        if origin is Annotated:
            metadata += hint.__metadata__
            hint = hint.__origin__
        elif origin in _REQUIRED_MARKS:
            hint = typing.get_args(hint)[0]
        else:
            return hint, metadata


def _empty_of(hint: Any) -> Callable[[], Any] | None:
    """What a reducer key no one wrote starts as: its type called with no arguments
    (``list`` -> ``[]``, ``int`` -> ``0``, ``str`` -> ``""``), as LangGraph does; None
    when the type cannot be built that way (a union, a class needing arguments)."""
    kind = typing.get_origin(hint) or hint
    kind = _CONCRETE.get(kind, kind)
    if not isinstance(kind, type):
        return None
    try:
        kind()
    except Exception:
        return None
    return kind


def schema_kind(schema: type) -> SchemaKind | None:
    """What kind of state schema the class ``schema`` is, or None when it is none."""
    if typing_extensions.is_typeddict(schema):  # typing's and typing_extensions' alike
        return "typeddict"
    if dataclasses.is_dataclass(schema):
        return "dataclass"
    base = _pydantic_base()
    if base is not None and issubclass(schema, base):
        return "pydantic"
    return None


def _reducer_from(key: str, metadata: tuple[Any, ...]) -> Reducer:
    found: list[Reducer] = []
    for item in metadata:
        if isinstance(item, Reducer):
            found.append(item)
        elif callable(item) and not isinstance(item, type):
            _check_two_args(key, item)
            name = getattr(item, "__name__", type(item).__name__)
            found.append(Reducer(f"custom:{name}", item))
    if len(found) > 1:
        raise GraphError(
            f"state key {key!r} has {len(found)} reducers",
            fix="attach exactly one reducer per key in Annotated[...]",
            key=key,
        )
    return found[0] if found else reducers.overwrite


def _check_two_args(key: str, fn: Callable[..., Any]) -> None:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return  # builtins such as max or operator.add: trust them
    try:
        sig.bind(None, None)
    except TypeError:
        raise GraphError(
            f"the reducer {getattr(fn, '__name__', fn)!r} of state key {key!r} does not take "
            "two arguments",
            fix="a reducer is a function (old, new) -> value",
            key=key,
        ) from None


class StateSchema:
    """The channels of a state schema, and conversions between values and the schema type."""

    def __init__(self, schema: type) -> None:
        self.schema = schema
        self.kind = self._kind_of(schema)
        try:
            hints = typing.get_type_hints(schema, include_extras=True)
        except Exception as exc:
            raise GraphError(
                f"cannot read the annotations of state schema {schema.__name__}: {exc}",
                fix="make every annotation resolvable at module level",
            ) from exc
        if self.kind == "pydantic":
            hints = {k: v for k, v in hints.items() if k in schema.model_fields}  # type: ignore[attr-defined]
        if not hints:
            raise GraphError(
                f"state schema {schema.__name__} declares no keys",
                fix="declare at least one annotated field",
            )
        # the dataclasses and models the state may hold are the ones checkpoints restore
        _serde.declare(schema, *hints.values())
        defaults = self._defaults()
        channels: dict[str, Channel] = {}
        self.managed: dict[str, str] = {}  # key -> what the engine computes for it
        for key, hint in hints.items():
            if key.startswith("__"):
                raise GraphError(
                    f"state key {key!r} starts with '__', which Orca reserves",
                    fix="rename the key",
                    key=key,
                )
            bare, metadata = _unwrap(hint)
            kind = next((m.name for m in metadata if isinstance(m, Managed)), None)
            if kind is not None:  # computed for each task, never a channel
                self.managed[key] = kind
                continue
            reducer = _reducer_from(key, metadata)
            # a schema default, else the reducer's own start, else the type's empty value
            initial = defaults.get(key) or reducer.empty
            if initial is None and reducer is not reducers.overwrite:
                initial = _empty_of(bare)
            channels[key] = Channel(key, reducer, initial)
        # the keys the schema declares; ``channels`` also holds the keys of the graph's
        # input, output and node input schemas (``extend``)
        self.channels: dict[str, Channel] = channels
        self.keys: tuple[str, ...] = tuple(channels)
        self._key_set = frozenset(channels) | frozenset(self.managed)

    @staticmethod
    def _kind_of(schema: Any) -> SchemaKind:
        if not isinstance(schema, type):
            raise GraphError(
                f"the state schema must be a class, got {schema!r}",
                fix="pass a TypedDict, a dataclass or a pydantic model class to StateGraph",
            )
        kind = schema_kind(schema)
        if kind is not None:
            return kind
        raise GraphError(
            f"state schema {schema.__name__} is not a TypedDict, dataclass or pydantic model",
            fix="declare the state as a TypedDict, a @dataclass or a pydantic BaseModel",
        )

    def _defaults(self) -> dict[str, Callable[[], Any]]:
        out: dict[str, Callable[[], Any]] = {}
        if self.kind == "dataclass":
            for f in dataclasses.fields(self.schema):
                if f.default is not dataclasses.MISSING:
                    out[f.name] = _const(f.default)
                elif f.default_factory is not dataclasses.MISSING:
                    out[f.name] = f.default_factory
        elif self.kind == "pydantic":
            for name, info in self.schema.model_fields.items():  # type: ignore[attr-defined]
                if not info.is_required():
                    out[name] = _pydantic_default(info)
        return out

    def initial_values(self) -> dict[str, Any]:
        """Values a new thread starts with: reducer empties and schema defaults."""
        return {k: c.initial() for k, c in self.channels.items() if c.initial is not None}

    def check_keys(self, update: Mapping[str, Any], node: str | None) -> None:
        for key in update:
            if key not in self.channels:
                raise UnknownStateKeyError(str(key), self.keys, node=node)

    def input_writes(self, value: Any) -> dict[str, Any]:
        """The writes an ``invoke`` input makes: a mapping, or an instance of the schema."""
        if value is None:
            return {}
        if isinstance(value, Mapping):
            self.check_keys(value, None)
            if self.kind == "pydantic":
                return self._validated(value)
            return dict(value)
        if self.kind != "typeddict" and isinstance(value, self.schema):
            return self.dump(value)
        raise InvalidInputError(
            f"the input must be a dict of state keys or a {self.schema.__name__}, got "
            f"{type(value).__name__}. Fix: pass e.g. {{{self.keys[0]!r}: ...}}"
        )

    def _validated(self, value: Mapping[str, Any]) -> dict[str, Any]:
        """Input values checked (and coerced) against the pydantic model's field types."""
        from pydantic import ValidationError

        holder = self.schema.model_construct()  # type: ignore[attr-defined]
        validator = self.schema.__pydantic_validator__  # type: ignore[attr-defined]
        out = {}
        for key, item in value.items():
            try:
                validator.validate_assignment(holder, key, item)
            except ValidationError as exc:
                problem = exc.errors()[0]["msg"]
                raise InvalidInputError(
                    f"input key {key!r} of {self.schema.__name__}: {problem} (got {item!r}). "
                    f"Fix: pass a value of the type the model declares for {key!r}"
                ) from None
            out[key] = getattr(holder, key)
        return out

    def dump(self, obj: Any) -> dict[str, Any]:
        """The channel values held by an instance of the schema type."""
        if self.kind == "dataclass":
            return {k: getattr(obj, k) for k in self.keys}
        if self.kind == "pydantic":
            return {k: getattr(obj, k) for k in self.keys if k in obj.model_fields_set}
        return dict(obj)

    def extend(self, schema: type) -> StateSchema:
        """Add the keys of another schema (the graph's input or output schema, a node's
        input schema) as channels of this state, and return that schema: a key both
        declare keeps this state's reducer."""
        if schema is self.schema:
            return self
        other = StateSchema(schema)
        for key, channel in other.channels.items():
            self.channels.setdefault(key, channel)
        return other

    def view(self, values: dict[str, Any], remaining: int | None = None) -> Any:
        """The state as a node sees it, through this schema's keys: a dict, or an
        instance of the dataclass/model; ``remaining`` (the supersteps the run may
        still take) fills its managed keys.

        Top-level lists, dicts and sets are copied, so a task that changes them in place
        changes nothing for its parallel siblings; nested objects are shared.
        """
        keys = self._key_set
        if self.managed and remaining is not None:
            values = {**values, **managed_values(self.managed, remaining)}
        values = {
            k: v.copy() if type(v) in _CONTAINERS else v for k, v in values.items() if k in keys
        }
        if self.kind == "typeddict":
            return values
        if self.kind == "pydantic":
            return self.schema.model_construct(**values)  # type: ignore[attr-defined]
        try:
            return self.schema(**values)
        except TypeError as exc:
            missing = [k for k in self.keys if k not in values]
            raise InvalidInputError(
                f"cannot build {self.schema.__name__} from the state: {exc}. Fix: give "
                f"{', '.join(map(repr, missing)) or 'the fields'} a default in the schema "
                "or a value in the input"
            ) from exc


_CONTAINERS = (list, dict, set)


def managed_values(managed: Mapping[str, str], remaining: int) -> dict[str, Any]:
    """The values of managed keys for a task with ``remaining`` supersteps left."""
    return {
        key: remaining if kind == "remaining_steps" else remaining <= 1
        for key, kind in managed.items()
    }


def _const(value: Any) -> Callable[[], Any]:
    return lambda: value


def _pydantic_default(info: Any) -> Callable[[], Any]:
    if info.default_factory is not None:
        return info.default_factory  # type: ignore[no-any-return]
    return _const(info.default)
