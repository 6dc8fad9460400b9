"""Built-in tools: a shell command and file operations, confined to the workspace root."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import signal
import stat
from pathlib import Path
from typing import Any

from orca.tools._tool import Tool, ToolEnv


def inside(env: ToolEnv, path: str) -> Path:
    """``path`` (relative to the workspace, or absolute) resolved, symlinks followed.

    Raises:
        PermissionError: it lies outside the workspace root (``..``, an absolute path
            elsewhere, or a symlink pointing out).
    """
    root = env.workspace.resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root):
        raise PermissionError(f"{path!r} is outside the workspace ({root})")
    return target


def _regular(path: Path, flags: int) -> Any:
    """``path`` opened as a binary file, if it is a regular file. Opened non-blocking and
    checked before use: a FIFO or a device would block the tool forever."""
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise PermissionError(f"{path.name} is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb" if flags == os.O_RDONLY else "wb")


def _cut(data: bytes, limit: int) -> tuple[str, bool]:
    return data[:limit].decode(errors="replace"), len(data) > limit


async def shell(command: str, env: ToolEnv, seconds: float | None = None) -> dict[str, Any]:
    """Run a command in the workspace root and return its exit code and output.

    The command is split like a shell would split words, but no shell runs it: pipes,
    ``;``, ``&&``, ``$(...)``, redirections and globs are passed as plain text.

    Args:
        command: the program and its arguments, e.g. ``ls -la src``.
        seconds: how long it may run before it is killed (default: the policy's
            timeout).
    """
    argv = shlex.split(command)
    if not argv:
        raise ValueError("the command is empty")
    policy = env.policy
    variables = {k: os.environ[k] for k in policy.shell_env if k in os.environ}
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=env.workspace,
        env=variables,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group, killed as one
    )
    limit = policy.max_output_bytes
    allowed = seconds or policy.timeout
    try:
        try:
            out, err = await asyncio.wait_for(
                asyncio.gather(_read(proc.stdout, limit), _read(proc.stderr, limit)), allowed
            )
        except TimeoutError:
            raise TimeoutError(f"{argv[0]} was killed after {allowed:g}s") from None
        code = await proc.wait()
    finally:
        # whatever happened, nothing the command started outlives the call (a child it
        # left in the background, or the command itself after a timeout)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode is None:
            await proc.wait()
    stdout, cut_out = _cut(out, limit)
    stderr, cut_err = _cut(err, limit)
    return {"exit_code": code, "stdout": stdout, "stderr": stderr, "truncated": cut_out or cut_err}


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


def read_file(path: str, env: ToolEnv) -> dict[str, Any]:
    """Read a text file of the workspace.

    Args:
        path: the file, relative to the workspace root.
    """
    target = inside(env, path)
    limit = env.policy.max_output_bytes
    with _regular(target, os.O_RDONLY) as f:
        data = f.read(limit + 1)
    text, cut = _cut(data, limit)
    return {"path": path, "content": text, "truncated": cut}


def write_file(path: str, content: str, env: ToolEnv) -> dict[str, Any]:
    """Write a text file in the workspace (its folders are created).

    Args:
        path: the file, relative to the workspace root.
        content: the whole new content.
    """
    target = inside(env, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    inside(env, str(target.parent))  # a symlinked folder may not lead out either
    data = content.encode()
    if len(data) > env.policy.max_output_bytes * 16:
        raise ValueError(f"{len(data)} bytes is more than this tool writes at once")
    with _regular(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC) as f:
        f.write(data)
    return {"path": path, "bytes": len(data)}


def list_files(env: ToolEnv, path: str = ".", pattern: str = "*") -> dict[str, Any]:
    """List the workspace's files under a folder.

    Args:
        path: the folder, relative to the workspace root.
        pattern: a glob such as ``*.py`` or ``**/*.md``.
    """
    folder = inside(env, path)
    root = env.workspace.resolve()
    found: list[str] = []
    cut = False
    for entry in sorted(folder.glob(pattern)):
        if not entry.resolve().is_relative_to(root):
            continue  # a symlink out of the workspace is not listed
        if len(found) >= 1000:
            cut = True
            break
        found.append(str(entry.relative_to(root)) + ("/" if entry.is_dir() else ""))
    return {"path": path, "entries": found, "truncated": cut}


def search_files(pattern: str, env: ToolEnv, path: str = ".", glob: str = "**/*") -> dict[str, Any]:
    """Search the workspace's text files for a regular expression.

    Args:
        pattern: a regular expression (Python syntax).
        path: the folder to search, relative to the workspace root.
        glob: which files, e.g. ``**/*.py``.
    """
    regex = re.compile(pattern)
    folder = inside(env, path)
    root = env.workspace.resolve()
    matches: list[dict[str, Any]] = []
    for entry in sorted(folder.glob(glob)):
        real = entry.resolve()
        if not entry.is_file() or not real.is_relative_to(root):
            continue
        try:
            lines = real.read_text(errors="strict").splitlines()
        except (UnicodeDecodeError, OSError):
            continue  # binary or unreadable
        for number, line in enumerate(lines, 1):
            if regex.search(line):
                matches.append(
                    {"path": str(entry.relative_to(root)), "line": number, "text": line[:300]}
                )
                if len(matches) >= 200:
                    return {"matches": matches, "truncated": True}
    return {"matches": matches, "truncated": False}


def shell_tool() -> Tool:
    """The ``shell`` tool."""
    return Tool.of(shell, name="shell")


def file_tools() -> list[Tool]:
    """``files_read``, ``files_write``, ``files_list`` and ``files_search``."""
    return [
        Tool.of(read_file, name="files_read"),
        Tool.of(write_file, name="files_write"),
        Tool.of(list_files, name="files_list"),
        Tool.of(search_files, name="files_search"),
    ]
