"""``make demo`` keeps working: the demo runs end to end (the tiny local model, the CLI in
real processes) and shows what it promises: the budget pause, the reviewer paid once,
the replay "identical"."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("llama_cpp")

DEMO = Path(__file__).resolve().parents[1] / "examples" / "demo.py"


def test_the_demo_runs_end_to_end() -> None:
    done = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "exit code 5 (5: paused, waiting for a resume)" in out
    assert "1 more answered from records, not paid again" in out
    assert "identical: run" in out
    assert "Traceback" not in out + done.stderr
