"""Loading a workflow from ``PATH[:graph]`` (or ``package.module[:graph]``)."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from orca.errors import WorkflowLoadError, failing_frame


@dataclass(frozen=True, slots=True)
class Workflow:
    """A loaded workflow: its compiled graph (on the checkpointer it was loaded for), the
    module's ``tools`` list when it has one, and the source it came from."""

    graph: Any
    tools: list[Any] | None
    source: str

    def onto(self, checkpointer: Any) -> Workflow:
        """The same workflow keeping its threads in ``checkpointer`` (another tenant's
        store): its graph, breakpoints and tools unchanged, nothing imported again."""
        from orca.engine import CompiledGraph

        graph = self.graph
        moved = CompiledGraph(
            graph.spec,
            checkpointer=checkpointer,
            interrupt_before=graph.interrupt_before,
            interrupt_after=graph.interrupt_after,
        )
        return Workflow(moved, self.tools, self.source)


def load_workflow(
    source: str,
    checkpointer: Any = None,
    *,
    root: Path | None = None,
    python_modules: Sequence[str] | None = None,
) -> Workflow:
    """The workflow ``source`` names (``path/to/file.py[:name]``,
    ``package.module[:name]``, or a flow file ``path/to/flow.json|.yaml|.yml``), compiled
    onto ``checkpointer``, with the module's ``tools`` list if it has one (the tools its
    nodes call through ``ctx.tools``; a flow with tool or agent nodes gets the built-in
    tools).

    A flow's ``python`` nodes may name functions of any module (``python_modules``:
    only those under these prefixes), found next to the flow file too; its subflows are
    flow files named relative to it.

    ``name`` may be a ``StateGraph``, a ``CompiledGraph`` or a function returning one (it
    may take the checkpointer); without it the module must hold exactly one graph. A
    relative ``path`` is taken from ``root`` when given (else the working directory).

    Raises:
        WorkflowLoadError: the source cannot be imported, names nothing, or what it names
            is not a valid graph (the error says what to fix).
    """
    from orca import StateGraph
    from orca.engine._compiled import CompiledGraph
    from orca.errors import OrcaError

    if source.lower().endswith(FLOW_SUFFIXES):
        return _load_flow(source, checkpointer, root, python_modules)
    where, sep, name = source.rpartition(":")
    if not sep or not name.isidentifier():  # no name given (or a drive letter's colon)
        where, name = source, ""
    if root is not None and where.endswith(".py") and not Path(where).is_absolute():
        where = str(root / where)
    module = _import(where)
    if name:
        if not hasattr(module, name):
            found = _graphs(module)
            raise WorkflowLoadError(
                f"{where} has no {name!r}",
                fix=f"name one of its graphs: {', '.join(found) or 'none found'}",
            )
        target = getattr(module, name)
    else:
        found = _graphs(module)
        if len(found) != 1:
            raise WorkflowLoadError(
                f"{where} holds {len(found)} graphs ({', '.join(found) or 'none'})",
                fix=f"name one: {where}:NAME",
            )
        target = getattr(module, found[0])
    if callable(target) and not isinstance(target, StateGraph | CompiledGraph):
        params = inspect.signature(target).parameters
        try:
            target = target(checkpointer) if params else target()
        except Exception as exc:  # the factory failed: the workflow cannot be loaded
            raise WorkflowLoadError(
                f"{source}: calling {name or 'the factory'} raised {type(exc).__name__}: {exc} "
                f"(at {failing_frame(exc)})",
                fix=f"correct {where} so that its graph builds",
            ) from None
    tools = getattr(module, "tools", None)
    if tools is not None and not isinstance(tools, list | tuple):
        raise WorkflowLoadError(
            f"{where}: tools is a {type(tools).__name__}", fix="make it a list of tools"
        )
    tools = None if tools is None else list(tools)
    if isinstance(target, StateGraph):
        try:
            return Workflow(target.compile(checkpointer=checkpointer), tools, source)
        except OrcaError as exc:  # an invalid graph: its error names its fix
            message, _, fix = str(exc).partition(". Fix: ")
            raise WorkflowLoadError(
                f"{source}: {message}", fix=fix or "correct the graph"
            ) from None
    if isinstance(target, CompiledGraph):
        compiled = CompiledGraph(
            target.spec,
            checkpointer=checkpointer,
            interrupt_before=target.interrupt_before,
            interrupt_after=target.interrupt_after,
        )
        return Workflow(compiled, tools, source)
    raise WorkflowLoadError(
        f"{source} is a {type(target).__name__}, not a graph",
        fix="point at a StateGraph, a compiled graph, or a function returning one",
    )


