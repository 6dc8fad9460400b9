"""Workflows as the faces (the CLI, the server) find them, and the declarative format.

``load_workflow`` loads a Python source (``path/to/file.py[:graph]`` or
``package.module[:graph]``) or a flow file (``flow.json``, ``flow.yaml``) into a compiled
graph and the tools its nodes call. A flow (format ``orca.flow/v1``) is a JSON or YAML
document of state keys, nodes and edges: ``parse_flow`` reads one, ``validate_flow``
lists every problem, ``compile_flow`` builds its ``StateGraph``, ``export_graph`` turns a
Python graph into the same format, for viewing. See docs/workflows.md.
"""

from typing import Any

from orca.flows._compile import compile_flow
from orca.flows._export import export_graph
from orca.flows._load import Workflow, file_resolver, load_workflow
from orca.flows._read import FlowIssue
from orca.flows._spec import FORMAT, Flow
from orca.flows._validate import Resolver, check, parse


def parse_flow(data: Any) -> Flow:
    """The flow ``data`` holds (a mapping, JSON or YAML text or bytes, or a ``Path``),
    checked without importing anything (``python`` refs are checked for form only).

    Raises:
        FlowError: listing every problem found (``.issues``).
    """
    return parse(data)


def validate_flow(
    data: Any,
    *,
    tools: Any = None,
    python_modules: Any = None,
    resolve_flow: Resolver | None = None,
) -> list[FlowIssue]:
    """Every problem of the flow ``data`` holds (empty: it is valid).

    Args:
        tools: the registered tools (names or ``Tool`` objects); None: tool names are
            not checked.
        python_modules: the module prefixes ``python`` refs may name; None: any module
            (a local file the user runs); ``[]``: none.
        resolve_flow: ``ref -> flow`` for ``subflow`` nodes; None: not followed.
    """
    return check(data, tools=tools, python_modules=python_modules, resolve_flow=resolve_flow)[1]


def content_hash(flow: Any) -> str:
    """``sha256:...`` of the flow's content: canonical JSON, without positions,
    descriptions and notes (they change no run).

    Raises:
        FlowError: ``flow`` is not a valid flow.
    """
    from orca.flows._spec import content_hash as _hash

    return _hash(parse(flow))


__all__ = [
    "FORMAT",
    "Flow",
    "FlowIssue",
    "Workflow",
    "compile_flow",
    "content_hash",
    "export_graph",
    "file_resolver",
    "load_workflow",
    "parse_flow",
    "validate_flow",
]
