"""The layers of docs/architecture.md hold: the import graph of ``src/orca`` has no cycle,
and each package imports only the packages below it.

Every import counts: at module level, inside functions (lazy) and under
``TYPE_CHECKING``; importing ``a.b.c`` also runs ``a/b/__init__`` (unless it is the
importer's own package). The one documented
exception: ``StateGraph.compile()`` imports the engine that runs what it compiled.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ALLOWED_CYCLE_EDGES = {("orca.graph._builder", "orca.engine")}


def _modules() -> dict[str, Path]:
    found = {}
    for path in (SRC / "orca").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the Orca modules (and packages) importing it runs."""
    edges: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{a.name}" for a in node.names] + [base]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                # the target and the packages above it run, except the importer's own
                # packages (already running when it runs) and the root package (the
                # facade: importing any module of Orca runs it)
                while target and target != "orca":
                    if target != name and not name.startswith(target + "."):
                        edges[name].add(target)
                    target = target.rpartition(".")[0]
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if (v, w) in ALLOWED_CYCLE_EDGES:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _package(module: str) -> str:
    return ".".join(module.split(".")[:2])


def test_the_import_graph_has_no_cycle() -> None:
    cycles = _cycles(_imports(_modules()))
    assert cycles == [], f"import cycles: {cycles}"


def test_the_cycle_check_finds_a_cycle() -> None:
    edges = {"orca.a": {"orca.b"}, "orca.b": {"orca.c"}, "orca.c": {"orca.a"}, "orca.d": set()}
    assert _cycles(edges) == [["orca.a", "orca.b", "orca.c"]]


def test_the_allowed_compile_import_is_still_needed() -> None:
    # when compile() stops importing the engine, drop the exception
    edges = _imports(_modules())
    for source, target in ALLOWED_CYCLE_EDGES:
        assert target in edges[source]


# package -> the Orca packages it may import (leaf modules such as orca.errors, orca._serde,
# orca._sync, orca._redact and orca._patience are open to all)
LAYERS = {
    "orca.context": {"orca.events"},
    "orca.events": set(),
    "orca.graph": {"orca.engine", "orca.checkpoint"},  # compile(checkpointer=) and its engine
    "orca.checkpoint": {"orca.events"},
    "orca.engine": {"orca.context", "orca.graph", "orca.checkpoint", "orca.events", "orca.observe"},
    "orca.observe": {"orca.events", "orca._version"},
    "orca.client": {"orca.events"},  # usable without the engine
    "orca.pools": {"orca.store", "orca.llm", "orca.config"},  # never the server or the CLI
}
OPEN = {"orca.errors", "orca._serde", "orca._sync", "orca._redact", "orca._patience"}


def test_each_package_imports_only_the_layers_below_it() -> None:
    edges = _imports(_modules())
    wrong = []
    for module, targets in sorted(edges.items()):
        allowed = LAYERS.get(_package(module))
        if allowed is None:
            continue
        for target in sorted(targets):
            package = _package(target)
            if package in OPEN or package == _package(module) or package in allowed:
                continue
            wrong.append(f"{module} -> {target}")
    assert wrong == []


def test_nothing_of_the_core_imports_the_adapters_on_top() -> None:
    edges = _imports(_modules())
    on_top = ("orca.compat", "orca.func")
    wrong = [
        f"{module} -> {target}"
        for module, targets in sorted(edges.items())
        if not module.startswith(on_top)
        for target in sorted(targets)
        if target.startswith(on_top)
    ]
    assert wrong == []


def test_leaf_modules_import_nothing_of_orca_but_errors() -> None:
    edges = _imports(_modules())
    leaves = ("orca.errors", "orca._serde", "orca._sync", "orca._redact", "orca._patience")
    for leaf in (*leaves, "orca.events"):
        assert edges.get(leaf, set()) <= {"orca.errors", "orca._serde"}, leaf


@pytest.mark.parametrize("driver", ["sqlite3", "psycopg", "psycopg_pool"])
def test_database_drivers_are_imported_only_under_the_store(driver: str) -> None:
    outside = []
    for name, path in sorted(_modules().items()):
        if name == "orca.store" or name.startswith("orca.store."):
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            if any(n == driver or n.startswith(driver + ".") for n in names):
                outside.append(name)
    assert outside == []


def _type_side(node: ast.AST) -> bool:
    """``x.type``, ``x["type"]`` or ``x.get("type")``: where an event's type is read."""
    if isinstance(node, ast.Attribute):
        return node.attr == "type"
    if isinstance(node, ast.Subscript):
        return isinstance(node.slice, ast.Constant) and node.slice.value == "type"
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        first = node.args[0] if node.args else None
        return node.func.attr == "get" and isinstance(first, ast.Constant) and first.value == "type"
    return False


def test_event_types_are_named_by_the_event_models_constants() -> None:
    from orca.events import EVENT_TYPES

    kinds = set(EVENT_TYPES)
    typed = []
    for name, path in sorted(_modules().items()):
        if name == "orca.events":
            continue
        tree = ast.parse(path.read_text(), str(path))
        told = set()  # docstrings and f-string pieces are prose
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                told |= {id(part) for part in ast.walk(node)}
            body = getattr(node, "body", None)
            if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
                told.add(id(body[0].value))
        for node in ast.walk(tree):
            found = []
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and "." in value and value in kinds and id(node) not in told:
                found.append(node)
            if isinstance(node, ast.Compare) and any(
                _type_side(x) for x in (node.left, *node.comparators)
            ):
                for side in (node.left, *node.comparators):
                    items = (
                        side.elts if isinstance(side, ast.Tuple | ast.List | ast.Set) else [side]
                    )
                    found += [x for x in items if isinstance(x, ast.Constant) and x.value in kinds]
            typed += [f"{name}:{x.lineno} {x.value!r}" for x in found]
    assert sorted(set(typed)) == []
