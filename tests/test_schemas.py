"""State schemas: a TypedDict, a dataclass or a pydantic model; each key is a channel.

Nodes see the state as the schema's type (a dict, a dataclass instance, a model instance)
and return partial updates as dicts; defaults declared in the schema are the initial values.
"""

import dataclasses
from typing import Annotated, Any, TypedDict

import pydantic
import pytest

from orca import START, StateGraph, reducers
from orca.errors import InvalidInputError, OrcaError, UnknownStateKeyError


def run_one(schema: type, node: Any, input: Any = None) -> dict[str, Any]:
    g = StateGraph(schema)
    g.add_node("node", node)
    g.add_edge(START, "node")
    return g.compile().invoke({} if input is None else input)


# -- TypedDict ----------------------------------------------------------------------------------


class TD(TypedDict):
    name: str
    tags: Annotated[list[str], reducers.append]


def test_typeddict_nodes_receive_a_dict() -> None:
    seen: list[Any] = []

    def node(state: TD) -> dict[str, Any]:
        seen.append(state)
        return {"tags": [state["name"]]}

    result = run_one(TD, node, {"name": "ada"})

    assert type(seen[0]) is dict
    assert seen[0] == {"name": "ada", "tags": []}
    assert result == {"name": "ada", "tags": ["ada"]}


def test_typeddict_keys_without_a_value_are_absent() -> None:
    seen: list[Any] = []
    run_one(TD, lambda s: seen.append(dict(s)))
    assert seen == [{"tags": []}]


def test_typeddict_with_total_false_works() -> None:
    class Partial(TypedDict, total=False):
        a: int
        b: int

    assert run_one(Partial, lambda s: {"b": s["a"] + 1}, {"a": 1}) == {"a": 1, "b": 2}


# -- dataclass ----------------------------------------------------------------------------------


@dataclasses.dataclass
class DC:
    name: str
    count: int = 0
    tags: Annotated[list[str], reducers.append] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=lambda: ["created"])


def test_dataclass_nodes_receive_an_instance_with_defaults_filled_in() -> None:
    seen: list[Any] = []

    def node(state: DC) -> dict[str, Any]:
        seen.append(state)
        return {"count": state.count + 1, "tags": [state.name]}

    result = run_one(DC, node, {"name": "ada"})

    assert isinstance(seen[0], DC)
    assert seen[0] == DC(name="ada", count=0, tags=[], notes=["created"])
    assert result == {"name": "ada", "count": 1, "tags": ["ada"], "notes": ["created"]}


def test_dataclass_instance_is_accepted_as_input() -> None:
    result = run_one(DC, lambda s: {"count": s.count * 2}, DC(name="bo", count=21))
    assert result["count"] == 42
    assert result["name"] == "bo"


def test_dataclass_field_without_default_or_input_is_an_error_naming_it() -> None:
    with pytest.raises(InvalidInputError) as exc:
        run_one(DC, lambda s: None, {"count": 3})
    assert "DC" in str(exc.value)
    assert "'name'" in str(exc.value)
    assert "Fix:" in str(exc.value)


def test_dataclass_default_factory_gives_each_run_a_fresh_value() -> None:
    def node(state: DC) -> dict[str, Any]:
        return {"notes": [*state.notes, "seen"]}

    first = run_one(DC, node, {"name": "a"})
    second = run_one(DC, node, {"name": "b"})
    assert first["notes"] == second["notes"] == ["created", "seen"]


# -- pydantic -----------------------------------------------------------------------------------


class PM(pydantic.BaseModel):
    name: str
    count: int = 0
    tags: Annotated[list[str], reducers.append] = pydantic.Field(default_factory=list)


def test_pydantic_nodes_receive_a_model_instance_with_defaults_filled_in() -> None:
    seen: list[Any] = []

    def node(state: PM) -> dict[str, Any]:
        seen.append(state)
        return {"count": state.count + 1, "tags": [state.name.upper()]}

    result = run_one(PM, node, {"name": "ada"})

    assert isinstance(seen[0], PM)
    assert (seen[0].name, seen[0].count, seen[0].tags) == ("ada", 0, [])
    assert result == {"name": "ada", "count": 1, "tags": ["ADA"]}


def test_pydantic_instance_is_accepted_as_input() -> None:
    result = run_one(PM, lambda s: {"count": s.count + 1}, PM(name="bo", count=41))
    assert result["count"] == 42
    assert result["name"] == "bo"


def test_pydantic_reducers_combine_parallel_writes() -> None:
    g = StateGraph(PM)
    g.add_node("a", lambda s: {"tags": ["a"]})
    g.add_node("b", lambda s: {"tags": ["b"]})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    assert g.compile().invoke({"name": "x"})["tags"] == ["a", "b"]


def test_pydantic_input_value_of_the_wrong_type_is_an_error_naming_the_key() -> None:
    with pytest.raises(ValueError, match="count") as exc:
        run_one(PM, lambda s: None, {"name": "ada", "count": "many"})
    assert isinstance(exc.value, OrcaError)


def test_pydantic_private_and_class_attributes_are_not_channels() -> None:
    class WithExtras(pydantic.BaseModel):
        value: int = 0
        _cache: dict[str, int] = pydantic.PrivateAttr(default_factory=dict)

    g = StateGraph(WithExtras)
    assert g.state.keys == ("value",)


# -- bad input, any schema ----------------------------------------------------------------------


@pytest.mark.parametrize("schema", [TD, DC, PM])
@pytest.mark.parametrize("bad", [["name", "x"], "name=x", 42])
def test_input_that_is_not_a_dict_or_the_schema_type_is_rejected(schema: type, bad: Any) -> None:
    with pytest.raises(InvalidInputError) as exc:
        run_one(schema, lambda s: None, bad)
    message = str(exc.value)
    assert schema.__name__ in message
    assert type(bad).__name__ in message
    assert "'name'" in message  # the example of a valid input names a real key


@pytest.mark.parametrize("schema", [TD, DC, PM])
def test_input_with_an_unknown_key_is_rejected_with_a_suggestion(schema: type) -> None:
    with pytest.raises(UnknownStateKeyError) as exc:
        run_one(schema, lambda s: None, {"name": "x", "nmae": "y"})
    message = str(exc.value)
    assert "the input wrote unknown state key 'nmae'" in message
    assert "did you mean 'name'?" in message
    assert exc.value.key == "nmae"
    assert exc.value.node is None


@pytest.mark.parametrize("schema", [TD, DC, PM])
def test_node_writing_an_unknown_key_is_rejected_for_every_schema_kind(schema: type) -> None:
    with pytest.raises(UnknownStateKeyError) as exc:
        run_one(schema, lambda s: {"tagz": ["x"]}, {"name": "x"})
    assert exc.value.node == "node"
    assert "did you mean 'tags'?" in str(exc.value)


@pytest.mark.parametrize(
    ("schema", "kind"), [(TD, "typeddict"), (DC, "dataclass"), (PM, "pydantic")]
)
def test_schema_kind_and_channels_are_detected(schema: type, kind: str) -> None:
    state = StateGraph(schema).state
    assert state.kind == kind
    assert state.channels["tags"].reducer is reducers.append
    assert state.channels["name"].reducer is reducers.overwrite
