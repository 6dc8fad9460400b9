"""Opening files inside the workspace without a gap between the check and the open.

A path is walked one component at a time from a descriptor of the workspace root: each
folder is opened relative to the folder before it with ``O_NOFOLLOW | O_DIRECTORY``, and
the file relative to its folder with ``O_NOFOLLOW``. A symlink is never followed by the
kernel: its target is read and walked the same way, from the folder holding it (or from
the root, for an absolute target), and ``..`` goes back to the folder descriptor held
before, never above the root. Whatever another process swaps meanwhile (a folder for a
symlink out, say), what is opened is what was checked: inside the workspace.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections import deque
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_LINKS = 40  # as the kernel: more symlinks than this in one path is a loop
# a descriptor that only names a file (Linux); elsewhere a non-blocking read-only open
PATH_ONLY = getattr(os, "O_PATH", os.O_RDONLY | os.O_NONBLOCK)


def _outside(path: str, root: Path) -> PermissionError:
    return PermissionError(f"{path!r} is outside the workspace ({root})")


def _parts(path: str, root: Path, shown: str) -> list[str]:
    """The components of ``path`` relative to ``root`` (an absolute path must lie under
    ``root`` as written; ``..`` is kept for the walk)."""
    pure = PurePosixPath(path)
    if pure.is_absolute():
        if not pure.is_relative_to(root):
            raise _outside(shown, root)
        pure = pure.relative_to(root)
    return [p for p in pure.parts if p not in ("", ".")]


class Opened:
    """A descriptor opened inside the workspace and the path it was found at, relative
    to the root, symlinks resolved (``parts``). Close it (or use ``with``)."""

    __slots__ = ("fd", "parts")

    def __init__(self, fd: int, parts: tuple[str, ...]) -> None:
        self.fd = fd
        self.parts = parts

    @property
    def relative(self) -> str:
        return "/".join(self.parts) or "."

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Opened:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_inside(
    root: Path, path: str, flags: int, *, make_folders: bool = False, mode: int = 0o644
) -> Opened:
    """Open ``path`` (relative to the workspace ``root``, or absolute under it) with
    ``flags``, walking from a descriptor of ``root``.

    Args:
        root: the workspace root, resolved.
        path: the path asked for.
        flags: ``os.open`` flags for the last component (``O_NOFOLLOW`` is added).
        make_folders: create missing folders on the way (for a write).

    Raises:
        PermissionError: the path (or a symlink on it) leads out of the workspace, or
            holds too many symlinks.
        FileNotFoundError, NotADirectoryError, ...: as ``os.open`` would.
    """
    pending = deque(_parts(path, root, path))
    fds = [os.open(root, _DIR)]
    names: list[str] = []
    links = 0
    try:
        while True:
            if not pending:
                pending.append(".")  # the folder reached is what was asked for
            name = pending.popleft()
            if name == "..":
                if not names:
                    raise _outside(path, root)
                os.close(fds.pop())
                names.pop()
                continue
            last = not pending
            try:
                if last:
                    fd = os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=fds[-1])
                    if not stat.S_ISLNK(os.fstat(fd).st_mode):
                        return Opened(fd, tuple(names) if name == "." else (*names, name))
                    os.close(fd)  # O_PATH opens the symlink itself: follow it as below
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), name)
                fds.append(os.open(name, _DIR, dir_fd=fds[-1]))
                names.append(name)
                continue
            except FileNotFoundError:
                if last or not make_folders:
                    raise
                with contextlib.suppress(FileExistsError):  # made meanwhile: walked again
                    os.mkdir(name, 0o777, dir_fd=fds[-1])
                pending.appendleft(name)
                continue
            except OSError as exc:
                # O_NOFOLLOW met a symlink: ELOOP, or ENOTDIR with O_DIRECTORY
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                try:
                    target = os.readlink(name, dir_fd=fds[-1])
                except OSError:
                    if not _swapped(name, fds[-1], exc) or links >= _LINKS:
                        raise exc from None  # a file where a folder should be
                    links += 1
                    pending.appendleft(name)  # no longer a symlink: open it again
                    continue
            links += 1
            if links > _LINKS:
                raise PermissionError(f"{path!r}: too many symbolic links")
            if os.path.isabs(target):
                while names:  # an absolute target is walked from the root
                    os.close(fds.pop())
                    names.pop()
            try:
                more = _parts(target, root, path)
            except PermissionError:
                raise _outside(path, root) from None
            pending.extendleft(reversed(more))
    finally:
        for fd in fds:
            os.close(fd)


def _swapped(name: str, dir_fd: int, exc: OSError) -> bool:
    """Whether ``name``, which failed as a symlink would but could not be read as one,
    was replaced meanwhile by another process: then it is opened again."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name) from None
    # ELOOP comes only from a symlink, ENOTDIR from a symlink or a file: a folder, or a
    # symlink again (swapped twice), is worth another try
    return exc.errno == errno.ELOOP or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)


def open_regular(root: Path, path: str, flags: int, *, make_folders: bool = False) -> Opened:
    """``open_inside`` for a regular file: opened non-blocking, then checked, so that a
    FIFO or a device never blocks the tool.

    Raises:
        PermissionError: not a regular file, or outside the workspace.
    """
    opened = open_inside(root, path, flags | os.O_NONBLOCK, make_folders=make_folders)
    if not stat.S_ISREG(os.fstat(opened.fd).st_mode):
        opened.close()
        raise PermissionError(f"{path!r} is not a regular file")
    os.set_blocking(opened.fd, True)
    return opened


def walk(
    folder: Opened, depth: int | None, budget: int = 200_000
) -> Iterator[tuple[tuple[str, ...], str]]:
    """The entries under ``folder``, depth first in name order, as (path relative to
    the folder, kind): ``dir``, ``file``, ``link`` or ``other``. Folders are entered by
    descriptor with ``O_NOFOLLOW``; symlinks are reported, never entered. ``depth``:
    how many levels (None: all); ``budget``: the most entries looked at."""
    seen = 0

    def visit(fd: int, prefix: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
        nonlocal seen
        with os.scandir(fd) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            seen += 1
            if seen > budget:
                return
            rel = (*prefix, entry.name)
            try:
                mode = entry.stat(follow_symlinks=False).st_mode
            except OSError:
                continue  # gone meanwhile
            if stat.S_ISLNK(mode):
                yield rel, "link"
            elif stat.S_ISREG(mode):
                yield rel, "file"
            elif stat.S_ISDIR(mode):
                yield rel, "dir"
                if depth is None or len(rel) < depth:
                    try:
                        sub = os.open(entry.name, _DIR, dir_fd=fd)
                    except OSError:
                        continue  # swapped for something else meanwhile: not entered
                    try:
                        yield from visit(sub, rel)
                    finally:
                        os.close(sub)
            else:
                yield rel, "other"

    yield from visit(folder.fd, ())
