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
    "command.update_as_list_of_pairs": (
        NOT_YET,
        "Command(update=[(key, value), ...]) with a key twice keeps only the last pair; LangGraph applies both through the reducer",
    ),
    "command.goto_unknown_node": (
        ON_PURPOSE,
        "a route to a node that does not exist (a Command's goto, a router's result, a Send) fails the run with a GraphError naming it: LangGraph logs a warning and ends the run there, which silently skips the rest of the graph",
    ),
    "command.command_as_input_goto": (
        NOT_YET,
        "invoke(Command(goto=..., update=...)) is refused (ValueError); LangGraph runs the named node",
    ),
    "config.sqlite_saver_history": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
    "config.recursion_limit_in_stream_config": (
        NOT_YET,
        "a looping run stops one step earlier than LangGraph at the same recursion_limit (2 steps' updates before GraphRecursionError, LangGraph 3)",
    ),
    "errors.recursion_limit_with_checkpointer_keeps_state": (
        NOT_YET,
        "a looping run stops one step earlier than LangGraph at the same recursion_limit (2 steps saved before GraphRecursionError, LangGraph 3)",
    ),
    "errors.router_returns_unknown_node": (
        ON_PURPOSE,
        "a route to a node that does not exist (a Command's goto, a router's result, a Send) fails the run with a GraphError naming it: LangGraph logs a warning and ends the run there, which silently skips the rest of the graph",
    ),
    "errors.router_path_map_missing_key": (
        NOT_YET,
        "a router result missing from path_map raises ValueError; LangGraph raises KeyError",
    ),
    "errors.failed_step_keeps_sibling_writes": (
        NOT_YET,
        "get_state() of a step that failed part-way lists only its unfinished tasks; LangGraph's tasks list the finished sibling too",
    ),
    "errors.history_after_failure": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
    "errors.node_not_callable": (
        NOT_YET,
        "add_node with a non-callable raises ValueError; LangGraph raises TypeError",
    ),
    "features.get_graph_nodes_and_edges": (
        NOT_YET,
        "get_graph().nodes is not a mapping of node ids as LangGraph's is",
    ),
    "features.async_node_in_sync_invoke": (
        ON_PURPOSE,
        "an async node runs under invoke() and stream() too (Orca's core is async, invoke() is a thin wrapper); LangGraph refuses it with TypeError",
    ),
    "input.node_returning_list_fails": (
        NOT_YET,
        "a node returning a list of (key, value) pairs is accepted; LangGraph raises InvalidUpdateError",
    ),
    "input.pydantic_coerces_input": (
        NOT_YET,
        "a pydantic state's coerced value is returned coerced (7); LangGraph returns the input as given ('7')",
    ),
    "input.pydantic_rejects_bad_input": (
        NOT_YET,
        "invalid input to a pydantic state raises ValueError; LangGraph raises pydantic's ValidationError",
    ),
    "interrupts.history_after_resume": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
    "interrupts.plain_resume_with_several_pending": (
        NOT_YET,
        "a plain resume with several interrupts pending raises ValueError (InvalidResumeError); LangGraph raises RuntimeError",
    ),
    "interrupts.sibling_write_kept_when_step_pauses": (
        NOT_YET,
        "get_state() of a step that paused part-way lists only its unfinished tasks; LangGraph's tasks list the finished sibling too",
    ),
    "interrupts.paused_step_updates_stream": (
        NOT_YET,
        "when a step pauses part-way, the values stream ends at the interrupt; LangGraph adds a last chunk with the finished sibling's write",
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
    "retry.list_of_policies_first_match_wins": (
        NOT_YET,
        "with a list of retry policies only the first is consulted; LangGraph uses the first whose retry_on matches the exception",
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
    "subgraphs.subgraph_with_interrupt_before_inside": (
        NOT_YET,
        "a static breakpoint (interrupt_before/after) shows as __interrupt__ with value None; LangGraph shows none",
    ),
    "update_state.replay_from_past_checkpoint": (
        ON_PURPOSE,
        "Orca saves a run's input and its first step's plan in one checkpoint: there is no step -1 (source input) checkpoint, so history and the checkpoints and debug streams are one checkpoint shorter, and steps on a thread that takes a second input count one less",
    ),
}
