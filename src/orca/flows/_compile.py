"""Compiling a flow into a ``StateGraph``: its state keys become a TypedDict with
reducers, each node a function calling the run's models, tools and interrupts through
``ctx``, routers and maps conditional edges."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, TypedDict

from orca.errors import FlowError
from orca.flows import _pyref, _template
from orca.flows._spec import (
    END_ID,
    START_ID,
    AgentNode,
    Flow,
    HumanNode,
    LLMNode,
    MapNode,
    PythonNode,
    RouterNode,
    StateKey,
    SubflowNode,
    ToolNode,
)
from orca.flows._structured import parse_answer
from orca.flows._validate import Resolver, check
from orca.graph import END, START, Send, StateGraph, reducers
from orca.graph.reducers import Reducer

_PYTHON_TYPES: dict[str, Any] = {
    "string": str,
    "number": float,
    "integer": int,
    "boolean": bool,
    "list": list[Any],
    "object": dict[str, Any],
    "any": Any,
}
_REDUCERS: dict[str, Reducer] = {
    "overwrite": reducers.overwrite,
    "append": reducers.append,
    "merge": reducers.merge,
    "sum": reducers.sum,
}
FLOW_ATTRIBUTE = "__orca_flow__"
"""The attribute of a compiled flow's state schema holding the ``Flow`` it came from."""


def compile_flow(
    flow: Any,
    *,
    tools: Sequence[Any] | None = None,
    python_modules: Sequence[str] | None = None,
    resolve_flow: Resolver | None = None,
    _depth: int = 0,
) -> StateGraph:
    """The ``StateGraph`` of ``flow`` (a ``Flow``, a mapping, JSON/YAML text or a path),
    checked first (see ``validate_flow``); ``.compile(checkpointer)`` it to run it.

    Raises:
        FlowError: the flow is invalid (every problem listed).
    """
    data = flow.to_doc() if isinstance(flow, Flow) else flow
    parsed, issues = check(
        data,
        tools=tools,
        python_modules=python_modules,
        resolve_flow=resolve_flow,
        _depth=_depth,
    )
    if parsed is None:
        raise FlowError(issues)
    schema = _state_schema(parsed)
    graph = StateGraph(schema, name=parsed.name)
    for node in parsed.nodes:
        fn: Callable[..., Any]
        if isinstance(node, PythonNode):
            found, _ = _pyref.resolve(str(node.ref), python_modules)
            assert found is not None  # checked above
            fn = found
        elif isinstance(node, SubflowNode):
            fn = _subflow(node, tools, python_modules, resolve_flow, _depth)
        else:
            fn = _BUILDERS[type(node)](node)
        graph.add_node(node.id, fn)
        if isinstance(node, RouterNode):
            targets = [*(r.to for r in node.routes), node.default]
            path_map = {t: END if t == END_ID else t for t in targets}
            graph.add_conditional_edges(node.id, _route(node), path_map)
        elif isinstance(node, MapNode):
            graph.add_conditional_edges(node.id, _fan_out(node), [node.to])
    for edge in parsed.edges:
        source = START if edge.source == START_ID else edge.source
        target = END if edge.target == END_ID else edge.target
        graph.add_edge(source, target)
    return graph


def _state_schema(flow: Flow) -> type:
    fields: dict[str, Any] = {}
    for key in flow.state:
        reducer = _REDUCERS[key.reducer]
        if key.default is not None:
            reducer = Reducer(reducer.name, reducer.fn, _default(key))
        fields[key.key] = Annotated[_PYTHON_TYPES[key.type], reducer]
    make: Any = TypedDict  # a TypedDict built from data: its keys are the flow's
    schema: type = make(_class_name(flow.name), fields, total=False)
    setattr(schema, FLOW_ATTRIBUTE, flow)
    return schema


def _class_name(name: str) -> str:
    cleaned = "".join(c if c.isalnum() else "_" for c in name)
    return cleaned if cleaned.isidentifier() else f"Flow_{cleaned}"


def _default(key: StateKey) -> Callable[[], Any]:
    value = key.default
    return lambda: copy.deepcopy(value)


def _values(state: Any) -> dict[str, Any]:
    return dict(state) if isinstance(state, Mapping) else {}


def _tag(fn: Callable[..., Any], node: Any) -> Callable[..., Any]:
    """Name the node's function after the node (tracebacks and logs say which)."""
    fn.__name__ = fn.__qualname__ = f"flow_{node.kind}_{node.id.replace('-', '_')}"
    fn.__doc__ = node.description or f"The {node.kind} node {node.id!r} of a flow."
    return fn


