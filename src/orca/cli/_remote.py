"""``RemoteSource``: the commands against an ``orca serve`` (``--server URL`` or
``ORCA_SERVER``; the token is ``ORCA_TOKEN``), through ``orca.client``. The output is
``LocalSource``'s: the same rows, the same run display (``_execute.present``), the
same errors and exit codes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from orca.cli._common import USAGE, State, fail, json_arg, money
from orca.cli._local import check_node, check_on_exceeded, finished, list_row, run_row
from orca.cli._source import ForkRequest, ResumeRequest, RunRequest
from orca.errors import OrcaError, RunCancelledError, RunError, ServerNotFoundError

if TYPE_CHECKING:
    from orca.client import Budget, Client, RunResult
    from orca.events import Event

RUNS_LISTED = 1000  # the runs searched for an id prefix


def connect(url: str) -> Client:
    """A client of ``url`` (the token from ``ORCA_TOKEN``)."""
    from orca.client import Client

    return Client(url)


def server_client(what: str, why: str) -> Client:
    """The client of the server a command that only works against one is given
    (``--server`` or ``ORCA_SERVER``); a usage error naming ``what`` and ``why`` without."""
    if State.server is None:
        fail(
            f"{what} works against a server: {why}",
            USAGE,
            fix=f"orca --server http://127.0.0.1:8700 {what.removeprefix('orca ')} ..., "
            "or set ORCA_SERVER",
        )
    return connect(State.server)


def route_missing(exc: ServerNotFoundError) -> bool:
    """A 404 for a path the server does not serve at all (an older server), rather than
    for a thing it lacks."""
    return exc.message == "Not Found"


def rebuilt(error: str) -> OrcaError:
    """A run's error (``"Type: message"`` in its record) as an exception of that type,
    so that it is reported (exit code, fix) as the same error here would be."""
    import orca.errors

    name, _, message = error.partition(": ")
    cls = getattr(orca.errors, name, None)
    if not (isinstance(cls, type) and issubclass(cls, OrcaError)):
        return RunError(error)
    found = cls.__new__(cls)
    BaseException.__init__(found, message)
    return found


def budget_statuses(
    client: Client, budget: str | None, workflow: str, session: str, run: str | None
) -> list[Any]:
    """The budgets covering a run, as ``LedgerRepository.applicable`` picks them: the one
    named (else the active one) and every one scoped to the workflow, session or run
    (none from a server without the budgets endpoint)."""
    try:
        every = client.budgets(all=True)
    except ServerNotFoundError as exc:
        if route_missing(exc):
            return []
        raise
    scoped = {"workflow": workflow, "session": session, "run": run}

    def applies(b: Budget) -> bool:
        if b.scope == "global":
            return b.name == budget if budget else b.active
        return b.scope_ref is not None and scoped.get(b.scope) == b.scope_ref

    from orca.cli._remote_admin import status_of

    return [status_of(b.raw) for b in every if applies(b)]


class RemoteDriver:
    """A run on the server, shown as a local one: started, its events streamed (the
    stream resumes by itself), its result awaited. Ctrl-C cancels it there."""

    def __init__(
        self,
        client: Client,
        workflow: str,
        thread: str,
        *,
        input: Any = None,
        resume: Any = None,
        budget: str | None = None,
        session: str = "",
        options: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.workflow = workflow
        self.thread = thread
        self.input = input
        self.resume = resume
        self.budget = budget
        self.session = session
        self.options = options or {}
        self.run_id: str | None = None
        self.result: RunResult | None = None

    def budgets(self, run_id: str | None) -> list[Any]:
        return budget_statuses(self.client, self.budget, self.workflow, self.session, run_id)

    def start(self) -> str:
        """Start the run on the server (before ``present``: a refusal is the command's
        error, not the run's)."""
        if self.run_id is None:
            run = self.client.start_run(
                self.workflow, self.input, thread_id=self.thread, resume=self.resume,
                **self.options,
            )  # fmt: skip
            self.run_id = run.run_id
        return self.run_id

    def drive(self, show: Callable[[Event], None]) -> None:
        c = self.client
        run_id = self.start()
        try:
            for event in c.stream_run(run_id):
                show(event)
        except KeyboardInterrupt:
            c.cancel_run(run_id)
            c.wait_run(run_id)
            raise RunCancelledError(f"run {run_id} was cancelled (Ctrl-C)") from None
        self.result = result = c.wait_run(run_id)
        if result.run.status == "cancelled":
            raise RunCancelledError(result.run.error or f"run {run_id} was cancelled")
        if result.run.status == "failed":
            raise rebuilt(result.run.error or "RunError: the run failed")

    def values(self) -> Any:
        return None if self.result is None else self.result.values

    def close(self) -> None:
        pass


class RemoteSource:
    """An ``orca serve`` at ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = connect(url)

    # -- running -------------------------------------------------------------------------

    def _served(self, text: str) -> str:
        """The served workflow ``text`` names: by its name, or by the source it is
        served from (``flows.py:graph``, as ``orca run`` takes it here)."""
        served = self.client.workflows()
        for w in served:
            if text in (w.name, w.source):
                return w.name
        names = ", ".join(w.name for w in served) or "none"
        fail(
            f"{self.url} serves no workflow {text!r} (it serves: {names})",
            USAGE,
            fix=f"name a served workflow: orca --server {self.url} run NAME, or add it to "
            "[server] workflows there",
        )

    def run(self, request: RunRequest, *, as_json: bool) -> int:
        from orca.errors import ServerRequestError

        r = request
        if not r.workflow:
            fail(
                "no workflow given",
                USAGE,
                fix=f"name one the server serves: orca --server {self.url} run NAME",
            )
        check_on_exceeded(r.on_exceeded)
        workflow = self._served(r.workflow)
        session = r.session or f"s-{uuid.uuid4().hex[:12]}"
        options = _options(r.profile, r.budget, r.on_exceeded, session)
        if r.cost_limit is not None:
            options["cost_limit_usd"] = str(money(r.cost_limit, "--cost-limit"))
        options["token_limit"] = r.token_limit
        options["time_limit_s"] = r.time_limit
        thread = r.thread or f"t-{uuid.uuid4().hex[:12]}"
        driver = RemoteDriver(
            self.client, workflow, thread, input=r.input, budget=r.budget, session=session,
            options=options,
        )  # fmt: skip
        try:
            driver.start()
        except ServerRequestError as exc:  # the input against the graph's state schema
            if exc.code == "INVALID_INPUT":
                fail(f"--input: {exc}", USAGE)
            raise
        return _present(driver, as_json)

    def resume(self, request: ResumeRequest, *, as_json: bool) -> int:
        record = self._record(request.run)
        state = self.client.thread_state(record["thread_id"], workflow=record["workflow"])
        if not state.next and not state.interrupts:
            finished(record["run_id"])
        answer = json_arg(request.value, "--value") if request.value is not None else None
        check_on_exceeded(request.on_exceeded)
        session = record["session_id"] or f"s-{uuid.uuid4().hex[:12]}"
        budget = request.budget or record["budget"]
        options = _options(
            request.profile or record["profile"],
            budget,
            request.on_exceeded or record["on_budget_exceeded"],
            session,
            parent=record["run_id"],
        )
        driver = RemoteDriver(
            self.client, record["workflow"], record["thread_id"], resume=answer, budget=budget,
            session=session, options=options,
        )  # fmt: skip
        return _present(driver, as_json)

    def fork(self, request: ForkRequest, *, as_json: bool) -> int:
        from orca.cli._ids import pick

        record = self._record(request.run)
        workflow, thread = record["workflow"], record["thread_id"]
        if request.as_node is not None:
            shape = self.client.workflow(workflow).raw
            check_node(request.as_node, workflow, [n["name"] for n in shape.get("nodes", [])])
        ids = [c.checkpoint_id for c in self.client.thread_history(thread, limit=1000)]
        fix = "list the run's checkpoints: orca runs history RUN"
        checkpoint = pick("checkpoint", request.checkpoint, ids, fix=fix)
        target = request.thread or f"t-{uuid.uuid4().hex[:12]}"
        c = self.client
        if request.as_node is None:
            c.fork_thread(thread, checkpoint, to_thread=target, values=request.update)
        else:
            c.fork_thread(thread, checkpoint, to_thread=target)
            c.update_state(target, request.update or {}, as_node=request.as_node)
        budget = request.budget or record["budget"]
        session = f"s-{uuid.uuid4().hex[:12]}"
        options = _options(request.profile, budget, None, session, parent=record["run_id"])
        driver = RemoteDriver(c, workflow, target, budget=budget, session=session, options=options)
        return _present(driver, as_json)

    # -- records -------------------------------------------------------------------------

    def _record(self, run: str) -> dict[str, Any]:
        """The run ``run`` names (its id, or a unique prefix of it) as ``runs show``'s
        record."""
        from orca.cli._ids import pick

        try:
            return run_row(self.client.get_run(run).raw)
        except ServerNotFoundError:
            pass
        ids = [r.run_id for r in self.client.list_runs(limit=RUNS_LISTED)]
        found = pick("run", run, ids, fix="list them with orca runs list", where=" on the server")
        return run_row(self.client.get_run(found).raw)

    def resolve_run(self, run: str) -> str:
        return str(self._record(run)["run_id"])

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
        params = {"type": types or None, "start": start, "stop": stop, "since": since,
                  "max": most}  # fmt: skip
        try:
            found = self.client.request("GET", f"/v1/runs/{_p(run_id)}/events", params=params)
        except ServerNotFoundError:
            return None  # no events logged (the run itself was found)
        return list(found)

    def prune(self, cutoff: Any, *, dry_run: bool) -> dict[str, Any]:
        body = {"older_than": cutoff.isoformat(), "dry_run": dry_run}
        found: dict[str, Any] = self.client.request("POST", "/v1/admin/prune", body=body)
        return found

    def replay(self, run_id: str, graph: str | None) -> dict[str, Any]:
        body = {"graph": graph} if graph is not None else None
        found: dict[str, Any] = self.client.request(
            "POST", f"/v1/runs/{_p(run_id)}/replay", body=body
        )
        return found

    def read_events(
        self,
        run_id: str,
        *,
        start: int = 0,
        stop: int | None = None,
        types: list[str] | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """From ``GET /v1/runs/{id}/events``; from a server without it, the run's event
        stream (its log, once the run has stopped), without the events a log does not
        keep."""
        try:
            found = self.client.run_events(run_id, types=types)
        except ServerNotFoundError as exc:
            if not route_missing(exc):
                raise
            found = self._streamed(run_id, start)
        kept = [
            e
            for e in found
            if e["seq"] >= start
            and (stop is None or e["seq"] < stop)
            and (not types or e["type"] in types)
        ]
        return kept if limit is None else kept[:limit]

    def _streamed(self, run_id: str, start: int) -> list[dict[str, Any]]:
        from orca.engine._loop import LOGGED

        last = str(start - 1) if start > 0 else None
        return [
            e.to_dict()
            for e in self.client.stream_run(run_id, last_event_id=last)
            if e.type in LOGGED
        ]

    def list_runs(
        self, *, limit: int, status: str | None, filters: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        found = self.client.list_runs(limit=limit, status=status, **(filters or {}))
        return [list_row(r.raw) for r in found]

    def show_run(self, run: str) -> dict[str, Any]:
        record = self._record(run)
        try:
            shown = self.client.inspect_run(record["run_id"])
        except ServerNotFoundError as exc:
            if not route_missing(exc):
                raise
            return {**record, "tasks": [], "usage": []}  # a server without /inspect
        return {**record, "tasks": shown.get("tasks", []), "usage": shown.get("usage", [])}

    def history(self, run: str, *, limit: int) -> tuple[str, list[dict[str, Any]]]:
        record = self._record(run)
        thread = record["thread_id"]
        found = self.client.thread_history(thread, workflow=record["workflow"], limit=limit)
        return thread, [
            {
                "checkpoint_id": c.checkpoint_id,
                "parent_id": c.parent_id,
                "step": c.step,
                "next": [n["node"] if isinstance(n, dict) else n for n in c.next],
                "source": c.metadata.get("source"),
                "created_at": c.created_at,
            }
            for c in found
        ]


def _p(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def _options(
    profile: str | None,
    budget: str | None,
    on_exceeded: str | None,
    session: str,
    *,
    parent: str | None = None,
) -> dict[str, Any]:
    """The run body's options, and the metadata ``runs show`` reads back (as a run
    started here records it)."""
    metadata = {"session": session, "budget": budget, "profile": profile,
                "on_budget_exceeded": on_exceeded, "parent_run": parent}  # fmt: skip
    options: dict[str, Any] = {
        "profile": profile,
        "budget": budget,
        "on_budget_exceeded": on_exceeded,
        "metadata": {k: v for k, v in metadata.items() if v is not None},
    }
    return options


def _present(driver: RemoteDriver, as_json: bool) -> int:
    from orca.cli._execute import present

    return present(driver, as_json=as_json)
