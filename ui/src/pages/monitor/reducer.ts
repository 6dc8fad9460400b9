// The run monitor's state, folded from the run's events (docs/events.md) by one pure
// reducer: `applyEvents(state, batch)`. A batch is what arrived in one animation frame.
//
// Per event the work is O(1): counters and the touched node and task change; nothing is
// rescanned. The state is immutable-ish: each batch gives a new top-level object, and the
// nodes and tasks it touched are new objects (so React re-renders only what changed);
// the event log and the finished steps are append-only arrays shared between successive
// states, each state knowing how many items it sees (`eventCount`, `stepCount`). Applying
// a batch to an older state than the latest copies that prefix first, so an old state
// never sees a later one's items and the function stays pure.
import type { PendingInterrupt, RunEvent } from "./types";

export type NodeStatus = "waiting" | "running" | "done" | "failed" | "interrupted" | "cached";
export const NODE_STATUSES: readonly NodeStatus[] = ["waiting", "running", "done", "failed", "interrupted", "cached"];

export type TaskStatus = "pending" | "running" | "done" | "cached" | "failed" | "interrupted" | "stopped";

/** Tokens kept per task for the live token view (the tail of what streamed). */
export const TOKEN_TAIL = 4000;

export interface NodeState {
  readonly name: string;
  readonly status: NodeStatus;
  /** tasks of this node running now */
  readonly active: number;
  readonly started: number;
  readonly finished: number;
  readonly failed: number;
  readonly retries: number;
  /** LLM calls paid (one `usage` event each) */
  readonly calls: number;
  /** LLM and tool calls answered from the task's call records (not paid again) */
  readonly cachedCalls: number;
  readonly toolCalls: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** `token` events streamed */
  readonly streamed: number;
  readonly costNano: bigint;
  readonly durationMs: number;
  readonly lastError: string | null;
}

export interface TaskState {
  readonly id: string;
  readonly node: string;
  readonly step: number;
  readonly status: TaskStatus;
  readonly startTs: number | null;
  readonly endTs: number | null;
  readonly text: string;
  readonly tokens: number;
  readonly paidCalls: number;
  readonly cachedCalls: number;
  readonly costNano: bigint;
}

export interface StepState {
  readonly step: number;
  readonly startTs: number | null;
  readonly endTs: number | null;
  readonly taskIds: readonly string[];
  readonly tasks: Readonly<Record<string, TaskState>>;
}

export interface Totals {
  readonly costNano: bigint;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly calls: number;
  readonly cachedCalls: number;
  readonly toolCalls: number;
  readonly streamed: number;
}

export interface BudgetSnapshot {
  name: string;
  unit: string;
  limit: number;
  spent: number;
  remaining: number;
  used_pct: string;
  overdrawn: boolean;
}

export interface MonitorState {
  readonly status: string;
  readonly graph: string | null;
  readonly threadId: string | null;
  readonly resumed: boolean;
  readonly startTs: number | null;
  readonly endTs: number | null;
  readonly step: number;
  readonly nodes: Readonly<Record<string, NodeState>>;
  /** the event log: read only its first `eventCount` items */
  readonly events: readonly RunEvent[];
  readonly eventCount: number;
  /** finished supersteps: read only the first `stepCount` */
  readonly steps: readonly StepState[];
  readonly stepCount: number;
  readonly current: StepState | null;
  readonly lastSeq: number;
  /** events applied (duplicates not counted) */
  readonly applied: number;
  /** events dropped because their seq was already seen (a resumed stream) */
  readonly duplicates: number;
  readonly byType: Readonly<Record<string, number>>;
  readonly totals: Totals;
  readonly interrupts: readonly PendingInterrupt[];
  readonly budgets: readonly BudgetSnapshot[];
  readonly warnings: readonly string[];
  readonly error: string | null;
  /** the run's own totals from `run.finished` (cost in nano-USD), when it has ended */
  readonly final: { costNano: bigint; calls: number; inputTokens: number; outputTokens: number } | null;
  /** edges the run took ("from->to"), from the tasks' `goto` */
  readonly taken: Readonly<Record<string, number>>;
}

const ZERO_TOTALS: Totals = {
  costNano: 0n,
  inputTokens: 0,
  outputTokens: 0,
  calls: 0,
  cachedCalls: 0,
  toolCalls: 0,
  streamed: 0,
};

export function emptyNode(name: string): NodeState {
  return {
    name,
    status: "waiting",
    active: 0,
    started: 0,
    finished: 0,
    failed: 0,
    retries: 0,
    calls: 0,
    cachedCalls: 0,
    toolCalls: 0,
    inputTokens: 0,
    outputTokens: 0,
    streamed: 0,
    costNano: 0n,
    durationMs: 0,
    lastError: null,
  };
}

