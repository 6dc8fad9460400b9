"""``python`` nodes' references, ``package.module:function``: checked against the
allowlist before anything is imported, then imported and checked to be a function.

A flow that came from a browser names functions; it never carries code. A server runs
only functions of the modules its ``[flows] python_modules`` lists.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Sequence
from typing import Any

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
REF = re.compile(rf"^({_NAME}(?:\.{_NAME})*):({_NAME}(?:\.{_NAME})*)$")
REF_FIX = "write the reference as package.module:function (e.g. mypkg.nodes:summarize)"


def ref_problem(ref: str, python_modules: Sequence[str] | None) -> tuple[str, str] | None:
    """(what is wrong, the fix) with ``ref``'s form or its module's place on the allowlist
    (``None``: any module), or None. Imports nothing."""
    match = REF.match(ref)
    if match is None:
        return f"python reference {ref[:80]!r} is not of the form module:function", REF_FIX
    module, name = match.groups()
    parts = [*module.split("."), *name.split(".")]
    if any(p.startswith("__") for p in parts):
        return (
            f"python reference {ref!r} names a dunder (__...__) attribute or module",
            "reference a plain function of your own module",
        )
    if python_modules is not None and not allowed(module, python_modules):
        listed = ", ".join(python_modules) or "none"
        return (
            f"module {module!r} is not on the allowlist of python modules (allowed: {listed})",
            f'add "{module.split(".")[0]}" to [flows] python_modules in the project '
            "configuration, or use another node kind",
        )
    return None


def allowed(module: str, python_modules: Sequence[str]) -> bool:
    """Whether ``module`` is one of ``python_modules`` or inside one of them."""
    for prefix in python_modules:
        prefix = prefix.rstrip(".")
        if prefix and (module == prefix or module.startswith(prefix + ".")):
            return True
    return False


def resolve(
    ref: str, python_modules: Sequence[str] | None
) -> tuple[Callable[..., Any] | None, tuple[str, str] | None]:
    """The function ``ref`` names, or (None, (what is wrong, the fix))."""
    problem = ref_problem(ref, python_modules)
    if problem is not None:
        return None, problem
    module_name, _, name = ref.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:  # an import error, or the module's own code failing
        return None, (
            f"cannot import module {module_name!r}: {type(exc).__name__}: {str(exc)[:200]}",
            f"make {module_name!r} importable (installed, or on PYTHONPATH next to the flow)",
        )
    for part in name.split("."):
        target = getattr(target, part, None)
        if target is None:
            return None, (
                f"module {module_name!r} has no {name!r}",
                f"define {name} in {module_name}, or correct the reference",
            )
    if not (inspect.isfunction(target) or inspect.ismethod(target)):
        return None, (
            f"{ref!r} is a {type(target).__name__}, not a Python function",
            "reference a function def fn(state) or def fn(state, ctx) returning an update",
        )
    return target, None


def ref_of(fn: Any) -> str | None:
    """``module:qualname`` of a function importable by that name, else None (a lambda,
    a closure, a callable object)."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    if "<" in qualname or module == "__main__":
        return None
    if module.startswith("orca_workflow_"):  # a workflow file loaded by path: its stem
        module = module.removeprefix("orca_workflow_")
    ref = f"{module}:{qualname}"
    return ref if REF.match(ref) else None
