"""The request bodies the server takes (pydantic: a bad field is a 422 that names it)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# A name or id taken from a client (a workflow, thread, run, checkpoint, profile, budget,
# node): 1 to 200 characters and no control characters (no NUL, no line breaks: ids end
# up in logs, headers and file names). pydantic refuses a lone surrogate (which JSON can
# carry and no store can hold) in every string of a body.
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
ID_MAX = 200

Name = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
PathId = Annotated[str, Path(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]
QueryId = Annotated[str | None, Query(min_length=1, max_length=ID_MAX, pattern=ID_PATTERN)]

INT64_MAX = (1 << 63) - 1


def _webhook(url: str) -> str:
    """The URL's shape (its host is checked, resolved, when the run starts)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError as exc:
        raise ValueError(f"is not a URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL with a host")
    return url


Webhook = Annotated[str, StringConstraints(min_length=1, max_length=2048), AfterValidator(_webhook)]


# the nodes a run pauses at: their names, or "*" for every node
Breakpoints = Annotated[list[Name], Field(max_length=1000)] | Literal["*"] | None


class RunBody(BaseModel):
    """A run to start: the workflow, its input or the answer to its interrupt, and its
    options."""

    model_config = ConfigDict(extra="forbid")

    workflow: Name = Field(description="the name of a served workflow")
    input: dict[str, Any] | None = Field(
        default=None, description="the input (none: continue the thread where it stopped)"
    )
    resume: Any = Field(default=None, description="the answer to the thread's interrupt")
    profile: Name | None = None
    budget: Name | None = None
    seed: int | None = Field(default=None, ge=-INT64_MAX - 1, le=INT64_MAX)
    max_steps: int | None = Field(default=None, gt=0, le=1_000_000)
    time_limit_s: float | None = Field(
        default=None, gt=0, le=31 * 86400, allow_inf_nan=False, description="at most 31 days"
    )
    cost_limit_usd: str | None = Field(
        default=None,
        pattern=r"^[0-9]{1,12}(\.[0-9]{1,12})?$",
        description="a decimal amount of dollars, e.g. '0.25'",
    )
    token_limit: int | None = Field(default=None, gt=0, le=INT64_MAX)
    on_budget_exceeded: Literal["fail", "pause"] | None = Field(
        default=None, description="default: [budget] on_exceeded of the server's project"
    )
    metadata: dict[Annotated[str, StringConstraints(max_length=ID_MAX)], Any] = Field(
        default_factory=dict, max_length=64, description="up to 64 keys, kept with the run"
    )
    webhook: Webhook | None = Field(
        default=None,
        description="an http(s) URL the run's record is POSTed to when it stops (checked "
        "like http_fetch: public addresses only, unless [server] webhook_networks allows)",
    )
    multitask_strategy: Literal["reject", "enqueue", "interrupt", "rollback"] = Field(
        default="reject",
        description="when a run of this server holds the thread (running or queued): "
        "reject (409, naming it), enqueue (start after it), interrupt (cancel it, keeping "
        "what it committed, then start), or rollback (cancel it and remove the checkpoints "
        "it made, then start)",
    )
    priority: Literal["interactive", "batch"] = Field(
        default="interactive",
        description="its queue: interactive runs start before batch runs that waited longer",
    )
    interrupt_before: Breakpoints = Field(
        default=None,
        description="breakpoints of this run only: pause (interrupted) before these nodes "
        "run, '*' for every node; a plain continue run (no input) goes on from there",
    )
    interrupt_after: Breakpoints = Field(
        default=None,
        description="breakpoints of this run only: pause after these nodes ran, '*' for every node",
    )


class StateUpdate(BaseModel):
    """An edit of a thread's state, as if a node had written it."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] = Field(description="the state keys to write")
    as_node: Name | None = Field(
        default=None, description="the node the write is made as (the next tasks follow it)"
    )
    checkpoint_id: Name | None = Field(default=None, description="edit this checkpoint instead")
    workflow: Name | None = Field(
        default=None, description="the thread's workflow (default: that of its latest run)"
    )


class Fork(BaseModel):
    """A branch of a thread from one of its checkpoints."""

    model_config = ConfigDict(extra="forbid")

    checkpoint_id: Name
    to_thread: Name | None = Field(default=None, description="a new thread (default: the same)")
    values: dict[str, Any] | None = Field(default=None, description="an edit on the branch")
    workflow: Name | None = None


class ErrorEnvelope(BaseModel):
    """Every 4xx and 5xx answer."""

    code: str = Field(description="what went wrong, e.g. INVALID_REQUEST, NOT_FOUND")
    message: str = Field(description="what went wrong, in words")
    engine: str | None = Field(description="the engine concerned, if any")
    retriable: bool = Field(description="whether the same request may succeed later")
    retry_after_ms: int | None = Field(description="when to retry, if the server knows")
    policy_label: str | None = Field(description="the admission policy that refused it")
    details: dict[str, Any] = Field(description="more: the fix, the problems by field")
