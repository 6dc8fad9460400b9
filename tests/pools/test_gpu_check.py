"""benchmarks/gpu_check.sh is honest: on a machine whose NVIDIA driver does not answer
(a fake nvidia-smi first on PATH, the machine's edge) it fails at its first step, loudly,
and never goes on to report a CPU run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.sh"


def run_with_smi(tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    smi = bin_dir / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\n{body}\n")
    smi.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GPU_CHECK_LOG": str(tmp_path / "gpu_check.log"),
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            "echo \"NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA "
            'driver."; exit 9',
            "the NVIDIA driver is not loaded",
        ),
        ("echo 'No devices were found'; exit 0", "nvidia-smi lists no GPU"),
    ],
    ids=["driver-not-loaded", "no-device"],
)
def test_without_a_working_gpu_the_check_fails_at_its_first_step(
    tmp_path: Path, body: str, says: str
) -> None:
    done = run_with_smi(tmp_path, body)
    assert done.returncode == 1
    assert says in done.stderr
    assert 'FAILED at step "1. the NVIDIA GPU and driver"' in done.stderr
    assert "OK" not in done.stdout
    assert "== 2." not in done.stdout
    assert says in (tmp_path / "gpu_check.log").read_text()
