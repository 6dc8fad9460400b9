import { applyEvents, initialState, parseEvent, visibleEvents, visibleSteps, type MonitorState } from "./reducer";
import { syntheticRun } from "./synthetic";
import type { RunEvent } from "./types";

/** Split `events` into batches of varying sizes (as animation frames would). */
function batches(events: RunEvent[], sizes: number[]): RunEvent[][] {
  const out: RunEvent[][] = [];
  let i = 0;
  let k = 0;
  while (i < events.length) {
    const n = sizes[k++ % sizes.length] as number;
    out.push(events.slice(i, i + n));
    i += n;
  }
  return out;
}

function fold(events: RunEvent[], sizes = [1, 17, 3, 250, 64, 1000]): MonitorState {
  let state = initialState(["plan", "worker", "review"]);
  for (const batch of batches(events, sizes)) state = applyEvents(state, batch);
  return state;
}

const ev = (type: string, seq: number, step: number, fields: Record<string, unknown> = {}): RunEvent => ({
  type,
  seq,
  step,
  ts: 100 + seq,
  ...fields,
});

describe("applyEvents on a synthetic stream of over 10,000 events", () => {
  const run = syntheticRun({ steps: 25, width: 4, tokens: 96 });

  it("loses no event and counts each type exactly", () => {
    expect(run.events.length).toBeGreaterThanOrEqual(10_000);
    const state = fold(run.events);
    expect(state.applied).toBe(run.events.length);
    expect(state.eventCount).toBe(run.events.length);
    expect(state.duplicates).toBe(0);
    expect(visibleEvents(state).map((e) => e.seq)).toEqual(run.events.map((e) => e.seq));
    expect(state.byType).toEqual(run.expected.byType);
    expect(state.status).toBe("done");
  });

  it("adds costs and tokens exactly, in total and per node", () => {
    const state = fold(run.events);
    expect(state.totals.costNano).toBe(run.expected.costNano);
    expect(state.final?.costNano).toBe(run.expected.costNano);
    expect(state.totals.inputTokens).toBe(run.expected.inputTokens);
    expect(state.totals.outputTokens).toBe(run.expected.outputTokens);
    expect(state.totals.calls).toBe(run.expected.calls);
    expect(state.totals.streamed).toBe(run.expected.streamed);
    for (const [name, want] of Object.entries(run.expected.perNode)) {
      const node = state.nodes[name];
      expect(node?.costNano).toBe(want.costNano);
      expect(node?.calls).toBe(want.calls);
      expect(node?.finished).toBe(want.tasks);
      expect(node?.streamed).toBe(want.streamed);
      expect(node?.status).toBe("done");
      expect(node?.active).toBe(0);
    }
  });

  it("gives the same state whatever the batching", () => {
    const one = fold(run.events, [run.events.length]);
    const many = fold(run.events, [1]);
    const mixed = fold(run.events);
    for (const s of [many, mixed]) {
      expect(s.totals).toEqual(one.totals);
      expect(s.nodes).toEqual(one.nodes);
      expect(s.byType).toEqual(one.byType);
      expect(visibleSteps(s)).toEqual(visibleSteps(one));
    }
  });

  it("keeps every superstep with its tasks for the timeline", () => {
    const state = fold(run.events);
    const steps = visibleSteps(state);
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    for (const s of steps) {
      expect(s.taskIds).toHaveLength(4);
      for (const id of s.taskIds) expect(s.tasks[id]?.status).toBe("done");
    }
  });

  it("drops the events a resumed stream sends again", () => {
    const firstHalf = run.events.slice(0, 5000);
    const overlap = run.events.slice(4000); // resumed from an older Last-Event-ID
    let state = applyEvents(initialState(), firstHalf);
    state = applyEvents(state, overlap);
    expect(state.applied).toBe(run.events.length);
    expect(state.duplicates).toBe(1000);
    expect(state.totals.costNano).toBe(run.expected.costNano);
  });
});

describe("applyEvents is pure", () => {
  it("leaves the state it was given unchanged, even when applied twice", () => {
    const run = syntheticRun({ steps: 3, width: 2, tokens: 5 });
    const base = applyEvents(initialState(), run.events.slice(0, 20));
    const snapshot = { count: base.eventCount, steps: base.stepCount, totals: base.totals, nodes: base.nodes };
    const a = applyEvents(base, run.events.slice(20, 40));
    const b = applyEvents(base, run.events.slice(20, 30)); // a branch from the same state
    expect(base.eventCount).toBe(snapshot.count);
    expect(base.stepCount).toBe(snapshot.steps);
    expect(base.totals).toBe(snapshot.totals);
    expect(base.nodes).toBe(snapshot.nodes);
    expect(visibleEvents(base)).toHaveLength(20);
    expect(visibleEvents(a).map((e) => e.seq)).toEqual(run.events.slice(0, 40).map((e) => e.seq));
    expect(visibleEvents(b).map((e) => e.seq)).toEqual(run.events.slice(0, 30).map((e) => e.seq));
  });

  it("returns the same object for an empty batch", () => {
    const s = initialState(["a"]);
    expect(applyEvents(s, [])).toBe(s);
  });
});

