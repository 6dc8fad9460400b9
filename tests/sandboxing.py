"""Helpers for the tests of the tools' sandbox: requiring it, hiding it, and finding the
host processes a command started (by a marker in their command line: inside the
sandbox's PID namespace a command sees other process ids than the host)."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import time
from pathlib import Path

import pytest

from orca.tools import sandbox_status
from orca.tools._sandbox import python_executable


def require_sandbox() -> None:
    """Skip where bubblewrap is missing or cannot start a sandbox; under ``CI=true``
    fail instead (``make test`` installs it: scripts/system-deps.sh)."""
    status = sandbox_status()
    if status.available:
        return
    why = f"{status.problem}; scripts/system-deps.sh (run by make test) installs bubblewrap"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"the sandbox is required under CI: {why}")
    pytest.skip(why)


def hide_bwrap(monkeypatch: pytest.MonkeyPatch, folder: Path, *programs: str) -> None:
    """Make ``PATH`` a folder holding only ``programs`` (links to the real ones), so that
    ``bwrap`` is not found, as on a machine without bubblewrap."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for name in programs:
        real = shutil.which(name)
        assert real is not None, name
        (folder / name).symlink_to(real)
    (folder / "python3").symlink_to(python_executable())
    monkeypatch.setenv("PATH", str(folder))
    assert sandbox_status().available is False


def marker() -> str:
    """A ``sleep`` duration no other process on the machine uses: ``60.<random>``."""
    return f"60.{secrets.randbelow(10**9):09d}"


def alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")  # a zombie waiting to be reaped does not run


def processes_with(mark: str) -> list[int]:
    """The running host processes whose command line holds ``mark``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if mark.encode() in command and alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def none_left(mark: str, seconds: float = 3.0) -> list[int]:
    """Wait (up to ``seconds``) until no process holds ``mark``; those still running."""
    deadline = time.monotonic() + seconds
    while (left := processes_with(mark)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def kill_all(mark: str) -> None:
    for pid in processes_with(mark):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
