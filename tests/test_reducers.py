"""Reducers: how a state key combines the writes of one superstep.

Writes are folded in task order. ``overwrite`` (the default) rejects two writes in one step;
``append``, ``merge`` and ``sum`` combine them; any ``(old, new) -> value`` callable works.
"""

from decimal import Decimal
from typing import Annotated, Any, TypedDict

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orca import END, START, Send, StateGraph, reducers
from orca.errors import InvalidUpdateError, ReducerError

FAST = settings(max_examples=40, deadline=None)


def fan_out(state_schema: type, key: str, values: list[Any]) -> dict[str, Any]:
    """Run one task per value in a single superstep, each writing ``{key: value}``."""
    g = StateGraph(state_schema)
    g.add_node("write", lambda arg: {key: arg})
    g.add_conditional_edges(START, lambda s: [Send("write", v) for v in values])
    g.add_edge("write", END)
    return g.compile().invoke({})


def two_parallel_writers(state_schema: type, key: str, first: Any, second: Any) -> Any:
    """Nodes "first" and "second" both run in step 1 and write ``key``."""
    g = StateGraph(state_schema)
    g.add_node("first", lambda s: {key: first})
    g.add_node("second", lambda s: {key: second})
    g.add_edge(START, "first")
    g.add_edge(START, "second")
    return g.compile()


# -- overwrite ---------------------------------------------------------------------------------


class Plain(TypedDict):
    status: str


def test_overwrite_is_the_default_and_keeps_the_last_sequential_write() -> None:
    g = StateGraph(Plain)
    g.add_node("a", lambda s: {"status": "a"})
    g.add_node("b", lambda s: {"status": s["status"] + "+b"})
    g.add_edge(START, "a")
    g.add_edge("a", "b")
    assert g.compile().invoke({"status": "input"}) == {"status": "a+b"}


def test_two_parallel_writes_to_an_overwrite_key_name_both_nodes_and_the_key() -> None:
    app = two_parallel_writers(Plain, "status", "one", "two")
    with pytest.raises(InvalidUpdateError) as exc:
        app.invoke({})
    message = str(exc.value)
    assert "'first'" in message
    assert "'second'" in message
    assert "'status'" in message
    assert "Fix:" in message
    assert "reducers.append" in message
    assert exc.value.key == "status"
    assert exc.value.node == "second"


def test_one_parallel_write_to_an_overwrite_key_is_fine() -> None:
    class S(TypedDict):
        status: str
        other: str

    g = StateGraph(S)
    g.add_node("a", lambda s: {"status": "from a"})
    g.add_node("b", lambda s: {"other": "from b"})
    g.add_edge(START, "a")
    g.add_edge(START, "b")
    assert g.compile().invoke({}) == {"status": "from a", "other": "from b"}


def test_overwrite_key_without_value_is_absent_from_the_result() -> None:
    g = StateGraph(Plain)
    g.add_node("a", lambda s: None)
    g.add_edge(START, "a")
    assert g.compile().invoke({}) == {}


# -- append --------------------------------------------------------------------------------------


class Log(TypedDict):
    log: Annotated[list[Any], reducers.append]


def test_append_starts_empty() -> None:
    g = StateGraph(Log)
    g.add_node("a", lambda s: {"log": []} if s["log"] == [] else {"log": ["not empty"]})
    g.add_edge(START, "a")
    assert g.compile().invoke({}) == {"log": []}


def test_append_concatenates_parallel_writes_in_task_order() -> None:
    app = two_parallel_writers(Log, "log", ["a1", "a2"], ["b1"])
    assert app.invoke({"log": ["input"]}) == {"log": ["input", "a1", "a2", "b1"]}


def test_append_adds_a_non_list_value_as_one_item_and_extends_with_a_tuple() -> None:
    app = two_parallel_writers(Log, "log", {"k": 1}, ("x", "y"))
    assert app.invoke({}) == {"log": [{"k": 1}, "x", "y"]}


def test_append_reducer_function() -> None:
    assert reducers.append(None, [1]) == [1]
    assert reducers.append([1], [2, 3]) == [1, 2, 3]
    assert reducers.append([1], (2,)) == [1, 2]
    assert reducers.append([1], "s") == [1, "s"]
    old = [1]
    reducers.append(old, [2])
    assert old == [1], "append must not mutate the old value"