/** The state before any event, with the workflow's nodes waiting. */
export function initialState(nodeNames: readonly string[] = []): MonitorState {
  const nodes: Record<string, NodeState> = {};
  for (const name of nodeNames) nodes[name] = emptyNode(name);
  return {
    status: "pending",
    graph: null,
    threadId: null,
    resumed: false,
    startTs: null,
    endTs: null,
    step: 0,
    nodes,
    events: [],
    eventCount: 0,
    steps: [],
    stepCount: 0,
    current: null,
    lastSeq: -1,
    applied: 0,
    duplicates: 0,
    byType: {},
    totals: ZERO_TOTALS,
    interrupts: [],
    budgets: [],
    warnings: [],
    error: null,
    final: null,
    taken: {},
  };
}

/** The events a state sees, oldest first. */
export function visibleEvents(state: MonitorState): readonly RunEvent[] {
  return state.events.length === state.eventCount ? state.events : state.events.slice(0, state.eventCount);
}

/** The supersteps a state sees: the finished ones, then the current one. */
export function visibleSteps(state: MonitorState): StepState[] {
  const done = state.steps.slice(0, state.stepCount);
  return state.current ? [...done, state.current] : done;
}

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number => (typeof v === "number" && Number.isFinite(v) ? v : 0);
const nano = (v: unknown): bigint => {
  if (typeof v === "number" && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === "string" && /^-?\d+$/.test(v)) return BigInt(v);
  return 0n;
};

/** One batch's mutable copy of the parts it touches (copy on first write). */
class Draft {
  s: {
    -readonly [K in keyof MonitorState]: MonitorState[K];
  };
  private nodesCopied = false;
  private byTypeCopied = false;
  private currentCopied = false;
  private tasksCopied = false;
  private takenCopied = false;
  private events: RunEvent[];
  private steps: StepState[];
  private readonly touchedNodes = new Set<string>();
  private readonly touchedTasks = new Set<string>();

  constructor(prev: MonitorState) {
    this.s = { ...prev };
    // an older state than the latest: its own prefix, so a later state is never seen
    this.events =
      prev.events.length === prev.eventCount ? (prev.events as RunEvent[]) : prev.events.slice(0, prev.eventCount);
    this.steps =
      prev.steps.length === prev.stepCount ? (prev.steps as StepState[]) : prev.steps.slice(0, prev.stepCount);
  }

  private nodesW(): Record<string, NodeState> {
    if (!this.nodesCopied) {
      this.s.nodes = { ...this.s.nodes };
      this.nodesCopied = true;
    }
    return this.s.nodes as Record<string, NodeState>;
  }

  /** The node, writable for this batch. */
  node(name: string): { -readonly [K in keyof NodeState]: NodeState[K] } {
    const nodes = this.nodesW();
    const existing = nodes[name];
    if (existing && this.touchedNodes.has(name)) return existing;
    const copy = { ...(existing ?? emptyNode(name)) };
    nodes[name] = copy;
    this.touchedNodes.add(name);
    return copy;
  }

  private currentW(): { -readonly [K in keyof StepState]: StepState[K] } | null {
    if (!this.s.current) return null;
    if (!this.currentCopied) {
      this.s.current = { ...this.s.current };
      this.currentCopied = true;
    }
    return this.s.current;
  }

  /** The current step's task, writable for this batch (null when not of this step). */
  task(id: string | null): { -readonly [K in keyof TaskState]: TaskState[K] } | null {
    if (id === null) return null;
    const current = this.currentW();
    if (!current) return null;
    const existing = current.tasks[id];
    if (!existing) return null;
    if (!this.tasksCopied) {
      current.tasks = { ...current.tasks };
      this.tasksCopied = true;
    }
    if (this.touchedTasks.has(id)) return existing;
    const copy = { ...existing };
    (current.tasks as Record<string, TaskState>)[id] = copy;
    this.touchedTasks.add(id);
    return copy;
  }

  private count(type: string): void {
    if (!this.byTypeCopied) {
      this.s.byType = { ...this.s.byType };
      this.byTypeCopied = true;
    }
    const byType = this.s.byType as Record<string, number>;
    byType[type] = (byType[type] ?? 0) + 1;
  }

  private totals(c: Partial<Totals>): void {
    const t = this.s.totals;
    this.s.totals = {
      costNano: t.costNano + (c.costNano ?? 0n),
      inputTokens: t.inputTokens + (c.inputTokens ?? 0),
      outputTokens: t.outputTokens + (c.outputTokens ?? 0),
      calls: t.calls + (c.calls ?? 0),
      cachedCalls: t.cachedCalls + (c.cachedCalls ?? 0),
      toolCalls: t.toolCalls + (c.toolCalls ?? 0),
      streamed: t.streamed + (c.streamed ?? 0),
    };
  }

