"""The registry of known differences is honest: every listed case exists, every kind is
known, and every "on purpose" reason is written in docs/langgraph.md."""

from __future__ import annotations

from pathlib import Path

from . import (  # noqa: F401  (imported for their cases)
    test_command,
    test_config,
    test_errors,
    test_features,
    test_input,
    test_interrupts,
    test_order,
    test_reducers,
    test_retry,
    test_send,
    test_streams,
    test_subgraphs,
    test_update_state,
)
from ._harness import CASES
from .differences import DIFFERENCES, NOT_YET, ON_PURPOSE

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "langgraph.md"


def test_suite_has_at_least_150_cases() -> None:
    assert len(CASES) >= 150


def test_every_listed_difference_is_a_case() -> None:
    unknown = sorted(set(DIFFERENCES) - set(CASES))
    assert not unknown, f"differences.py lists cases that do not exist: {unknown}"


def test_every_difference_has_a_known_kind_and_a_reason() -> None:
    for case_id, (kind, reason) in DIFFERENCES.items():
        assert kind in (ON_PURPOSE, NOT_YET), f"{case_id}: kind {kind!r}"
        assert reason.strip(), f"{case_id}: no reason"


def test_on_purpose_reasons_are_documented() -> None:
    guide = " ".join(GUIDE.read_text(encoding="utf-8").split())
    missing = [
        case_id
        for case_id, (kind, reason) in DIFFERENCES.items()
        if kind == ON_PURPOSE and " ".join(reason.split()) not in guide
    ]
    assert not missing, f"'on purpose' reasons not in docs/langgraph.md: {missing}"


def test_every_area_is_named_after_its_file() -> None:
    areas = {case_id.split(".")[0] for case_id in CASES}
    files = {p.stem.removeprefix("test_") for p in Path(__file__).parent.glob("test_*.py")}
    assert areas <= files


def test_every_difference_is_listed_in_the_guide() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    missing = [case_id for case_id in DIFFERENCES if f"`{case_id}`" not in guide]
    assert not missing, (
        f"docs/langgraph.md does not list {missing}: regenerate its Differences section "
        "with python benchmarks/parity_figures.py --markdown"
    )