describe("node states", () => {
  const start = [
    ev("run.started", 0, 0, { graph: "g", resumed: false }),
    ev("step.started", 1, 1, {
      tasks: [
        { id: "a1", node: "a" },
        { id: "b1", node: "b" },
      ],
    }),
    ev("task.started", 2, 1, { task_id: "a1", node: "a" }),
    ev("task.started", 3, 1, { task_id: "b1", node: "b" }),
  ];

  it("shows waiting, then running nodes", () => {
    const s0 = initialState(["a", "b", "c"]);
    expect(s0.nodes.c?.status).toBe("waiting");
    const s = applyEvents(s0, start);
    expect(s.nodes.a?.status).toBe("running");
    expect(s.nodes.b?.status).toBe("running");
    expect(s.nodes.c?.status).toBe("waiting");
    expect(s.current?.tasks.a1?.status).toBe("running");
  });

  it("marks the node that paused interrupted and its step's other task done", () => {
    const s = applyEvents(initialState(["a", "b"]), [
      ...start,
      ev("interrupt", 4, 1, { interrupts: [{ id: "i1", node: "a", task_id: "a1", value: { q: "ok?" }, when: "during" }] }),
      ev("run.finished", 5, 1, { status: "interrupted", cost_nano_usd: 0 }),
    ]);
    expect(s.nodes.a?.status).toBe("interrupted");
    expect(s.nodes.b?.status).toBe("done");
    expect(s.interrupts[0]?.value).toEqual({ q: "ok?" });
    expect(s.status).toBe("interrupted");
  });

  it("marks a failed task's node failed and keeps the error", () => {
    const s = applyEvents(initialState(["a", "b"]), [
      ...start,
      ev("task.failed", 4, 1, { task_id: "a1", node: "a", error_type: "ValueError", error: "bad", attempts: 1 }),
      ev("error", 5, 1, { error_type: "NodeError", message: "a failed" }),
      ev("run.finished", 6, 1, { status: "failed", error: "NodeError: a failed" }),
    ]);
    expect(s.nodes.a?.status).toBe("failed");
    expect(s.nodes.a?.lastError).toBe("ValueError: bad");
    expect(s.nodes.b?.status).toBe("interrupted"); // stopped with the run, its writes not applied
    expect(s.current?.tasks.b1?.status).toBe("stopped");
    expect(s.error).toBe("NodeError: a failed");
  });

  it("marks cached a task reused from pending writes and one answered from its records", () => {
    const s = applyEvents(initialState(["a", "b"]), [
      ev("run.started", 0, 0, { resumed: true }),
      ev("step.started", 1, 1, {
        tasks: [
          { id: "a1", node: "a" },
          { id: "b1", node: "b" },
        ],
      }),
      ev("task.started", 2, 1, { task_id: "b1", node: "b" }),
      ev("llm.response", 3, 1, { task_id: "b1", node: "b", cached: true, cost_nano_usd: 0 }),
      ev("task.finished", 4, 1, { task_id: "a1", node: "a", goto: [{ node: "b" }], duration_ms: 0 }),
      ev("task.finished", 5, 1, { task_id: "b1", node: "b", goto: [], duration_ms: 3 }),
    ]);
    expect(s.nodes.a?.status).toBe("cached");
    expect(s.nodes.b?.status).toBe("cached");
    expect(s.nodes.b?.cachedCalls).toBe(1);
    expect(s.totals.calls).toBe(0);
    expect(s.taken).toEqual({ "a->b": 1 });
  });

  it("keeps a node running while another of its tasks runs", () => {
    const s = applyEvents(initialState(["w"]), [
      ev("step.started", 1, 1, {
        tasks: [
          { id: "w1", node: "w" },
          { id: "w2", node: "w" },
        ],
      }),
      ev("task.started", 2, 1, { task_id: "w1", node: "w" }),
      ev("task.started", 3, 1, { task_id: "w2", node: "w" }),
      ev("token", 4, 1, { task_id: "w2", node: "w", text: "hel" }),
      ev("token", 5, 1, { task_id: "w2", node: "w", text: "lo" }),
    ]);
    expect(s.nodes.w?.active).toBe(2);
    expect(s.current?.tasks.w2?.text).toBe("hello");
    expect(s.current?.tasks.w2?.tokens).toBe(2);
  });
});

describe("parseEvent", () => {
  it("reads an event and refuses what is not one", () => {
    expect(parseEvent('{"type":"run.started","seq":0,"step":0}')?.type).toBe("run.started");
    expect(parseEvent("{}")).toBeNull();
    expect(parseEvent("not json")).toBeNull();
    expect(parseEvent('"text"')).toBeNull();
    expect(parseEvent('{"type":"x","seq":"1"}')).toBeNull();
  });
});
