"""Orca demo: a research team (a planner, four parallel workers, a reviewer) runs on the
local llama.cpp engine under a block budget, through the ``orca`` command line.

Run with ``make demo``. It works in a project and ORCA_HOME of its own, made afresh in
``.orca-demo/`` at the top of the checkout (or ``$ORCA_DEMO_DIR``), so it touches nothing
of yours; ``make ui-demo`` then serves that project, and the web UI shows the demo's runs.
The model is a tiny one Orca generates (its words are noise; the machinery is real),
priced with a user price override so that money moves. What you see:

1. ``orca run``: tokens stream live while the workers run in parallel, until the block
   budget cannot afford the next call: the run pauses cleanly (nothing overspent);
2. ``orca budget raise``, then ``orca runs resume``: only the unfinished work runs again,
   up to the reviewer, who asks a human to approve;
3. ``orca runs resume --value true``: approved, done (the reviewer runs again from its
   start, its model call answered from its record: paid once); then the usage report, the tool
   audit log (each worker saved its notes with the ``files_write`` tool) and the budget;
4. ``orca runs inspect`` and ``orca runs replay``: the workers' run as a timeline, then
   replayed from its event log with no model and no tool called: "identical";
5. where the project is kept, and how to see its runs in the web UI (``make ui-demo``).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from orca.llm.tiny import ensure_tiny_model

console = Console(highlight=False)
ORCA = str(Path(sys.executable).parent / "orca")
WORKFLOW = str(Path(__file__).with_name("research.py"))
MODEL = "orca-tiny.gguf"
# where the demo keeps its project and ORCA_HOME (make ui-demo serves it)
DEMO_DIR = Path(
    os.environ.get("ORCA_DEMO_DIR") or Path(__file__).resolve().parents[1] / ".orca-demo"
)
UI_URL = "http://127.0.0.1:8700/runs"


def orca(*args: str, env: dict[str, str], project: Path, quiet: bool = False) -> int:
    """Run one ``orca`` command in the demo project, showing it first."""
    console.print(f"\n[bold green]$[/] orca {shlex.join(args)}")
    done = subprocess.run(
        [ORCA, "-C", str(project), *args],
        env=env,
        stdout=subprocess.DEVNULL if quiet else None,
        check=False,
    )
    return done.returncode


def last_run(env: dict[str, str], project: Path) -> str:
    listed = subprocess.run(
        [ORCA, "-C", str(project), "runs", "list", "--limit", "1", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return str(json.loads(listed.stdout)[0]["run_id"])


MARK = ".made-by-orca-demo"


def fresh(directory: Path) -> tuple[Path, Path]:
    """The demo's ORCA_HOME and project under ``directory``, emptied of an earlier demo's
    runs (the generated model is kept: it is the same bytes every time). A directory the
    demo did not make is never emptied."""
    if directory.is_dir() and any(directory.iterdir()) and not (directory / MARK).is_file():
        sys.exit(f"error: {directory} is not the demo's (no {MARK} in it); fix: set ORCA_DEMO_DIR")
    home, project = directory / "home", directory / "project"
    shutil.rmtree(project, ignore_errors=True)
    for old in home.glob("*"):
        if old.name == "models":
            continue
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink()
    project.mkdir(parents=True)
    (directory / MARK).write_text("made by examples/demo.py (make demo); make ui-demo serves it\n")
    return home, project


def main() -> None:
    home, project = fresh(DEMO_DIR)
    env = {**os.environ, "ORCA_HOME": str(home)}
    model = str(ensure_tiny_model(seed=0, path=home / "models" / MODEL))

    console.rule("Orca demo: planner -> 4 parallel workers -> reviewer, under a budget")
    orca("init", env=env, project=project, quiet=True)
    orca(
        "profile", "create", "local-tiny",
        "--planner", f"llamacpp:{model}", "--worker", f"llamacpp:{model}",
        "--planner-param", "n_ctx=1024", "--worker-param", "n_ctx=1024",
        "--planner-param", "temperature=0.8", "--worker-param", "temperature=0.8",
        "--description", "the tiny local model as planner and worker",
        env=env, project=project,
    )  # fmt: skip
    # a price for the local model, so that money moves: $50 in / $200 out per 1M tokens
    orca("pricing", "set", "llamacpp", MODEL, "--input", "50", "--output", "200",
         env=env, project=project)  # fmt: skip
    # enough for the planner, not for the four workers
    orca("budget", "create", "demo", "--amount", "0.028", "--enforcement", "block",
         env=env, project=project)  # fmt: skip

    console.rule("1. the run: the budget stops it cleanly before it is overspent")
    code = orca(
        "run", WORKFLOW, "--input", json.dumps({"topic": "Pregel engines"}),
        "--thread", "demo", "--on-budget-exceeded", "pause",
        env=env, project=project,
    )  # fmt: skip
    console.print(f"[dim]exit code {code} (5: paused, waiting for a resume)[/]")
    orca("budget", "status", env=env, project=project)

    console.rule("2. raise the budget and resume: only the unfinished work runs")
    orca("budget", "raise", "demo", "--by", "0.10", env=env, project=project)
    orca("runs", "resume", last_run(env, project), env=env, project=project)
    workers = last_run(env, project)

    console.rule("3. a human approves; the run finishes")
    orca("runs", "resume", last_run(env, project), "--value", "true", env=env, project=project)
    console.print(
        "[dim]the reviewer ran again from its start, and its model call was answered "
        "from the call it completed before the pause: paid once (review: 1 call below).[/]"
    )
    orca("usage", "report", "--by", "node", env=env, project=project)
    orca("tools", "log", env=env, project=project)
    orca("runs", "list", env=env, project=project)
    orca("budget", "status", env=env, project=project)

    console.rule("4. after the fact: the workers' run explained, then replayed offline")
    orca("runs", "inspect", workers, env=env, project=project)
    orca("runs", "replay", workers, env=env, project=project)
    console.print(
        "[dim]replay ran the workflow's code again, answering every LLM and tool call "
        "from the event log: no model, no tool, no budget touched.[/]"
    )
    console.print(
        "\n[dim]The same commands drive real models: orca profile create NAME --planner "
        "anthropic:claude-sonnet-4-5 --worker openai:gpt-4o-mini (see README).[/]"
    )
    console.rule("5. the same runs in the web UI")
    console.print(
        f"The demo's project is kept in {DEMO_DIR}. To see its runs in the web UI, run\n"
        f"  [bold]make ui-demo[/]\nand open [bold]{UI_URL}[/] (Ctrl-C stops the server).",
        soft_wrap=True,
    )


if __name__ == "__main__":
    main()
