"""What a tool is: a typed Python callable (sync or async) with a JSON Schema derived from
its signature, a timeout, and a structured result that never raises into the caller."""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import pydantic

from orca.errors import InvalidInputError
from orca.llm import ToolSpec

Status = Literal["ok", "error", "invalid", "denied", "timeout"]

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")  # what OpenAI and Anthropic accept


@dataclass(frozen=True, slots=True)
class Policy:
    """What tools may do. Built from ``[tools]`` in the configuration, or directly.

    Attributes:
        allow: tool names allowed (``None``: every registered tool); ``*`` globs work.
        deny: tool names refused even if allowed.
        domains: hosts ``http_fetch`` may reach (``*.example.com`` for subdomains);
            empty: none.
        allow_networks: networks (CIDR, e.g. ``127.0.0.1/32``) ``http_fetch`` may reach
            even though they are loopback, private, link-local or metadata addresses;
            all other such addresses are refused, after DNS resolution and on every
            redirect. ``domains`` may hold ``*`` to allow any public host.
        shell_env: the environment variables a shell or python tool sees (by name).
            Inside the sandbox ``PATH`` is the sandbox's own and ``HOME`` is the
            workspace; the other names take their values from Orca's environment.
        sandbox_network: the tools (names, ``*`` globs) whose sandbox shares the host's
            network; every other sandboxed tool has none (not even the host's
            loopback).
        allow_unsandboxed_shell: where bubblewrap is missing or cannot start a sandbox,
            run the shell and python tools on the host anyway, without isolation (they
            refuse to run otherwise).
        max_output_bytes: the most a tool's output may hold before it is cut.
        timeout: seconds a tool may run unless the tool sets its own.
        redact: mask secrets and personal data in audit rows and events (logs are
            always redacted).
        redact_checkpoints: also in what tool results write to the state.
    """

    allow: tuple[str, ...] | None = None
    deny: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    allow_networks: tuple[str, ...] = ()
    shell_env: tuple[str, ...] = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
    sandbox_network: tuple[str, ...] = ()
    allow_unsandboxed_shell: bool = False
    max_output_bytes: int = 64 * 1024
    timeout: float = 30.0
    redact: bool = True
    redact_checkpoints: bool = False

    def allows(self, name: str) -> bool:
        from fnmatch import fnmatchcase

        if any(fnmatchcase(name, d) for d in self.deny):
            return False
        return self.allow is None or any(fnmatchcase(name, a) for a in self.allow)

    def allows_network(self, tool: str) -> bool:
        """Whether ``tool``'s sandbox shares the host's network."""
        from fnmatch import fnmatchcase

        return any(fnmatchcase(tool, n) for n in self.sandbox_network)

    def allows_host(self, host: str) -> bool:
        from fnmatch import fnmatchcase

        host = host.lower().rstrip(".")
        if "*" in self.domains:
            return True
        return any(
            host == d.lower() or (d.startswith("*.") and fnmatchcase(host, d.lower()))
            for d in self.domains
        )


@dataclass(frozen=True, slots=True)
class ToolEnv:
    """Where tools run: the workspace root (files and shell stay inside it), the policy
    and the name of the tool running (set by ``Tool.run``; the policy grants some
    things per tool)."""

    workspace: Path
    policy: Policy = Policy()
    tool: str = ""


@dataclass(frozen=True, slots=True)
class ToolResult:
    """How one execution ended. ``value`` is the tool's return value when ``ok``;
    otherwise ``error`` says what went wrong in words a model can act on."""

    tool: str
    status: Status
    value: Any = None
    error: str | None = None
    duration_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def content(self) -> str:
        """The result as the text a model reads back."""
        if not self.ok:
            return f"error ({self.status}): {self.error}"
        if isinstance(self.value, str):
            return self.value
        import json

        try:
            return json.dumps(self.value, default=str)
        except (TypeError, ValueError):
            return str(self.value)


@dataclass(frozen=True, slots=True)
class Tool:
    """A callable a model (or a node) may run by name.

    Build one with ``Tool.of(fn)`` or the ``@tool`` decorator. ``fn`` may be sync or
    async; a parameter named ``env`` receives the ``ToolEnv``. Its other parameters are
    the arguments, validated against the signature before ``fn`` runs.
    """

    name: str
    description: str
    fn: Callable[..., Any]
    arguments: type[pydantic.BaseModel]
    spec: ToolSpec
    timeout: float | None = None
    wants_env: bool = False
    meta: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def of(
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> Tool:
        """A tool from a typed function (its docstring describes it to the model).

        Raises:
            InvalidInputError: no name, a bad name, or an argument without a type.
        """
        from orca.llm._schema import signature_model

        tool_name = str(name or getattr(fn, "__name__", "") or "")
        if not _NAME.fullmatch(tool_name or ""):
            raise InvalidInputError(
                f"tool name {tool_name!r} is not valid. Fix: use up to 64 letters, digits, "
                "'_' or '-', starting with a letter (pass name=...)"
            )
        if timeout is not None and not timeout > 0:
            raise InvalidInputError(f"tool {tool_name!r}: timeout must be above zero")
        if "ctx" in inspect.signature(fn).parameters:
            raise InvalidInputError(
                f"tool {tool_name!r} takes ctx, which tools do not get. Fix: take env "
                "(the ToolEnv: workspace and policy) or pass what it needs as arguments"
            )
        model = signature_model(fn, tool_name)
        spec = ToolSpec.of(fn, name=tool_name, description=description)
        wants_env = "env" in inspect.signature(fn).parameters
        return Tool(tool_name, spec.description, fn, model, spec, timeout, wants_env)

    async def run(self, arguments: Mapping[str, Any], env: ToolEnv) -> ToolResult:
        """Validate ``arguments`` and run the tool within its timeout. Never raises for
        the tool's own failures: they come back as a result with ``status`` and
        ``error``."""
        start = time.perf_counter()

        def done(status: Status, value: Any = None, error: str | None = None) -> ToolResult:
            return ToolResult(self.name, status, value, error, (time.perf_counter() - start) * 1000)

        try:
            parsed = self.arguments.model_validate(dict(arguments))
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors()
            )
            return done("invalid", error=f"invalid arguments: {problems}")
        kwargs = {k: getattr(parsed, k) for k in type(parsed).model_fields}
        if self.wants_env:
            kwargs["env"] = replace(env, tool=self.name)
        limit = self.timeout or env.policy.timeout
        try:
            if inspect.iscoroutinefunction(self.fn):
                value = await asyncio.wait_for(self.fn(**kwargs), limit)
            else:
                value = await asyncio.wait_for(asyncio.to_thread(self.fn, **kwargs), limit)
        except TimeoutError as exc:
            return done("timeout", error=str(exc) or f"no result within {limit:g}s")
        except Exception as exc:
            return done("error", error=f"{type(exc).__name__}: {exc}")
        return done("ok", value)


def tool(
    fn: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> Any:
    """Decorator: ``@tool`` or ``@tool(timeout=5)`` turns a typed function into a
    ``Tool``."""

    def make(f: Callable[..., Any]) -> Tool:
        return Tool.of(f, name=name, description=description, timeout=timeout)

    return make(fn) if fn is not None else make
