"""A private PostgreSQL cluster for tests and benchmarks: ``initdb`` into a temporary
folder, ``pg_ctl start`` on a free loopback port, and everything removed at the end.

No system service is used or left behind. As root (CI runs as root) the server runs as
the ``postgres`` user that Debian's package creates, because PostgreSQL refuses to run as
root; the folder is removed by root afterwards. A missing PostgreSQL raises
``PostgresMissing`` with the fix: the caller decides whether that skips (a developer's
machine) or fails (``CI=true``).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import psycopg

FAST = {"fsync": "off", "full_page_writes": "off"}
"""Settings for tests: a crash of the *machine* may lose the cluster, which tests throw
away anyway; a crash of the server (``pg_ctl stop -m immediate``, kill -9) loses
nothing committed, since commits still reach the WAL (``synchronous_commit`` stays on).
Benchmarks leave them out (the peer and Orca then pay for real commits)."""


class PostgresMissing(RuntimeError):
    """PostgreSQL's server programs are not installed."""


def _bindir() -> Path:
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version_key)
    if versions:
        return Path(versions[-1]).parent
    raise PostgresMissing(
        "PostgreSQL's server programs (initdb, pg_ctl) are not installed. "
        "Fix: make system-deps (Debian: apt-get install postgresql)"
    )


def _version_key(path: str) -> int:
    try:
        return int(Path(path).parent.parent.name)
    except ValueError:
        return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    """A running private cluster; ``url(db)`` is a connection URL for a database of it."""

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        self.bindir = _bindir()
        self.settings = {**(settings or {})}
        self.root = Path(tempfile.mkdtemp(prefix="orca-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.user = "orca"
        self._as: list[str] = []
        if os.geteuid() == 0:
            try:
                owner = pwd.getpwnam("postgres")
            except KeyError as exc:
                raise PostgresMissing(
                    "running as root, and there is no 'postgres' user to run the server as. "
                    "Fix: apt-get install postgresql (it creates the user)"
                ) from exc
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as = ["runuser", "-u", "postgres", "--"]
        self.root.chmod(0o700)

    def _run(self, *args: str) -> None:
        done = subprocess.run(
            [*self._as, *args], capture_output=True, text=True, cwd=self.root, check=False
        )
        if done.returncode != 0:
            raise RuntimeError(f"{Path(args[0]).name} failed:\n{done.stdout}\n{done.stderr}")

    def start(self) -> None:
        if not self.data.exists():
            self._run(
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                self.user,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
        options = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": str(self.root),
            "max_connections": "400",
            **self.settings,
        }
        opts = " ".join(f"-c {k}={v}" for k, v in options.items())
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            opts,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` is a crash: no shutdown checkpoint)."""
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its URL."""
        name = name or "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def cluster(settings: Mapping[str, str] | None = None) -> Iterator[Cluster]:
    """A started cluster, stopped and removed on exit."""
    running = Cluster(settings)
    try:
        running.start()
        yield running
    finally:
        running.close()


def wait_ready(url: str, timeout_s: float = 30.0) -> None:
    """Wait until ``url`` accepts a connection (after a restart)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(url, connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
