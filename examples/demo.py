"""Orca demo: a planner fans work out to parallel workers, a reviewer joins their results
and asks a human to approve, and every event streams as it happens.

Run with ``make demo``. State is checkpointed to a SQLite file after every superstep, so
the run pauses at the approval interrupt and resumes from disk.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated, Any, TypedDict

from rich.console import Console

from orca import END, START, Command, RunContext, Send, SqliteCheckpointer, StateGraph, reducers
from orca.events import Event

console = Console(highlight=False)


class State(TypedDict):
    topic: str
    subtasks: list[str]
    findings: Annotated[list[str], reducers.append]
    words: Annotated[int, reducers.sum]
    verdict: str


def plan(state: State) -> dict[str, Any]:
    aspects = ["history", "architecture", "failure modes", "cost"]
    return {"subtasks": [f"{state['topic']}: {aspect}" for aspect in aspects]}


def fan_out(state: State) -> list[Send]:
    return [Send("worker", {"subtask": s}) for s in state["subtasks"]]


async def worker(arg: dict[str, str], ctx: RunContext) -> dict[str, Any]:
    subtask = arg["subtask"]
    ctx.write({"progress": f"started {subtask!r}"})
    await asyncio.sleep(0.05 + ctx.random.random() / 10)  # stands in for an LLM call
    note = f"{subtask} -> {ctx.random.choice(['solid', 'promising', 'risky'])}"
    ctx.write({"progress": f"finished {subtask!r}"})
    return {"findings": [note], "words": len(note.split())}


def review(state: State, ctx: RunContext) -> dict[str, Any]:
    summary = "; ".join(state["findings"])
    approved = ctx.interrupt({"question": "approve these findings?", "summary": summary})
    return {"verdict": "approved" if approved else "rejected"}


def build(checkpointer: SqliteCheckpointer) -> Any:
    g = StateGraph(State, name="research")
    g.add_node("plan", plan)
    g.add_node("worker", worker)
    g.add_node("review", review)
    g.add_edge(START, "plan")
    g.add_conditional_edges("plan", fan_out)
    g.add_edge("worker", "review")
    g.add_edge("review", END)
    return g.compile(checkpointer=checkpointer)


def show(event: Event) -> None:
    d = event.to_dict()
    kind = d["type"]
    if kind == "step.started":
        nodes = ", ".join(t["node"] for t in d["tasks"])
        console.print(f"[bold cyan]step {d['step']}[/] runs {len(d['tasks'])} task(s): {nodes}")
    elif kind == "custom":
        console.print(f"    [dim]{d['node']}[/] {d['data']['progress']}")
    elif kind == "task.finished":
        console.print(f"    [green]done[/] {d['node']} wrote {sorted(d['update'])}")
    elif kind == "checkpoint.saved":
        console.print(f"    [dim]checkpoint {d['checkpoint_id']} committed[/]")
    elif kind == "interrupt":
        for i in d["interrupts"]:
            console.print(f"[bold yellow]paused[/] at {i['node']}: {i['value']['question']}")
    elif kind == "run.finished":
        console.print(f"[bold]run {d['status']}[/] after {d['steps']} superstep(s)\n")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        thread = "demo-1"
        console.rule("Orca demo: plan -> parallel workers -> review (human approval)")
        with SqliteCheckpointer(db) as store:
            app = build(store)
            for event in app.stream({"topic": "Pregel engines"}, thread_id=thread, seed=7):
                show(event)
        console.print("[dim]process state dropped; reopening the checkpoint file[/]")
        with SqliteCheckpointer(db) as store:
            app = build(store)
            snapshot = app.get_state(thread)
            console.print(f"thread {thread!r} is at step {snapshot.step}, next: {snapshot.next}")
            console.print("approving ...\n")
            for event in app.stream(Command(resume=True), thread_id=thread, seed=7):
                show(event)
            final = app.get_state(thread).values
            console.print(f"verdict: [bold]{final['verdict']}[/], {final['words']} words")
            for finding in final["findings"]:
                console.print(f"  - {finding}")
            history = app.get_history(thread)
            console.print(f"\n{len(history)} checkpoints in history (newest first):")
            for info in history:
                source, nodes = info.metadata["source"], info.metadata["nodes"]
                console.print(f"  {info.checkpoint_id}  {source:<6} {nodes}")


if __name__ == "__main__":
    main()
