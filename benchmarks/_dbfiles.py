"""Temporary SQLite files under benchmarks/.work/ (git-ignored)."""

import itertools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

WORK_DIR = Path(__file__).resolve().parent / ".work"
_SUFFIXES = ("", "-wal", "-shm", "-journal")
_counter = itertools.count()


def _siblings(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in _SUFFIXES]


def size_on_disk(path: Path) -> int:
    """Bytes in the main database file plus its write-ahead log, if any."""
    return sum(p.stat().st_size for p in _siblings(path)[:2] if p.exists())


def remove(path: Path) -> None:
    for p in _siblings(path):
        p.unlink(missing_ok=True)


@contextmanager
def fresh_db(tag: str) -> Iterator[Path]:
    """Yield the path of a database file that does not exist yet; delete it afterwards."""
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    path = WORK_DIR / f"{tag}-{os.getpid()}-{next(_counter)}.db"
    remove(path)
    try:
        yield path
    finally:
        remove(path)
