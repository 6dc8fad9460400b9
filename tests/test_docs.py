"""The documentation stays true: its examples run and print what they claim, and the
event reference names every event type and field."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from pathlib import Path

import pytest

from orca.events import EVENT_TYPES

ROOT = Path(__file__).resolve().parent.parent
PAGES = sorted((ROOT / "docs").glob("*.md"))
BLOCK = re.compile(r"(<!-- not run -->\s*\n)?```python\n(.*?)```", re.S)


def _examples() -> list[pytest.param]:  # type: ignore[valid-type]
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in BLOCK.finditer(text):
            if match.group(1):
                continue
            line = text[: match.start()].count("\n") + 1
            found.append(pytest.param(match.group(2), id=f"{page.name}:{line}"))
    return found


def test_the_docs_have_runnable_examples() -> None:
    assert len(_examples()) >= 20


@pytest.mark.parametrize("code", _examples())
def test_doc_example_runs_and_prints_what_it_claims(code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = [line.strip() for line in result.stdout.splitlines()]
    expected = [e.strip() for e in re.findall(r"#\s*->\s*(.*)$", code, re.M)]
    position = 0
    for claim in expected:  # each claimed output appears, in order
        while position < len(printed) and printed[position] != claim:
            position += 1
        assert position < len(printed), f"the example never printed {claim!r}:\n{result.stdout}"
        position += 1


def test_events_reference_names_every_event_type_and_field() -> None:
    text = (ROOT / "docs" / "events.md").read_text()
    for name, cls in EVENT_TYPES.items():
        assert f"`{name}`" in text, f"docs/events.md does not describe event {name!r}"
        for field in dataclasses.fields(cls):
            assert f"`{field.name}`" in text, f"docs/events.md lacks field {field.name!r}"
