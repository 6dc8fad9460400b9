"""The request bodies the server takes (pydantic: a bad field is a 422 that names it)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class RunBody(BaseModel):
    """A run to start: the workflow, its input or the answer to its interrupt, and its
    options."""

    model_config = ConfigDict(extra="forbid")

    workflow: str = Field(description="the name of a served workflow")
    input: dict[str, Any] | None = Field(
        default=None, description="the input (none: continue the thread where it stopped)"
    )
    resume: Any = Field(default=None, description="the answer to the thread's interrupt")
    profile: str | None = None
    budget: str | None = None
    seed: int | None = None
    max_steps: int | None = Field(default=None, gt=0)
    time_limit_s: float | None = Field(default=None, gt=0)
    cost_limit_usd: str | None = Field(
        default=None, description="a decimal amount of dollars, e.g. '0.25'"
    )
    token_limit: int | None = Field(default=None, gt=0)
    on_budget_exceeded: Literal["fail", "pause"] = "fail"
    metadata: dict[str, Any] = Field(default_factory=dict)
    webhook: str | None = Field(
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


class StateUpdate(BaseModel):
    """An edit of a thread's state, as if a node had written it."""

    model_config = ConfigDict(extra="forbid")

    values: dict[str, Any] = Field(description="the state keys to write")
    as_node: str | None = Field(
        default=None, description="the node the write is made as (the next tasks follow it)"
    )
    checkpoint_id: str | None = Field(default=None, description="edit this checkpoint instead")
    workflow: str | None = Field(
        default=None, description="the thread's workflow (default: that of its latest run)"
    )


class Fork(BaseModel):
    """A branch of a thread from one of its checkpoints."""

    model_config = ConfigDict(extra="forbid")

    checkpoint_id: str
    to_thread: str | None = Field(default=None, description="a new thread (default: the same)")
    values: dict[str, Any] | None = Field(default=None, description="an edit on the branch")
    workflow: str | None = None


class ErrorEnvelope(BaseModel):
    """Every 4xx and 5xx answer."""

    code: str = Field(description="what went wrong, e.g. INVALID_REQUEST, NOT_FOUND")
    message: str = Field(description="what went wrong, in words")
    engine: str | None = Field(description="the engine concerned, if any")
    retriable: bool = Field(description="whether the same request may succeed later")
    retry_after_ms: int | None = Field(description="when to retry, if the server knows")
    policy_label: str | None = Field(description="the admission policy that refused it")
    details: dict[str, Any] = Field(description="more: the fix, the problems by field")
