"""The bubblewrap sandbox the shell and python tools run in.

A command runs under ``bwrap`` with its own PID, mount, network, IPC, UTS and (where the
kernel allows) user namespaces. It sees the system directories read-only, the workspace
read-write, a fresh ``/proc``, a private ``/tmp`` and nothing else of the host: no home,
no other process, no network unless the policy grants it, and only the environment
variables the policy names. It dies with its caller, and everything it started dies
with it (the PID namespace ends when its first process does).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

INSTALL_FIX = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; Fedora: dnf install "
    "bubblewrap), or set [tools] allow_unsandboxed_shell = true to run these tools on the "
    "host without isolation"
)

# The directories of the system, read-only in the sandbox: programs, libraries and the
# Python that runs Orca. On merged-/usr systems /bin, /lib... are symlinks into /usr.
_SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")

# Of /etc only what programs need to start and name users and times; never shadow,
# credentials or host configuration.
_ETC = (
    "alternatives",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "passwd",
    "group",
    "nsswitch.conf",
    "localtime",
    "timezone",
    "locale.alias",
    "mime.types",
    "protocols",
    "services",
    "hosts",
    "os-release",
    "debian_version",
)
# What name resolution and TLS need, for a tool granted the network.
_ETC_NETWORK = ("resolv.conf", "host.conf", "gai.conf", "ssl", "ca-certificates", "pki")

_PATH = ("/usr/local/bin", "/usr/bin", "/bin", "/usr/local/sbin", "/usr/sbin", "/sbin")


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    """Whether shell and python tools can run sandboxed here, and if not, why.

    Attributes:
        available: ``bwrap`` is installed and starts a sandbox here.
        bwrap: the ``bwrap`` program found on ``PATH`` (None: not installed).
        version: what ``bwrap --version`` says.
        problem: why the sandbox is not available (None when it is).
    """

    available: bool
    bwrap: str | None = None
    version: str | None = None
    problem: str | None = None


def sandbox_status() -> SandboxStatus:
    """Whether the sandbox works on this machine (``bwrap`` on ``PATH``, and a trivial
    sandbox starts). The probe runs once per ``bwrap`` program and process."""
    found = shutil.which("bwrap")
    if found is None:
        return SandboxStatus(False, problem="bubblewrap (bwrap) is not installed")
    return _probe(os.path.realpath(found))


@functools.lru_cache(maxsize=8)
def _probe(bwrap: str) -> SandboxStatus:
    try:
        version = subprocess.run(
            [bwrap, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout.strip()
        started = subprocess.run(
            [*_arguments(bwrap, None, network=False), "--", "true"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
            env={"PATH": ":".join(_PATH)},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return SandboxStatus(False, bwrap, problem=f"{bwrap} does not run: {exc}")
    if started.returncode != 0:
        why = started.stderr.strip() or f"exit code {started.returncode}"
        return SandboxStatus(False, bwrap, version, f"{bwrap} cannot start a sandbox here: {why}")
    return SandboxStatus(True, bwrap, version or None)


def python_executable() -> str:
    """The Python interpreter the ``python`` tool runs: the one Orca runs on, without its
    virtual environment (its installation is visible in the sandbox, read-only)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidate = Path(sys.base_prefix) / "bin" / version
    if candidate.is_file():
        return str(candidate)
    return os.path.realpath(sys.executable)


def _python_bin() -> Path:
    return Path(python_executable()).parent


def search_path() -> str:
    """``PATH`` inside the sandbox: the Python Orca runs on, then the system's."""
    extra = str(_python_bin())
    return ":".join(dict.fromkeys((extra, *_PATH)))


def _bound(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _arguments(bwrap: str, workspace: Path | None, *, network: bool) -> list[str]:
    args = [bwrap, "--unshare-all"]
    if network:
        args.append("--share-net")
    # --cap-drop ALL: run as root, bwrap keeps every capability, and a root with
    # CAP_SYS_ADMIN could remount the read-only system folders writable;
    # --new-session: no TIOCSTI into a terminal; --die-with-parent: the sandbox dies
    # with the process that started it
    args += ["--cap-drop", "ALL", "--die-with-parent", "--new-session"]
    args += ["--hostname", "orca-sandbox"]
    for top in _SYSTEM:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in _ETC + (_ETC_NETWORK if network else ()):
        path = f"/etc/{name}"
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    prefix = os.path.realpath(sys.base_prefix)
    if not _bound(prefix, _SYSTEM):  # a Python installed elsewhere (pyenv, a home)
        args += ["--ro-bind", prefix, prefix]
    # /proc read-only: as root (mapped to the host's root) a process could write the
    # host's global sysctls in /proc/sys even without capabilities
    args += ["--proc", "/proc", "--remount-ro", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    if workspace is not None:
        args += ["--bind", str(workspace), str(workspace), "--chdir", str(workspace)]
    # the root the sandbox was built on becomes read-only; /tmp and the workspace stay
    # writable (they are mounts of their own)
    args += ["--remount-ro", "/"]
    return args


def sandboxed(
    bwrap: str,
    argv: Sequence[str],
    workspace: Path,
    variables: Mapping[str, str],
    *,
    network: bool,
) -> list[str]:
    """The command line that runs ``argv`` in the sandbox, in ``workspace``, with exactly
    ``variables`` as its environment (bwrap itself must be started with an empty one:
    the sandbox's first process shows bwrap's environment in ``/proc/1/environ``)."""
    args = _arguments(bwrap, workspace, network=network)
    args.append("--clearenv")
    for name, value in variables.items():
        args += ["--setenv", name, value]
    return [*args, "--", *argv]


def find_program(program: str, workspace: Path) -> str | None:
    """Where ``program`` is inside the sandbox (its directories are the host's, at the
    same paths), or None."""
    if "/" in program:
        path = Path(program) if os.path.isabs(program) else workspace / program
        return str(path) if path.is_file() and os.access(path, os.X_OK) else None
    return shutil.which(program, path=search_path())
