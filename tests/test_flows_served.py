"""A real ``orca serve`` serves a flow file named in ``[server] workflows``: it lists the
flow, runs it on the tiny llama.cpp model, pauses at its human node and finishes on the
resume, like a Python workflow."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from _served import free_port, orca

ROOT = Path(__file__).resolve().parents[1]


def test_a_server_serves_and_runs_a_flow_file(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from orca.llm.tiny import ensure_tiny_model

    project = tmp_path / "proj"
    (project / "flows").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "flows" / "triage.yaml", project / "flows" / "triage.yaml")
    model = ensure_tiny_model(seed=0, path=tmp_path / "tiny.gguf")
    assert orca(project, "init").wait(timeout=60) == 0
    spec = f"llamacpp:{model}"
    made = orca(project, "profile", "create", "tiny", "--planner", spec, "--worker", spec)
    assert made.wait(timeout=60) == 0
    with (project / ".orca" / "orca.toml").open("a") as f:
        f.write('\n[server]\nworkflows = ["flows/triage.yaml"]\n')
    port = free_port()
    proc = orca(project, "serve", "--port", str(port), stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            for _ in range(600):
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            listed = client.get("/v1/workflows").json()
            assert [w["name"] for w in listed] == ["triage"]
            shape = client.get("/v1/workflows/triage").json()
            assert [n["name"] for n in shape["nodes"]] == ["classify", "approve", "decide", "reply"]
            body = {"workflow": "triage", "input": {"ticket": "The printer is on fire"}}
            paused = client.post("/v1/runs/wait", params={"thread_id": "t1"}, json=body)
            assert paused.status_code == 200, paused.text
            (pause,) = paused.json()["interrupts"]
            assert pause["node"] == "approve"
            assert pause["value"]["prompt"].endswith("ticket 'The printer is on fire'?")
            resumed = client.post(
                "/v1/runs/wait",
                params={"thread_id": "t1"},
                json={"workflow": "triage", "resume": True},
            )
            assert resumed.status_code == 200, resumed.text
            done = resumed.json()
            assert done["status"] == "done"
            assert done["values"]["approved"] is True
            assert done["values"]["reply"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    said = proc.stderr.read().decode() if proc.stderr else ""
    assert "Traceback" not in said, said
