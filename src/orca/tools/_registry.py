"""The tools of a run: lookup by name, policy, execution, redaction, audit and events."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from orca import events
from orca._redact import redact, redact_secret_text, redact_secrets
from orca.errors import InvalidInputError, ToolError, closest
from orca.llm import ToolCall, ToolSpec
from orca.store import ToolAudit, ToolExecution
from orca.tools._tool import Policy, Tool, ToolEnv, ToolResult

if TYPE_CHECKING:
    from orca.context import TaskContext


class SupportsClose(Protocol):
    def close(self) -> None: ...


SUMMARY_CHARS = 500
ARGUMENTS_CHARS = 4000


class Audit:
    """Records every execution in a ``ToolAudit`` repository (by default the project
    database's ``tool_executions``), arguments and results already redacted. Safe to
    share between threads.

    Args:
        log: where executions go.
        owned: close ``log`` (or ``closing``) when this closes.
        closing: what to close instead of ``log`` (the store ``log`` belongs to).
    """

    def __init__(
        self, log: ToolAudit, *, owned: bool = False, closing: SupportsClose | None = None
    ) -> None:
        self.log = log
        self._owned = owned
        self._closing = closing

    @staticmethod
    def open(target: str | Path | None = None) -> Audit:
        """The audit of a project database: ``target`` is its file (``*.db``) or the
        project folder (default: the current project's)."""
        from orca.store import SqliteAudit, configured_url, project_store

        if target is not None and Path(target).suffix == ".db" and configured_url() is None:
            return Audit(SqliteAudit(target), owned=True)
        store = project_store(target)
        return Audit(store.audit, owned=True, closing=store)

    def record(self, row: Mapping[str, Any]) -> None:
        self.log.record(
            ToolExecution(
                tool=row["tool"],
                arguments=row["arguments"],
                result=row["result"],
                status=row["status"],
                duration_ms=row["duration_ms"],
                created_at=dt.datetime.now(dt.UTC).isoformat(),
                run_id=row.get("run_id"),
                thread_id=row.get("thread_id"),
                node=row.get("node"),
            )
        )

    def close(self) -> None:
        if self._owned:
            (self._closing or self.log).close()


class Tools:
    """The tools a run may use, by name, and where they run.

    Args:
        tools: ``Tool`` objects or typed functions (made into tools).
        workspace: the root the file and shell tools stay inside (default: the current
            directory).
        policy: what tools may do (default: ``Policy()``: every registered tool, no web
            domains).
        audit: an ``Audit`` (or a project database path) that records every execution;
            None records none.
    """

    def __init__(
        self,
        tools: Iterable[Tool | Callable[..., Any]] = (),
        *,
        workspace: str | Path | None = None,
        policy: Policy | None = None,
        audit: Audit | str | Path | None = None,
    ) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools:
            self.add(t)
        self.env = ToolEnv(Path(workspace or Path.cwd()), policy or Policy())
        if audit is not None and not isinstance(audit, Audit):
            audit = Audit.open(audit)
        self.audit = audit

    def add(self, item: Tool | Callable[..., Any]) -> Tool:
        """Register a tool (a function becomes one). Raises ``InvalidInputError`` for a
        name already taken."""
        made = item if isinstance(item, Tool) else Tool.of(item)
        if made.name in self._tools:
            raise InvalidInputError(
                f"two tools are named {made.name!r}. Fix: give one another name (name=...)"
            )
        self._tools[made.name] = made
        return made

    def names(self) -> list[str]:
        return sorted(self._tools)

    def get(self, name: str) -> Tool:
        tool = self._tools.get(name)
        if tool is None:
            raise InvalidInputError(
                f"no tool named {name!r}{closest(name, self.names())}. Fix: use one of "
                f"{', '.join(self.names()) or 'none (pass tools=...)'}"
            )
        return tool

    def specs(self, names: Sequence[str] | None = None) -> tuple[ToolSpec, ...]:
        """What the model is told about the tools the policy allows (or ``names``)."""
        chosen = names if names is not None else self.names()
        return tuple(self.get(n).spec for n in chosen if self.env.policy.allows(n))

    async def run(
        self,
        name: str,
        arguments: Mapping[str, Any],
        ctx: TaskContext | None = None,
        *,
        replay: Any = None,
    ) -> ToolResult:
        """Run one tool: policy first, then validation, timeout and the tool itself;
        then the audit row and the ``tool.call`` event. Never raises for the tool's
        failures (see ``ToolResult``). ``replay`` (a recorded run) answers instead of
        the tool."""
        tool = self._tools.get(name)
        result: ToolResult
        if replay is not None:  # a replay answers from the recorded run
            result = replay.tool(ctx, name, arguments)
        elif tool is None:
            result = ToolResult(
                name,
                "invalid",
                error=f"no tool named {name!r}{closest(name, self.names())}; "
                f"the tools are {', '.join(self.names()) or 'none'}",
            )
        elif not self.env.policy.allows(name):
            result = ToolResult(name, "denied", error=f"the policy does not allow {name!r}")
        else:
            # a task run again is answered from the tool calls it completed: their side
            # effects happened (unless the store must keep no results: they are whole)
            log = ctx.calls if ctx is not None and not self.env.policy.redact_checkpoints else None
            if log is None:
                result = await tool.run(arguments, self.env)
            else:
                digest = call_digest(name, arguments)
                occurrence, recorded = await log.lookup("tool", digest)
                if recorded is not None:
                    result = ToolResult(
                        name,
                        recorded["status"],
                        value=recorded["value"],
                        error=recorded["error"],
                        duration_ms=recorded["duration_ms"],
                    )
                    await self._report(result, arguments, ctx, cached=True)
                    return result
                result = await tool.run(arguments, self.env)
                if result.status in ("ok", "error"):  # it ran: its effects are done
                    value = {
                        "status": result.status,
                        "value": result.value,
                        "error": result.error,
                        "duration_ms": result.duration_ms,
                    }
                    await log.record("tool", digest, occurrence, value)
        await self._report(result, arguments, ctx)
        return result

    async def run_calls(
        self, calls: Sequence[ToolCall], ctx: TaskContext | None = None, *, replay: Any = None
    ) -> list[ToolResult]:
        """Run a model's tool calls of one turn concurrently; results in call order. A
        call whose arguments were not valid JSON comes back as an ``invalid`` result."""

        async def one(call: ToolCall) -> ToolResult:
            if call.arguments_error is not None:
                shown = {"raw": call.raw_arguments}
                bad = (
                    ToolResult(call.name, "invalid", error=call.arguments_error)
                    if replay is None
                    else replay.tool(ctx, call.name, shown)
                )
                await self._report(bad, shown, ctx)
                return bad
            return await self.run(call.name, call.arguments, ctx, replay=replay)

        return list(await asyncio.gather(*(one(c) for c in calls)))

    async def _report(
        self,
        result: ToolResult,
        arguments: Mapping[str, Any],
        ctx: TaskContext | None,
        *,
        cached: bool = False,
    ) -> None:
        policy = self.env.policy
        whole: dict[str, Any] = {
            "arguments": dict(arguments),
            "value": result.value,
            "error": result.error,
        }
        masked = whole
        summary = result.content()
        if policy.redact or policy.redact_checkpoints:
            # the value is redacted as data first, so secret-named keys are masked whole
            value = redact(result.value)
            masked = {
                "arguments": redact(whole["arguments"]),
                "value": value,
                "error": None if result.error is None else redact(result.error),
            }
            if policy.redact:
                summary = redact(replace(result, value=value).content())
        # credentials are masked whatever the policy (and before the cut, which could
        # leave a piece of one that no pattern knows)
        summary = redact_secret_text(summary)[:SUMMARY_CHARS]
        shown = masked if policy.redact else whole  # what listeners and the audit see
        # the event log keeps what the checkpoints keep (the whole call, for a replay)
        logged = masked if policy.redact_checkpoints else whole
        shown_args = shown["arguments"]
        sink = ctx.events if ctx is not None else None
        if ctx is not None and sink is not None:
            sink.emit(
                events.ToolCall,
                ctx.step,
                log_fields=None if logged is shown else logged,
                task_id=ctx.task_id,
                node=ctx.node,
                tool=result.tool,
                status=result.status,
                result=summary,
                duration_ms=round(result.duration_ms, 3),
                cached=cached,
                **shown,
            )
        if self.audit is not None and not cached:  # the audit lists executions
            row = {
                "run_id": ctx.run_id if ctx else None,
                "thread_id": ctx.thread_id if ctx else None,
                "node": ctx.node if ctx else None,
                "tool": result.tool,
                "arguments": json.dumps(redact_secrets(shown_args), default=str)[:ARGUMENTS_CHARS],
                "result": summary,
                "status": result.status,
                "duration_ms": result.duration_ms,
            }
            await asyncio.to_thread(self.audit.record, row)

    def close(self) -> None:
        if self.audit is not None:
            self.audit.close()


class BoundTools:
    """``ctx.tools``: the run's tools, for one task."""

    def __init__(self, tools: Tools, ctx: TaskContext, *, replay: Any = None) -> None:
        self._tools = tools
        self._ctx = ctx
        self._replay = replay

    @property
    def policy(self) -> Policy:
        return self._tools.env.policy

    def names(self) -> list[str]:
        return self._tools.names()

    def specs(self, names: Sequence[str] | None = None) -> tuple[ToolSpec, ...]:
        return self._tools.specs(names)

    async def arun(self, name: str, **arguments: Any) -> ToolResult:
        """Run a tool; the structured result, whatever happened."""
        return await self._tools.run(name, arguments, self._ctx, replay=self._replay)

    async def acall(self, name: str, **arguments: Any) -> Any:
        """Run a tool and return its value.

        Raises:
            ToolError: the tool was denied, got bad arguments, failed or timed out.
        """
        result = await self.arun(name, **arguments)
        if not result.ok:
            raise ToolError(result)
        return result.value

    def call(self, name: str, **arguments: Any) -> Any:
        """Sync ``acall``, for sync nodes."""
        from orca._sync import off_loop, run_sync

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return run_sync("call", self.acall(name, **arguments))
        return off_loop(self.call, name, **arguments)

    async def arun_calls(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        return await self._tools.run_calls(calls, self._ctx, replay=self._replay)


def call_digest(name: str, arguments: Mapping[str, Any]) -> str:
    """A digest of a tool call: the tool and its arguments."""
    import hashlib

    data = json.dumps([name, arguments], sort_keys=True, default=repr, ensure_ascii=False)
    return hashlib.blake2b(data.encode(), digest_size=12).hexdigest()
