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
    "command.goto_with_update": (
        NOT_YET,
        "Orca raises GraphError: node 'a' is unreachable from START. Fix: add an edge into 'a', list it in a router's path_map, or",
    ),
    "command.goto_list": (
        NOT_YET,
        "Orca raises GraphError: node 'a' is unreachable from START. Fix: add an edge into 'a', list it in a router's path_map, or",
    ),
    "command.goto_end": (
        NOT_YET,
        "Orca raises GraphError: node 'a' is unreachable from START. Fix: add an edge into 'a', list it in a router's path_map, or",
    ),
    "command.update_only_no_goto": (
        NOT_YET,
        "Orca raises GraphError: node 'a' is unreachable from START. Fix: add an edge into 'a', list it in a router's path_map, or",
    ),
    "command.command_and_static_edge_both_followed": (
        NOT_YET,
        "Orca raises GraphError: node 'b' is unreachable from START. Fix: add an edge into 'b', list it in a router's path_map, or",
    ),
    "command.update_as_list_of_pairs": (
        NOT_YET,
        "Orca raises GraphError: node 'a' is unreachable from START. Fix: add an edge into 'a', list it in a router's path_map, or",
    ),
    "command.update_to_reducer_key": (
        NOT_YET,
        "Orca raises GraphError: node 'a' is unreachable from START. Fix: add an edge into 'a', list it in a router's path_map, or",
    ),
    "command.goto_unknown_node": (
        NOT_YET,
        "Orca raises GraphError: node 'a' is unreachable from START. Fix: add an edge into 'a', list it in a router's path_map, or",
    ),
    "command.command_updates_stream": (
        NOT_YET,
        "Orca raises GraphError: node 'a' is unreachable from START. Fix: add an edge into 'a', list it in a router's path_map, or",
    ),
    "command.command_chosen_by_state": (
        NOT_YET,
        "Orca raises GraphError: node 'a' is unreachable from START. Fix: add an edge into 'a', list it in a router's path_map, or",
    ),
    "command.command_with_destinations_annotation": (
        NOT_YET,
        "Orca raises TypeError: type 'Command' is not subscriptable",
    ),
    "command.command_as_input_update": (
        NOT_YET,
        "Orca raises GraphError: node 'a' is unreachable from START. Fix: add an edge into 'a', list it in a router's path_map, or",
    ),
    "command.command_as_input_goto": (
        NOT_YET,
        "Orca raises GraphError: node 'a' is unreachable from START. Fix: add an edge into 'a', list it in a router's path_map, or",
    ),
    "command.resume_with_update_sets_state_before_node": (
        NOT_YET,
        "Orca raises InvalidInputError: a Command given to invoke may only carry resume=. Fix: change the state with update_state(t",
    ),
    "command.parallel_commands_goto_same_node": (
        NOT_YET,
        "Orca raises GraphError: node 'z' is unreachable from START. Fix: add an edge into 'z', list it in a router's path_map, or",
    ),
    "errors.default_limit_is_above_25": (
        NOT_YET,
        '[1]: LangGraph null, Orca "GraphRecursionError"',
    ),
    "errors.recursion_limit_with_checkpointer_keeps_state": (
        NOT_YET,
        "state.values.log: 3 items on LangGraph, 2 on Orca",
    ),
    "errors.edge_out_of_end": (
        NOT_YET,
        'error: Orca lacks it (LangGraph "ValueError")',
    ),
    "errors.edge_into_start": (
        NOT_YET,
        'error: Orca lacks it (LangGraph "ValueError")',
    ),
    "errors.router_returns_unknown_node": (
        NOT_YET,
        'ok: Orca lacks it (LangGraph {"log": []})',
    ),
    "errors.router_path_map_missing_key": (
        NOT_YET,
        'error: LangGraph "KeyError", Orca "ValueError"',
    ),
    "errors.failed_step_keeps_sibling_writes": (
        NOT_YET,
        "paused.values.log: 1 items on LangGraph, 0 on Orca",
    ),
    "errors.history_after_failure": (
        NOT_YET,
        "result: 3 items on LangGraph, 2 on Orca",
    ),
    "errors.node_not_callable": (
        NOT_YET,
        'error: LangGraph "TypeError", Orca "ValueError"',
    ),
    "features.entrypoint_with_tasks": (
        NOT_YET,
        "the layer has no func.task",
    ),
    "features.entrypoint_interrupt_and_resume": (
        NOT_YET,
        "the layer has no func.task",
    ),
    "features.entrypoint_stream_updates": (
        NOT_YET,
        "the layer has no func.task",
    ),
    "features.entrypoint_previous_value": (
        NOT_YET,
        "the layer has no func.entrypoint",
    ),
    "features.entrypoint_final_splits_return_and_save": (
        NOT_YET,
        "the layer has no func.entrypoint",
    ),
    "features.task_retry_policy": (
        NOT_YET,
        "the layer has no func.task",
    ),
    "features.cache_policy_skips_second_call": (
        NOT_YET,
        "the layer has no types.CachePolicy",
    ),
    "features.cache_hit_in_updates_stream": (
        NOT_YET,
        "the layer has no types.CachePolicy",
    ),
    "features.cache_policy_custom_key": (
        NOT_YET,
        "the layer has no types.CachePolicy",
    ),
    "features.context_schema_reaches_nodes": (
        NOT_YET,
        "the layer has no runtime.Runtime",
    ),
    "features.get_runtime_inside_node": (
        NOT_YET,
        "the layer has no runtime.get_runtime",
    ),
    "features.remaining_steps_counts_down": (
        NOT_YET,
        "the layer has no managed.RemainingSteps",
    ),
    "features.is_last_step_flag": (
        NOT_YET,
        "the layer has no managed.RemainingSteps",
    ),
    "features.managed_values_not_in_output": (
        NOT_YET,
        "the layer has no managed.RemainingSteps",
    ),
    "features.batch_in_order": (
        NOT_YET,
        "[0].log: Orca lacks it (LangGraph [])",
    ),
    "features.abatch_in_order": (
        NOT_YET,
        "[0].log: Orca lacks it (LangGraph [])",
    ),
    "features.batch_return_exceptions": (
        NOT_YET,
        "Orca raises InvalidInputError: unexpected keyword argument 'return_exceptions'",
    ),
    "features.get_graph_nodes_and_edges": (
        NOT_YET,
        "Orca raises TypeError: '<' not supported between instances of 'Node' and 'Node'",
    ),
    "features.memory_saver_alias": (
        NOT_YET,
        "log: Orca lacks it (LangGraph [])",
    ),
    "features.async_node_in_sync_invoke": (
        NOT_YET,
        'error: Orca lacks it (LangGraph "TypeError")',
    ),
    "input.typing_extensions_typeddict": (
        NOT_YET,
        "Orca raises GraphError: state schema TE is not a TypedDict, dataclass or pydantic model. Fix: declare the state as a Typed",
    ),
    "input.typing_extensions_not_required_key": (
        NOT_YET,
        "Orca raises GraphError: state schema TE is not a TypedDict, dataclass or pydantic model. Fix: declare the state as a Typed",
    ),
    "input.node_returning_list_fails": (
        NOT_YET,
        'error: Orca lacks it (LangGraph "InvalidUpdateError")',
    ),
    "input.input_none_on_fresh_thread": (
        NOT_YET,
        'error: LangGraph "EmptyInputError", Orca "ValueError"',
    ),
    "input.input_none_without_checkpointer": (
        NOT_YET,
        'error: LangGraph "EmptyInputError", Orca "ValueError"',
    ),
    "input.input_not_a_dict": (
        NOT_YET,
        'error: LangGraph "InvalidUpdateError", Orca "ValueError"',
    ),
    "input.pydantic_coerces_input": (
        NOT_YET,
        'x: LangGraph "7", Orca 7',
    ),
    "input.pydantic_rejects_bad_input": (
        NOT_YET,
        'error: LangGraph "ValidationError", Orca "ValueError"',
    ),
    "input.input_and_output_schemas": (
        NOT_YET,
        "Orca raises GraphError: StateGraph(input_schema=...) other than the state schema is not supported by Orca's LangGraph laye",
    ),
    "input.output_schema_filters_stream_values": (
        NOT_YET,
        "Orca raises GraphError: StateGraph(input_schema=...) other than the state schema is not supported by Orca's LangGraph laye",
    ),
    "input.input_schema_drops_other_keys": (
        NOT_YET,
        "Orca raises GraphError: StateGraph(input_schema=...) other than the state schema is not supported by Orca's LangGraph laye",
    ),
    "input.private_state_between_nodes": (
        NOT_YET,
        "Orca raises KeyError: 'secret'",
    ),
    "input.node_input_schema_argument": (
        NOT_YET,
        "Orca raises GraphError: add_node(input_schema=...) is not supported by Orca's LangGraph layer yet. Fix: leave input_schema",
    ),
    "interrupts.history_after_resume": (
        NOT_YET,
        "result: 5 items on LangGraph, 4 on Orca",
    ),
    "interrupts.values_stream_on_resume": (
        NOT_YET,
        "result: 3 items on LangGraph, 2 on Orca",
    ),
    "interrupts.plain_resume_with_several_pending": (
        NOT_YET,
        'error: LangGraph "RuntimeError", Orca "ValueError"',
    ),
    "interrupts.sibling_write_kept_when_step_pauses": (
        NOT_YET,
        "paused.log: 1 items on LangGraph, 0 on Orca",
    ),
    "interrupts.paused_step_updates_stream": (
        NOT_YET,
        "result: 3 items on LangGraph, 2 on Orca",
    ),
    "interrupts.resume_and_update_together": (
        NOT_YET,
        "Orca raises InvalidInputError: a Command given to invoke may only carry resume=. Fix: change the state with update_state(t",
    ),
    "interrupts.resume_when_nothing_pending": (
        NOT_YET,
        'ok: Orca lacks it (LangGraph {"log": ["n"]})',
    ),
    "interrupts.interrupt_before_node": (
        NOT_YET,
        'first.__interrupt__: only Orca has it ([{"Interrupt": null}])',
    ),
    "interrupts.interrupt_after_node": (
        NOT_YET,
        'first.__interrupt__: only Orca has it ([{"Interrupt": null}])',
    ),
    "interrupts.interrupt_before_every_node": (
        NOT_YET,
        '[0].__interrupt__: only Orca has it ([{"Interrupt": null}])',
    ),
    "interrupts.values_stream_when_continuing_after_breakpoint": (
        NOT_YET,
        "first: 2 items on LangGraph, 3 on Orca",
    ),
    "interrupts.breakpoint_given_at_invoke": (
        NOT_YET,
        "Orca raises InvalidInputError: interrupt_after= per call is not supported by Orca's LangGraph layer. Fix: pass it to compi",
    ),
    "interrupts.new_input_while_paused_starts_over": (
        NOT_YET,
        "state.step: LangGraph 4, Orca 3",
    ),
    "order.parallel_writes_sorted_by_node_name": (
        NOT_YET,
        'log[0]: LangGraph "a", Orca "b"',
    ),
    "order.string_join_sorted_by_node_name": (
        NOT_YET,
        "log: Orca lacks it (LangGraph [])",
    ),
    "order.uppercase_names_sort_first": (
        NOT_YET,
        'log[0]: LangGraph "A", Orca "b"',
    ),
    "order.numbered_names_sort_as_strings": (
        NOT_YET,
        'log[0]: LangGraph "n1", Orca "n2"',
    ),
    "order.sends_keep_their_order": (
        NOT_YET,
        'text: Orca lacks it (LangGraph "")',
    ),
    "order.pull_tasks_before_send_tasks": (
        NOT_YET,
        'text: Orca lacks it (LangGraph "")',
    ),
    "order.sends_to_two_nodes_interleaved": (
        NOT_YET,
        'text: Orca lacks it (LangGraph "")',
    ),
    "order.conditional_list_in_reverse_order": (
        NOT_YET,
        'log[0]: LangGraph "a", Orca "c"',
    ),
    "order.uneven_branches_run_join_twice": (
        NOT_YET,
        'text: Orca lacks it (LangGraph "")',
    ),
    "order.waiting_edge_runs_join_once": (
        NOT_YET,
        'text: Orca lacks it (LangGraph "")',
    ),
    "order.two_edges_into_one_node_run_it_once": (
        NOT_YET,
        'text: Orca lacks it (LangGraph "")',
    ),
    "order.parallel_steps_stream_by_step": (
        NOT_YET,
        '[0].values.text: Orca lacks it (LangGraph "")',
    ),
    "order.deferred_node_waits_for_all_branches": (
        NOT_YET,
        "Orca raises GraphError: add_node(defer=True) is not supported by Orca's LangGraph layer yet. Fix: leave defer out",
    ),
    "order.nodes_see_state_at_step_start": (
        NOT_YET,
        'text: Orca lacks it (LangGraph "")',
    ),
    "order.send_and_edge_to_same_node": (
        NOT_YET,
        'text: Orca lacks it (LangGraph "")',
    ),
    "order.command_gotos_after_pull_tasks": (
        NOT_YET,
        "Orca raises GraphError: node 'w' is unreachable from START. Fix: add an edge into 'w', list it in a router's path_map, or",
    ),
    "order.history_of_parallel_run": (
        NOT_YET,
        "result: 4 items on LangGraph, 3 on Orca",
    ),
    "order.parallel_messages_sorted_by_node_name": (
        NOT_YET,
        "Orca raises GraphError: the state schema must be a class, got <orca_parity_suite._harness._Missing object at 0x7fb320f8b9d",
    ),
    "order.async_parallel_writes_sorted": (
        NOT_YET,
        'text: Orca lacks it (LangGraph "")',
    ),
    "reducers.list_reducer_reads_empty_on_first_step": (
        NOT_YET,
        "Orca raises KeyError: 'items'",
    ),
    "reducers.int_reducer_reads_zero": (
        NOT_YET,
        "Orca raises KeyError: 'total'",
    ),
    "reducers.str_reducer_reads_empty_string": (
        NOT_YET,
        "Orca raises KeyError: 'text'",
    ),
    "reducers.dict_reducer_reads_empty_dict": (
        NOT_YET,
        "Orca raises KeyError: 'seen'",
    ),
    "reducers.set_reducer_reads_empty_set": (
        NOT_YET,
        "Orca raises KeyError: 'tags'",
    ),
    "reducers.plain_key_unwritten_is_absent": (
        NOT_YET,
        'text: Orca lacks it (LangGraph "")',
    ),
    "reducers.input_goes_through_reducer": (
        NOT_YET,
        'text: Orca lacks it (LangGraph "")',
    ),
    "reducers.second_invoke_appends_on_thread": (
        NOT_YET,
        "total: Orca lacks it (LangGraph 0)",
    ),
    "reducers.plain_key_overwritten_across_invokes": (
        NOT_YET,
        "items: Orca lacks it (LangGraph [])",
    ),
    "reducers.parallel_writes_to_reducer_key_combine": (
        NOT_YET,
        "items: Orca lacks it (LangGraph [])",
    ),
    "reducers.node_returning_none_writes_nothing": (
        NOT_YET,
        "total: Orca lacks it (LangGraph 0)",
    ),
    "reducers.node_returning_empty_dict_writes_nothing": (
        NOT_YET,
        "result: 1 items on LangGraph, 2 on Orca",
    ),
    "reducers.overwrite_bypasses_reducer": (
        NOT_YET,
        "the layer has no types.Overwrite",
    ),
    "reducers.overwrite_in_input": (
        NOT_YET,
        "the layer has no types.Overwrite",
    ),
    "reducers.add_messages_appends": (
        NOT_YET,
        "the layer has no graph.add_messages",
    ),
    "reducers.add_messages_updates_by_id": (
        NOT_YET,
        "the layer has no graph.add_messages",
    ),
    "reducers.add_messages_removes": (
        NOT_YET,
        "the layer has no graph.add_messages",
    ),
    "reducers.add_messages_remove_all": (
        NOT_YET,
        "Orca raises ValidationError: 1 validation error for RemoveMessage\nid\n  Input should be a valid string [type=string_type, i",
    ),
    "reducers.add_messages_coerces_tuples_and_dicts": (
        NOT_YET,
        "the layer has no graph.add_messages",
    ),
    "reducers.add_messages_remove_unknown_id_fails": (
        NOT_YET,
        "the layer has no graph.add_messages",
    ),
    "reducers.messages_state_graph": (
        NOT_YET,
        "Orca raises GraphError: the state schema must be a class, got <orca_parity_suite._harness._Missing object at 0x7fb3232e6dd",
    ),
    "reducers.messages_state_reads_empty": (
        NOT_YET,
        "the layer has no graph.MessagesState",
    ),
    "reducers.messages_state_keeps_thread_and_updates_by_id": (
        NOT_YET,
        "Orca raises GraphError: the state schema must be a class, got <orca_parity_suite._harness._Missing object at 0x7fb32377889",
    ),
    "retry.list_of_policies_first_match_wins": (
        NOT_YET,
        '[1].outcome.ok: Orca lacks it (LangGraph {"log": ["done"]})',
    ),
    "retry.retry_on_subgraph_node": (
        NOT_YET,
        'out.ok: Orca lacks it (LangGraph {"log": ["sub ok"]})',
    ),
    "send.empty_fan_out_runs_nothing": (
        NOT_YET,
        "jokes: Orca lacks it (LangGraph [])",
    ),
    "send.send_via_command_goto": (
        NOT_YET,
        "Orca raises GraphError: node 'joke' is unreachable from START. Fix: add an edge into 'joke', list it in a router's path_ma",
    ),
    "send.send_to_unknown_node": (
        NOT_YET,
        'ok: Orca lacks it (LangGraph {"subjects": [], "jokes": []})',
    ),
    "send.interrupt_inside_send_task": (
        NOT_YET,
        "first.jokes: Orca lacks it (LangGraph [])",
    ),
    "send.send_to_node_with_input_schema": (
        NOT_YET,
        "Orca raises GraphError: add_node(input_schema=...) is not supported by Orca's LangGraph layer yet. Fix: leave input_schema",
    ),
    "send.send_history_steps": (
        NOT_YET,
        "result: 5 items on LangGraph, 4 on Orca",
    ),
    "streams.values_after_step_that_changed_nothing": (
        NOT_YET,
        "result: 2 items on LangGraph, 3 on Orca",
    ),
    "streams.values_on_invoke_none_continuation": (
        NOT_YET,
        "result: 2 items on LangGraph, 1 on Orca",
    ),
    "streams.values_on_time_travel": (
        NOT_YET,
        "result: 2 items on LangGraph, 1 on Orca",
    ),
    "streams.checkpoints_mode": (
        NOT_YET,
        "result: 4 items on LangGraph, 3 on Orca",
    ),
    "streams.debug_mode_event_types": (
        NOT_YET,
        "result: 8 items on LangGraph, 7 on Orca",
    ),
    "subgraphs.compiled_subgraph_as_node": (
        NOT_YET,
        "log: 5 items on LangGraph, 4 on Orca",
    ),
    "subgraphs.subgraph_list_output_appended_again": (
        NOT_YET,
        "log: 7 items on LangGraph, 5 on Orca",
    ),
    "subgraphs.subgraph_called_from_function": (
        NOT_YET,
        "Orca raises RuntimeError: invoke() cannot run inside a running event loop. Fix: from async code use await graph.ainvoke(..",
    ),
    "subgraphs.subgraph_updates_stream": (
        NOT_YET,
        "[1].child.log: 3 items on LangGraph, 1 on Orca",
    ),
    "subgraphs.subgraph_events_with_subgraphs_true": (
        NOT_YET,
        "result: 5 items on LangGraph, 1 on Orca",
    ),
    "subgraphs.subgraph_values_with_subgraphs_true": (
        NOT_YET,
        "result: 7 items on LangGraph, 1 on Orca",
    ),
    "subgraphs.nested_subgraphs_two_levels": (
        NOT_YET,
        "result: 7 items on LangGraph, 1 on Orca",
    ),
    "subgraphs.resume_inside_subgraph_skips_finished_nodes": (
        NOT_YET,
        "final.log: 5 items on LangGraph, 4 on Orca",
    ),
    "subgraphs.state_with_subgraphs_while_paused": (
        NOT_YET,
        "Orca raises AttributeError: 'NoneType' object has no attribute 'values'",
    ),
    "subgraphs.subgraph_interrupt_stream_namespaces": (
        NOT_YET,
        "first: 4 items on LangGraph, 1 on Orca",
    ),
    "subgraphs.parent_history_with_subgraph": (
        NOT_YET,
        "result: 5 items on LangGraph, 4 on Orca",
    ),
    "subgraphs.subgraph_with_interrupt_before_inside": (
        NOT_YET,
        "Orca raises GraphError: subgraph 'child' was compiled with interrupt_before/after, which a subgraph cannot honour. Fix: co",
    ),
    "subgraphs.command_parent_from_subgraph": (
        NOT_YET,
        "Orca raises GraphError: node 'p2' is unreachable from START. Fix: add an edge into 'p2', list it in a router's path_map, o",
    ),
    "subgraphs.command_parent_with_reducer_update": (
        NOT_YET,
        "Orca raises GraphError: node 'p2' is unreachable from START. Fix: add an edge into 'p2', list it in a router's path_map, o",
    ),
    "subgraphs.two_interrupts_in_subgraph_resumed_in_turn": (
        NOT_YET,
        "out[2].log: 5 items on LangGraph, 4 on Orca",
    ),
    "subgraphs.state_with_subgraphs_after_finish": (
        NOT_YET,
        "values.log: 5 items on LangGraph, 4 on Orca",
    ),
    "subgraphs.custom_events_from_subgraph": (
        NOT_YET,
        '[0]: LangGraph [["child"], {"from": "child"}], Orca {"error": "ValueError"}',
    ),
    "subgraphs.astream_with_subgraphs": (
        NOT_YET,
        "Orca raises InvalidInputError: subgraphs=True is not supported by Orca's LangGraph layer yet. Fix: stream without it (the",
    ),
    "update_state.update_state_on_empty_thread": (
        NOT_YET,
        "Orca raises CheckpointNotFoundError: thread 't' not found. Fix: list threads and checkpoints with get_history(thread_id)",
    ),
    "update_state.update_state_on_empty_thread_as_start": (
        NOT_YET,
        "Orca raises InvalidInputError: as_node='__start__' is not a node",
    ),
    "update_state.update_state_then_continue": (
        NOT_YET,
        "state.tasks[0].interrupts: 0 items on LangGraph, 1 on Orca",
    ),
    "update_state.update_state_while_interrupt_pending": (
        NOT_YET,
        "Orca raises InvalidResumeError: thread 't' has no pending interrupt to resume: nothing waits for a resume value",
    ),
    "update_state.update_state_unknown_node": (
        NOT_YET,
        'error: LangGraph "InvalidUpdateError", Orca "ValueError"',
    ),
    "update_state.replay_from_past_checkpoint": (
        NOT_YET,
        "history_len: LangGraph 8, Orca 6",
    ),
    "update_state.update_state_with_overwrite": (
        NOT_YET,
        "the layer has no types.Overwrite",
    ),
    "update_state.bulk_update_state": (
        NOT_YET,
        "Orca raises AttributeError: 'CompiledStateGraph' object has no attribute 'bulk_update_state'",
    ),
}
