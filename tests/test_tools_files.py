"""The file tools open what they checked: paths are walked from a descriptor of the
workspace root, so a folder swapped for a symlink out while a tool runs never leads a
read or a write outside; symlinks inside the workspace still work. ``files_search``
uses RE2: a catastrophic pattern cannot stall the run, and patterns RE2 cannot compile
get a clear error. Real files, real threads."""

from __future__ import annotations

import asyncio
import ctypes
import os
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orca.tools import Policy, Tool, ToolEnv, ToolResult, file_tools
from orca.tools._files import read_file, write_file

INSIDE = "inside\n"
OUTSIDE = "OUTSIDE: never to be read\n"


def files(name: str) -> Tool:
    return {t.name: t for t in file_tools()}[name]


def run(name: str, env: ToolEnv, **arguments: Any) -> ToolResult:
    return asyncio.run(files(name).run(arguments, env))


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    ws = tmp_path / "ws"
    outside = tmp_path / "outside"
    (ws / "real").mkdir(parents=True)
    outside.mkdir()
    (ws / "real" / "f.txt").write_text(INSIDE)
    (outside / "f.txt").write_text(OUTSIDE)
    return {"ws": ws, "outside": outside}


_libc = ctypes.CDLL(None, use_errno=True)
_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange(a: Path, b: Path) -> None:
    """Swap two names in one step (``renameat2(RENAME_EXCHANGE)``): ``a`` always
    exists, as one or the other."""
    if _libc.renameat2(_AT_FDCWD, bytes(a), _AT_FDCWD, bytes(b), _RENAME_EXCHANGE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), str(a))


@pytest.fixture
def swapping(layout: dict[str, Path]) -> Iterator[Counter[str]]:
    """A thread that, until the test ends, swaps ``ws/d`` between a real folder and a
    symlink to the folder outside, as fast as it can. Yields how often it swapped."""
    ws, outside = layout["ws"], layout["outside"]
    d, link = ws / "d", ws / "link"
    (ws / "real").rename(d)
    link.symlink_to(outside, target_is_directory=True)
    try:
        exchange(d, link)
        exchange(d, link)
    except OSError as exc:
        pytest.skip(f"this file system cannot exchange names in one step: {exc}")
    stop = threading.Event()
    swaps: Counter[str] = Counter()

    def swap() -> None:
        while not stop.is_set():
            exchange(d, link)
            swaps["swaps"] += 1

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # interleave the two threads as finely as possible
    thread = threading.Thread(target=swap, daemon=True)
    thread.start()
    try:
        yield swaps
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old)


def test_a_folder_swapped_for_a_symlink_never_leads_a_read_outside(
    layout: dict[str, Path], swapping: Counter[str]
) -> None:
    env = ToolEnv(layout["ws"], Policy())
    outcomes: Counter[str] = Counter()
    for _ in range(5000):
        try:
            content = read_file("d/f.txt", env)["content"]
        except PermissionError as exc:
            outcomes["refused" if "outside the workspace" in str(exc) else str(exc)] += 1
        else:
            outcomes["outside" if content == OUTSIDE else "inside"] += 1
    assert outcomes["outside"] == 0, outcomes
    assert set(outcomes) <= {"inside", "refused"}, outcomes
    # the race did happen: reads found the folder and found the symlink
    assert swapping["swaps"] > 100, swapping
    assert outcomes["inside"] > 0, outcomes
    assert outcomes["refused"] > 0, outcomes


def test_a_folder_swapped_for_a_symlink_never_leads_a_write_outside(
    layout: dict[str, Path], swapping: Counter[str]
) -> None:
    env = ToolEnv(layout["ws"], Policy())
    outcomes: Counter[str] = Counter()
    for i in range(2000):
        try:
            write_file(f"d/new-{i}.txt", "pwned", env)
            outcomes["written"] += 1
        except PermissionError:
            outcomes["refused"] += 1
    assert sorted(p.name for p in layout["outside"].iterdir()) == ["f.txt"], outcomes
    assert (layout["outside"] / "f.txt").read_text() == OUTSIDE
    assert swapping["swaps"] > 100, swapping
    assert outcomes["written"] > 0, outcomes
    assert outcomes["refused"] > 0, outcomes


# -- symlinks inside the workspace --------------------------------------------------------------


def test_symlinks_that_stay_inside_are_followed(layout: dict[str, Path]) -> None:
    ws = layout["ws"]
    (ws / "alias").symlink_to("real")  # relative
    (ws / "absolute").symlink_to(ws / "real")  # absolute, into the workspace
    (ws / "real" / "up").symlink_to("../real/f.txt")
    env = ToolEnv(ws, Policy())
    for path in ("alias/f.txt", "absolute/f.txt", "real/up", "alias/../real/f.txt"):
        result = run("files_read", env, path=path)
        assert result.ok, (path, result)
        assert result.value["content"] == INSIDE
    listed = run("files_list", env, pattern="**/*")
    assert listed.ok, listed
    assert set(listed.value["entries"]) == {
        "absolute/",
        "alias/",
        "real/",
        "real/f.txt",
        "real/up",
    }


