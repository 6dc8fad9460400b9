"""The model catalog over HTTP (``/v1/catalog/models``): add a model file, list and show
models, verify one (hash its file again), move one through its lifecycle.

The catalog is the installation's (``orca.store._catalog``), kept in the default
tenant's store; only the installation's callers (the default tenant's) reach it, with
scope ``admin`` to add a model or change its state, ``run`` (an operator) to verify one,
and ``read`` to read it. A model's ``path`` is a file on the server's host: adding one
makes the server read (and later engines load) a file of its own machine, so the caller
must be trusted with that machine's files. The server refuses what is not a regular GGUF file
(directories, devices, FIFOs, sockets, anything else) before it hashes anything.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from orca.pools.catalog import Catalog
from orca.server._models import PathId
from orca.server._tenants import installation_only
from orca.store._catalog import MAX_TAGS, CatalogModel

Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]
_lock = threading.Lock()


class CatalogModelBody(BaseModel):
    """A model file to catalogue."""

    model_config = ConfigDict(extra="forbid")

    path: str = Field(
        min_length=1,
        max_length=4096,
        description="the GGUF file's absolute path on the server's host (symbolic links "
        "are resolved)",
    )
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="unique: letters, digits, '.', '_', ':', '+' or '-' (default: the file's stem)",
    )
    tags: list[Tag] = Field(default_factory=list, max_length=MAX_TAGS)
    state: Literal["draft", "active", "canary"] = "draft"

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(
                "is relative: give the file's absolute path on the server's host (a relative "
                "one would depend on the server's working directory)"
            )
        return value


class StateBody(BaseModel):
    """The lifecycle state to move a model to (retired is final)."""

    model_config = ConfigDict(extra="forbid")

    state: Literal["draft", "active", "canary", "deprecated", "retired"]


class CatalogModelInfo(BaseModel):
    """A catalogued model file."""

    id: str = Field(description="mdl_ and the first 16 hex digits of the digest")
    name: str
    path: str = Field(description="the file on the server's host")
    digest: str = Field(description="sha256:<64 hex digits>")
    size_bytes: int
    format: str
    metadata: dict[str, Any] = Field(
        description="the GGUF header: architecture, context_length, block_count, "
        "parameter_count, quantization, ..."
    )
    tags: list[str]
    state: str = Field(description="draft, active, canary, deprecated or retired")
    trust: str = Field(description="unverified, verified or untrusted")
    verified_at: str | None
    created_at: str
    updated_at: str


def _info(model: CatalogModel) -> CatalogModelInfo:
    return CatalogModelInfo(**model.to_dict())


def catalog_of(request: Request) -> Catalog:
    """The installation's catalog, for a caller of the installation (403 for another
    tenant's)."""
    installation_only(request)
    registry = request.app.state.tenancy.registry
    with _lock:  # the repository is made once, by one thread
        return Catalog(registry.catalog)


router = APIRouter(tags=["catalog"])


@router.post("/v1/catalog/models", status_code=201)
async def add_model(request: Request, body: CatalogModelBody) -> CatalogModelInfo:
    """Catalogue a GGUF model file of the server's host: its sha256 digest, size and
    header (architecture, context length, layers, parameters, quantization),
    ``unverified``. The same bytes are catalogued once (409 ``CATALOG_CONFLICT`` names
    the model holding them). Needs scope admin, of the installation."""
    catalog = catalog_of(request)
    added = await asyncio.to_thread(
        catalog.add, body.path, name=body.name, tags=body.tags, state=body.state
    )
    return _info(added)


@router.get("/v1/catalog/models")
async def list_models(
    request: Request,
    state: Literal["draft", "active", "canary", "deprecated", "retired"] | None = None,
    tag: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    trust: Literal["unverified", "verified", "untrusted"] | None = None,
) -> list[CatalogModelInfo]:
    """The catalogued models by name; only those in ``state``, holding ``tag``, of
    ``trust``. Needs scope read, of the installation."""
    catalog = catalog_of(request)
    found = await asyncio.to_thread(catalog.list, state=state, tag=tag, trust=trust)
    return [_info(m) for m in found]


@router.get("/v1/catalog/models/{model}")
async def show_model(request: Request, model: PathId) -> CatalogModelInfo:
    """A catalogued model, by id or name. Needs scope read, of the installation."""
    catalog = catalog_of(request)
    return _info(await asyncio.to_thread(catalog.get, model))


@router.post("/v1/catalog/models/{model}/verify")
async def verify_model(request: Request, model: PathId) -> CatalogModelInfo:
    """Hash the model's file again: ``verified`` when it matches the digest, else
    ``untrusted`` (every use of it then fails with ``UNTRUSTED_ARTIFACT``). Needs scope
    run, of the installation."""
    catalog = catalog_of(request)
    return _info(await asyncio.to_thread(catalog.verify, model))


@router.post("/v1/catalog/models/{model}/state")
async def set_model_state(request: Request, model: PathId, body: StateBody) -> CatalogModelInfo:
    """Move a model through its lifecycle: draft -> active or canary; canary -> active;
    active or canary -> deprecated; deprecated -> active; any -> retired (final). 409
    ``INVALID_TRANSITION`` names the states it may move to. Needs scope admin, of the
    installation."""
    catalog = catalog_of(request)
    return _info(await asyncio.to_thread(catalog.set_state, model, body.state))