def _llm(node: LLMNode) -> Callable[..., Any]:
    async def run(state: Any, ctx: Any) -> dict[str, Any]:
        from orca.llm import Message

        values = _values(state)
        prompt = _template.render(node.prompt, values)
        messages = [Message.user(prompt)]
        if node.system is not None:
            messages.insert(0, Message.system(_template.render(node.system, values)))
        options: dict[str, Any] = {}
        if node.max_tokens is not None:
            options["max_tokens"] = node.max_tokens
        if node.temperature is not None:
            options["temperature"] = node.temperature
        if node.output_schema is not None:
            options["response_format"] = node.output_schema
        answer = await ctx.llm(node.model or node.role or "worker").acomplete(messages, **options)
        if node.output_schema is None:
            return {node.output: answer.text}
        return {node.output: parse_answer(answer, node.output_schema)}

    return _tag(run, node)


def _agent(node: AgentNode) -> Callable[..., Any]:
    async def run(state: Any, ctx: Any) -> dict[str, Any]:
        from orca.tools import agent_node

        values = _values(state)
        loop = agent_node(
            role=node.model or node.role or "worker",
            tools=node.tools,
            system=None if node.system is None else _template.render(node.system, values),
            max_iterations=node.max_turns,
            max_tokens=node.max_tokens,
        )
        result = await loop({"task": _template.render(node.prompt, values)}, ctx)
        return {node.output: result["answer"]}

    return _tag(run, node)


def _tool(node: ToolNode) -> Callable[..., Any]:
    async def run(state: Any, ctx: Any) -> dict[str, Any]:
        args = _template.render_value(node.args, _values(state))
        value = await ctx.tools.acall(node.tool, **args)
        return {} if node.output is None else {node.output: value}

    return _tag(run, node)


def _human(node: HumanNode) -> Callable[..., Any]:
    def run(state: Any, ctx: Any) -> dict[str, Any]:
        question: dict[str, Any] = {
            "prompt": _template.render(node.prompt, _values(state)),
            "node": node.id,
            "output": node.output,
        }
        if node.choices is not None:
            question["choices"] = list(node.choices)
        return {node.output: ctx.interrupt(question)}

    return _tag(run, node)


def _passing(node: RouterNode | MapNode) -> Callable[..., Any]:
    def run(state: Any) -> dict[str, Any]:
        return {}

    return _tag(run, node)


def _route(node: RouterNode) -> Callable[..., Any]:
    def choose(state: Any) -> str:
        values = _values(state)
        for route in node.routes:
            cond = route.when
            present = _template.has(values, cond.key)
            actual = _template.lookup(values, cond.key)
            if _template.holds(cond.op, actual, cond.value, present):
                return route.to
        return node.default

    choose.__name__ = choose.__qualname__ = f"route_{node.id.replace('-', '_')}"
    return choose


def _fan_out(node: MapNode) -> Callable[..., Any]:
    def send(state: Any) -> list[Send]:
        values = _values(state)
        items = values.get(node.over) or []
        if not isinstance(items, list):
            items = [items]
        return [Send(node.to, {**values, node.item: item}) for item in items]

    send.__name__ = send.__qualname__ = f"map_{node.id.replace('-', '_')}"
    return send


def _subflow(
    node: SubflowNode,
    tools: Sequence[Any] | None,
    python_modules: Sequence[str] | None,
    resolve_flow: Resolver | None,
    depth: int,
) -> Callable[..., Any]:
    if resolve_flow is None:
        raise FlowError([_missing_resolver(node)])
    sub = compile_flow(
        resolve_flow(node.flow),
        tools=tools,
        python_modules=python_modules,
        resolve_flow=resolve_flow,
        _depth=depth + 1,
    ).compile()
    inner = sub.as_node()
    back: dict[str, list[str]] = {}
    for parent_key, sub_key in node.output.items():
        back.setdefault(sub_key, []).append(parent_key)

    async def run(state: Any, ctx: Any) -> dict[str, Any]:
        values = _values(state)
        given = {k: _template.render_value(v, values) for k, v in node.input.items()}
        update: dict[str, Any] = {}
        for key, value in await inner(given, ctx):
            for parent_key in back.get(key, ()):
                update[parent_key] = value
        return update

    return _tag(run, node)


def _missing_resolver(node: SubflowNode) -> Any:
    from orca.flows._read import issue

    return issue(
        f"subflow {node.id!r} names flow {node.flow!r}, but nothing resolves flows here",
        "compile with resolve_flow=... (orca run resolves paths next to the flow file)",
        "",
        node=node.id,
    )


_BUILDERS: dict[type, Callable[[Any], Callable[..., Any]]] = {
    LLMNode: _llm,
    AgentNode: _agent,
    ToolNode: _tool,
    HumanNode: _human,
    RouterNode: _passing,
    MapNode: _passing,
}
