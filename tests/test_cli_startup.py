"""``orca --help`` lists every command without loading the engine, the stores, the LLM
layer or the provider SDKs: the command modules import what a command runs in its body
(``--version`` and ``import orca`` are covered by tests/test_startup.py)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = (
    "orca.engine",
    "orca.graph",
    "orca.llm",
    "orca.tools",
    "orca.cost",
    "orca.checkpoint",
    "orca.store",
    "pydantic",
    "sqlite3",
    "openai",
    "anthropic",
    "llama_cpp",
)
COMMANDS = ("init", "doctor", "run", "runs", "budget", "profile", "pricing", "usage", "tools")

_PROBE = """
import contextlib, io, json, sys
from orca.cli import app
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        app(["--help"], standalone_mode=False)
    except SystemExit:
        pass
print(json.dumps({"out": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_help_lists_every_command_without_loading_engine_store_or_llm() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.splitlines()[-1])
    for command in COMMANDS:
        assert f" {command} " in report["out"], command
    loaded = sorted(
        m for m in report["modules"] if any(m == h or m.startswith(h + ".") for h in HEAVY)
    )
    assert loaded == []
