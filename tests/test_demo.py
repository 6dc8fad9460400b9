"""``make demo`` keeps working: the demo runs end to end (the tiny local model, the CLI in
real processes) and shows what it promises: the budget pause, the reviewer paid once,
the replay "identical"; it keeps its project where ``make ui-demo`` serves it, says so,
and that server shows the demo's runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from _served import free_port

pytest.importorskip("llama_cpp")

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo.py"


def test_the_demo_runs_end_to_end(tmp_path: Path) -> None:
    where = tmp_path / "demo"
    env = {**os.environ, "ORCA_DEMO_DIR": str(where)}
    done = subprocess.run(
        [sys.executable, str(DEMO)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert "exit code 5 (5: paused, waiting for a resume)" in out
    assert "1 more answered from records, not paid again" in out
    assert "identical: run" in out
    assert "Traceback" not in out + done.stderr
    # the project stays for make ui-demo, which the demo names with the URL
    assert "make ui-demo" in out
    assert "http://127.0.0.1:8700/runs" in out
    assert (where / "project" / ".orca" / "orca.toml").is_file()
    _served_as_ui_demo_does(where)


def _served_as_ui_demo_does(where: Path) -> None:
    """The server make ui-demo starts (on another port) lists the demo's runs."""
    port = free_port()
    orca = str(Path(sys.executable).parent / "orca")
    server = subprocess.Popen(
        [orca, "-C", str(where / "project"), "serve", "--port", str(port),
         "--workflow", str(ROOT / "examples" / "research.py")],
        env={**os.environ, "ORCA_HOME": str(where / "home")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else b""
            time.sleep(0.1)
        runs = httpx.get(f"{url}/v1/runs", timeout=10).json()
        assert {r["status"] for r in runs} >= {"done"}, runs
        assert {r["graph"] for r in runs} == {"research"}
        assert len(runs) == 3  # paused by the budget, resumed up to the approval, approved
    finally:
        server.terminate()
        server.wait(timeout=30)
