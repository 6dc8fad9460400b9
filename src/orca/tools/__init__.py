"""Tools: typed Python callables a model (or a node) runs by name, in-process, inside the
workspace, behind a policy, with every execution audited."""

from orca._redact import redact, redact_text
from orca.tools._agent import AgentState, agent_node, create_agent
from orca.tools._builtin import python_tool, shell_tool
from orca.tools._files import file_tools
from orca.tools._http import http_fetch_tool
from orca.tools._registry import Audit, BoundTools, Tools
from orca.tools._sandbox import SandboxStatus, sandbox_status
from orca.tools._tool import Policy, Tool, ToolEnv, ToolResult, tool

__all__ = [
    "AgentState",
    "Audit",
    "BoundTools",
    "Policy",
    "SandboxStatus",
    "Tool",
    "ToolEnv",
    "ToolResult",
    "Tools",
    "agent_node",
    "builtin_tools",
    "create_agent",
    "file_tools",
    "http_fetch_tool",
    "python_tool",
    "redact",
    "redact_text",
    "sandbox_status",
    "shell_tool",
    "tool",
]


def builtin_tools() -> list[Tool]:
    """``shell``, ``python``, the ``files_*`` tools and ``http_fetch``."""
    return [shell_tool(), python_tool(), *file_tools(), http_fetch_tool()]
