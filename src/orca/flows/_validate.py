"""Checking a flow document: every problem is reported (not just the first), each naming
its path, node and field, and how to fix it."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from orca.errors import FlowError, closest
from orca.flows import _pyref, _template
from orca.flows._graph import graph_issues
from orca.flows._read import FlowIssue, issue, json_type, read_doc
from orca.flows._spec import (
    END_ID,
    FORMAT,
    KINDS,
    AgentNode,
    Edge,
    Flow,
    HumanNode,
    LLMNode,
    MapNode,
    Node,
    PythonNode,
    RouterNode,
    StateKey,
    SubflowNode,
    ToolNode,
)
from orca.flows._structured import schema_problems

Resolver = Callable[[str], Any]
"""``resolve_flow(ref) -> Flow | mapping``: the flow a subflow node names (a path or a
saved ``name@version``); raises ``LookupError`` or ``FlowError`` when there is none."""

_NODE = TypeAdapter(Node)
_FIELDS_FIX = {
    "id": "use letters, digits, _ and -, starting with a letter (at most 64 characters)",
    "key": "use letters, digits and _, starting with a letter (at most 64 characters)",
    "output": "name a state key: letters, digits and _, starting with a letter",
    "over": "name a state key of type list",
    "as": "use letters, digits and _, starting with a letter",
    "name": "use letters, digits, _, . and -, starting with a letter or digit (at most 64)",
    "model": 'write it as "provider/model", e.g. "openai/gpt-4o-mini"',
    "format": f'set "format": "{FORMAT}"',
}
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "number": (int, float),
    "integer": (int,),
    "boolean": (bool,),
    "list": (list,),
    "object": (dict,),
}
_REDUCER_TYPES = {
    "append": ("list", "any"),
    "merge": ("object", "any"),
    "sum": ("number", "integer", "any"),
}


def check(
    data: Any,
    *,
    tools: Sequence[Any] | None = None,
    python_modules: Sequence[str] | None = None,
    resolve_flow: Resolver | None = None,
    import_refs: bool = True,
    _depth: int = 0,
) -> tuple[Flow | None, list[FlowIssue]]:
    """The flow ``data`` holds and every problem found with it (the flow is None when
    there is any)."""
    doc, found = read_doc(data.to_doc() if isinstance(data, Flow) else data)
    if found:
        return None, found
    if not isinstance(doc, Mapping):
        return None, [
            issue(
                f"a flow document is a JSON object, got {json_type(doc)}",
                f'start from {{"format": "{FORMAT}", "name": "...", "nodes": [...]}}',
            )
        ]
    checker = _Checker(doc, tools, python_modules, resolve_flow, import_refs, _depth)
    checker.run()
    if checker.issues:
        return None, checker.issues
    return Flow.model_validate(doc), []


def parse(data: Any) -> Flow:
    """The flow ``data`` holds, checked without importing anything.

    Raises:
        FlowError: listing every problem.
    """
    if isinstance(data, Flow):
        return data
    flow, found = check(data, import_refs=False)
    if flow is None:
        raise FlowError(found)
    return flow


class _Checker:
    def __init__(
        self,
        doc: Mapping[str, Any],
        tools: Sequence[Any] | None,
        python_modules: Sequence[str] | None,
        resolve_flow: Resolver | None,
        import_refs: bool,
        depth: int,
    ) -> None:
        self.doc = doc
        self.tools = None if tools is None else {_tool_name(t) for t in tools}
        self.python_modules = python_modules
        self.resolve_flow = resolve_flow
        self.import_refs = import_refs
        self.depth = depth
        self.issues: list[FlowIssue] = []
        self.state: dict[str, StateKey] = {}
        self.nodes: dict[str, Any] = {}
        self.node_paths: dict[str, str] = {}
        # nodes that did not parse, by id -> kind: edges may name them, and where one
        # may route (an unknown kind, a router, a map) reachability is not judged
        self.broken: dict[str, Any] = {}
        self.edges: list[tuple[str, Edge]] = []

    def add(self, message: str, fix: str, path: str = "", node: str | None = None) -> None:
        self.issues.append(issue(message, fix, path, node=node))

    def run(self) -> None:
        self._top()
        self._state()
        self._nodes()
        self._edges()
        for node_id, node in self.nodes.items():
            self._node(self.node_paths[node_id], node)
        self.issues += graph_issues(self.nodes, self.node_paths, self.broken, self.edges)

    # -- structure -------------------------------------------------------------------

    def _top(self) -> None:
        doc = self.doc
        known = {f.alias or name for name, f in Flow.model_fields.items()}
        for key in doc:
            if key not in known:
                self.add(
                    f"unknown field {key[:60]!r}{closest(key, sorted(known))}",
                    f"remove it; a flow has {', '.join(sorted(known))}",
                    key,
                )
        if "format" not in doc:
            self.add("the flow has no format", f'add "format": "{FORMAT}"', "format")
        elif doc["format"] != FORMAT:
            self.add(
                f"format {str(doc['format'])[:60]!r} is not {FORMAT!r}",
                f'set "format": "{FORMAT}" (the only version this Orca reads)',
                "format",
            )
        head = {k: doc[k] for k in ("name", "description", "notes") if k in doc}
        try:
            Flow.model_validate({**head, "format": FORMAT, "nodes": []})
        except ValidationError as exc:
            self._pydantic(exc, "", None, Flow)
        for key in ("state", "nodes", "edges"):
            if key in doc and not isinstance(doc[key], list):
                self.add(f"{key} is {json_type(doc[key])}, not a list", f"make {key} a list", key)
        if doc.get("nodes") is None or doc.get("nodes") == []:
            self.add("the flow has no nodes", "add at least one node to nodes", "nodes")

    def _items(self, key: str, limit: int) -> list[tuple[str, Any]]:
        items = self.doc.get(key)
        if not isinstance(items, list):
            return []
        if len(items) > limit:
            self.add(
                f"{key} holds {len(items)} items, more than {limit}",
                "split the flow into subflows",
                key,
            )
            return []
        return [(f"{key}.{i}", item) for i, item in enumerate(items)]

    def _state(self) -> None:
        for path, item in self._items("state", 500):
            try:
                key = StateKey.model_validate(item)
            except ValidationError as exc:
                self._pydantic(exc, path, None, StateKey)
                continue
            if key.key in self.state:
                self.add(
                    f"state key {key.key!r} is declared twice", "remove one of them", f"{path}.key"
                )
                continue
            self.state[key.key] = key
            allowed = _REDUCER_TYPES.get(key.reducer)
            if allowed is not None and key.type not in allowed:
                self.add(
                    f"state key {key.key!r} is a {key.type} but its reducer is {key.reducer}",
                    f"use type {' or '.join(allowed)} with {key.reducer}, or another reducer",
                    f"{path}.reducer",
                )
            if key.default is not None and key.type in _TYPES:
                kinds = _TYPES[key.type]
                ok = isinstance(key.default, kinds) and not (
                    key.type != "boolean" and isinstance(key.default, bool)
                )
                if not ok:
                    self.add(
                        f"the default of state key {key.key!r} is {json_type(key.default)}, "
                        f"not a {key.type}",
                        f"give a {key.type} default, or change the type",
                        f"{path}.default",
                    )

    def _nodes(self) -> None:
        for path, item in self._items("nodes", 500):
            node_id = item.get("id") if isinstance(item, Mapping) else None
            node_id = node_id if isinstance(node_id, str) else None
            if not isinstance(item, Mapping):
                self.add(
                    f"a node is {json_type(item)}, not an object", "make each node an object", path
                )
                continue
            kind = item.get("kind")
            if node_id is not None and node_id not in self.nodes:
                self.broken[node_id] = kind
            if kind not in KINDS:
                what = "has no kind" if kind is None else f"has unknown kind {str(kind)[:40]!r}"
                hint = closest(kind, KINDS) if isinstance(kind, str) else ""
                self.add(
                    f"node {node_id or path!r} {what}{hint}",
                    f"set kind to one of {', '.join(KINDS)}",
                    f"{path}.kind",
                    node_id,
                )
                continue
            try:
                node = _NODE.validate_python(item)
            except ValidationError as exc:
                self._pydantic(exc, path, node_id, _KIND_MODELS[kind], strip=kind)
                continue
            if node.id in self.nodes:
                self.add(
                    f"node id {node.id!r} is used twice",
                    "give each node its own id",
                    f"{path}.id",
                    node.id,
                )
                continue
            self.broken.pop(node.id, None)
            self.nodes[node.id] = node
            self.node_paths[node.id] = path

    def _edges(self) -> None:
        for path, item in self._items("edges", 5000):
            try:
                self.edges.append((path, Edge.model_validate(item)))
            except ValidationError as exc:
                self._pydantic(exc, path, None, Edge)

    def _pydantic(
        self,
        exc: ValidationError,
        base: str,
        node: str | None,
        model: type[BaseModel],
        strip: str | None = None,
    ) -> None:
        for err in exc.errors(include_url=False, include_input=False):
            loc = [str(part) for part in err["loc"]]
            if strip is not None and loc and loc[0] == strip:
                loc = loc[1:]
            path = ".".join([base, *loc] if base else loc)
            field = next((part for part in reversed(loc) if not part.isdigit()), None)
            where = ".".join(loc) or "the value"
            kind = err["type"]
            message = f"{where}: {err['msg']}"
            if node is not None:
                message = f"node {node!r}: {message}"
            if kind == "missing":
                fix = f"add {field!r}"
            elif kind == "extra_forbidden":
                top = len(loc) == 1
                known = sorted(f.alias or n for n, f in model.model_fields.items()) if top else []
                message = f"unknown field {where!r}{closest(field or '', known)}"
                if node is not None:
                    message = f"node {node!r} has {message}"
                fix = f"remove it; this takes {', '.join(known)}" if top else "remove it"
            elif kind == "string_pattern_mismatch" and field in _FIELDS_FIX:
                fix = _FIELDS_FIX[field]
            elif kind == "literal_error":
                expected = (err.get("ctx") or {}).get("expected", "")
                fix = f"use one of {expected}"
            else:
                fix = _FIELDS_FIX.get(field or "", f"give {field or 'it'} a valid value")
            self.issues.append(FlowIssue(path, node, field, message, fix))

    # -- each node -------------------------------------------------------------------

    def _node(self, path: str, node: Any) -> None:
        items = self._items_of(node.id)
        if isinstance(node, LLMNode | AgentNode):
            self._template(path, node, "prompt", node.prompt, items)
            if node.system is not None:
                self._template(path, node, "system", node.system, items)
            if node.role is not None and node.model is not None:
                self.add(
                    f"node {node.id!r} names both a role and a model",
                    "keep one: role (the profile's planner or worker) or model (provider/model)",
                    f"{path}.model",
                    node.id,
                )
            if node.model is not None:
                self._provider(path, node)
            self._output(path, node, node.output)
        if isinstance(node, LLMNode) and node.output_schema is not None:
            for where, message in schema_problems(node.output_schema, "schema"):
                self.add(
                    f"node {node.id!r}: {message}",
                    "give a JSON Schema object, e.g. "
                    '{"type": "object", "properties": {"score": {"type": "number"}}}',
                    f"{path}.{where}",
                    node.id,
                )
        if isinstance(node, AgentNode) and self.tools is not None:
            for i, name in enumerate(node.tools or ()):
                self._tool(f"{path}.tools.{i}", node, name)
        if isinstance(node, ToolNode):
            if self.tools is not None:
                self._tool(f"{path}.tool", node, node.tool)
            for where, text in _template.value_roots(node.args):
                self._template(path, node, f"args.{where}", text, items)
            if node.output is not None:
                self._output(path, node, node.output)
        if isinstance(node, HumanNode):
            self._template(path, node, "prompt", node.prompt, items)
            self._output(path, node, node.output)
        if isinstance(node, RouterNode):
            self._router(path, node)
        if isinstance(node, MapNode):
            self._map(path, node)
        if isinstance(node, SubflowNode):
            self._subflow(path, node, items)
        if isinstance(node, PythonNode):
            self._python(path, node)

    def _items_of(self, node_id: str) -> set[str]:
        """The item names maps send to ``node_id`` (a map target sees its item)."""
        return {n.item for n in self.nodes.values() if isinstance(n, MapNode) and n.to == node_id}

    def _template(self, path: str, node: Any, field: str, text: str, items: set[str]) -> None:
        where = f"{path}.{field}"
        for problem in _template.problems(text):
            self.add(
                f"node {node.id!r}: {field}: {problem}",
                "write variables as {{key}} or {{key.sub}}: a state key, then keys or "
                "indexes (no _-prefixed names, no expressions)",
                where,
                node.id,
            )
        for root in _template.roots(text):
            if root not in self.state and root not in items:
                known = sorted([*self.state, *items])
                self.add(
                    f"node {node.id!r}: {field}: {{{{{root}}}}} is not a state key"
                    f"{closest(root, known)}",
                    f"declare {root!r} in state, or use one of: {', '.join(known) or 'none'}",
                    where,
                    node.id,
                )

    def _output(self, path: str, node: Any, key: str, field: str = "output") -> None:
        if key not in self.state:
            self.add(
                f"node {node.id!r} writes {key!r}, which is not a state key"
                f"{closest(key, list(self.state))}",
                f'declare it: add {{"key": "{key}"}} to state',
                f"{path}.{field}",
                node.id,
            )

    def _provider(self, path: str, node: Any) -> None:
        from orca.llm import provider_names

        provider = str(node.model).split("/", 1)[0]
        names = provider_names()
        if provider not in names:
            self.add(
                f"node {node.id!r}: model provider {provider!r} is unknown"
                f"{closest(provider, names)}",
                f"use one of {', '.join(names)}, as provider/model",
                f"{path}.model",
                node.id,
            )

    def _tool(self, where: str, node: Any, name: str) -> None:
        assert self.tools is not None
        if name not in self.tools:
            known = sorted(self.tools)
            self.add(
                f"node {node.id!r}: tool {name[:60]!r} is not registered{closest(name, known)}",
                f"use one of: {', '.join(known) or 'no tools are registered'}",
                where,
                node.id,
            )

    def _target(self, where: str, node: Any, target: str, *, end: bool = True) -> None:
        if target in self.nodes or target in self.broken or (end and target == END_ID):
            return
        known = sorted(self.nodes)
        self.add(
            f"node {node.id!r} goes to {target[:64]!r}, which is not a node"
            f"{closest(target, known)}",
            f"use a node id ({', '.join(known)})" + (f" or {END_ID}" if end else ""),
            where,
            node.id,
        )

    def _router(self, path: str, node: RouterNode) -> None:
        if not node.routes:
            self.add(
                f"router {node.id!r} has no routes",
                'add a route: {"when": {"key": "...", "op": "eq", "value": ...}, "to": "node"}',
                f"{path}.routes",
                node.id,
            )
        for i, route in enumerate(node.routes):
            where = f"{path}.routes.{i}"
            self._target(f"{where}.to", node, route.to)
            cond = route.when
            root = cond.key.split(".", 1)[0]
            if root not in self.state:
                self.add(
                    f"router {node.id!r} tests {cond.key!r}, whose key {root!r} is not a state key"
                    f"{closest(root, list(self.state))}",
                    "test a declared state key",
                    f"{where}.when.key",
                    node.id,
                )
            value_fix = None
            if cond.op == "in" and not isinstance(cond.value, list):
                value_fix = 'give a list, e.g. "value": ["a", "b"]'
            elif cond.op in ("exists", "truthy") and cond.value is not None:
                value_fix = f"remove value: {cond.op} tests the key alone"
            elif cond.op in ("lt", "le", "gt", "ge") and (
                isinstance(cond.value, bool) or not isinstance(cond.value, int | float | str)
            ):
                value_fix = "compare with a number or a string"
            if value_fix is not None:
                self.add(
                    f"router {node.id!r}: op {cond.op!r} does not take "
                    f"value {json_type(cond.value)}",
                    value_fix,
                    f"{where}.when.value",
                    node.id,
                )
        self._target(f"{path}.default", node, node.default)

    def _map(self, path: str, node: MapNode) -> None:
        key = self.state.get(node.over)
        if key is None:
            self.add(
                f"map {node.id!r} goes over {node.over!r}, which is not a state key"
                f"{closest(node.over, list(self.state))}",
                f'declare it: {{"key": "{node.over}", "type": "list"}}',
                f"{path}.over",
                node.id,
            )
        elif key.type != "list":
            self.add(
                f"map {node.id!r} goes over {node.over!r}, a {key.type}, not a list",
                f'declare {node.over!r} with "type": "list"',
                f"{path}.over",
                node.id,
            )
        if node.to == node.id:
            self.add(
                f"map {node.id!r} sends to itself", "send to another node", f"{path}.to", node.id
            )
        else:
            self._target(f"{path}.to", node, node.to, end=False)
        target = self.nodes.get(node.to)
        written = getattr(target, "output", None)
        key = self.state.get(written) if isinstance(written, str) else None
        if key is not None and key.reducer == "overwrite":
            self.add(
                f"map {node.id!r} runs {node.to!r} once per item, and each writes "
                f"{written!r}, whose reducer is overwrite: the writes would collide",
                f'give {written!r} "reducer": "append" (a list of the answers)',
                f"{path}.to",
                node.id,
            )
        if node.item in self.state:
            self.add(
                f"map {node.id!r} calls its item {node.item!r}, which is also a state key",
                "pick another name for as",
                f"{path}.as",
                node.id,
            )

    def _subflow(self, path: str, node: SubflowNode, items: set[str]) -> None:
        for key, value in node.input.items():
            for where, text in _template.value_roots(value):
                field = f"input.{key}" + (f".{where}" if where else "")
                self._template(path, node, field, text, items)
        for key in node.output:
            self._output(path, node, key, f"output.{key}")
        if self.resolve_flow is None:
            return
        if self.depth >= 8:
            self.add(
                f"subflow {node.id!r} nests flows more than 8 deep (does a flow include itself?)",
                "break the cycle of subflows",
                f"{path}.flow",
                node.id,
            )
            return
        try:
            resolved = self.resolve_flow(node.flow)
        except (LookupError, OSError, ValueError) as exc:
            self.add(
                f"subflow {node.id!r}: flow {node.flow[:100]!r} cannot be found ({exc})"[:500],
                "name a flow file (relative to this one) or a saved name@version",
                f"{path}.flow",
                node.id,
            )
            return
        sub, found = check(
            resolved,
            tools=None if self.tools is None else sorted(self.tools),
            python_modules=self.python_modules,
            resolve_flow=self.resolve_flow,
            import_refs=self.import_refs,
            _depth=self.depth + 1,
        )
        if sub is None:
            first = found[0] if found else None
            self.add(
                f"subflow {node.id!r}: flow {node.flow!r} is invalid"
                + (f": {first.message} at {first.path}" if first else ""),
                first.fix if first else "correct the subflow",
                f"{path}.flow",
                node.id,
            )
            return
        sub_keys = {k.key for k in sub.state}
        for key in node.input:
            if key not in sub_keys:
                self.add(
                    f"subflow {node.id!r}: {key!r} is not a state key of {node.flow!r}"
                    f"{closest(key, sorted(sub_keys))}",
                    f"use one of: {', '.join(sorted(sub_keys))}",
                    f"{path}.input.{key}",
                    node.id,
                )
        for key, sub_key in node.output.items():
            if sub_key not in sub_keys:
                self.add(
                    f"subflow {node.id!r}: {sub_key!r} is not a state key of {node.flow!r}"
                    f"{closest(sub_key, sorted(sub_keys))}",
                    f"use one of: {', '.join(sorted(sub_keys))}",
                    f"{path}.output.{key}",
                    node.id,
                )

    def _python(self, path: str, node: PythonNode) -> None:
        if node.ref is None:
            self.add(
                f"python node {node.id!r} has no ref (exported from a lambda or closure)",
                "set ref to module:function of an importable function",
                f"{path}.ref",
                node.id,
            )
            return
        if self.import_refs:
            _, problem = _pyref.resolve(node.ref, self.python_modules)
        else:
            problem = _pyref.ref_problem(node.ref, self.python_modules)
        if problem is not None:
            self.add(f"node {node.id!r}: {problem[0]}", problem[1], f"{path}.ref", node.id)

    # -- the graph -------------------------------------------------------------------


def _tool_name(tool: Any) -> str:
    return tool if isinstance(tool, str) else str(getattr(tool, "name", tool))


_KIND_MODELS: dict[str, type[BaseModel]] = {
    "llm": LLMNode,
    "agent": AgentNode,
    "tool": ToolNode,
    "router": RouterNode,
    "map": MapNode,
    "human": HumanNode,
    "subflow": SubflowNode,
    "python": PythonNode,
}
