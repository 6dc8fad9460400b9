"""Engine processes at the OS level: spawned in their own process group, tied to the
supervisor's life, killed as a group, their logs' last lines read back.

An engine must never outlive its supervisor, even one killed with SIGKILL (no handler
runs then). On Linux the child asks the kernel, before it executes the engine, to send
it SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG, SIGKILL)``). The kernel
sends it when the *thread* that forked the child ends: the supervisor's event loop
thread, which is the supervisor's life.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "accepts",
    "cap_log",
    "free_port",
    "is_stopped",
    "kill_group",
    "log_tail",
    "spawn",
]

_PR_SET_PDEATHSIG = 1


def free_port() -> int:
    """A loopback port nobody listens on now (bound, then released for the engine)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> Callable[[], None] | None:
    if not sys.platform.startswith("linux"):
        return None
    # resolved before the fork: the child does as little as it can between fork and exec
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def setup() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the request was made
            os.kill(os.getpid(), signal.SIGKILL)

    return setup


async def spawn(
    command: Sequence[str], *, env: Mapping[str, str], log_path: Path
) -> asyncio.subprocess.Process:
    """Start ``command`` in a new session (its own process group), its output appended to
    ``log_path``, dying with this process."""
    with log_path.open("ab") as log:
        return await asyncio.create_subprocess_exec(
            *command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


async def kill_group(
    process: asyncio.subprocess.Process, exited: asyncio.Future[int], *, grace_s: float = 0.0
) -> None:
    """End the process and everything in its group: SIGTERM first when ``grace_s`` (a
    stopped group is continued so it can act on it), SIGKILL when that time is up.

    ``exited`` is the task awaiting ``process.wait()``.
    """
    pgid = process.pid
    if process.returncode is None and grace_s > 0:
        _signal_group(pgid, signal.SIGTERM)
        _signal_group(pgid, signal.SIGCONT)
        await asyncio.wait([exited], timeout=grace_s)
    if process.returncode is None:
        _signal_group(pgid, signal.SIGKILL)
        # SIGKILL ends even a stopped process; one stuck in the kernel may take a while
        await asyncio.wait([exited], timeout=60.0)
    # whatever the leader left behind in its group
    _signal_group(pgid, signal.SIGKILL)


def is_stopped(pid: int) -> bool:
    """Whether the process is stopped (SIGSTOP, state ``T``), from /proc (False where
    there is no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # the state follows the command name, which is in parentheses and may hold spaces
    return stat.rpartition(")")[2].split()[:1] in (["T"], ["t"])


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a log (its last 64 KiB at most), or ''."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 65536))
            data = f.read()
    except OSError:
        return ""
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


async def accepts(base_url: str, timeout_s: float) -> bool:
    """Whether a TCP connection to the URL's host and port opens (liveness only)."""
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(parts.hostname, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def cap_log(path: Path, max_bytes: int) -> None:
    """Copy a log past ``max_bytes`` to ``PATH.1`` and empty it in place: the engine
    writes in append mode, so it carries on at the new end."""
    try:
        if path.stat().st_size <= max_bytes:
            return
        shutil.copyfile(path, path.with_name(path.name + ".1"))
        os.truncate(path, 0)
    except OSError:
        return
