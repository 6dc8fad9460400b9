"""Every exception Orca raises, in one tree.

Errors subclass the fitting built-in (``ValueError`` for bad input, ``RuntimeError``
for run failures, ``LookupError`` for missing things) and carry structured fields
naming what went wrong and how to fix it::

    OrcaError
    ├── GraphError (ValueError)              an invalid graph definition
    ├── StateError (ValueError)              a bad state value or update
    │   ├── UnknownStateKeyError             a node wrote a key the schema lacks
    │   ├── InvalidUpdateError               a node returned something that is not an update,
    │   │                                    or two tasks overwrote one key in one step
    │   └── SerializationError               a state value cannot be stored
    ├── InvalidInputError (ValueError)       bad arguments to invoke/stream/update_state
    │   ├── InvalidResumeError               a resume that matches no pending interrupt
    │   ├── InvalidFieldError                a bad value of one named field (a CLI option,
    │   │                                    a request body's field): names it and the fix
    │   ├── FlowVersionExistsError           a flow's version is saved with other content
    │   ├── ModelFileError                   a model file that is missing, not GGUF,
    │   │                                    truncated or damaged (names the file)
    │   ├── UnknownCatalogModelError (LookupError)  no catalogued model has this id or name
    │   ├── CatalogConflictError             the file's digest or the name is catalogued
    │   └── InvalidTransitionError           a lifecycle change the catalog refuses
    ├── RunError (RuntimeError)              a run that could not finish
    │   ├── NodeError                        a node raised (after its retries)
    │   ├── ReducerError                     a reducer raised while applying writes
    │   ├── TaskTimeoutError (TimeoutError)  a task ran past its timeout
    │   ├── RunTimeoutError (TimeoutError)   a run ran past its deadline
    │   ├── StepLimitError                   a run reached max_steps
    │   ├── RunCancelledError                a run was cancelled
    │   ├── ThreadBusyError                  another run holds the thread (names it)
    │   ├── RunEndedError                    a done or cancelled run's id, begun again
    │   ├── BudgetExceeded                   a block budget cannot afford a call; names
    │   │                                    the budget, its limit, spent, reserved, asked
    │   ├── ToolError                        ctx.tools.acall: a tool was denied, got bad
    │   │                                    arguments, failed or timed out
    │   └── SandboxUnavailableError          a shell or python tool cannot be sandboxed
    │                                        here (bubblewrap missing or not working)
    ├── PoolError (RuntimeError)             a local engine pool cannot take the work now
    │   │                                    (orca.pools): ``code`` (the error envelope's),
    │   │                                    ``retriable``, ``retry_after``
    │   ├── PoolUnavailableError (LookupError)  no such pool runs, it is draining, stopped
    │   │   │                                or failed, or its engine cannot run here
    │   │   └── UnknownPoolError             no pool of that name is known (a 404)
    │   ├── PoolUnreadyError                 none of its replicas is ready yet (retriable)
    │   ├── ReplicaExhaustedError            every ready replica is busy (retriable)
    │   ├── DeadlineUnmetError               by the queue and the measured decode speed,
    │   │                                    the work would end after its deadline
    │   ├── PlacementError                   the replicas do not fit the GPUs: names the
    │   │                                    need, the roomiest device and the fix
    │   ├── ReloadFailedError                a reload's new model failed to start or to
    │   │                                    answer; the pool serves the old one
    │   └── UntrustedArtifactError           a catalogued model may not be used: untrusted
    │                                        (its file changed), retired, or not verified
    │                                        and active under the strict trust policy
    ├── CheckpointError (RuntimeError)       a database or checkpoint store problem
    │   ├── CheckpointNotFoundError (LookupError)
    │   ├── CorruptDatabaseError             not an Orca database, or damaged
    │   ├── SchemaVersionError               written by a newer Orca
    │   ├── DatabaseLockedError              another process held the lock too long
    │   └── StoreUnavailableError (ConnectionError) the database server is unreachable
    ├── FlowError (ValueError)               a declarative flow document is invalid:
    │                                        ``issues`` names each problem's path, node,
    │                                        field and fix
    ├── ConfigError (ValueError)             bad settings: names the key and the fix
    │   ├── UnknownProviderError             no such LLM provider (suggests the closest)
    │   ├── UnknownProfileError (LookupError) no such LLM profile (suggests the closest)
    │   ├── MissingAPIKeyError               the API key's environment variable is unset
    │   ├── InvalidPriceError                a negative or malformed price
    │   ├── UnknownBudgetError (LookupError) no such budget (suggests the closest)
    │   ├── InvalidBudgetError               a zero or negative amount, a bad period...
    │   └── SecretKeyError                   the master key of stored secrets is missing,
    │                                        malformed, or not the one that sealed them
    ├── ServerError (RuntimeError)           an Orca server answered with its error envelope
    │   │                                    (orca.client): code, message, retriable,
    │   │                                    retry_after_ms, policy_label, details
    │   ├── ServerRequestError (ValueError)  400 / 422: the request is wrong
    │   ├── ServerAuthError (PermissionError)  401 / 403: no token, a wrong one, short scope
    │   ├── ServerNotFoundError (LookupError)  404: no such run, thread, workflow, budget
    │   ├── ServerConflictError              409: the thread is busy, the run not running
    │   ├── ServerOverloadedError            429 / 503: admission refused it; retry later
    │   └── ServerUnreachableError (ConnectionError)  no answer: refused, reset, timed out
    └── LLMError (RuntimeError)              an LLM call failed; names provider and model
        ├── RateLimitedError                 429; ``retry_after`` seconds if the server said
        ├── OverloadedError                  the provider is overloaded (Anthropic 529, 503)
        ├── ProviderServerError              any other 5xx answer
        ├── LLMTimeoutError (TimeoutError)   no answer in time
        ├── ProviderUnreachableError (ConnectionError)  the base URL cannot be reached
        ├── AuthenticationError              the API key was refused (401, 403)
        ├── UnknownModelError (LookupError)  the provider has no such model
        ├── ContextLengthError               the prompt does not fit the model's context
        ├── BadRequestError                  the provider rejected the request (other 4xx)
        ├── MalformedResponseError           the answer breaks the provider's protocol
        └── StreamInterruptedError           the stream stopped mid-way; ``usage`` (estimated)
            │                                holds what was spent
            ├── WorkerResetError             a pool's replica died or was replaced under
            │                                the call (retriable: send it again)
            └── DecodeTimeoutError (TimeoutError)  a pool's replica sent no token in time

``NodeInterrupt`` is not an error: it is the signal ``ctx.interrupt()`` raises to pause
a run, and derives from ``BaseException`` so that ``except Exception`` in node code
does not swallow it.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from difflib import get_close_matches
from typing import Any

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "BudgetExceeded",
    "CatalogConflictError",
    "CheckpointError",
    "CheckpointNotFoundError",
    "ConfigError",
    "ContextLengthError",
    "CorruptDatabaseError",
    "DatabaseLockedError",
    "DeadlineUnmetError",
    "DecodeTimeoutError",
    "FlowError",
    "FlowVersionExistsError",
    "GraphError",
    "InvalidBudgetError",
    "InvalidFieldError",
    "InvalidInputError",
    "InvalidPriceError",
    "InvalidResumeError",
    "InvalidTransitionError",
    "InvalidUpdateError",
    "LLMError",
    "LLMTimeoutError",
    "MalformedResponseError",
    "MissingAPIKeyError",
    "ModelFileError",
    "NodeError",
    "NodeInterrupt",
    "OrcaError",
    "OverloadedError",
    "PlacementError",
    "PoolError",
    "PoolUnavailableError",
    "PoolUnreadyError",
    "ProviderServerError",
    "ProviderUnreachableError",
    "RateLimitedError",
    "ReducerError",
    "ReloadFailedError",
    "ReplicaExhaustedError",
    "RunCancelledError",
    "RunEndedError",
    "RunError",
    "RunTimeoutError",
    "SandboxUnavailableError",
    "SchemaVersionError",
    "SecretKeyError",
    "SerializationError",
    "ServerAuthError",
    "ServerConflictError",
    "ServerError",
    "ServerNotFoundError",
    "ServerOverloadedError",
    "ServerRequestError",
    "ServerUnreachableError",
    "StateError",
    "StepLimitError",
    "StoreUnavailableError",
    "StreamInterruptedError",
    "TaskTimeoutError",
    "ThreadBusyError",
    "ToolError",
    "UnknownBudgetError",
    "UnknownCatalogModelError",
    "UnknownModelError",
    "UnknownPoolError",
    "UnknownProfileError",
    "UnknownProviderError",
    "UnknownStateKeyError",
    "UntrustedArtifactError",
    "WorkerResetError",
]


def closest(name: str, choices: Sequence[str]) -> str:
    """A ' (did you mean 'x'?)' suffix naming the closest choice, or ''."""
    match = get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


class OrcaError(Exception):
    """Base of every error Orca raises."""


# -- bad definitions and bad input -------------------------------------------------------


class GraphError(OrcaError, ValueError):
    """The graph definition is invalid; ``fix`` says how to repair it.

    Attributes:
        node: the node concerned, if any.
        edge: the edge concerned as ``(source, target)``, if any.
        key: the state key concerned, if any.
        fix: what to change.
    """

    def __init__(
        self,
        message: str,
        *,
        fix: str,
        node: str | None = None,
        edge: tuple[str, str] | None = None,
        key: str | None = None,
    ) -> None:
        super().__init__(f"{message}. Fix: {fix}")
        self.node = node
        self.edge = edge
        self.key = key
        self.fix = fix


class StateError(OrcaError, ValueError):
    """A state value or update is invalid."""


class UnknownStateKeyError(StateError):
    """A node (or the input) wrote a key that the state schema does not declare."""

    def __init__(self, key: str, known: Sequence[str], *, node: str | None) -> None:
        where = f"node {node!r}" if node else "the input"
        super().__init__(
            f"{where} wrote unknown state key {key!r}{closest(key, known)}. "
            f"Fix: write only keys the state schema declares ({', '.join(sorted(known))}), "
            f"or add {key!r} to the schema"
        )
        self.key = key
        self.node = node


class InvalidUpdateError(StateError):
    """A node returned something that is not an update, or two tasks overwrote one key."""

    def __init__(self, message: str, *, node: str | None = None, key: str | None = None) -> None:
        super().__init__(message)
        self.node = node
        self.key = key


class SerializationError(StateError):
    """A value cannot be serialised for a checkpoint or an event."""

    def __init__(self, key: str, type_name: str, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        where = key if key.endswith(" event") else f"state key {key!r}"
        super().__init__(
            f"{where} holds a value of type {type_name} that cannot be serialised"
            f"{extra}. Fix: store JSON-like data (dict, list, str, int, float, bool, None), "
            "bytes, Decimal, datetime, set, or a module-level dataclass or pydantic model"
        )
        self.key = key
        self.type_name = type_name


class InvalidInputError(OrcaError, ValueError):
    """Bad arguments to ``invoke``/``stream``/``update_state`` and friends."""


class InvalidResumeError(InvalidInputError):
    """A resume value that matches no pending interrupt, or is ambiguous. ``pending``:
    the ids of the interrupts a plain value could not choose between (else empty)."""

    def __init__(self, message: str, *, pending: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.pending = pending


class InvalidFieldError(InvalidInputError):
    """A bad value of one named field: a command-line option (``--amount``) or a field
    of a request body (``amount``). ``field`` names it, ``fix`` says what to write; the
    CLI reports it as a usage error (exit 2), the server as a 422."""

    def __init__(self, message: str, *, field: str, fix: str) -> None:
        super().__init__(f"{message}. Fix: {fix}")
        self.message = message
        self.field = field
        self.fix = fix


class FlowVersionExistsError(InvalidInputError):
    """A saved flow's version already holds other content (a version, once saved, never
    changes). ``name``, ``version`` and ``hash`` (the saved content's) say which."""

    def __init__(self, name: str, version: str, content_hash: str) -> None:
        super().__init__(
            f"flow {name!r} version {version} is saved with other content ({content_hash}). "
            "Fix: save under another version, or leave the version out to get the next patch"
        )
        self.name = name
        self.version = version
        self.hash = content_hash


class ModelFileError(InvalidInputError):
    """A model file Orca cannot use: missing, not a regular file, not GGUF, of an
    unsupported version, truncated, or damaged or hostile (a length past its end, an
    unknown value type). ``path`` names the file, ``fix`` says what to do."""

    def __init__(self, message: str, *, path: str, fix: str) -> None:
        super().__init__(f"{message}. Fix: {fix}")
        self.message = message
        self.path = path
        self.fix = fix


class UnknownCatalogModelError(InvalidInputError, LookupError):
    """No model of the catalog has this id or name (the closest is suggested)."""

    def __init__(self, ref: str, known: Sequence[str]) -> None:
        shown = ref[:128]
        super().__init__(
            f"no catalogued model is {shown!r}{closest(shown, known)}. Fix: give a model's "
            "id or name (orca model list shows them), or add it: orca model add PATH"
        )
        self.ref = ref


class CatalogConflictError(InvalidInputError):
    """The catalog holds the file's digest already (under ``existing``, the model's id),
    or another model has the name asked for."""

    def __init__(self, message: str, *, existing: str, fix: str) -> None:
        super().__init__(f"{message}. Fix: {fix}")
        self.existing = existing
        self.fix = fix


class InvalidTransitionError(InvalidInputError):
    """A lifecycle change the catalog refuses (``retired`` is final); names the states
    the model may move to."""

    def __init__(self, model: str, current: str, wanted: str, allowed: Sequence[str]) -> None:
        can = ", ".join(allowed) or "none: retired is final"
        super().__init__(
            f"model {model!r} is {current}; it cannot become {wanted}. Fix: move it to one "
            f"of: {can}"
        )
        self.model = model
        self.current = current
        self.wanted = wanted
        self.allowed = tuple(allowed)


class WorkflowLoadError(OrcaError, ValueError):
    """A workflow source (``path.py[:graph]``, ``package.module[:graph]``) cannot be
    loaded: it does not import, names nothing, or is not a valid graph. ``fix`` says
    what to change."""

    def __init__(self, message: str, *, fix: str) -> None:
        super().__init__(f"{message}. Fix: {fix}")
        self.message = message
        self.fix = fix


class FlowError(OrcaError, ValueError):
    """A declarative flow (``orca.flow/v1``) is invalid. ``issues`` lists every problem
    found (``orca.flows.FlowIssue``: path, node, field, message, fix), not just the first.
    """

    def __init__(self, issues: Sequence[Any], *, source: str | None = None) -> None:
        self.issues = list(issues)
        self.source = source
        where = f"{source}: " if source else ""
        first = self.issues[0] if self.issues else None
        if first is None:
            text = f"{where}the flow is invalid"
        else:
            more = len(self.issues) - 1
            at = f" at {first.path}" if first.path else ""
            also = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
            text = f"{where}{first.message}{at}{also}. Fix: {first.fix}"
        super().__init__(text)


# -- run failures -------------------------------------------------------------------------


class RunError(OrcaError, RuntimeError):
    """A run could not finish. ``checkpoint_id`` is the last committed checkpoint."""

    checkpoint_id: str | None = None


class NodeError(RunError):
    """A node raised; the original exception is ``__cause__``. ``location`` says where
    in the user's code it was raised (``file.py:12 in fn: the line``), ``traceback`` is
    the full traceback of the original exception."""

    def __init__(self, node: str, task_id: str, attempts: int, error: BaseException) -> None:
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        self.location = failing_frame(error)
        at = f" (at {self.location})" if self.location else ""
        super().__init__(
            f"node {node!r} failed after {tries}: {type(error).__name__}: {error}{at}. "
            "Fix: correct the node; with a checkpointer, the step's finished tasks are kept "
            "and invoke(None, thread_id=...) resumes the thread, re-running only what failed"
        )
        self.node = node
        self.task_id = task_id
        self.attempts = attempts
        self.traceback = format_traceback(error)


def format_traceback(error: BaseException | None) -> str:
    """``error``'s full traceback, as Python prints it ('' for None)."""
    import traceback

    if error is None:
        return ""
    return "".join(traceback.format_exception(error)).rstrip()


def failing_frame(error: BaseException) -> str | None:
    """Where ``error`` was raised: ``file.py:12 in fn: the line`` of the innermost frame in
    the user's own code (not Orca's, not the standard library's or an installed
    package's), else of the innermost frame; None without a traceback."""
    import os
    import sysconfig
    import traceback

    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return None
    paths = sysconfig.get_paths()
    folders = [paths[k] for k in ("stdlib", "purelib", "platlib")]
    folders.append(os.path.dirname(__file__))  # Orca's own
    libraries = tuple(os.path.realpath(f) + os.sep for f in folders)
    user = [f for f in frames if not os.path.realpath(f.filename).startswith(libraries)]
    frame = (user or frames)[-1]
    name = frame.filename
    try:
        relative = os.path.relpath(name)
        name = relative if not relative.startswith("..") else name
    except ValueError:  # another drive
        pass
    line = (frame.line or "").strip()
    return f"{name}:{frame.lineno} in {frame.name}" + (f": {line}" if line else "")


class ReducerError(RunError):
    """A reducer raised while applying a write at the barrier."""

    def __init__(self, key: str, node: str, error: BaseException) -> None:
        super().__init__(
            f"the reducer of state key {key!r} raised on the write from node {node!r}: "
            f"{type(error).__name__}: {error}. Fix: correct the reducer or the value the node "
            "writes"
        )
        self.key = key
        self.node = node


class TaskTimeoutError(RunError, TimeoutError):
    """A task ran past its ``timeout``."""

    def __init__(self, node: str, timeout: float) -> None:
        super().__init__(
            f"node {node!r} ran past its timeout of {timeout:g}s. Fix: make it faster or "
            f"raise the limit with add_node({node!r}, ..., timeout=...)"
        )
        self.node = node
        self.timeout = timeout


class RunTimeoutError(RunError, TimeoutError):
    """The run ran past its ``deadline``."""

    def __init__(self, deadline: float) -> None:
        super().__init__(
            f"the run ran past its deadline of {deadline:g}s. Fix: raise it with "
            "invoke(..., deadline=...); the thread can be resumed from its last checkpoint"
        )
        self.deadline = deadline


class StepLimitError(RunError):
    """The run reached ``max_steps`` supersteps without finishing."""

    def __init__(self, max_steps: int) -> None:
        super().__init__(
            f"the run reached max_steps={max_steps} supersteps without finishing. Fix: if "
            "the graph loops on purpose, raise the limit with invoke(..., max_steps=N); "
            "otherwise check the conditions that should route to END"
        )
        self.max_steps = max_steps


class RunCancelledError(RunError):
    """The run was cancelled; its last committed checkpoint stands."""


class ThreadBusyError(RunError):
    """Another run holds the thread: at most one run may run on a thread at a time.
    Raised before the run does anything (no node runs, no call is paid for), or when a
    run lost its thread to another after its lease ran out.

    Attributes:
        thread_id: the thread.
        holder: the run that holds it.
        owner: the process holding it (``host:pid:nonce``).
    """

    def __init__(self, thread_id: str, holder: str, owner: str, *, lost: bool = False) -> None:
        host, _, rest = owner.partition(":")
        pid = rest.partition(":")[0]
        where = f" (process {pid} on {host})" if pid else ""
        if lost:
            message = (
                f"the run lost thread {thread_id!r} to run {holder!r}{where} after its lease "
                "ran out. Fix: look at the thread's runs (orca runs list) before resuming it"
            )
        else:
            message = (
                f"thread {thread_id!r} is busy: run {holder!r} holds it{where}. Fix: wait for "
                "that run to finish or cancel it, or run on another thread_id"
            )
        super().__init__(message)
        self.thread_id = thread_id
        self.holder = holder
        self.owner = owner


class RunEndedError(RunError):
    """A run was begun under the id of a run whose record says it finished (done) or was
    cancelled: a run id runs to its end once. Raised before the run does
    anything; what the ended run did stands. (A queued run's second taker, after
    the first finished it, gets this and closes its queue item.)

    Attributes:
        run_id: the run.
        status: how it ended.
    """

    def __init__(self, run_id: str, status: str) -> None:
        super().__init__(
            f"run {run_id!r} has ended ({status}); a run id runs once. Fix: start a new run "
            "(a resume or a retry is a run of its own)"
        )
        self.run_id = run_id
        self.status = status


class BudgetExceeded(RunError):
    """A block-mode budget cannot afford what a call (or a run) asks to reserve.

    Amounts are in the budget's ``unit``: nano-USD for ``usd``, tokens, or milliseconds
    for ``seconds``."""

    def __init__(
        self,
        budget: str,
        *,
        unit: str,
        limit: int,
        spent: int,
        reserved: int,
        asked: int,
        overdrawn: bool = False,
    ) -> None:
        show = _amount_formatter(unit)
        if overdrawn:
            # what the limit must cover again: every charge, every live hold, this call
            need = spent + reserved + asked
            plain = f"{Decimal(need).scaleb(-9).normalize():f}" if unit == "usd" else str(need)
            super().__init__(
                f"budget {budget!r} is overdrawn: spent {show(spent)} and reserved "
                f"{show(reserved)} against a limit of {show(limit)}, so every call is refused "
                f"until it is raised. Fix: orca budget raise {budget} --to {plain}"
            )
        else:
            super().__init__(
                f"budget {budget!r} cannot afford this call: limit {show(limit)}, spent "
                f"{show(spent)}, reserved {show(reserved)}, asked {show(asked)}. Fix: raise "
                f"it (orca budget raise {budget} --by ...), or lower max_tokens"
            )
        self.overdrawn = overdrawn
        self.budget = budget
        self.unit = unit
        self.limit = limit
        self.spent = spent
        self.reserved = reserved
        self.asked = asked


class ToolError(RunError):
    """A tool called with ``ctx.tools.acall``/``call`` did not succeed. ``result`` is its
    ``ToolResult`` (``status``: error, invalid, denied or timeout)."""

    def __init__(self, result: Any) -> None:
        super().__init__(
            f"tool {result.tool!r} {result.status}: {result.error}. Fix: check the tool's "
            "arguments and the policy ([tools] in orca.toml), or use ctx.tools.arun to get "
            "the result without raising"
        )
        self.result = result
        self.tool = result.tool
        self.status = result.status


class SandboxUnavailableError(RunError):
    """A shell or python tool refused to run: it runs only inside the bubblewrap sandbox,
    and ``problem`` says why there is none here (``bwrap`` missing or not working)."""

    def __init__(self, tool: str, problem: str, fix: str) -> None:
        super().__init__(
            f"the {tool} tool runs only in a sandbox, and there is none here: {problem}. Fix: {fix}"
        )
        self.tool = tool
        self.problem = problem


def _amount_formatter(unit: str) -> Any:
    if unit == "usd":
        # as orca.cost.format_usd shows it; errors sit below every package, cost included
        return lambda nano: f"${Decimal(nano).scaleb(-9):,.6f}"
    if unit == "seconds":
        return lambda ms: f"{ms / 1000:g}s"
    return lambda n: f"{n} tokens"


# -- checkpoint stores ---------------------------------------------------------------------


class CheckpointError(OrcaError, RuntimeError):
    """A problem with one of Orca's databases or a checkpoint store."""


class DatabaseLockedError(CheckpointError):
    """Another process kept the database locked past the busy timeout."""

    def __init__(self, path: str) -> None:
        super().__init__(
            f"{path} stayed locked by another process past the busy timeout. Fix: wait for "
            "the other process to finish (or stop it) and retry; nothing was written"
        )
        self.path = path


class StoreUnavailableError(CheckpointError, ConnectionError):
    """A database server (PostgreSQL) could not be reached, or the connection was lost
    before the operation committed. Nothing was written by the failed operation; retrying
    is safe once the server answers."""

    def __init__(self, where: str, detail: str) -> None:
        super().__init__(
            f"the store at {where} is unavailable ({detail}). Fix: check that the database "
            "server runs and accepts connections (orca doctor --store URL), then retry"
        )
        self.where = where


class CheckpointNotFoundError(CheckpointError, LookupError):
    """No such thread or checkpoint."""

    def __init__(self, thread_id: str, checkpoint_id: str | None = None) -> None:
        what = f"checkpoint {checkpoint_id!r} of thread" if checkpoint_id else "thread"
        super().__init__(
            f"{what} {thread_id!r} not found. Fix: list threads and checkpoints with "
            "get_history(thread_id)"
        )
        self.thread_id = thread_id
        self.checkpoint_id = checkpoint_id


class CorruptDatabaseError(CheckpointError):
    """The file is not an Orca database, or it is damaged."""

    def __init__(self, path: str, detail: str, fix: str) -> None:
        super().__init__(f"{path}: {detail}. Fix: {fix}")
        self.path = path
        self.fix = fix


class SchemaVersionError(CheckpointError):
    """The database was written by a newer Orca whose schema this version cannot read."""

    def __init__(
        self, path: str, found: int, supported: int, *, component: str = "checkpoints"
    ) -> None:
        super().__init__(
            f"{path} has {component} schema version {found}, newer than the {supported} this "
            "Orca understands. Fix: upgrade Orca (pip install -U orca); the file was left "
            "untouched"
        )
        self.path = path
        self.found = found
        self.supported = supported
        self.component = component


# -- configuration ---------------------------------------------------------------------------


class ConfigError(OrcaError, ValueError):
    """Bad settings. ``key`` names the setting and ``fix`` says how to repair it."""

    def __init__(self, message: str, *, key: str | None = None, fix: str) -> None:
        super().__init__(f"{message}. Fix: {fix}")
        self.key = key
        self.fix = fix


class UnknownProviderError(ConfigError):
    """No LLM provider has this name."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        super().__init__(
            f"unknown LLM provider {name!r}{closest(name, known)}",
            key="provider",
            fix=f"use one of {', '.join(sorted(known))}",
        )
        self.name = name


class UnknownProfileError(ConfigError, LookupError):
    """No LLM profile has this name."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        have = ", ".join(sorted(known)) or "none yet"
        super().__init__(
            f"unknown LLM profile {name!r}{closest(name, known)}",
            key="profile",
            fix=f"use an existing profile ({have}) or create it (orca profile create)",
        )
        self.name = name


class MissingAPIKeyError(ConfigError):
    """The environment variable holding a provider's API key is not set."""

    def __init__(self, provider: str, env_var: str) -> None:
        super().__init__(
            f"provider {provider!r} needs an API key and {env_var} is not set",
            key=env_var,
            fix=f"export {env_var}=<your key>, or store it sealed in the run's store: "
            f"orca secret set {env_var}",
        )
        self.provider = provider
        self.env_var = env_var


class InvalidPriceError(ConfigError):
    """A price that is negative, not a number, or otherwise unusable."""


class UnknownBudgetError(ConfigError, LookupError):
    """No budget has this name."""

    def __init__(self, name: str, known: Sequence[str]) -> None:
        have = ", ".join(sorted(known)) or "none yet"
        super().__init__(
            f"unknown budget {name!r}{closest(name, known)}",
            key="budget",
            fix=f"use an existing budget ({have}) or create it (orca budget create)",
        )
        self.name = name


class InvalidBudgetError(ConfigError):
    """A budget setting that cannot be used: a zero or negative amount, an unknown
    period, enforcement or timezone, thresholds out of range."""


class SecretKeyError(ConfigError):
    """The master key of stored secrets (``ORCA_SECRET_KEY``, ``[secrets] key_file`` or
    ``$ORCA_HOME/secret.key``) is missing, malformed, or not the key that sealed them.
    The message never holds the key."""


# -- LLM calls --------------------------------------------------------------------------------


class LLMError(OrcaError, RuntimeError):
    """An LLM call failed. ``provider`` and ``model`` say which; ``status`` is the HTTP
    status when there was one."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        model: str,
        status: int | None = None,
        fix: str | None = None,
    ) -> None:
        tail = f". Fix: {fix}" if fix else ""
        super().__init__(f"{provider}/{model}: {message}{tail}")
        self.provider = provider
        self.model = model
        self.status = status


class RateLimitedError(LLMError):
    """The provider answered 429. ``retry_after`` is the wait it asked for, in seconds."""

    retryable = True

    def __init__(
        self, message: str, *, provider: str, model: str, retry_after: float | None = None
    ) -> None:
        wait = f" (retry after {retry_after:g}s)" if retry_after is not None else ""
        super().__init__(
            f"rate limited{wait}: {message}",
            provider=provider,
            model=model,
            status=429,
            fix="slow down, raise the provider's limits, or allow more retries (max_retries=)",
        )
        self.retry_after = retry_after


class OverloadedError(LLMError):
    """The provider is overloaded (Anthropic's 529, or 503)."""

    retryable = True


class ProviderServerError(LLMError):
    """The provider failed with a 5xx answer."""

    retryable = True


class LLMTimeoutError(LLMError, TimeoutError):
    """The provider did not answer in time."""

    retryable = True


class ProviderUnreachableError(LLMError, ConnectionError):
    """The provider's base URL cannot be reached (refused, unknown host, reset)."""

    retryable = True


class AuthenticationError(LLMError):
    """The provider refused the API key (401 or 403)."""


class UnknownModelError(LLMError, LookupError):
    """The provider has no model of this name."""


class ContextLengthError(LLMError):
    """The prompt (plus ``max_tokens``) does not fit the model's context window."""


class BadRequestError(LLMError):
    """The provider rejected the request (a 4xx other than the ones above)."""


class MalformedResponseError(LLMError):
    """The provider's answer does not follow its protocol."""


class StreamInterruptedError(LLMError):
    """The stream stopped before its end. ``text`` is what arrived and ``usage`` the
    (estimated) tokens spent, so the cost is still recorded."""

    retryable = False

    def __init__(self, message: str, *, provider: str, model: str, text: str, usage: Any) -> None:
        super().__init__(
            f"the stream stopped mid-way: {message}",
            provider=provider,
            model=model,
            fix="retry the call; the tokens already spent were recorded as estimated usage",
        )
        self.text = text
        self.usage = usage


class WorkerResetError(StreamInterruptedError):
    """The local engine replica serving the call died or was replaced under it (code
    ``WORKER_RESET``). Not retried inside the call (tokens may have streamed already):
    send the work again; another replica takes it. ``text`` and ``usage`` are what it
    spent, as for any interrupted stream."""

    code = "WORKER_RESET"


class DecodeTimeoutError(StreamInterruptedError, TimeoutError):
    """A local engine replica sent no token for the pool's ``decode_timeout_s`` (code
    ``DECODE_TIMEOUT``)."""

    code = "DECODE_TIMEOUT"


# -- local engine pools (orca.pools) -------------------------------------------------------


class PoolError(OrcaError, RuntimeError):
    """A local engine pool cannot take the work now. ``code`` is its code in the
    server's error envelope, ``retriable`` whether the same work may succeed later, and
    ``retry_after`` (seconds, or None) when."""

    code = "POOL_UNAVAILABLE"
    retriable = False

    def __init__(
        self, message: str, *, pool: str, fix: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{message}. Fix: {fix}" if fix else message)
        self.pool = pool
        self.retry_after = retry_after


class PoolUnavailableError(PoolError, LookupError):
    """No such pool runs, or it is draining, stopped or failed, or its engine cannot run
    here (``POOL_UNAVAILABLE``)."""


class UnknownPoolError(PoolUnavailableError):
    """No pool of that name is known here (``POOL_UNAVAILABLE``, a 404)."""


class PoolUnreadyError(PoolError):
    """The pool runs but none of its replicas is ready yet (starting, or being
    replaced): ``POOL_UNREADY``, retriable."""

    code = "POOL_UNREADY"
    retriable = True


class ReplicaExhaustedError(PoolError):
    """Every ready replica of the pool is busy and the work cannot wait
    (``REPLICA_EXHAUSTED``), retriable."""

    code = "REPLICA_EXHAUSTED"
    retriable = True


class DeadlineUnmetError(PoolError):
    """The work's deadline falls before the pool can start and finish it, by the
    pool's queue and its measured decode speed (``DEADLINE_UNMET``); refused before it
    is queued, retriable with a later deadline or when the queue is shorter."""

    code = "DEADLINE_UNMET"
    retriable = True


class PlacementError(PoolError):
    """A pool's replicas do not fit the GPUs (or there is no GPU): GPU mode never spills
    to the CPU (``POOL_UNAVAILABLE``, a 409: the machine, not the moment, is short).

    Attributes:
        need_bytes: the VRAM one replica needs.
        replica: which replica (0-based) found no room.
        best_device: the index of the device with the most free VRAM, or None without one.
        best_free_bytes: that device's free VRAM after the replicas placed before, or None.
        fix: what to change.
    """

    def __init__(
        self,
        message: str,
        *,
        need_bytes: int,
        replica: int,
        best_device: int | None,
        best_free_bytes: int | None,
        fix: str,
        pool: str = "",
    ) -> None:
        super().__init__(message, pool=pool, fix=fix)
        self.need_bytes = need_bytes
        self.replica = replica
        self.best_device = best_device
        self.best_free_bytes = best_free_bytes
        self.fix = fix


class ReloadFailedError(PoolError):
    """A reload's new model failed to start or to answer its probe: the pool rolled back
    to the model it served, which keeps serving (``RELOAD_FAILED``)."""

    code = "RELOAD_FAILED"


class UntrustedArtifactError(PoolError):
    """A catalogued model may not be used: it is untrusted (its file no longer matches its
    digest, or is gone), retired, or (strict trust policy) not verified or not active or
    canary (``UNTRUSTED_ARTIFACT``). ``model`` is its id, ``reason`` one of
    "untrusted", "retired", "unverified", "state"."""

    code = "UNTRUSTED_ARTIFACT"

    def __init__(self, message: str, *, model: str, reason: str, fix: str, pool: str = "") -> None:
        super().__init__(message, pool=pool, fix=fix)
        self.model = model
        self.reason = reason
        self.fix = fix


# -- an Orca server's answers (orca.client) ----------------------------------------------


class ServerError(OrcaError, RuntimeError):
    """An Orca server answered a request with an error: its envelope's fields, the HTTP
    ``status`` (0 when no answer came) and the request's ``correlation_id``. The
    message ends with the envelope's fix (``details["fix"]``) when it names one."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 0,
        code: str = "ERROR",
        engine: str | None = None,
        retriable: bool = False,
        retry_after_ms: int | None = None,
        policy_label: str | None = None,
        details: dict[str, Any] | None = None,
        correlation_id: str | None = None,
    ) -> None:
        self.details = dict(details or {})
        fix = self.details.get("fix")
        super().__init__(f"{message}. Fix: {fix}" if isinstance(fix, str) and fix else message)
        self.message = message
        self.status = status
        self.code = code
        self.engine = engine
        self.retriable = retriable
        self.retry_after_ms = retry_after_ms
        self.policy_label = policy_label
        self.correlation_id = correlation_id


class ServerRequestError(ServerError, ValueError):
    """The server refused the request as wrong (400, 422: ``details`` names the field)."""


class ServerAuthError(ServerError, PermissionError):
    """No token, a wrong one, or one short of the scope the request needs (401, 403)."""


class ServerNotFoundError(ServerError, LookupError):
    """No such run, thread, workflow, task, budget... on the server (404)."""


class ServerConflictError(ServerError):
    """The request conflicts with what runs now: a busy thread, a run that stopped (409)."""


class ServerOverloadedError(ServerError):
    """Admission refused the request (429, or 503): it was not accepted; retry after
    ``retry_after_ms``. ``policy_label`` names the policy that refused it."""


class ServerUnreachableError(ServerError, ConnectionError):
    """No answer: the connection was refused, reset or timed out."""


# -- control flow ---------------------------------------------------------------------------


class NodeInterrupt(BaseException):
    """Raised by ``ctx.interrupt(value)`` to pause the run; the engine catches it.
    ``when``: ``"during"``, or ``"before"``/``"after"`` where a subgraph paused at one of
    its own static breakpoints (its node pauses the parent the same way)."""

    def __init__(self, interrupt_id: str, value: Any, when: str = "during") -> None:
        super().__init__(value)
        self.interrupt_id = interrupt_id
        self.value = value
        self.when = when
