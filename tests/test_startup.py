"""Start-up stays cheap: ``import orca`` and ``orca --version`` import only what they
need (the figures are in benchmarks/: cli_startup_ms, open_store_ms)."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = (
    "orca.engine",
    "orca.llm",
    "orca.tools",
    "orca.store",
    "orca.cli._app",
    "typer",
    "rich",
    "pydantic",
    "sqlite3",
    "openai",
    "anthropic",
    "llama_cpp",
)


def imported_by(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running ``code``."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys\nprint(*sorted(sys.modules))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return set(done.stdout.split())


def heavy(names: set[str]) -> list[str]:
    return sorted(n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY))


def test_orca_version_imports_none_of_the_command_line() -> None:
    names = imported_by(
        "import sys; from orca.cli import main; sys.argv = ['orca', '--version']; main()"
    )
    assert "orca.cli" in names  # the check sees what was imported
    assert heavy(names) == []


def test_import_orca_imports_the_public_names_on_first_use() -> None:
    names = imported_by("import orca")
    assert heavy(names) == []
    used = imported_by("from orca import StateGraph, SqliteCheckpointer; import orca.errors")
    assert {"orca.graph", "orca.store", "orca.errors"} <= used


def test_public_names_resolve_and_unknown_ones_raise() -> None:
    import orca

    for name in orca.__all__:
        assert getattr(orca, name) is not None
    assert set(orca.__all__) <= set(dir(orca))
    with pytest.raises(AttributeError, match="no_such_name"):
        orca.no_such_name  # noqa: B018