@FAST
@given(st.lists(st.lists(st.integers(), max_size=4), max_size=8))
def test_append_in_task_order_equals_concatenation(writes: list[list[int]]) -> None:
    result = fan_out(Log, "log", writes)
    assert result["log"] == [item for write in writes for item in write]


# -- merge ---------------------------------------------------------------------------------------


class Scores(TypedDict):
    scores: Annotated[dict[str, Any], reducers.merge]


def test_merge_starts_from_an_empty_dict() -> None:
    g = StateGraph(Scores)
    g.add_node("a", lambda s: {"scores": {"n": len(s["scores"])}})
    g.add_edge(START, "a")
    assert g.compile().invoke({}) == {"scores": {"n": 0}}


def test_merge_combines_nested_dicts_key_by_key() -> None:
    app = two_parallel_writers(
        Scores,
        "scores",
        {"alice": {"math": 1, "art": 2}, "bob": 3},
        {"alice": {"math": 10, "music": 4}, "carol": 5},
    )
    result = app.invoke({"scores": {"alice": {"history": 0}}})
    assert result == {
        "scores": {
            "alice": {"history": 0, "math": 10, "art": 2, "music": 4},
            "bob": 3,
            "carol": 5,
        }
    }


def test_merge_replaces_a_non_dict_with_whatever_comes_later() -> None:
    assert reducers.merge({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}
    assert reducers.merge({"a": {"b": 2}}, {"a": [1]}) == {"a": [1]}


def test_merge_does_not_mutate_its_inputs() -> None:
    old = {"a": {"b": 1}}
    new = {"a": {"c": 2}}
    assert reducers.merge(old, new) == {"a": {"b": 1, "c": 2}}
    assert old == {"a": {"b": 1}}
    assert new == {"a": {"c": 2}}


def test_merge_of_a_non_mapping_is_a_reducer_error_naming_key_and_node() -> None:
    app = two_parallel_writers(Scores, "scores", {"ok": 1}, ["not", "a", "dict"])
    with pytest.raises(ReducerError) as exc:
        app.invoke({})
    assert exc.value.key == "scores"
    assert exc.value.node == "second"
    assert "'scores'" in str(exc.value)
    assert "'second'" in str(exc.value)
    assert "merge expects a mapping" in str(exc.value)
    assert isinstance(exc.value.__cause__, TypeError)


# Keys in LEAVES always hold ints and keys in BRANCHES always hold dicts, at every depth:
# deep merge is associative when a key keeps its kind (a dict replaced by a scalar and then
# merged with a dict again depends on grouping, by design of "anything else is replaced").
LEAVES = st.sampled_from(["a", "b", "c"])
BRANCHES = st.sampled_from(["X", "Y"])
nested = st.recursive(
    st.dictionaries(LEAVES, st.integers(), max_size=3),
    lambda inner: st.builds(
        lambda leaves, branches: {**leaves, **branches},
        st.dictionaries(LEAVES, st.integers(), max_size=3),
        st.dictionaries(BRANCHES, inner, max_size=2),
    ),
    max_leaves=10,
)


@FAST
@given(nested, nested, nested)
def test_merge_is_associative_over_dicts(a: dict, b: dict, c: dict) -> None:
    merge = reducers.merge
    assert merge(merge(a, b), c) == merge(a, merge(b, c))


@FAST
@given(nested)
def test_merge_with_an_empty_dict_is_identity(a: dict) -> None:
    assert reducers.merge(a, {}) == a
    assert reducers.merge({}, a) == a
    assert reducers.merge(None, a) == a


@FAST
@given(
    st.dictionaries(st.text(max_size=3), st.integers()), st.dictionaries(st.text(), st.integers())
)
def test_merge_of_flat_dicts_is_dict_union_with_later_winning(a: dict, b: dict) -> None:
    assert reducers.merge(a, b) == {**a, **b}


@FAST
@given(st.lists(st.dictionaries(LEAVES, st.integers(), max_size=3), max_size=6))
def test_parallel_merge_writes_fold_in_task_order(writes: list[dict[str, int]]) -> None:
    expected: dict[str, int] = {}
    for w in writes:
        expected.update(w)
    assert fan_out(Scores, "scores", writes)["scores"] == expected


# -- sum -----------------------------------------------------------------------------------------


class Total(TypedDict):
    total: Annotated[Any, reducers.sum]


def test_sum_starts_at_zero() -> None:
    g = StateGraph(Total)
    g.add_node("a", lambda s: {"total": 5} if s["total"] == 0 else {"total": 1000})
    g.add_edge(START, "a")
    assert g.compile().invoke({}) == {"total": 5}


def test_sum_adds_parallel_writes_to_the_input() -> None:
    assert two_parallel_writers(Total, "total", 2, 3).invoke({"total": 10}) == {"total": 15}


def test_sum_adds_floats_and_decimals_exactly_as_python_does() -> None:
    assert two_parallel_writers(Total, "total", 0.5, 0.25).invoke({})["total"] == 0.75
    result = two_parallel_writers(Total, "total", Decimal("0.1"), Decimal("0.2")).invoke(
        {"total": Decimal("0")}
    )
    assert result["total"] == Decimal("0.3")


@FAST
@given(st.lists(st.integers(min_value=-(10**12), max_value=10**12), max_size=10))
def test_sum_equals_builtin_sum(values: list[int]) -> None:
    assert fan_out(Total, "total", values)["total"] == sum(values)


# -- custom reducers -----------------------------------------------------------------------------


def keep_longest(old: str, new: str) -> str:
    return new if len(new) > len(old) else old


class Custom(TypedDict):
    # a union type has no empty value, so these keys start with no value (a plain int
    # would start at 0, as in LangGraph: see test_semantics_lg.py)
    best: Annotated[int | None, max]
    longest: Annotated[str | None, keep_longest]


def test_builtin_max_is_a_reducer() -> None:
    app = two_parallel_writers(Custom, "best", 7, 3)
    assert app.invoke({"best": 5}) == {"best": 7}


def test_custom_reducer_gets_old_then_new_in_task_order() -> None:
    seen: list[tuple[Any, Any]] = []

    def record(old: Any, new: Any) -> Any:
        seen.append((old, new))
        return f"{old}|{new}"

    class S(TypedDict):
        trail: Annotated[str | None, record]

    app = two_parallel_writers(S, "trail", "first", "second")
    assert app.invoke({"trail": "input"}) == {"trail": "input|first|second"}
    assert seen == [("input", "first"), ("input|first", "second")]


def test_first_write_to_a_custom_key_without_value_is_stored_as_is() -> None:
    app = two_parallel_writers(Custom, "longest", "ab", "abcd")
    assert app.invoke({}) == {"longest": "abcd"}
    app = two_parallel_writers(Custom, "longest", "abcd", "ab")
    assert app.invoke({}) == {"longest": "abcd"}


@FAST
@given(st.lists(st.integers(), min_size=1, max_size=8))
def test_max_reducer_over_parallel_writes_equals_builtin_max(values: list[int]) -> None:
    assert fan_out(Custom, "best", values)["best"] == max(values)


def test_reducer_that_raises_is_a_reducer_error_naming_key_and_node() -> None:
    def picky(old: int, new: int) -> int:
        if new < 0:
            raise ValueError("negative values are not allowed")
        return old + new

    class S(TypedDict):
        count: Annotated[int, picky]

    app = two_parallel_writers(S, "count", 1, -1)
    with pytest.raises(ReducerError) as exc:
        app.invoke({"count": 0})
    assert exc.value.key == "count"
    assert exc.value.node == "second"
    message = str(exc.value)
    assert "'count'" in message
    assert "'second'" in message
    assert "negative values are not allowed" in message
    assert isinstance(exc.value.__cause__, ValueError)


def test_reducer_applies_to_the_input_too() -> None:
    g = StateGraph(Log)
    g.add_node("a", lambda s: {"log": ["a"]})
    g.add_edge(START, "a")
    assert g.compile().invoke({"log": ["x", "y"]}) == {"log": ["x", "y", "a"]}
