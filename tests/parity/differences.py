# ruff: noqa: E501  (one line per reason, as the guide prints it)
"""Known differences between LangGraph and ``orca.compat.langgraph``, case by case.

kind "on purpose": Orca is stricter or safer here by design; the reason must appear
word for word in docs/langgraph.md ("Differences"). kind "not yet": to be built; the
reason says what differs. A listed case that starts to match fails its test until it is
removed from this list.
"""

from __future__ import annotations

ON_PURPOSE = "on purpose"
NOT_YET = "not yet"

DIFFERENCES: dict[str, tuple[str, str]] = {
    "command.goto_unknown_node": (
        ON_PURPOSE,
        "a route to a node that does not exist (a Command's goto, a router's result, a Send) fails the run with a GraphError naming it: LangGraph logs a warning and ends the run there, which silently skips the rest of the graph",
    ),
    "config.sqlite_saver_history": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
    "errors.router_returns_unknown_node": (
        ON_PURPOSE,
        "a route to a node that does not exist (a Command's goto, a router's result, a Send) fails the run with a GraphError naming it: LangGraph logs a warning and ends the run there, which silently skips the rest of the graph",
    ),
    "errors.history_after_failure": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
    "features.async_node_in_sync_invoke": (
        ON_PURPOSE,
        "an async node runs under invoke() and stream() too (Orca's core is async, invoke() is a thin wrapper); LangGraph refuses it with TypeError",
    ),
    "interrupts.history_after_resume": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
    "interrupts.resume_when_nothing_pending": (
        ON_PURPOSE,
        "Command(resume=...) on a thread with nothing to resume raises InvalidInputError: a resume value that answers nothing is a mistake Orca makes visible; LangGraph returns the state unchanged",
    ),
    "interrupts.new_input_while_paused_starts_over": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
    "order.history_of_parallel_run": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
    "send.send_to_unknown_node": (
        ON_PURPOSE,
        "a route to a node that does not exist (a Command's goto, a router's result, a Send) fails the run with a GraphError naming it: LangGraph logs a warning and ends the run there, which silently skips the rest of the graph",
    ),
    "send.send_history_steps": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
    "streams.checkpoints_mode": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
    "streams.debug_mode_event_types": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
    "subgraphs.parent_history_with_subgraph": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
    "update_state.replay_from_past_checkpoint": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
}
