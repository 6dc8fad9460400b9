"""The file tools: read, write, list and search files, confined to the workspace root.

Every path is opened through ``_workspace.open_inside`` (walked from a descriptor of the
root, never following a symlink blindly), so the check and the open are one operation.
``files_search`` uses RE2, whose matching time is linear in the text: no pattern can
stall a run.
"""

from __future__ import annotations

import os
import stat
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath
from typing import Any

from orca.tools._tool import Tool, ToolEnv
from orca.tools._workspace import PATH_ONLY, Opened, open_inside, open_regular, walk

MAX_LISTED = 1000
MAX_MATCHES = 200


def _root(env: ToolEnv) -> Path:
    return Path(env.workspace).resolve()


def _cut(data: bytes, limit: int) -> tuple[str, bool]:
    return data[:limit].decode(errors="replace"), len(data) > limit


def read_file(path: str, env: ToolEnv) -> dict[str, Any]:
    """Read a text file of the workspace.

    Args:
        path: the file, relative to the workspace root.
    """
    limit = env.policy.max_output_bytes
    with (
        open_regular(_root(env), path, os.O_RDONLY) as opened,
        os.fdopen(os.dup(opened.fd), "rb") as f,
    ):
        data = f.read(limit + 1)
    text, cut = _cut(data, limit)
    return {"path": path, "content": text, "truncated": cut}


def write_file(path: str, content: str, env: ToolEnv) -> dict[str, Any]:
    """Write a text file in the workspace (its folders are created).

    Args:
        path: the file, relative to the workspace root.
        content: the whole new content.
    """
    data = content.encode()
    if len(data) > env.policy.max_output_bytes * 16:
        raise ValueError(f"{len(data)} bytes is more than this tool writes at once")
    # no O_TRUNC: the file is emptied once it is known to be a regular file
    flags = os.O_WRONLY | os.O_CREAT
    with open_regular(_root(env), path, flags, make_folders=True) as opened:
        os.ftruncate(opened.fd, 0)
        with os.fdopen(os.dup(opened.fd), "wb") as f:
            f.write(data)
    return {"path": path, "bytes": len(data)}


def _segments(pattern: str) -> list[str]:
    pure = PurePosixPath(pattern)
    if pure.is_absolute() or ".." in pure.parts:
        raise ValueError(
            f"pattern {pattern!r} may not be absolute or hold '..': give the folder as path"
        )
    segments: list[str] = []
    for part in pure.parts:
        if part != "." and not (part == "**" and segments[-1:] == ["**"]):
            segments.append(part)  # one ** stands for any run of them
    return segments or ["*"]


def _matches(parts: tuple[str, ...], segments: list[str]) -> bool:
    """Whether a path (as parts) matches a glob's segments; ``**`` is any number of
    folders, ``*`` and ``?`` stay inside one name."""
    if not segments:
        return not parts
    head, rest = segments[0], segments[1:]
    if head == "**":
        return _matches(parts, rest) or (bool(parts) and _matches(parts[1:], segments))
    return bool(parts) and fnmatchcase(parts[0], head) and _matches(parts[1:], rest)


def _entries(
    env: ToolEnv, path: str, pattern: str
) -> tuple[Opened, list[tuple[tuple[str, ...], str]]]:
    """The folder ``path`` and its entries matching ``pattern``, in path order.
    Symlinks are kept only where they lead to something inside the workspace; their
    kind is then what they lead to."""
    segments = _segments(pattern)
    depth = None if "**" in segments else len(segments)
    folder = open_inside(_root(env), path, os.O_RDONLY | os.O_DIRECTORY)
    found: list[tuple[tuple[str, ...], str]] = []
    try:
        for rel, kind in walk(folder, depth):
            if not _matches(rel, segments):
                continue
            led = _followed(env, (*folder.parts, *rel)) if kind == "link" else kind
            if led is not None:
                found.append((rel, led))
    except BaseException:
        folder.close()
        raise
    return folder, found


def _followed(env: ToolEnv, parts: tuple[str, ...]) -> str | None:
    """What the symlink at ``parts`` leads to (``dir``, ``file`` or ``other``), or None
    when it leads out of the workspace or nowhere."""
    try:
        with open_inside(_root(env), "/".join(parts), PATH_ONLY) as opened:
            mode = os.fstat(opened.fd).st_mode
    except OSError:
        return None
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def list_files(env: ToolEnv, path: str = ".", pattern: str = "*") -> dict[str, Any]:
    """List the workspace's files under a folder.

    Args:
        path: the folder, relative to the workspace root.
        pattern: a glob such as ``*.py`` or ``**/*.md``.
    """
    folder, found = _entries(env, path, pattern)
    with folder:
        base = folder.parts
    shown = ["/".join((*base, *rel)) + ("/" if kind == "dir" else "") for rel, kind in found]
    return {"path": path, "entries": shown[:MAX_LISTED], "truncated": len(shown) > MAX_LISTED}


def compile_pattern(pattern: str) -> Any:
    """``pattern`` compiled by RE2.

    Raises:
        ValueError: RE2 cannot compile it (a syntax error, or backreferences and
            lookaround, which RE2 does not have); the message says which.
    """
    import re2

    options = re2.Options()
    options.log_errors = False  # the error is raised, not printed to stderr
    try:
        return re2.compile(pattern, options)
    except re2.error as exc:
        said = exc.args[0] if exc.args else exc
        why = said.decode(errors="replace") if isinstance(said, bytes) else str(said)
        raise ValueError(
            f"pattern {pattern!r} is not valid RE2 syntax ({why}). Fix: files_search uses "
            "RE2, which has no backreferences (\\1) and no lookaround ((?=...), (?<=...),"
            " (?!...)); write the pattern without them"
        ) from None


def search_files(pattern: str, env: ToolEnv, path: str = ".", glob: str = "**/*") -> dict[str, Any]:
    """Search the workspace's text files for a regular expression.

    Args:
        pattern: a regular expression (RE2 syntax: like Python's, without
            backreferences or lookaround).
        path: the folder to search, relative to the workspace root.
        glob: which files, e.g. ``**/*.py``.
    """
    regex = compile_pattern(pattern)
    folder, found = _entries(env, path, glob)
    matches: list[dict[str, Any]] = []
    with folder:
        for rel, kind in found:
            if kind != "file":
                continue
            shown = "/".join((*folder.parts, *rel))
            try:
                with (
                    open_regular(_root(env), shown, os.O_RDONLY) as opened,
                    os.fdopen(os.dup(opened.fd), "rb") as f,
                ):
                    if os.fstat(f.fileno()).st_size > MAX_SEARCHED_BYTES:
                        continue  # a dump or a log of gigabytes: not read whole into memory
                    lines = f.read().decode("utf-8", errors="strict").splitlines()
            except (UnicodeDecodeError, OSError):
                continue  # binary, unreadable, or gone meanwhile
            for number, line in enumerate(lines, 1):
                if regex.search(line):
                    matches.append({"path": shown, "line": number, "text": line[:300]})
                    if len(matches) >= MAX_MATCHES:
                        return {"matches": matches, "truncated": True}
    return {"matches": matches, "truncated": False}


MAX_SEARCHED_BYTES = 16 << 20
"""``files_search`` skips files larger than this (it reads each file it searches whole)."""


def file_tools() -> list[Tool]:
    """``files_read``, ``files_write``, ``files_list`` and ``files_search``."""
    return [
        Tool.of(read_file, name="files_read"),
        Tool.of(write_file, name="files_write"),
        Tool.of(list_files, name="files_list"),
        Tool.of(search_files, name="files_search"),
    ]
