"""The process tools: ``shell`` (one command) and ``python`` (a program), run in the
bubblewrap sandbox (see ``_sandbox``), in the workspace root."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
from pathlib import Path
from typing import Any

from orca.errors import SandboxUnavailableError
from orca.tools._sandbox import (
    INSTALL_FIX,
    find_program,
    python_executable,
    sandbox_status,
    sandboxed,
    search_path,
)
from orca.tools._tool import Tool, ToolEnv


def _cut(data: bytes, limit: int) -> tuple[str, bool]:
    return data[:limit].decode(errors="replace"), len(data) > limit


async def shell(command: str, env: ToolEnv, seconds: float | None = None) -> dict[str, Any]:
    """Run a command in the workspace root and return its exit code and output.

    The command is split like a shell would split words, but no shell runs it: pipes,
    ``;``, ``&&``, ``$(...)``, redirections and globs are passed as plain text. It runs
    in a sandbox: the workspace is the only folder it may write, and it has no network
    unless the policy grants it.

    Args:
        command: the program and its arguments, e.g. ``ls -la src``.
        seconds: how long it may run before it is killed (default: the policy's
            timeout).
    """
    argv = shlex.split(command)
    if not argv:
        raise ValueError("the command is empty")
    return await run_process(argv, env, seconds, tool=env.tool or "shell")


async def python(code: str, env: ToolEnv, seconds: float | None = None) -> dict[str, Any]:
    """Run a Python program in the workspace root and return its exit code and output.

    It runs in a sandbox, on the Python Orca runs on (its standard library, not Orca's
    packages): the workspace is the only folder it may write, and it has no network
    unless the policy grants it. Print what you want to see.

    Args:
        code: the program, e.g. ``print(sum(range(10)))``.
        seconds: how long it may run before it is killed (default: the policy's
            timeout).
    """
    argv = [python_executable(), "-"]  # the program comes on standard input
    return await run_process(argv, env, seconds, stdin=code.encode(), tool=env.tool or "python")


def _variables(env: ToolEnv, workspace: Path, sandbox: bool) -> dict[str, str]:
    """The environment of the command: only the policy's ``shell_env`` names. In the
    sandbox ``PATH`` and ``HOME`` are the sandbox's (the host's would name folders it
    cannot see)."""
    chosen: dict[str, str] = {}
    for name in env.policy.shell_env:
        if sandbox and name == "PATH":
            chosen[name] = search_path()
        elif sandbox and name == "HOME":
            chosen[name] = str(workspace)
        elif name in os.environ:
            chosen[name] = os.environ[name]
    return chosen


def _command(
    argv: list[str], env: ToolEnv, tool: str
) -> tuple[list[str], dict[str, str], Path, bool]:
    """What to start, with which environment, where, and whether it is sandboxed."""
    workspace = Path(env.workspace).resolve()
    status = sandbox_status()
    if status.bwrap is not None and status.available:
        if find_program(argv[0], workspace) is None:
            raise FileNotFoundError(f"{argv[0]}: no such program in the sandbox")
        network = env.policy.allows_network(tool)
        inner = _variables(env, workspace, sandbox=True)
        command = sandboxed(status.bwrap, argv, workspace, inner, network=network)
        # bwrap's own environment is visible in the sandbox (/proc/1/environ): it gets
        # nothing but where to find programs
        return command, {"PATH": search_path()}, workspace, True
    if env.policy.allow_unsandboxed_shell:
        return argv, _variables(env, workspace, sandbox=False), workspace, False
    raise SandboxUnavailableError(tool, status.problem or "", INSTALL_FIX)


async def run_process(
    argv: list[str],
    env: ToolEnv,
    seconds: float | None = None,
    *,
    stdin: bytes | None = None,
    tool: str = "shell",
) -> dict[str, Any]:
    """Run ``argv`` in the workspace, sandboxed, and collect its exit code and output.
    ``tool`` names the tool it runs for (the policy grants the network by tool).

    Raises:
        SandboxUnavailableError: there is no working sandbox here and the policy does
            not allow running unsandboxed.
        FileNotFoundError: the program does not exist (in the sandbox).
        TimeoutError: it ran past ``seconds`` (or the policy's timeout) and was killed,
            with everything it started.
    """
    policy = env.policy
    program = Path(argv[0]).name
    command, variables, workspace, sandbox = await asyncio.to_thread(_command, argv, env, tool)
    proc = await asyncio.create_subprocess_exec(
        *command,
        cwd=workspace,
        env=variables,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, killed as one
    )
    limit = policy.max_output_bytes
    allowed = seconds or policy.timeout
    try:
        try:
            out, err, _ = await asyncio.wait_for(
                asyncio.gather(
                    _read(proc.stdout, limit), _read(proc.stderr, limit), _feed(proc, stdin)
                ),
                allowed,
            )
        except TimeoutError:
            raise TimeoutError(f"{program} was killed after {allowed:g}s") from None
        code = await proc.wait()
    finally:
        # whatever happened, nothing the command started outlives the call: the
        # sandbox (its PID namespace) or, unsandboxed, the command's process group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode is None:
            await proc.wait()
    stdout, cut_out = _cut(out, limit)
    stderr, cut_err = _cut(err, limit)
    if sandbox and code == 1 and stderr.startswith("bwrap: "):
        raise RuntimeError(f"the sandbox did not start: {stderr.strip()}")
    return {
        "exit_code": code,
        "stdout": stdout,
        "stderr": stderr,
        "truncated": cut_out or cut_err,
        "sandboxed": sandbox,
    }


async def _feed(proc: asyncio.subprocess.Process, data: bytes | None) -> None:
    """Write ``data`` to the command's standard input, then close it."""
    if data is None or proc.stdin is None:
        return
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        proc.stdin.write(data)
        await proc.stdin.drain()
    proc.stdin.close()


async def _read(stream: asyncio.StreamReader | None, limit: int) -> bytes:
    """Everything up to ``limit`` + 1 bytes; the rest is read and dropped, so a chatty
    command neither blocks on a full pipe nor fills memory."""
    if stream is None:
        return b""
    kept = bytearray()
    while chunk := await stream.read(65536):
        if len(kept) <= limit:
            kept += chunk[: limit + 1 - len(kept)]
    return bytes(kept)


def shell_tool() -> Tool:
    """The ``shell`` tool."""
    return Tool.of(shell, name="shell")


def python_tool() -> Tool:
    """The ``python`` tool."""
    return Tool.of(python, name="python")