def test_a_symlink_loop_is_refused(layout: dict[str, Path]) -> None:
    ws = layout["ws"]
    (ws / "a").symlink_to("b")
    (ws / "b").symlink_to("a")
    result = run("files_read", ToolEnv(ws, Policy()), path="a")
    assert result.status == "error"
    assert "too many symbolic links" in (result.error or "")


def test_a_symlink_out_through_dotdot_is_refused(layout: dict[str, Path]) -> None:
    ws = layout["ws"]
    (ws / "real" / "sneaky").symlink_to("../../outside/f.txt")
    result = run("files_read", ToolEnv(ws, Policy()), path="real/sneaky")
    assert result.status == "error"
    assert "PermissionError" in (result.error or "")
    assert "outside the workspace" in (result.error or "")
    assert "never to be read" not in result.content()


def test_a_file_where_a_folder_should_be_is_an_error(layout: dict[str, Path]) -> None:
    result = run("files_read", ToolEnv(layout["ws"], Policy()), path="real/f.txt/x")
    assert result.status == "error"
    assert "NotADirectoryError" in (result.error or "")


def test_writing_through_a_file_replaces_its_content(layout: dict[str, Path]) -> None:
    env = ToolEnv(layout["ws"], Policy())
    assert run("files_write", env, path="real/f.txt", content="short").ok
    assert (layout["ws"] / "real" / "f.txt").read_text() == "short"


# -- files_search and RE2 -----------------------------------------------------------------------


def test_a_catastrophic_pattern_finishes_within_the_tool_timeout(tmp_path: Path) -> None:
    """``(a+)+$`` against a long run of ``a`` ending in ``b`` takes exponential time in a
    backtracking engine; RE2's time is linear. A search that stalled would come back as
    ``timeout`` (the tool's timeout), never as ``ok``."""
    (tmp_path / "long.txt").write_text("a" * 50_000 + "b\n" + "a" * 30 + "\n")
    env = ToolEnv(tmp_path, Policy(timeout=10))
    result = run("files_search", env, pattern="(a+)+$")
    assert result.status == "ok", result
    assert result.value["matches"] == [{"path": "long.txt", "line": 2, "text": "a" * 30}]


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"(a)\1", "invalid escape sequence"),
        (r"foo(?=bar)", "invalid perl operator"),
        (r"(?<!x)y", "invalid perl operator"),
        ("[unclosed", "missing ]"),
    ],
)
def test_a_pattern_re2_cannot_compile_is_a_clear_error(
    tmp_path: Path, pattern: str, why: str
) -> None:
    (tmp_path / "a.txt").write_text("foobar\n")
    result = run("files_search", ToolEnv(tmp_path, Policy()), pattern=pattern)
    assert result.status == "error", result
    error = result.error or ""
    assert error.startswith("ValueError: pattern "), error
    assert why in error
    assert "RE2" in error
    assert "Fix:" in error


def test_search_uses_re2_syntax(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def main():\n    return 42\nMAIN = 1\n")
    (tmp_path / "b.md").write_text("# main\n")
    env = ToolEnv(tmp_path, Policy())
    result = run("files_search", env, pattern=r"(?i)^\s*(def\s+)?main\b", glob="*.py")
    assert result.ok, result
    assert [(m["path"], m["line"]) for m in result.value["matches"]] == [
        ("a.py", 1),
        ("a.py", 3),
    ]


def test_list_globs_match_by_path_segment(tmp_path: Path) -> None:
    for name in ("a.txt", "b.md", "sub/c.txt", "sub/deep/d.txt", ".hidden.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    env = ToolEnv(tmp_path, Policy())

    def listed(pattern: str, path: str = ".") -> list[str]:
        result = run("files_list", env, pattern=pattern, path=path)
        assert result.ok, result
        return list(result.value["entries"])

    assert listed("*.txt") == [".hidden.txt", "a.txt"]
    assert listed("**/*.txt") == [".hidden.txt", "a.txt", "sub/c.txt", "sub/deep/d.txt"]
    assert listed("**/**/**/*.txt") == listed("**/*.txt")
    assert listed("sub/*") == ["sub/c.txt", "sub/deep/"]
    assert listed("*", path="sub") == ["sub/c.txt", "sub/deep/"]
    refused = run("files_list", env, pattern="../*")
    assert refused.status == "error"
    assert "may not be absolute or hold '..'" in (refused.error or "")
