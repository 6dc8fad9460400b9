"""The seam between the commands and where their data lives: ``Source``, implemented by
this project's databases (``LocalSource``, in ``_local``) and, with ``--server URL`` or
``ORCA_SERVER``, by an ``orca serve`` (``RemoteSource``, in ``_remote``);
``_where.source()`` picks one. Commands parse
their flags, ask the source, and print what it answers the same way for both: the same
output, ``--json`` and exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class RunRequest:
    """``orca run``: what to run and how, as the flags give it."""

    workflow: str | None
    input: dict[str, Any]
    thread: str | None
    profile: str | None
    budget: str | None
    on_exceeded: str | None
    session: str | None
    cost_limit: str | None = None
    token_limit: int | None = None
    time_limit: float | None = None


@dataclass(frozen=True, slots=True)
class ResumeRequest:
    """``orca runs resume``: the run, the answer (JSON text) and overrides."""

    run: str
    value: str | None
    profile: str | None
    budget: str | None
    on_exceeded: str | None


@dataclass(frozen=True, slots=True)
class ForkRequest:
    """``orca runs fork``: the branch point, where it goes, and the edit on it."""

    run: str
    checkpoint: str
    thread: str | None
    update: dict[str, Any] | None
    as_node: str | None
    profile: str | None
    budget: str | None


class Source(Protocol):
    """What ``run``, ``runs`` and friends ask of where the data lives."""

    def run(self, request: RunRequest, *, as_json: bool) -> int:
        """Run a workflow, showing it as ``_execute.present`` does; the exit code."""
        ...

    def resume(self, request: ResumeRequest, *, as_json: bool) -> int: ...

    def fork(self, request: ForkRequest, *, as_json: bool) -> int: ...

    def list_runs(
        self, *, limit: int, status: str | None, filters: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        """Rows of ``orca runs list --json``, newest first; ``filters`` are ``GET
        /v1/runs``'s others (``workflow``, ``thread_id``, ``since``, ``until``, ``q``)."""
        ...

    def show_run(self, run: str) -> dict[str, Any]:
        """``orca runs show --json``: the record, its ``tasks`` and ``usage``."""
        ...

    def history(self, run: str, *, limit: int) -> tuple[str, list[dict[str, Any]]]:
        """The run's thread and its checkpoints (rows of ``orca runs history --json``)."""
        ...

    def resolve_run(self, run: str) -> str:
        """The id of the run ``run`` names (a unique prefix is enough)."""
        ...

    def events(
        self,
        run_id: str,
        *,
        start: int,
        stop: int | None,
        types: list[str],
        since: str | None,
        most: int | None,
    ) -> list[dict[str, Any]] | None:
        """``orca runs events --json``: the run's logged events that match (None when it
        logged none at all)."""
        ...

    def prune(self, cutoff: Any, *, dry_run: bool) -> dict[str, Any]:
        """``orca runs prune --json``: the threads removed (or that would be) and kept."""
        ...

    def replay(self, run_id: str, graph: str | None) -> dict[str, Any]:
        """``orca runs replay --json``: the run's graph code run again, its calls answered
        from its log (here, or on the server), with ``graph`` or the recorded workflow."""
        ...

    def read_events(
        self,
        run_id: str,
        *,
        start: int = 0,
        stop: int | None = None,
        types: list[str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """The run's logged events (their JSON form), seq ``start`` to before ``stop``."""
        ...


class Budgets(Protocol):
    """What ``budget`` and ``usage report`` ask: ``orca.manage.budgets``' calls."""

    def create(self, budget: Any, *, activate: bool) -> Any: ...

    def statuses(self, *, every: bool) -> list[Any]: ...

    def status(self, name: str) -> Any: ...

    def current(self, name: str | None) -> Any: ...

    def get(self, name: str) -> Any:
        """The budget (an unknown name fails, naming the closest)."""
        ...

    def use(self, name: str) -> str:
        """Make it the active budget; its name."""
        ...

    def raise_(self, name: str, *, by: str | None, to: str | None, spell: Any) -> Any: ...

    def delete(self, name: str) -> None: ...

    def usage(
        self, by: str, *, since: str | None, until: str | None, run_id: str | None
    ) -> list[Any]:
        """Rows of ``orca usage report`` (``UsageRow``)."""
        ...
