"""LangGraph's tutorial shapes, run unmodified on LangGraph and, with only their imports
changed, on Orca: a ReAct agent with tools, a map-reduce, a human-in-the-loop approval."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "from_langgraph"
SRC = Path(__file__).resolve().parents[2] / "src"
# each program's model calls: the agent's three turns; three subjects, a joke per
# subject and the pick; a draft per thread
PROGRAMS = {"react_agent.py": 3, "map_reduce.py": 10, "approval.py": 3}


def on_orca(source: str) -> str:
    """The program with its LangGraph imports pointed at Orca, and nothing else changed."""
    changed, count = re.subn(
        r"^from langgraph(\.| )", r"from orca.compat.langgraph\1", source, flags=re.M
    )
    assert count >= 2, "the example imports nothing from langgraph"
    return changed


def run(folder: Path, program: str, home: Path) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORCA_")}
    env["PYTHONPATH"] = str(SRC)
    env["ORCA_HOME"] = str(home)
    proc = subprocess.run(
        [sys.executable, program], cwd=folder, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def usage(home: Path) -> list[tuple[str, str, int]]:
    """What Orca's ledger recorded: (provider, model, cost) per call."""
    conn = sqlite3.connect(home / "orca.db")
    try:
        return list(conn.execute("SELECT provider, model, cost_nano_usd FROM usage"))
    finally:
        conn.close()


@pytest.mark.parametrize("program", sorted(PROGRAMS))
def test_the_example_prints_the_same_on_langgraph_and_on_orca(program: str, tmp_path: Path) -> None:
    for name in ("langgraph", "orca"):
        (tmp_path / name).mkdir()
        shutil.copy(EXAMPLES / "scripted_model.py", tmp_path / name)
    source = (EXAMPLES / program).read_text(encoding="utf-8")
    (tmp_path / "langgraph" / program).write_text(source, encoding="utf-8")
    (tmp_path / "orca" / program).write_text(on_orca(source), encoding="utf-8")

    expected = run(tmp_path / "langgraph", program, tmp_path / "home-lg")
    got = run(tmp_path / "orca", program, tmp_path / "home-orca")
    assert expected.strip(), "the example printed nothing"
    assert got == expected
    # on Orca, every LangChain model call was metered and priced, with no other change
    calls = usage(tmp_path / "home-orca")
    assert len(calls) == PROGRAMS[program]
    assert {(provider, model) for provider, model, _ in calls} == {("openai", "gpt-4o-mini")}
    assert all(cost > 0 for _, _, cost in calls)
    assert not (tmp_path / "home-lg" / "orca.db").exists()
