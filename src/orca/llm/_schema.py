"""JSON Schemas for tools, derived from typed Python callables or pydantic models."""

from __future__ import annotations

import inspect
import re
from typing import Any, get_type_hints

import pydantic

from orca.errors import InvalidInputError

# parameters the runtime supplies, never the model (``env``: a tool's ToolEnv)
_RESERVED = frozenset({"ctx", "env", "self", "cls"})


def tool_spec(
    obj: Any, *, name: str | None = None, description: str | None = None
) -> tuple[str, str, dict[str, Any]]:
    """A tool's name, description and JSON Schema, from a callable (its signature and
    docstring) or a pydantic model (``ToolSpec.of`` makes the spec)."""
    if isinstance(obj, type) and issubclass(obj, pydantic.BaseModel):
        schema = _tidy(obj.model_json_schema())
        schema.pop("description", None)
        doc = inspect.getdoc(obj) or ""
        return name or obj.__name__, description or _summary(doc), schema
    if not callable(obj):
        raise InvalidInputError(
            f"cannot derive a tool from {obj!r}. Fix: pass a typed function or a "
            "pydantic model class"
        )
    fn_name = name or getattr(obj, "__name__", None)
    if not fn_name or fn_name == "<lambda>":
        raise InvalidInputError("a tool needs a name. Fix: pass name=... or use a def function")
    doc = inspect.getdoc(obj) or ""
    model = signature_model(obj, fn_name)
    schema = _tidy(model.model_json_schema())
    described = _arg_docs(doc)
    for key, prop in schema.get("properties", {}).items():
        if key in described and "description" not in prop:
            prop["description"] = described[key]
    return fn_name, description or _summary(doc), schema


def signature_model(fn: Any, name: str) -> type[pydantic.BaseModel]:
    """A pydantic model of ``fn``'s parameters (all but ``ctx`` and ``env``), for schema
    and validation.

    Raises:
        InvalidInputError: a parameter has no type annotation, or is ``*args``/``**kwargs``.
    """
    try:
        hints = get_type_hints(fn, include_extras=True)
    except Exception as exc:
        raise InvalidInputError(f"tool {name!r}: cannot read its type hints ({exc})") from None
    fields: dict[str, Any] = {}
    for param in inspect.signature(fn).parameters.values():
        if param.name in _RESERVED:
            continue
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise InvalidInputError(
                f"tool {name!r}: *{param.name} cannot be described to a model. Fix: "
                "give every argument a name and a type"
            )
        if param.name not in hints:
            raise InvalidInputError(
                f"tool {name!r}: argument {param.name!r} has no type annotation. Fix: "
                f"annotate it, e.g. {param.name}: str"
            )
        default = ... if param.default is param.empty else param.default
        fields[param.name] = (hints[param.name], default)
    model: type[pydantic.BaseModel] = pydantic.create_model(
        f"{name}_arguments", __config__=pydantic.ConfigDict(extra="forbid"), **fields
    )
    return model


# keywords whose values are data, not schemas: a "title" inside them is content
_DATA_KEYWORDS = frozenset({"default", "const", "examples", "enum"})


def _tidy(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop pydantic's generated titles: they add tokens and tell the model nothing."""

    def walk(node: Any, *, names: bool = False) -> Any:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                if k == "title" and isinstance(v, str) and not names:
                    continue
                if k in _DATA_KEYWORDS and not names:
                    out[k] = v
                else:
                    # the keys of "properties" and "$defs" are names, their values schemas
                    out[k] = walk(v, names=k in ("properties", "$defs") and not names)
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    out: dict[str, Any] = walk(schema)
    out.setdefault("type", "object")
    out.setdefault("properties", {})
    return out


def _summary(doc: str) -> str:
    """The docstring's first paragraph."""
    return doc.split("\n\n", 1)[0].strip().replace("\n", " ")


_ARG_LINE = re.compile(r"^\s{2,}(\w+)(?:\s*\([^)]*\))?:\s*(.+)$")


def _arg_docs(doc: str) -> dict[str, str]:
    """Argument descriptions from a Google-style ``Args:`` section (continuation lines,
    indented deeper, belong to the argument above)."""
    out: dict[str, str] = {}
    in_args = False
    current: str | None = None
    indent = 0
    for line in doc.splitlines():
        if line.strip() in ("Args:", "Arguments:", "Parameters:"):
            in_args = True
            continue
        if not in_args:
            continue
        if line and not line.startswith(" "):
            break
        m = _ARG_LINE.match(line)
        depth = len(line) - len(line.lstrip())
        if current is not None and line.strip() and depth > indent and not (m and depth == indent):
            out[current] += " " + line.strip()
        elif m:
            current, indent = m.group(1), depth
            out[current] = m.group(2).strip()
    return out
