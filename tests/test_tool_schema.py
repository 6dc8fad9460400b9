"""Tool schemas: ``ToolSpec.of`` turns a typed callable or a pydantic model into the JSON
Schema a model sees (no generated titles, no extra arguments)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional

import pydantic
import pytest

from orca.errors import InvalidInputError
from orca.llm import ToolSpec
from orca.llm._schema import signature_model


class Address(pydantic.BaseModel):
    """A postal address.

    Used to narrow a search to one place.
    """

    street: str
    city: str = "Paris"
    zip_code: int | None = None


def search(
    ctx,  # supplied by the runtime: no annotation needed, never in the schema
    query: str,
    limit: int = 10,
    tags: list[int] | None = None,
    page: Optional[int] = None,  # noqa: UP045 (the old spelling must work too)
    mode: Literal["fast", "deep"] = "fast",
    near: Address | None = None,
    exact: bool = False,
) -> list[str]:
    """Search the index for documents
    that match a query.

    Results are ranked by relevance.

    Args:
        query: what to look for.
        limit (int): at most this many hits.
        mode: how hard to look.
        near: only documents about this place.

    Returns:
        The ids of the hits.
    """
    return []


ADDRESS_SCHEMA = {
    "description": "A postal address.\n\nUsed to narrow a search to one place.",
    "type": "object",
    "properties": {
        "street": {"type": "string"},
        "city": {"type": "string", "default": "Paris"},
        "zip_code": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
    },
    "required": ["street"],
}

SEARCH_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "query": {"type": "string", "description": "what to look for."},
        "limit": {"type": "integer", "default": 10, "description": "at most this many hits."},
        "tags": {
            "anyOf": [{"type": "array", "items": {"type": "integer"}}, {"type": "null"}],
            "default": None,
        },
        "page": {"anyOf": [{"type": "integer"}, {"type": "null"}], "default": None},
        "mode": {
            "type": "string",
            "enum": ["fast", "deep"],
            "default": "fast",
            "description": "how hard to look.",
        },
        "near": {
            "anyOf": [{"$ref": "#/$defs/Address"}, {"type": "null"}],
            "default": None,
            "description": "only documents about this place.",
        },
        "exact": {"type": "boolean", "default": False},
    },
    "required": ["query"],
    "$defs": {"Address": ADDRESS_SCHEMA},
}


def keys_named(node: Any, name: str) -> list[Any]:
    """Every value under a dict key ``name``, anywhere in a JSON tree."""
    found: list[Any] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == name:
                found.append(v)
            found.extend(keys_named(v, name))
    elif isinstance(node, list):
        for v in node:
            found.extend(keys_named(v, name))
    return found


def test_a_typed_function_gives_the_exact_schema() -> None:
    spec = ToolSpec.of(search)
    assert spec.name == "search"
    assert spec.parameters == SEARCH_SCHEMA


def test_the_description_is_the_first_paragraph_of_the_docstring() -> None:
    assert ToolSpec.of(search).description == "Search the index for documents that match a query."


def test_schemas_carry_no_generated_titles() -> None:
    assert keys_named(ToolSpec.of(search).parameters, "title") == []
    assert keys_named(ToolSpec.of(Address).parameters, "title") == []


def test_only_arguments_without_defaults_are_required() -> None:
    def f(a: int, b: str, c: float = 1.0, d: int | None = None) -> None:
        """F."""

    assert ToolSpec.of(f).parameters["required"] == ["a", "b"]


def test_a_function_schema_forbids_extra_arguments() -> None:
    assert ToolSpec.of(search).parameters["additionalProperties"] is False
    model = signature_model(search, "search")
    assert model.model_validate({"query": "x"}).model_dump()["limit"] == 10
    with pytest.raises(pydantic.ValidationError, match="extra"):
        model.model_validate({"query": "x", "bogus": 1})
    with pytest.raises(pydantic.ValidationError):
        model.model_validate({"query": "x", "mode": "slow"})
    with pytest.raises(pydantic.ValidationError):
        model.model_validate({"limit": 3})  # query is required


def test_the_runtime_context_parameter_is_not_in_the_schema() -> None:
    def with_ctx(ctx: Any, x: int) -> int:
        """X."""
        return x

    def without_ctx(x: int) -> int:
        """X."""
        return x

    assert ToolSpec.of(with_ctx).parameters == ToolSpec.of(without_ctx).parameters
    assert "ctx" not in ToolSpec.of(search).parameters["properties"]


def test_a_function_with_no_arguments_has_an_empty_object_schema() -> None:
    def now() -> str:
        """The time."""
        return ""

    assert ToolSpec.of(now).parameters == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }


def test_a_function_without_docstring_has_an_empty_description() -> None:
    def bare(x: int) -> int:
        return x

    spec = ToolSpec.of(bare)
    assert spec.description == ""
    assert "description" not in spec.parameters["properties"]["x"]


def test_name_and_description_can_be_given() -> None:
    spec = ToolSpec.of(search, name="find", description="Find documents.")
    assert (spec.name, spec.description) == ("find", "Find documents.")
    assert spec.parameters == SEARCH_SCHEMA


def test_annotated_field_metadata_reaches_the_schema() -> None:
    def f(
        x: Annotated[int, pydantic.Field(description="from the type", ge=1, le=10)],
    ) -> None:
        """F.

        Args:
            x: from the docstring.
        """

    assert ToolSpec.of(f).parameters["properties"]["x"] == {
        "type": "integer",
        "description": "from the type",
        "minimum": 1,
        "maximum": 10,
    }


def test_docstring_args_that_name_no_parameter_are_ignored() -> None:
    def f(x: int) -> None:
        """F.

        Args:
            x: the x.
            y: not a parameter.
        """

    assert ToolSpec.of(f).parameters["properties"] == {
        "x": {"type": "integer", "description": "the x."}
    }


def test_a_wrapped_docstring_argument_description_is_kept_whole() -> None:
    def f(query: str) -> None:
        """F.

        Args:
            query: what to look for, described at length so that
                the line wraps onto a second line.
        """

    assert ToolSpec.of(f).parameters["properties"]["query"]["description"] == (
        "what to look for, described at length so that the line wraps onto a second line."
    )


def test_a_default_value_containing_a_title_key_is_kept() -> None:
    def post(meta: dict[str, str] = {"title": "draft"}) -> None:  # noqa: B006
        """Post."""

    assert ToolSpec.of(post).parameters["properties"]["meta"]["default"] == {"title": "draft"}


def test_an_argument_called_title_is_kept() -> None:
    def post(title: str, body: str = "") -> None:
        """Post."""

    params = ToolSpec.of(post).parameters
    assert params["properties"]["title"] == {"type": "string"}
    assert params["required"] == ["title"]


def test_an_async_function_is_described_like_a_sync_one() -> None:
    async def fetch(url: str, wait_s: float = 10.0) -> str:
        """Fetch a page."""
        return ""

    spec = ToolSpec.of(fetch)
    assert spec.name == "fetch"
    assert spec.description == "Fetch a page."
    assert spec.parameters == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "url": {"type": "string"},
            "wait_s": {"type": "number", "default": 10.0},
        },
        "required": ["url"],
    }


def test_a_bound_method_leaves_out_self() -> None:
    class Calculator:
        def add(self, a: int, b: int) -> int:
            """Add two numbers."""
            return a + b

    spec = ToolSpec.of(Calculator().add)
    assert spec.name == "add"
    assert list(spec.parameters["properties"]) == ["a", "b"]


# -- pydantic models ------------------------------------------------------------------------------


def test_a_pydantic_model_gives_its_schema_and_docstring_description() -> None:
    spec = ToolSpec.of(Address)
    assert spec.name == "Address"
    assert spec.description == "A postal address."
    expected = {k: v for k, v in ADDRESS_SCHEMA.items() if k != "description"}
    assert spec.parameters == expected


def test_a_pydantic_model_can_be_renamed() -> None:
    spec = ToolSpec.of(Address, name="locate", description="Locate.")
    assert (spec.name, spec.description) == ("locate", "Locate.")


def test_a_strict_pydantic_model_keeps_additional_properties_false() -> None:
    class Move(pydantic.BaseModel):
        """Move a piece."""

        model_config = pydantic.ConfigDict(extra="forbid")
        frm: str = pydantic.Field(description="the square it leaves")
        to: str

    assert ToolSpec.of(Move).parameters == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "frm": {"type": "string", "description": "the square it leaves"},
            "to": {"type": "string"},
        },
        "required": ["frm", "to"],
    }


# -- what cannot be a tool ------------------------------------------------------------------------


def test_a_lambda_without_a_name_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="needs a name"):
        ToolSpec.of(lambda x: x)


def test_a_named_lambda_still_needs_typed_arguments() -> None:
    # a lambda cannot carry annotations, so its argument is reported as untyped
    with pytest.raises(InvalidInputError, match="'x' has no type annotation"):
        ToolSpec.of(lambda x: x, name="ident")


def test_a_missing_annotation_is_refused_naming_the_argument() -> None:
    def f(query: str, limit, other: int = 0) -> None:  # type: ignore[no-untyped-def]
        """F."""

    with pytest.raises(InvalidInputError) as info:
        ToolSpec.of(f)
    message = str(info.value)
    assert "'limit'" in message
    assert "'f'" in message
    assert "Fix:" in message
    assert "'query'" not in message


@pytest.mark.parametrize("star", ["args", "kwargs"])
def test_star_arguments_are_refused(star: str) -> None:
    def with_args(query: str, *args: str) -> None:
        """F."""

    def with_kwargs(query: str, **kwargs: str) -> None:
        """F."""

    fn = with_args if star == "args" else with_kwargs
    with pytest.raises(InvalidInputError, match=f"\\*{star}"):
        ToolSpec.of(fn)


def test_something_not_callable_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="cannot derive a tool"):
        ToolSpec.of(42)


def test_unresolvable_type_hints_are_refused() -> None:
    def f(x: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
        """F."""

    with pytest.raises(InvalidInputError, match="cannot read its type hints"):
        ToolSpec.of(f)