FLOW_SUFFIXES = (".json", ".yaml", ".yml")
"""The suffixes of flow files (``orca.flow/v1`` documents)."""


def file_resolver(base: Path) -> Any:
    """A ``resolve_flow`` for subflows named as files relative to ``base`` (a saved
    ``name@version`` is a server's to resolve)."""

    def resolve(ref: str) -> Path:
        if not ref.lower().endswith(FLOW_SUFFIXES):
            raise LookupError(
                f"{ref!r} is not a flow file (.json, .yaml, .yml); saved flows "
                "(name@version) run on a server that keeps them"
            )
        path = Path(ref) if Path(ref).is_absolute() else base / ref
        if not path.is_file():
            raise LookupError(f"no flow file {path}")
        return path

    return resolve


def _load_flow(
    source: str, checkpointer: Any, root: Path | None, python_modules: Sequence[str] | None
) -> Workflow:
    from orca.errors import FlowError
    from orca.flows._compile import compile_flow
    from orca.flows._spec import AgentNode, ToolNode
    from orca.tools import builtin_tools

    path = Path(source)
    if root is not None and not path.is_absolute():
        path = root / path
    if not path.is_file():
        raise WorkflowLoadError(
            f"flow file {source} does not exist", fix="give the path of a .json or .yaml flow"
        )
    folder = str(path.resolve().parent)
    if python_modules is None and folder not in sys.path:
        sys.path.insert(0, folder)  # python nodes' modules next to the flow
    tools = builtin_tools()
    try:
        graph = compile_flow(
            path,
            tools=tools,
            python_modules=python_modules,
            resolve_flow=file_resolver(path.parent),
        )
    except FlowError as exc:
        lines = [f"{i.path or '(the document)'}: {i.message} (fix: {i.fix})" for i in exc.issues]
        more = f"\n  ... and {len(lines) - 20} more" if len(lines) > 20 else ""
        count = f"{len(lines)} problem{'s' if len(lines) != 1 else ''}"
        raise WorkflowLoadError(
            f"{source} is not a valid flow ({count}):\n  " + "\n  ".join(lines[:20]) + more,
            fix=f"correct them (orca flows validate {source} lists each with its fix)",
        ) from None
    flow = getattr(graph.state.schema, "__orca_flow__", None)
    uses_tools = flow is not None and any(isinstance(n, AgentNode | ToolNode) for n in flow.nodes)
    return Workflow(graph.compile(checkpointer=checkpointer), tools if uses_tools else None, source)


def _import(where: str) -> Any:
    path = Path(where)
    if path.suffix == ".py" or path.exists():
        if not path.is_file():
            raise WorkflowLoadError(
                f"workflow file {where} does not exist", fix="give the path of a .py file"
            )
        name = f"orca_workflow_{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path.resolve())
        if spec is None or spec.loader is None:
            raise WorkflowLoadError(f"cannot import {where}", fix="give the path of a .py file")
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, str(path.resolve().parent))  # its own imports
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            at = "" if isinstance(exc, SyntaxError) else f" (at {failing_frame(exc)})"
            raise WorkflowLoadError(
                f"importing {where} raised {type(exc).__name__}: {exc}{at}",
                fix=f"correct {where} so that it imports (python {where} shows the same error)",
            ) from None
        return module
    try:
        return importlib.import_module(where)
    except ImportError as exc:
        raise WorkflowLoadError(
            f"no workflow file or module {where!r} ({exc})",
            fix="give PATH.py[:graph] or package.module[:graph]",
        ) from None


def _graphs(module: Any) -> list[str]:
    from orca import StateGraph
    from orca.engine._compiled import CompiledGraph

    return sorted(
        k
        for k, v in vars(module).items()
        if isinstance(v, StateGraph | CompiledGraph) and not k.startswith("_")
    )
