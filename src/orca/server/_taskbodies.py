"""The bodies of the LLM-task data plane (field names from the task-queue requirements),
and the refusals its routes answer in the error envelope."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Literal, ParamSpec, TypeVar

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from orca.server._errors import envelope

ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
SAMPLER_PROFILES = ("v1",)
"""``v1``: the request's sampling goes to the engine as given (its defaults otherwise)."""

P = ParamSpec("P")
T = TypeVar("T")


class Refused(Exception):
    """A request refused with ``status`` and an envelope ``code`` (a conflict, a gone
    resource): the routes answer it as the envelope."""

    def __init__(self, status: int, code: str, message: str, *, fix: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.body = envelope(code, message, details={"fix": fix, **details})

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def refusals(route: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T | JSONResponse]]:
    """A route that answers ``Refused`` as its envelope."""

    @functools.wraps(route)
    async def answer(*args: P.args, **kwargs: P.kwargs) -> T | JSONResponse:
        try:
            return await route(*args, **kwargs)
        except Refused as refused:
            return refused.response()

    return answer


class InputMessage(BaseModel):
    """One chat message of ``inputs``."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=1 << 20)


class TaskBody(BaseModel):
    """An LLM task: one model call, streamed, metered and charged to its session."""

    model_config = ConfigDict(extra="forbid")

    task_id: str | None = Field(
        default=None,
        pattern=ID,
        description="the client's id: the same id and body again is the same task (none: "
        "one is made up)",
    )
    session_id: str | None = Field(
        default=None, pattern=ID, description="the session the task is a turn of"
    )
    workload: Literal["completion"] = "completion"
    model_ref: str = Field(
        min_length=1,
        max_length=512,
        description="a name of [server.models], planner or worker (the active profile's), "
        "or PROVIDER:MODEL of a cloud provider",
    )
    engine: str | None = Field(
        default=None, max_length=64, description="the engine (provider) model_ref must run on"
    )
    ctx: int | None = Field(
        default=None, gt=0, description="the context (tokens) the task needs at least"
    )
    priority: Literal["interactive", "batch"] = "interactive"
    seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    determinism: Literal["strict", "best_effort"] = Field(
        default="best_effort",
        description="strict: the same request, seed and engine give the same tokens (local "
        "engines only, seed required)",
    )
    sampler_profile_version: Literal["v1"] = "v1"
    prompt: str | None = Field(default=None, max_length=1 << 20)
    inputs: list[InputMessage] | None = Field(default=None, min_length=1, max_length=1000)
    max_tokens: int | None = Field(default=None, gt=0, le=1 << 20)
    deadline_ms: int | None = Field(
        default=None, gt=0, le=7 * 24 * 3600 * 1000, description="ms after submission"
    )
    kv_hint: Literal["reuse", "cold"] | None = Field(
        default=None, description="advisory: whether the session's KV cache is worth keeping"
    )


class ArtifactBody(BaseModel):
    """An artifact to register: its id is the sha256 of ``content``."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["plan", "summary", "diff", "trace"]
    content: str = Field(description="the artifact's text (JSON as text for structured ones)")
    media_type: str = Field(default="text/plain", max_length=128)
    tags: list[str] = Field(default_factory=list, max_length=64)
    parents: list[str] = Field(
        default_factory=list, max_length=64, description="the ids of what it was made from"
    )
    session_id: str | None = Field(default=None, pattern=ID)
    task_id: str | None = Field(default=None, pattern=ID)
    metadata: dict[str, Any] = Field(default_factory=dict)
