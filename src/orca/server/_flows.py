"""Declarative workflows over HTTP: validate a flow, save versions of it in the project's
store, list, read, diff and delete them (``/v1/flows``), export a served Python graph as
a flow (``/v1/workflows/{name}/flow``), and run saved flows like served workflows.

A saved flow is run as ``NAME@VERSION`` (or ``NAME``: its latest version) when no served
workflow has that name: served workflows win. Its ``python`` nodes may name only modules
of ``[flows] python_modules``; nothing a request names outside that list is imported.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from orca.server._models import PathId
from orca.server._tenancy import side_of

if TYPE_CHECKING:
    from orca.flows import Workflow
    from orca.store import FlowRepository, FlowVersionInfo, Store

COMPILED_KEPT = 64
"""Compiled saved flows kept (by version and content hash)."""


class FlowBody(BaseModel):
    """A flow to check."""

    model_config = ConfigDict(extra="forbid")

    flow: dict[str, Any] = Field(description="the flow document (orca.flow/v1)")


class SaveFlowBody(BaseModel):
    """A flow to save as a version of its name."""

    model_config = ConfigDict(extra="forbid")

    flow: dict[str, Any] = Field(description="the flow document (orca.flow/v1)")
    version: str | None = Field(
        default=None,
        max_length=64,
        description="MAJOR.MINOR.PATCH[-PRERELEASE]; null: the latest's next patch, or 0.1.0",
    )
    message: str | None = Field(default=None, max_length=2000)


class FlowHost(Protocol):
    """Where saved flows run: a tenant's store (its flows and its checkpointer) and the
    served workflows (whose tools a flow may call): a server's ``Runs``, or a worker's
    tenant."""

    @property
    def store(self) -> Store: ...

    @property
    def workflows(self) -> dict[str, Workflow]: ...


class SavedFlows:
    """The saved flows a server or worker runs: compiled on first use (onto the tenant's
    checkpointer, with the served tools and ``[flows] python_modules``), kept by content
    hash."""

    def __init__(self, runs: FlowHost, python_modules: list[str]) -> None:
        self.runs = runs
        self.python_modules = list(python_modules)
        self._compiled: OrderedDict[tuple[str, str], Workflow] = OrderedDict()

    @property
    def repo(self) -> FlowRepository:
        return self.runs.store.flows

    def tools(self) -> list[Any]:
        """The tools a saved flow may call: the built-in ones and those of the served
        workflows (a served tool wins over a built-in of its name)."""
        from orca.tools import builtin_tools

        found = {t.name: t for t in builtin_tools()}
        for workflow in self.runs.workflows.values():
            found.update({t.name: t for t in workflow.tools or ()})
        return list(found.values())

    def resolver(self) -> Any:
        from orca.flows._versions import store_resolver

        return store_resolver(self.repo)

    def check(self, data: Any) -> tuple[Any, list[Any]]:
        """The flow and its problems, as this server would run it."""
        from orca.flows._validate import check

        return check(
            data,
            tools=self.tools(),
            python_modules=self.python_modules,
            resolve_flow=self.resolver(),
        )

    def find(self, ref: str) -> Workflow | None:
        """The saved flow ``ref`` names (``NAME@VERSION`` or ``NAME``), compiled; None when
        it names no saved flow.

        Raises:
            FlowError: the saved flow no longer compiles here (a tool or module gone).
        """
        from orca.flows import Workflow
        from orca.flows._compile import compile_flow
        from orca.flows._versions import is_saved_ref, split_ref

        if not is_saved_ref(ref):
            return None
        name, version = split_ref(ref)
        saved = self.repo.get(name, version)
        if saved is None:
            return None
        key = (saved.info.ref, saved.info.hash)
        found = self._compiled.get(key)
        if found is None:
            tools = self.tools()
            graph = compile_flow(
                saved.flow,
                tools=tools,
                python_modules=self.python_modules,
                resolve_flow=self.resolver(),
            )
            compiled = graph.compile(self.runs.store.checkpoints, name=saved.info.ref)
            found = Workflow(compiled, tools, f"flow:{saved.info.ref}")
            self._compiled[key] = found
            while len(self._compiled) > COMPILED_KEPT:
                self._compiled.popitem(last=False)
        self._compiled.move_to_end(key)
        return found

    def listing(self) -> list[dict[str, Any]]:
        """``GET /v1/workflows``' rows of the saved flows no served workflow shadows."""
        rows = []
        for summary in self.repo.flows():
            if summary.name in self.runs.workflows:
                continue
            saved = self.repo.get(summary.name, summary.latest.version)
            nodes = saved.flow.get("nodes") if saved is not None else None
            rows.append(
                {
                    "name": summary.name,
                    "kind": "flow",
                    "source": f"flow:{summary.latest.ref}",
                    "nodes": len(nodes) if isinstance(nodes, list) else 0,
                    "version": summary.latest.version,
                    "versions": summary.versions,
                    "latest": summary.latest.to_dict(),
                }
            )
        return rows


def _missing(name: str, version: str | None = None) -> HTTPException:
    what = f"flow {name!r}" if version is None else f"version {version} of flow {name!r}"
    return HTTPException(404, f"no saved {what}")


def _saved(request: Request) -> SavedFlows:
    """The saved flows of the caller's tenant."""
    saved = side_of(request).runs.saved
    assert isinstance(saved, SavedFlows)
    return saved


