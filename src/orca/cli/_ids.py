"""Run and checkpoint ids as people type them: the whole id, or any unique prefix of it.
A prefix that fits several says so and lists them; one that fits none says where to look."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from orca.cli._common import CONFIG, USAGE, fail, project_store, user_db

if TYPE_CHECKING:
    from orca.checkpoint import Checkpointer, RunRecord

SHOWN = 5  # candidates an ambiguous prefix lists


def pick(kind: str, text: str, ids: Sequence[str], *, fix: str, where: str = "") -> str:
    """The one of ``ids`` that is ``text`` or starts with it; an error (exit 3) when none
    does, or (exit 2) when several do."""
    if text in ids:
        return text
    found = sorted({i for i in ids if i.startswith(text)})
    if not found:
        fail(f"no {kind} {text!r}{where}", CONFIG, fix=fix)
    if len(found) > 1:
        listed = ", ".join(found[:SHOWN]) + (", ..." if len(found) > SHOWN else "")
        fail(
            f"{kind} {text!r} is ambiguous: {len(found)} {kind}s start with it ({listed})",
            USAGE,
            fix=f"give more of the {kind} id",
        )
    return found[0]


def find_run(store: Checkpointer, text: str) -> RunRecord:
    """The project's run whose id is ``text`` or starts with it."""
    exact = store.get_run(text)
    if exact is not None:
        return exact
    runs = {r.run_id: r for r in store.list_runs() if r.run_id.startswith(text)}
    run_id = pick(
        "run", text, list(runs), fix="list them with orca runs list", where=" in this project"
    )
    return runs[run_id]


def run_id(text: str, *, ledger: bool = False) -> str:
    """The id of the run ``text`` names: a run of this project, or with ``ledger`` also
    one the usage ledger holds (a run of another project). A prefix of several is an
    error; ``text`` that starts no id is returned as it is (the command then says what
    it found of it: no events, no usage)."""
    with project_store() as store:
        if store.get_run(text) is not None:
            return text
        ids = [r.run_id for r in store.list_runs() if r.run_id.startswith(text)]
    if not ids and ledger:
        with user_db() as users:
            ids = [r.key for r in users.usage.report("run") if r.key.startswith(text)]
    return pick("run", text, ids, fix="") if ids else text


def checkpoint_id(store: Checkpointer, thread_id: str, text: str) -> str:
    """The id of the checkpoint of ``thread_id`` that is ``text`` or starts with it."""
    ids = [c.checkpoint_id for c in store.history(thread_id)]
    return pick("checkpoint", text, ids, fix="list the run's checkpoints: orca runs history RUN")
