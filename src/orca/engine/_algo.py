"""Pure step logic: apply writes at the barrier, plan the next superstep. No I/O here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orca.errors import GraphError, InvalidUpdateError, ReducerError, closest
from orca.graph._builder import Branch, GraphSpec
from orca.graph._schema import Channel
from orca.graph._types import END, Overwrite, Send

JOINS = "__joins__"
"""Hidden channel: which sources of each waiting edge ``add_edge([a, b], c)`` have run."""

Writes = list[tuple[str, Any]]
Target = str | Send


def apply_writes(
    channels: Mapping[str, Channel],
    values: dict[str, Any],
    task_writes: Iterable[tuple[str, Writes]],
) -> tuple[dict[str, Any], dict[str, list[Any] | None]]:
    """Fold each task's writes, in task order, into a copy of ``values``.

    Returns the new values and the changed keys: for an append channel the items
    appended this step, for any other channel None.

    An ``Overwrite`` replaces the key's value, bypassing its reducer; the key's writes
    after it in the same step are ignored.

    Raises:
        InvalidUpdateError: two tasks overwrote the same key in one step, or a key got
            two ``Overwrite``s.
        ReducerError: a reducer raised.
    """
    new = dict(values)
    changed: dict[str, list[Any] | None] = {}
    overwritten: dict[str, str] = {}
    replaced: dict[str, str] = {}  # keys an Overwrite set this step, and by which task
    for node, writes in task_writes:
        for key, value in writes:
            channel = channels[key]
            if isinstance(value, Overwrite):
                if channel.strict:
                    value = value.value  # no reducer to bypass: a plain write
                else:
                    if key in replaced:
                        raise InvalidUpdateError(
                            f"nodes {replaced[key]!r} and {node!r} both wrote Overwrite(...) "
                            f"to state key {key!r} in the same superstep. Fix: write at most "
                            "one Overwrite per key and step",
                            node=node,
                            key=key,
                        )
                    replaced[key] = node
                    new[key] = value.value
                    changed[key] = None
                    continue
            if key in replaced:
                continue  # an Overwrite this step has the last word
            if channel.strict:
                if key in overwritten:
                    raise InvalidUpdateError(
                        f"nodes {overwritten[key]!r} and {node!r} both wrote state key {key!r} "
                        "in the same superstep. Fix: give the key a reducer that combines the "
                        f"writes, e.g. {key}: Annotated[list[...], reducers.append], or route "
                        "the nodes so they run in different supersteps",
                        node=node,
                        key=key,
                    )
                overwritten[key] = node
                new[key] = value
                changed[key] = None
                continue
            try:
                if key in new or channel.reducer.empty is not None:
                    new[key] = channel.reducer(new.get(key), value)
                else:
                    new[key] = value
            except Exception as exc:
                raise ReducerError(key, node, exc) from exc
            if channel.appends and changed.get(key, []) is not None:
                items = list(value) if isinstance(value, list | tuple) else [value]
                changed.setdefault(key, []).extend(items)  # type: ignore[union-attr]
            else:
                changed[key] = None
    return new, changed


def normalize_targets(
    spec: GraphSpec, source: str, result: Any, branch: Branch | None
) -> list[Target]:
    """A router's (or ``Command.goto``'s) result as a list of node names and ``Send``s."""
    items: Sequence[Any]
    if result is None:
        items = ()
    elif isinstance(result, str | Send) or not isinstance(result, Sequence):
        items = (result,)
    else:
        items = result
    out: list[Target] = []
    for item in items:
        if branch is not None and branch.path_map is not None and not isinstance(item, Send):
            if item not in branch.path_map:
                raise GraphError(
                    f"the router of {source!r} returned {item!r}, which its path_map lacks",
                    fix=f"return one of {list(branch.path_map)} or add {item!r} to the path_map",
                    node=source,
                )
            item = branch.path_map[item]
        name = item.node if isinstance(item, Send) else item
        if name == END and not isinstance(item, Send):
            continue
        if not isinstance(name, str) or name not in spec.nodes:
            what = "a Send to" if isinstance(item, Send) else "the target"
            known = list(spec.nodes)
            raise GraphError(
                f"node {source!r} routed to {what} {name!r}, which is not a node"
                f"{closest(str(name), known)}",
                fix=f"route to one of {', '.join(known)} or END",
                node=source,
            )
        out.append(item)
    return out


def plan_next(
    spec: GraphSpec,
    finished: Sequence[tuple[str, list[Target]]],
    joins: dict[str, list[str]] | None,
) -> tuple[list[dict[str, Any]], dict[str, list[str]] | None]:
    """The next superstep's tasks, in task order: the nodes named by the finished tasks'
    edges, routers and waiting edges, sorted by name (a node named twice runs once), then
    one task per ``Send``, in the order the finished tasks (in their task order) sent them.

    This is LangGraph's order (its tasks sorted by path: pull tasks by name, then push
    tasks), so reducers that care about order fold a step's writes the same way.

    Returns the task descriptors (``{"node": n}`` or ``{"node": n, "arg": a}``) and the
    new state of the waiting edges (None when the graph has none).
    """
    names: set[str] = set()
    sends: list[dict[str, Any]] = []
    for _node, targets in finished:
        for target in targets:
            if isinstance(target, Send):
                sends.append({"node": target.node, "arg": target.arg})
            elif target != END:
                names.add(target)
    arrived: dict[str, list[str]] | None = None
    if spec.joins:
        arrived = {k: list(v) for k, v in (joins or {}).items()}
        ran = {node for node, _ in finished}
        for sources, target in spec.joins:
            key = f"{'+'.join(sources)}>{target}"
            got = arrived.setdefault(key, [])
            got.extend(s for s in sources if s in ran and s not in got)
            if len(got) == len(sources):
                arrived[key] = []
                if target != END:
                    names.add(target)
    return [{"node": n} for n in sorted(names)] + sends, arrived


DEFERRED = "__deferred__"
"""Key in the ``JOINS`` channel: deferred nodes that were triggered and wait their turn."""


def hold_deferred(
    spec: GraphSpec,
    planned: list[dict[str, Any]],
    joins: dict[str, list[str]] | None,
) -> tuple[list[dict[str, Any]], dict[str, list[str]] | None]:
    """Hold back the nodes added with ``defer=True`` while other tasks are planned; run
    them (once each) in the first step that has nothing else to run. A ``Send`` to a
    deferred node runs at once.

    ``joins`` is the state of the waiting edges after ``plan_next`` (or as stored, when
    the graph has no waiting edges); returns the tasks to run and that state with the
    held nodes in it. A graph without deferred nodes gets both back as they were.
    """
    deferred = spec.deferred
    waiting = list((joins or {}).get(DEFERRED, ()))
    if not deferred and not waiting:
        return planned, joins
    now = [t for t in planned if t["node"] not in deferred or "arg" in t]
    for t in planned:
        if t["node"] in deferred and "arg" not in t and t["node"] not in waiting:
            waiting.append(t["node"])
    if not now:
        now, waiting = [{"node": name} for name in waiting], []
    kept = {k: v for k, v in (joins or {}).items() if k != DEFERRED}
    if waiting:
        kept[DEFERRED] = waiting
    return now, kept


def fold_commands(
    spec: GraphSpec,
    values: dict[str, Any],
    nxt: list[dict[str, Any]],
    commands: Iterable[Mapping[str, Any]],
) -> tuple[dict[str, Any], dict[str, list[Any] | None], list[dict[str, Any]]]:
    """``Command(update=..., goto=...)``s given to ``invoke`` on a thread (kept as its
    checkpoint's pending ``command`` writes), as LangGraph takes them: each update
    folded into ``values`` through the reducers, the tasks each goto names added to
    those planned (``nxt``). Returns the values, the keys changed, the tasks."""
    changed: dict[str, list[Any] | None] = {}
    for command in commands:
        update = [(k, v) for k, v in command.get("update", ())]
        if update:
            values, more = apply_writes(spec.state.channels, values, [("__start__", update)])
            for key, items in more.items():
                before = changed.get(key, [])
                changed[key] = before + items if before is not None and items is not None else None
        for item in command.get("goto", ()):
            if "arg" in item or item not in nxt:  # a node planned already runs once
                nxt = [*nxt, item]
    return values, changed, nxt
