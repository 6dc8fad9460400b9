"""Orca's run services: the models and meter of ``orca.llm`` and the tools of
``orca.tools``, built from a run's options and handed to the engine through
``orca.context`` (``import orca`` installs ``build_services`` as the factory). ``orca.llm``
and ``orca.tools`` are imported on the first run, not by ``import orca``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from orca.context import RunTotals, TaskContext
from orca.errors import InvalidInputError

if TYPE_CHECKING:
    from orca.llm import LLM
    from orca.llm._meter import Meter
    from orca.tools import BoundTools, Tools

LLM_OPTIONS = frozenset(
    {
        "profile",
        "models",
        "prices",
        "budget",
        "session",
        "ledger",
        "on_budget_exceeded",
        "max_tokens",
        "cost_limit",
        "token_limit",
        "tenant",
        "api_keys",
    }
)
TOOL_OPTIONS = frozenset({"tools", "workspace", "policy", "audit"})


class Services:
    """One run's services: its meter (models, prices, budgets, the usage ledger) and its
    tools. ``replay``, when set, answers every LLM and tool call from a recorded run."""

    def __init__(self, meter: Meter, toolbox: Tools | None, *, replay: Any = None) -> None:
        self.meter = meter
        self.toolbox = toolbox
        self.replay = replay
        meter.replay = replay
        # what the event log may keep of answers: no more than the checkpoints keep
        self.redact_log = toolbox is not None and bool(toolbox.env.policy.redact_checkpoints)

    def llm(self, name: str, task: TaskContext) -> LLM:
        from orca.llm import LLM

        return LLM(self.meter.models.get(name), name, self.meter, task, redact_log=self.redact_log)

    def tools(self, task: TaskContext) -> BoundTools:
        from orca.tools import BoundTools

        if self.toolbox is None:
            raise InvalidInputError(
                "this run has no tools. Fix: pass tools=[...] (functions or Tool objects) "
                "to invoke/stream"
            )
        return BoundTools(self.toolbox, task, replay=self.replay)

    def totals(self) -> RunTotals:
        return RunTotals(*self.meter.tally)

    async def close(self) -> None:
        await self.meter.close()


class ServiceBuilder:
    """The ``orca.context.ServiceFactory`` that ``import orca`` installs."""

    options = LLM_OPTIONS | TOOL_OPTIONS

    def __call__(
        self, options: Mapping[str, Any], *, workflow: str, replay: Any = None
    ) -> Services:
        """A run's services from its options (see ``CompiledGraph`` for each).

        Raises:
            InvalidInputError: an option of the wrong type, named.
            UnknownProfileError: ``profile`` names no stored profile.
        """
        from orca.llm._meter import meter_for_run

        chosen = {k: options[k] for k in LLM_OPTIONS if k in options}
        meter = meter_for_run(workflow=workflow, **chosen)
        if replay is not None:
            meter.models.use_active = False  # only the recorded models, never a real one
        return Services(meter, _toolbox(options), replay=replay)


build_services = ServiceBuilder()


def _toolbox(options: Mapping[str, Any]) -> Tools | None:
    """The run's ``Tools``, from the ``tools``/``workspace``/``policy``/``audit`` options
    (None without any of them)."""
    if not TOOL_OPTIONS & options.keys():
        return None
    from orca.tools import Policy, Tools

    given = options.get("tools")
    policy = options.get("policy")
    if policy is not None and not isinstance(policy, Policy):
        raise InvalidInputError(f"policy is a {type(policy).__name__}. Fix: pass a Policy")
    if isinstance(given, Tools):
        if {"workspace", "policy", "audit"} & options.keys():
            raise InvalidInputError(
                "tools= is a Tools, which carries its own workspace, policy and audit. Fix: "
                "set them on the Tools, or pass tools= as a list"
            )
        return given
    if given is not None and not isinstance(given, list | tuple):
        raise InvalidInputError(
            f"tools is a {type(given).__name__}. Fix: pass a Tools or a list of tools"
        )
    return Tools(
        given or (),
        workspace=options.get("workspace"),
        policy=policy,
        audit=options.get("audit"),
    )