  private take(from: string, to: string): void {
    if (!this.takenCopied) {
      this.s.taken = { ...this.s.taken };
      this.takenCopied = true;
    }
    const taken = this.s.taken as Record<string, number>;
    const key = `${from}->${to}`;
    taken[key] = (taken[key] ?? 0) + 1;
  }

  /** Close the current step (it joins the append-only list of finished steps). */
  private closeStep(ts: number | null): void {
    const current = this.s.current;
    if (!current) return;
    this.steps.push(current.endTs === null ? { ...current, endTs: ts } : current);
    this.s.stepCount += 1;
    this.s.current = null;
    this.currentCopied = false;
    this.tasksCopied = false;
    this.touchedTasks.clear();
  }

  /** Settle a node whose task ended: running while another task of it runs. */
  private settle(name: string, ended: NodeStatus): void {
    const node = this.node(name);
    node.active = Math.max(0, node.active - 1);
    node.status = node.active > 0 ? "running" : ended;
  }

  apply(e: RunEvent): void {
    if (typeof e.seq === "number" && e.seq <= this.s.lastSeq) {
      this.s.duplicates += 1;
      return;
    }
    if (typeof e.seq === "number") this.s.lastSeq = e.seq;
    this.events.push(e);
    this.s.eventCount += 1;
    this.s.applied += 1;
    this.count(e.type);
    const ts = typeof e.ts === "number" ? e.ts : null;
    if (typeof e.step === "number" && e.step > this.s.step) this.s.step = e.step;
    const taskId = str(e.task_id);
    const nodeName = str(e.node);

    switch (e.type) {
      case "run.started":
        this.s.status = "running";
        this.s.graph = str(e.graph);
        this.s.threadId = str(e.thread_id);
        this.s.resumed = e.resumed === true;
        this.s.startTs = ts;
        this.s.interrupts = [];
        break;
      case "step.started": {
        this.closeStep(ts);
        const tasks: Record<string, TaskState> = {};
        const ids: string[] = [];
        for (const t of Array.isArray(e.tasks) ? (e.tasks as { id?: unknown; node?: unknown }[]) : []) {
          const id = str(t.id);
          const node = str(t.node);
          if (id === null || node === null) continue;
          ids.push(id);
          tasks[id] = {
            id,
            node,
            step: e.step,
            status: "pending",
            startTs: null,
            endTs: null,
            text: "",
            tokens: 0,
            paidCalls: 0,
            cachedCalls: 0,
            costNano: 0n,
          };
        }
        this.s.current = { step: e.step, startTs: ts, endTs: null, taskIds: ids, tasks };
        this.currentCopied = true;
        this.tasksCopied = true;
        break;
      }
      case "task.started": {
        const task = this.task(taskId);
        if (task) {
          task.status = "running";
          task.startTs = ts;
        }
        if (nodeName) {
          const node = this.node(nodeName);
          node.active += 1;
          node.started += 1;
          node.status = "running";
        }
        break;
      }
      case "task.finished": {
        const task = this.task(taskId);
        // a task that did not start was reused from pending writes; one whose every call
        // came from its call records was replayed: both cached
        const wasRunning = task?.status === "running";
        const cached = task ? !wasRunning || (task.paidCalls === 0 && task.cachedCalls > 0) : false;
        if (task) {
          task.status = cached ? "cached" : "done";
          task.endTs = ts;
        }
        if (nodeName) {
          const node = this.node(nodeName);
          node.finished += 1;
          node.durationMs += num(e.duration_ms);
          if (wasRunning || !task) this.settle(nodeName, cached ? "cached" : "done");
          else node.status = node.active > 0 ? "running" : "cached";
          for (const g of Array.isArray(e.goto) ? (e.goto as { node?: unknown }[]) : []) {
            const to = str(g.node);
            if (to) this.take(nodeName, to);
          }
        }
        break;
      }
      case "task.failed": {
        const task = this.task(taskId);
        const wasRunning = task?.status === "running";
        if (task) {
          task.status = "failed";
          task.endTs = ts;
        }
        if (nodeName) {
          const node = this.node(nodeName);
          node.failed += 1;
          node.lastError = `${str(e.error_type) ?? "Error"}: ${str(e.error) ?? ""}`;
          if (wasRunning || !task) this.settle(nodeName, "failed");
          else node.status = node.active > 0 ? "running" : "failed";
        }
        break;
      }
      case "task.retry":
        if (nodeName) this.node(nodeName).retries += 1;
        break;
      case "token": {
        const task = this.task(taskId);
        const text = str(e.text) ?? "";
        if (task) {
          const joined = task.text + text;
          task.text = joined.length > TOKEN_TAIL ? joined.slice(joined.length - TOKEN_TAIL) : joined;
          task.tokens += 1;
        }
        if (nodeName) this.node(nodeName).streamed += 1;
        this.totals({ streamed: 1 });
        break;
      }
      case "usage": {
        const cost = nano(e.cost_nano_usd);
        const input = num(e.input_tokens);
        const output = num(e.output_tokens);
        const task = this.task(taskId);
        if (task) {
          task.paidCalls += 1;
          task.costNano += cost;
        }
        if (nodeName) {
          const node = this.node(nodeName);
          node.calls += 1;
          node.inputTokens += input;
          node.outputTokens += output;
          node.costNano += cost;
        }
        this.totals({ calls: 1, inputTokens: input, outputTokens: output, costNano: cost });
        break;
      }
      case "llm.response":
      case "tool.call": {
        const isTool = e.type === "tool.call";
        if (isTool && nodeName) this.node(nodeName).toolCalls += 1;
        if (isTool) this.totals({ toolCalls: 1 });
        if (e.cached === true) {
          const task = this.task(taskId);
          if (task) task.cachedCalls += 1;
          if (nodeName) this.node(nodeName).cachedCalls += 1;
          this.totals({ cachedCalls: 1 });
        }
        break;
      }
      case "interrupt": {
        const pending = Array.isArray(e.interrupts) ? (e.interrupts as PendingInterrupt[]) : [];
        this.s.interrupts = pending;
        const paused = new Set<string>();
        for (const p of pending) {
          const task = this.task(str(p.task_id));
          if (task) {
            task.status = "interrupted";
            task.endTs = ts;
          }
          if (typeof p.node === "string") paused.add(p.node);
        }
        // the step paused: its other tasks ended (their writes wait as pending writes)
        for (const id of this.s.current?.taskIds ?? []) {
          const task = this.task(id);
          if (task?.status === "running") {
            task.status = "done";
            task.endTs = ts;
            if (!paused.has(task.node)) this.settle(task.node, "done");
          }
        }
        for (const name of paused) {
          const node = this.node(name);
          node.active = 0;
          node.status = "interrupted";
        }
        break;
      }
      case "budget.status":
        this.s.budgets = Array.isArray(e.budgets) ? (e.budgets as BudgetSnapshot[]) : [];
        break;
      case "budget.warning":
      case "warning": {
        const text =
          e.type === "warning"
            ? `${str(e.code) ?? "warning"}: ${str(e.message) ?? ""}`
            : `budget ${str(e.budget) ?? "?"} crossed ${num(e.threshold_pct)}%`;
        this.s.warnings = [...this.s.warnings.slice(-19), text];
        break;
      }
      case "error":
        this.s.error = `${str(e.error_type) ?? "Error"}: ${str(e.message) ?? ""}`;
        break;
      case "run.finished": {
        const status = str(e.status) ?? "done";
        this.s.status = status;
        this.s.endTs = ts;
        this.s.final = {
          costNano: nano(e.cost_nano_usd),
          calls: num(e.llm_calls),
          inputTokens: num(e.input_tokens),
          outputTokens: num(e.output_tokens),
        };
        if (!this.s.error && typeof e.error === "string") this.s.error = e.error;
        // tasks still running when the run stopped (cancelled, or beside a failed one)
        for (const id of this.s.current?.taskIds ?? []) {
          const task = this.task(id);
          if (task?.status === "running") {
            task.status = "stopped";
            task.endTs = ts;
            // stopped with the run: its writes were not applied
            this.settle(task.node, "interrupted");
          }
        }
        if (this.s.current && this.s.current.endTs === null) {
          const current = this.currentW();
          if (current) current.endTs = ts;
        }
        break;
      }
      default:
        break;
    }
  }

  finish(): MonitorState {
    this.s.events = this.events;
    this.s.steps = this.steps;
    return this.s;
  }
}

/** The state after `events` (one batch, in arrival order). Pure: `state` is unchanged. */
export function applyEvents(state: MonitorState, events: readonly RunEvent[]): MonitorState {
  if (events.length === 0) return state;
  const draft = new Draft(state);
  for (const e of events) draft.apply(e);
  return draft.finish();
}

/** Parse one SSE message's data into an event (null for what is not one, such as `end`). */
export function parseEvent(data: string): RunEvent | null {
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const e = value as Record<string, unknown>;
  if (typeof e.type !== "string" || typeof e.seq !== "number") return null;
  return e as RunEvent;
}
