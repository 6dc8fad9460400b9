// A synthetic run's events (the shapes of docs/events.md), with the figures they must add
// up to: for the reducer's tests and for trying the monitor on a fast stream.
import type { RunEvent } from "./types";

export interface SyntheticRun {
  events: RunEvent[];
  expected: {
    byType: Record<string, number>;
    costNano: bigint;
    inputTokens: number;
    outputTokens: number;
    calls: number;
    streamed: number;
    perNode: Record<string, { costNano: bigint; calls: number; tasks: number; streamed: number }>;
  };
}

/** A run of `steps` supersteps of `width` parallel tasks over `nodes`, each task streaming
 * `tokens` tokens then one priced call; `total` events in all when given (tokens fill up). */
export function syntheticRun({
  runId = "run-synthetic",
  nodes = ["plan", "worker", "review"],
  steps = 20,
  width = 4,
  tokens = 100,
}: { runId?: string; nodes?: string[]; steps?: number; width?: number; tokens?: number } = {}): SyntheticRun {
  const events: RunEvent[] = [];
  const byType: Record<string, number> = {};
  const perNode: SyntheticRun["expected"]["perNode"] = {};
  let seq = 0;
  let ts = 1_800_000_000;
  let costNano = 0n;
  let inputTokens = 0;
  let outputTokens = 0;
  let calls = 0;
  let streamed = 0;
  const push = (type: string, step: number, fields: Record<string, unknown> = {}) => {
    ts += 0.001;
    events.push({ type, seq: seq++, step, ts, run_id: runId, thread_id: "t-synthetic", schema: 1, ...fields });
    byType[type] = (byType[type] ?? 0) + 1;
  };
  push("run.started", 0, { graph: "synthetic", resumed: false, checkpoint_id: null, seed: 0, input: {} });
  for (let step = 1; step <= steps; step++) {
    const tasks = Array.from({ length: width }, (_, i) => ({
      id: `t${step}-${i}`,
      node: nodes[(step + i) % nodes.length] as string,
    }));
    push("step.started", step, { tasks });
    for (const t of tasks) push("task.started", step, { task_id: t.id, node: t.node });
    // the tasks' tokens interleave, as parallel tasks' do
    for (let k = 0; k < tokens; k++) {
      for (const t of tasks) {
        push("token", step, { task_id: t.id, node: t.node, text: ` w${k}`, model: "m", role: "worker" });
      }
    }
    for (const [i, t] of tasks.entries()) {
      const input = 40 + i;
      const output = tokens;
      const cost = BigInt(input * 50_000 + output * 200_000 + step); // nano-USD, odd amounts
      push("usage", step, {
        task_id: t.id,
        node: t.node,
        provider: "p",
        model: "m",
        role: "worker",
        input_tokens: input,
        output_tokens: output,
        cost_nano_usd: Number(cost),
        priced: true,
        estimated: false,
      });
      push("llm.response", step, { task_id: t.id, node: t.node, cached: false, cost_nano_usd: Number(cost) });
      costNano += cost;
      inputTokens += input;
      outputTokens += output;
      calls += 1;
      streamed += tokens;
      const n = (perNode[t.node] ??= { costNano: 0n, calls: 0, tasks: 0, streamed: 0 });
      n.costNano += cost;
      n.calls += 1;
      n.tasks += 1;
      n.streamed += tokens;
    }
    for (const t of tasks) {
      push("task.finished", step, { task_id: t.id, node: t.node, update: {}, goto: [], duration_ms: 1 });
    }
    push("checkpoint.saved", step, { checkpoint_id: `c${step}`, parent_id: null });
  }
  push("run.finished", steps, {
    status: "done",
    steps,
    checkpoint_id: `c${steps}`,
    duration_ms: 1,
    llm_calls: calls,
    input_tokens: inputTokens,
    output_tokens: outputTokens,
    cost_nano_usd: Number(costNano),
    error: null,
  });
  return { events, expected: { byType, costNano, inputTokens, outputTokens, calls, streamed, perNode } };
}