def router() -> APIRouter:
    """The flow routes, over the saved flows of each caller's tenant."""
    api = APIRouter(tags=["flows"])

    @api.post("/v1/flows/validate")
    async def validate(request: Request, body: FlowBody) -> dict[str, Any]:
        """Check a flow as this server would run it (its tools, its allowed python
        modules, its saved subflows): every problem with its path, node, field and fix,
        and the compiled shape when it is valid."""
        saved = _saved(request)

        def work() -> dict[str, Any]:
            from orca.flows._compile import compile_flow

            flow, issues = saved.check(body.flow)
            graph = None
            if flow is not None:
                compiled = compile_flow(
                    flow,
                    tools=saved.tools(),
                    python_modules=saved.python_modules,
                    resolve_flow=saved.resolver(),
                ).compile()
                graph = compiled.describe()
            return {"ok": flow is not None, "errors": [i.to_dict() for i in issues], "graph": graph}

        return await asyncio.to_thread(work)

    @api.get("/v1/tools", tags=["tools"])
    async def list_tools(request: Request) -> list[dict[str, Any]]:
        """The tools a flow's ``tool`` and ``agent`` nodes may call on this server: the
        built-in ones and those of the served workflows, each with the JSON Schema of
        its arguments."""
        saved = _saved(request)
        return [
            {"name": t.name, "description": t.description, "parameters": dict(t.spec.parameters)}
            for t in sorted(saved.tools(), key=lambda t: t.name)
        ]

    @api.get("/v1/flows")
    async def list_flows(request: Request) -> list[dict[str, Any]]:
        """The saved flows: each with its latest version and how many it has."""
        saved = _saved(request)
        found = await asyncio.to_thread(saved.repo.flows)
        return [f.to_dict() for f in found]

    @api.post("/v1/flows", status_code=201)
    async def save(request: Request, body: SaveFlowBody, response: Response) -> dict[str, Any]:
        """Save a valid flow as a version of its name (201); the same content as its
        latest version answers that version (200); a version saved with other content
        is a 409 ``VERSION_EXISTS``; an invalid flow a 422 naming each problem."""
        saved = _saved(request)
        from orca.flows._versions import save_flow

        def work() -> tuple[FlowVersionInfo, bool]:
            return save_flow(
                saved.repo,
                body.flow,
                version=body.version,
                message=body.message,
                tools=saved.tools(),
                python_modules=saved.python_modules,
                resolve_flow=saved.resolver(),
            )

        info, made = await asyncio.to_thread(work)  # FlowError: 422 FLOW_INVALID
        if not made:
            response.status_code = 200
        return info.to_dict()

    @api.get("/v1/flows/{name}/versions")
    async def versions(request: Request, name: PathId) -> list[dict[str, Any]]:
        """The flow's versions, highest first."""
        saved = _saved(request)
        found = await asyncio.to_thread(saved.repo.versions, name)
        if not found:
            raise _missing(name)
        return [i.to_dict() for i in found]

    @api.get("/v1/flows/{name}/versions/{version}")
    async def get_version(request: Request, name: PathId, version: PathId) -> dict[str, Any]:
        """A version (``latest``: the highest) and its document."""
        saved = _saved(request)
        found = await asyncio.to_thread(saved.repo.get, name, version)
        if found is None:
            raise _missing(name, version)
        return {"info": found.info.to_dict(), "flow": found.flow}

    @api.get("/v1/flows/{name}/diff")
    async def diff(
        request: Request,
        name: PathId,
        from_: str = Query(..., alias="from", max_length=64, description="a version"),
        to: str = Query("latest", max_length=64, description="a version (default: latest)"),
    ) -> dict[str, Any]:
        """What changed from one version to another: top-level fields, state keys, nodes
        (field by field; canvas moves apart, in ``nodes.moved``) and edges."""
        saved = _saved(request)
        from orca.flows._diff import diff_flows

        repo = saved.repo
        old = await asyncio.to_thread(repo.get, name, from_)
        new = await asyncio.to_thread(repo.get, name, to)
        if old is None or new is None:
            raise _missing(name, from_ if old is None else to)
        return {"from": old.info.version, "to": new.info.version, **diff_flows(old.flow, new.flow)}

    @api.delete("/v1/flows/{name}/versions/{version}", status_code=204)
    async def delete(request: Request, name: PathId, version: PathId) -> Response:
        """Forget a version (needs the admin scope); runs that used it keep their records."""
        saved = _saved(request)
        if not await asyncio.to_thread(saved.repo.delete, name, version):
            raise _missing(name, version)
        return Response(status_code=204)

    @api.get("/v1/workflows/{name}/flow")
    async def export(request: Request, name: PathId) -> dict[str, Any]:
        """The workflow as a flow document: a saved flow's own document, or a served
        Python graph exported (its nodes as ``python`` nodes naming their functions;
        for viewing)."""
        saved = _saved(request)
        runs = side_of(request).runs
        if name not in runs.workflows:
            from orca.flows._versions import is_saved_ref, split_ref

            if is_saved_ref(name):
                found = await asyncio.to_thread(saved.repo.get, *split_ref(name))
                if found is not None:
                    return found.flow
        from orca.flows._export import export_graph

        return export_graph(runs.workflow(name).graph)

    return api
