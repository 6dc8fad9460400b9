"""A research team as an Orca workflow: a planner splits a topic, parallel workers study
the parts, a reviewer summarises and asks a human to approve.

Every node calls a model through ``ctx.planner`` / ``ctx.worker``: which models those are
is the run's profile (``orca profile use``), and every call is metered against the run's
budget. Each worker saves its notes with the ``files_write`` tool, inside the project's
workspace, behind the policy, audited (``orca tools log``). Run it with
``orca run examples/research.py --input '{"topic": "..."}'``.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from orca import END, START, RunContext, Send, StateGraph, reducers
from orca.tools import file_tools


class State(TypedDict):
    topic: str
    subtasks: list[str]
    findings: Annotated[list[str], reducers.append]
    words: Annotated[int, reducers.sum]
    summary: str
    verdict: str


ASPECTS = ("history", "architecture", "failure modes", "cost")


async def plan(state: State, ctx: RunContext) -> dict[str, Any]:
    answer = await ctx.planner.acomplete(
        f"Split the study of {state['topic']} into parts.", max_tokens=24
    )
    ctx.write({"progress": f"plan drafted ({len(answer.text.split())} words)"})
    return {"subtasks": [f"{state['topic']}: {aspect}" for aspect in ASPECTS]}


def fan_out(state: State) -> list[Send]:
    return [Send("worker", {"subtask": s}) for s in state["subtasks"]]


async def worker(arg: dict[str, str], ctx: RunContext) -> dict[str, Any]:
    answer = await ctx.worker.acomplete(f"Research {arg['subtask']}.", max_tokens=16)
    note = f"{arg['subtask']} -> {answer.text.strip()}"
    slug = arg["subtask"].split(": ")[-1].replace(" ", "-")
    await ctx.tools.acall("files_write", path=f"notes/{slug}.md", content=note + "\n")
    return {"findings": [note], "words": len(answer.text.split())}


async def review(state: State, ctx: RunContext) -> dict[str, Any]:
    answer = await ctx.planner.acomplete(
        "Summarise: " + "; ".join(state["findings"]), max_tokens=20
    )
    approved = ctx.interrupt({"question": "approve these findings?", "summary": answer.text})
    return {"summary": answer.text, "verdict": "approved" if approved else "rejected"}


# the tools its nodes may call (orca run hands them to the run, with the workspace and
# policy of the project's configuration)
tools = file_tools()

graph = StateGraph(State, name="research")
graph.add_node("plan", plan)
graph.add_node("worker", worker)
graph.add_node("review", review)
graph.add_edge(START, "plan")
graph.add_conditional_edges("plan", fan_out)
graph.add_edge("worker", "review")
graph.add_edge("review", END)
