"""Where storage ends: ``orca.cost`` is money logic that imports no storage, and the
store imports none of the packages built on it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "orca"


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
    return found


def under(package: str, modules: set[str]) -> set[str]:
    return {m for m in modules if m == package or m.startswith(package + ".")}


@pytest.mark.parametrize("path", sorted((SRC / "cost").glob("*.py")), ids=lambda p: p.name)
def test_cost_imports_no_storage(path: Path) -> None:
    modules = imported(path)
    assert under("orca.store", modules) == set()
    assert under("sqlite3", modules) == set()


@pytest.mark.parametrize(
    "path", sorted((SRC / "store").rglob("*.py")), ids=lambda p: str(p.relative_to(SRC))
)
def test_the_store_imports_nothing_built_on_it(path: Path) -> None:
    modules = imported(path)
    for package in ("orca.llm", "orca.engine", "orca.tools", "orca.cli"):
        assert under(package, modules) == set(), f"{path.name} imports {package}"


@pytest.mark.parametrize(
    "path",
    [
        SRC / "config.py",
        SRC / "llm" / "_profiles.py",
        *sorted((SRC / "cost").glob("*.py")),
        *(SRC / "cli" / f"_{name}.py" for name in ("budget", "pricing", "profile", "setup")),
    ],
    ids=lambda p: str(p.relative_to(SRC)),
)
def test_the_user_databases_callers_hold_no_sql(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert ".execute(" not in text
    assert "sqlite3" not in imported(path)
