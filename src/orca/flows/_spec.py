"""The declarative workflow format, ``orca.flow/v1``, as pydantic models: what a flow
document may hold. ``contracts/workflow.schema.json`` is generated from ``Flow``
(``python -m orca.flows._schema``)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

FORMAT = "orca.flow/v1"
"""The format (and version) a flow document declares in ``"format"``."""

START_ID = "__start__"
END_ID = "__end__"

FLOW_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
NODE_ID = r"^[A-Za-z][A-Za-z0-9_-]{0,63}$"
STATE_KEY = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
MAX_TEXT = 100_000
"""The longest prompt (or other text) a node may hold, in characters."""

StateType = Literal["string", "number", "integer", "boolean", "list", "object", "any"]
ReducerName = Literal["overwrite", "append", "merge", "sum"]
Op = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "contains", "exists", "truthy"]
OPS: tuple[str, ...] = ("eq", "ne", "lt", "le", "gt", "ge", "in", "contains", "exists", "truthy")
OP_ALIASES = {"==": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}
KINDS: tuple[str, ...] = ("llm", "agent", "tool", "router", "map", "human", "subflow", "python")

Key = Annotated[str, Field(pattern=STATE_KEY, description="a state key")]
Text = Annotated[str, Field(max_length=MAX_TEXT)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, frozen=True, use_attribute_docstrings=True
    )


class Position(_Model):
    """Where the builder draws a node (ignored by the compiler and the content hash)."""

    x: float = Field(allow_inf_nan=False)
    y: float = Field(allow_inf_nan=False)


class StateKey(_Model):
    """One key of the flow's state: its type, how writes combine, its first value."""

    key: Key
    type: StateType = "any"
    reducer: ReducerName = "overwrite"
    """``overwrite`` (one writer a step), ``append`` (lists), ``merge`` (objects),
    ``sum`` (numbers)."""
    default: Any = None
    """The value a new thread starts with (null: none; append/merge/sum start empty)."""
    description: str = Field(default="", max_length=2000)


class _Node(_Model):
    id: str = Field(pattern=NODE_ID, description="unique node id")
    position: Position | None = None
    description: str = Field(default="", max_length=2000)


class _ModelChoice(_Model):
    role: Literal["planner", "worker"] | None = None
    """Which of the run profile's models answers (default: worker)."""
    model: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+/\S+$", max_length=300)
    """A named model, ``provider/model`` (instead of ``role``)."""
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    temperature: float | None = Field(default=None, ge=0, le=2)


class LLMNode(_ModelChoice, _Node):
    """One model call: ``prompt`` (a template over the state) in, the answer written to
    ``output`` (the parsed JSON object when ``schema`` is given)."""

    kind: Literal["llm"]
    prompt: Text
    system: Text | None = None
    output: Key
    output_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    """A JSON Schema (an object) the answer must follow: structured output."""


class AgentNode(_ModelChoice, _Node):
    """The tool-calling loop: the model calls ``tools`` until it answers; the answer is
    written to ``output``."""

    kind: Literal["agent"]
    prompt: Text
    system: Text | None = None
    tools: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=200)
    """The tools it may call (null: every tool the run has)."""
    max_turns: int = Field(default=5, ge=1, le=100)
    output: Key


class ToolNode(_Node):
    """One call of a registered tool, its arguments templated from the state."""

    kind: Literal["tool"]
    tool: str = Field(max_length=200)
    args: dict[str, Any] = Field(default_factory=dict)
    """Argument values; strings are templates (``"{{key}}"`` alone passes the value as is)."""
    output: Key | None = None


class Condition(_Model):
    """A test of one state value: ``key`` (``a.b`` reaches inside), ``op``, ``value``."""

    key: str = Field(
        pattern=r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9][A-Za-z0-9_]*)*$", max_length=300
    )
    op: Op = "eq"
    value: Any = None

    @field_validator("op", mode="before")
    @classmethod
    def _alias(cls, value: Any) -> Any:
        return OP_ALIASES.get(value, value) if isinstance(value, str) else value


