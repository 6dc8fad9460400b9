"""Orca demo: a planner fans work out to parallel workers, a reviewer joins their results
and asks a human to approve, and every event streams as it happens.

Run with ``make demo``. Every node calls a real LLM: llama.cpp in-process, with a tiny model
Orca generates (its words are noise; the machinery is real). Tokens stream as they are
made, every call is priced (a price set for the tiny model makes the money move) and the
cost is broken down per node and model. State is checkpointed to a SQLite file after every
superstep, so the run pauses at the approval interrupt and resumes from disk.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, TypedDict

from rich.console import Console
from rich.table import Table

from orca import END, START, Command, RunContext, Send, SqliteCheckpointer, StateGraph, reducers
from orca.cost import Price, PriceBook, format_usd
from orca.events import Event
from orca.llm import ModelSpec, Profile
from orca.llm.tiny import ensure_tiny_model

console = Console(highlight=False)
MODEL = "orca-tiny.gguf"


class State(TypedDict):
    topic: str
    subtasks: list[str]
    findings: Annotated[list[str], reducers.append]
    words: Annotated[int, reducers.sum]
    verdict: str


async def plan(state: State, ctx: RunContext) -> dict[str, Any]:
    answer = await ctx.planner.acomplete(
        f"Split the study of {state['topic']} into parts.", max_tokens=24
    )
    aspects = ["history", "architecture", "failure modes", "cost"]
    ctx.write({"progress": f"plan drafted ({len(answer.text.split())} words)"})
    return {"subtasks": [f"{state['topic']}: {aspect}" for aspect in aspects]}


def fan_out(state: State) -> list[Send]:
    return [Send("worker", {"subtask": s}) for s in state["subtasks"]]


async def worker(arg: dict[str, str], ctx: RunContext) -> dict[str, Any]:
    answer = await ctx.worker.acomplete(f"Research {arg['subtask']}.", max_tokens=16)
    note = f"{arg['subtask']} -> {answer.text.strip()}"
    return {"findings": [note], "words": len(answer.text.split())}


def review(state: State, ctx: RunContext) -> dict[str, Any]:
    summary = ctx.planner.complete("Summarise: " + "; ".join(state["findings"]), max_tokens=20).text
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


class Printer:
    """Shows a run's events as they come: steps, live tokens, costs, checkpoints."""

    def __init__(self) -> None:
        self.speaker: str | None = None
        self.costs: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])

    def token(self, d: dict[str, Any]) -> None:
        who = f"{d['node']}:{d['task_id'][-4:]}"
        if who != self.speaker:  # parallel workers interleave: tag each switch
            console.print(f"\n    [magenta]{who}[/] [dim]({d['role']})[/] ", end="")
            self.speaker = who
        console.print(d["text"], end="", style="dim")

    def end_tokens(self) -> None:
        if self.speaker is not None:
            console.print()
            self.speaker = None

    def __call__(self, event: Event) -> None:
        d = event.to_dict()
        kind = d["type"]
        if kind == "token":
            self.token(d)
            return
        if kind in ("usage", "warning"):
            if kind == "usage":
                row = self.costs[(d["node"], d["role"], d["model"])]
                row[0] += 1
                row[1] += d["input_tokens"]
                row[2] += d["output_tokens"]
                row[3] += d["cost_nano_usd"]
            return
        self.end_tokens()
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

    def cost_table(self) -> Table:
        table = Table(title="LLM cost by node and model")
        for column in ("node", "role", "model", "calls", "tokens in", "tokens out", "cost"):
            table.add_column(column, justify="right" if column[0] in "ct" else "left")
        total = 0
        for (node, role, model), (calls, tin, tout, nano) in sorted(self.costs.items()):
            table.add_row(node, role, model, str(calls), str(tin), str(tout), format_usd(nano))
            total += nano
        table.add_row("total", "", "", "", "", "", format_usd(total), style="bold")
        return table


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        model = str(ensure_tiny_model(seed=0, path=Path(tmp) / MODEL))
        spec = ModelSpec("llamacpp", model, {"n_ctx": 1024, "temperature": 0.8})
        options: dict[str, Any] = {
            "thread_id": "demo-1",
            "seed": 7,
            "profile": Profile("local-tiny", planner=spec, worker=spec),
            # a price for the tiny local model, so that money moves: $2.50 / $10 per 1M
            "prices": PriceBook([Price("llamacpp", MODEL, Decimal("2.50"), Decimal("10"))]),
        }
        show = Printer()
        console.rule("Orca demo: plan -> parallel workers -> review (human approval)")
        with SqliteCheckpointer(db) as store:
            app = build(store)
            for event in app.stream({"topic": "Pregel engines"}, **options):
                show(event)
        console.print("[dim]process state dropped; reopening the checkpoint file[/]")
        with SqliteCheckpointer(db) as store:
            app = build(store)
            snapshot = app.get_state("demo-1")
            console.print(f"thread 'demo-1' is at step {snapshot.step}, next: {snapshot.next}")
            console.print("approving ...\n")
            for event in app.stream(Command(resume=True), **options):
                show(event)
            final = app.get_state("demo-1").values
            console.print(f"verdict: [bold]{final['verdict']}[/], {final['words']} words")
            for finding in final["findings"]:
                console.print(f"  - {finding}")
            console.print(show.cost_table())
            history = app.get_history("demo-1")
            console.print(f"\n{len(history)} checkpoints in history (newest first):")
            for info in history:
                source, nodes = info.metadata["source"], info.metadata["nodes"]
                console.print(f"  {info.checkpoint_id}  {source:<6} {nodes}")


if __name__ == "__main__":
    main()
