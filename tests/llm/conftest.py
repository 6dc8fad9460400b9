"""Fixtures for the LLM tests: wire servers that speak the providers' protocols, the tiny
GGUF model, and a real llama.cpp server (``python -m llama_cpp.server``) running it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the test modules import wire.py

from wire import SleepRecorder, WireServer

SERVER_START_S = 90.0


@pytest.fixture
def wire() -> Iterator[WireServer]:
    """A fresh wire server (simulated model unless scripted), closed after the test."""
    server = WireServer()
    yield server
    server.close()


@pytest.fixture
def sleeps() -> SleepRecorder:
    """Pass as ``sleep=``; after the call it lists the backoff waits, in seconds."""
    return SleepRecorder()


@pytest.fixture
def free_port() -> int:
    """A port on 127.0.0.1 that nobody listens on (bound, then released)."""
    return _free_port()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny random-weight GGUF model (seed 0), written once per session."""
    pytest.importorskip("numpy")
    pytest.importorskip("gguf")
    from orca.llm.tiny import ensure_tiny_model

    return ensure_tiny_model(seed=0, path=tmp_path_factory.mktemp("tiny") / "tiny-0.gguf")


@pytest.fixture(scope="session")
def llama_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real llama-cpp-python server running the tiny model; yields its root URL."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("uvicorn")  # the [server] extra
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(tiny_model)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024"]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"}
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(proc, f"{url}/v1/models", log_path)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_up(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited ({proc.returncode}):\n{log_path.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"llama_cpp.server did not answer within {SERVER_START_S:g}s")