class Route(_Model):
    when: Condition
    to: str = Field(max_length=64)


class RouterNode(_Node):
    """Goes to the first route whose condition holds, else to ``default``."""

    kind: Literal["router"]
    routes: list[Route] = Field(max_length=100)
    default: str = Field(default=END_ID, max_length=64)


class MapNode(_Node):
    """Runs node ``to`` once per item of the list ``over``, each seeing the item as
    ``{{<as>}}`` (fan-out with ``Send``)."""

    kind: Literal["map"]
    over: Key
    to: str = Field(max_length=64)
    item: str = Field(default="item", alias="as", pattern=STATE_KEY)


class HumanNode(_Node):
    """Pauses the run with ``prompt``; the answer it is resumed with goes to ``output``."""

    kind: Literal["human"]
    prompt: Text
    output: Key
    choices: list[Annotated[str, Field(max_length=200)]] | None = Field(default=None, max_length=50)
    """The answers offered (shown to the person; any answer is taken)."""


class SubflowNode(_Node):
    """Runs another flow (``path/to/flow.yaml`` or a saved ``name@version``) as one step."""

    kind: Literal["subflow"]
    flow: str = Field(min_length=1, max_length=500)
    input: dict[str, Any] = Field(default_factory=dict)
    """Subflow state key -> template over this flow's state."""
    output: dict[Key, Key] = Field(default_factory=dict)
    """This flow's state key -> the subflow's state key whose final value it takes."""


class PythonNode(_Node):
    """A Python function, ``module:function``, run as a node (``fn(state[, ctx])``)."""

    kind: Literal["python"]
    ref: str | None = Field(default=None, max_length=300)
    """``package.module:function``; null only in an export of a function that has no
    importable name (a lambda or closure), which cannot run."""


Node = Annotated[
    LLMNode | AgentNode | ToolNode | RouterNode | MapNode | HumanNode | SubflowNode | PythonNode,
    Field(discriminator="kind"),
]


class Edge(_Model):
    """``from`` runs, then ``to`` (``__start__`` begins the run, ``__end__`` ends it)."""

    source: str = Field(alias="from", max_length=64)
    target: str = Field(alias="to", max_length=64)
    conditional: bool = False
    """In an export: a branch decided at run time by the source's router function."""


class Flow(_Model):
    """A declarative workflow (format ``orca.flow/v1``)."""

    format: Literal["orca.flow/v1"]
    name: str = Field(pattern=FLOW_NAME)
    description: str = Field(default="", max_length=10_000)
    state: list[StateKey] = Field(default_factory=list, max_length=500)
    nodes: list[Node] = Field(max_length=500)
    edges: list[Edge] = Field(default_factory=list, max_length=5000)
    notes: list[str] = Field(default_factory=list, max_length=1000)
    """What an export could not express (a lambda node, a router function's targets)."""

    def node(self, node_id: str) -> Any:
        """The node called ``node_id`` (None if none)."""
        return next((n for n in self.nodes if n.id == node_id), None)

    def to_doc(self) -> dict[str, Any]:
        """The flow as a JSON-able document (every field, aliases as written)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def canonical(flow: Flow) -> dict[str, Any]:
    """The flow's content: every field with its defaults, without what only the builder
    or a reader uses (positions, descriptions, notes), nodes, edges and state in a fixed
    order. Two documents that run the same have the same canonical form."""
    doc = flow.to_doc()
    doc.pop("description", None)
    doc.pop("notes", None)
    for node in doc["nodes"]:
        node.pop("position", None)
        node.pop("description", None)
    for key in doc["state"]:
        key.pop("description", None)
    doc["nodes"].sort(key=lambda n: n["id"])
    doc["state"].sort(key=lambda k: k["key"])
    doc["edges"].sort(key=lambda e: (e["from"], e["to"], e["conditional"]))
    return doc


def content_hash(flow: Flow) -> str:
    """``sha256:<hex>`` of the flow's canonical JSON (see ``canonical``)."""
    import hashlib
    import json

    text = json.dumps(canonical(flow), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()
