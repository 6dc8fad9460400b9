"""Deterministic ids: derived from (thread, step, task path), never from clocks or globals."""

from __future__ import annotations

from hashlib import blake2b


def digest(*parts: str) -> str:
    return blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()


def checkpoint_id(thread_id: str, parent_id: str | None, step: int, nonce: str = "") -> str:
    """``<step>-<hash>``: sorts by step, and differs per branch through ``parent_id``."""
    return f"{step:08d}-{digest('checkpoint', thread_id, parent_id or '', str(step), nonce)}"


def task_id(thread_id: str, checkpoint_id: str, index: int, node: str) -> str:
    """A task is its position in the plan of the step that starts from ``checkpoint_id``."""
    return digest("task", thread_id, checkpoint_id, str(index), node)


def interrupt_id(task_id: str, index: int) -> str:
    return digest("interrupt", task_id, str(index))


def run_id(thread_id: str, start: str | None, head: str | None, kind: str) -> str:
    return "run-" + digest("run", thread_id, start or "", head or "", kind)
