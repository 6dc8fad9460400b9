"""A tenant's stored provider keys over HTTP (``/v1/secrets``, scope admin): store one
(``PUT``), list their records (``GET``: names and fingerprints, never values), forget one
(``DELETE``). No route answers a value: the one reader of values is the code that builds
a run's LLM clients (``api_keys=store.secrets``).

The router is made for a function that gives the secrets of the request's tenant, so
whoever mounts it chooses the store (``project_secrets``: the project store the admin
API already holds).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from orca.store._secrets import MAX_VALUE_BYTES, check_secret_name, check_secret_value

if TYPE_CHECKING:
    from orca.store import SecretRecord, SecretRepository

SecretsOf = Callable[[Request], "SecretRepository"]
"""The secrets of the tenant a request is for."""

SecretName = Annotated[
    str,
    PathParam(
        min_length=1,
        max_length=64,
        description="the environment variable it stands for, in capitals: OPENAI_API_KEY",
    ),
]


class SecretBody(BaseModel):
    """The value to store (never echoed back, never logged)."""

    model_config = ConfigDict(extra="forbid")

    value: str = Field(
        description=f"the provider's key: text, no NUL, at most {MAX_VALUE_BYTES} bytes"
    )


class SecretInfo(BaseModel):
    """A stored secret as anyone may see it: never its value."""

    name: str
    fingerprint: str = Field(
        description="12 hex digits: equal values have equal fingerprints (within a tenant "
        "and master key); they reveal nothing of the value"
    )
    created_at: str
    updated_at: str


def _info(record: SecretRecord) -> SecretInfo:
    return SecretInfo(**record.to_dict())


def router(secrets: SecretsOf) -> APIRouter:
    """The ``/v1/secrets`` routes over the secrets ``secrets(request)`` gives."""
    routes = APIRouter()

    @routes.get("/v1/secrets", tags=["secrets"])
    async def list_secrets(request: Request) -> list[SecretInfo]:
        """The stored secrets by name: fingerprint, when stored (never their values).
        Needs scope admin."""
        found = await asyncio.to_thread(lambda: secrets(request).list())
        return [_info(r) for r in found]

    @routes.put("/v1/secrets/{name}", tags=["secrets"])
    async def put_secret(request: Request, name: SecretName, body: SecretBody) -> SecretInfo:
        """Store a provider key as ``name`` (replacing any value it had), sealed with
        AES-256-GCM; runs of this tenant use it before the environment's variable of
        that name. The answer is its record, never the value. Needs scope admin."""
        check_secret_name(name)
        check_secret_value(body.value)
        record = await asyncio.to_thread(lambda: secrets(request).put(name, body.value))
        return _info(record)

    @routes.delete("/v1/secrets/{name}", status_code=204, tags=["secrets"])
    async def delete_secret(request: Request, name: SecretName) -> Response:
        """Forget a stored secret (runs fall back to the environment). Needs scope admin."""
        if not await asyncio.to_thread(lambda: secrets(request).delete(name)):
            raise HTTPException(404, f"no secret is named {name[:64]!r}")
        return Response(status_code=204)

    return routes


def project_secrets(keys: Any) -> SecretsOf:
    """The secrets of the request's tenant's project store (its side's admin store), sealed
    under the master key of ``keys`` (an ``orca.store.KeySource``: ``[secrets] key_file``,
    or ``ORCA_SECRET_KEY``, or ``$ORCA_HOME/secret.key``)."""
    from orca.server._tenancy import stores

    lock = threading.Lock()

    def secrets_of(request: Request) -> SecretRepository:
        _, _, store = stores(request)
        with lock:  # the repository is made once, by one thread
            store.secret_keys = keys  # the same source each time: the repository is kept
            return store.secrets

    return secrets_of
