"""Workflows as the faces (the CLI, the server) find them: a Python source
(``path/to/file.py[:graph]`` or ``package.module[:graph]``) loaded into a compiled graph
and the tools its nodes call."""

from orca.flows._load import Workflow, load_workflow

__all__ = ["Workflow", "load_workflow"]
