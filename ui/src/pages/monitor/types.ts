// Shapes of the server answers the run monitor reads (from src/orca/server/ and real
// answers of `orca serve`). Events are those of docs/events.md, as JSON.

/** One event of a run (its `to_dict()` form); fields beyond the common ones vary by type. */
export interface RunEvent {
  type: string;
  seq: number;
  step: number;
  ts?: number;
  run_id?: string;
  thread_id?: string;
  task_id?: string;
  node?: string | null;
  [field: string]: unknown;
}

/** GET /v1/runs/{id}: the run's record. */
export interface RunRecord {
  run_id: string;
  thread_id: string;
  graph: string;
  status: string;
  started_at: string | null;
  ended_at: string | null;
  steps: number | null;
  llm_calls: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_nano_usd: number | null;
  cost_usd?: string | null;
  checkpoint_id: string | null;
  error: string | null;
  metadata?: {
    request?: { budget?: string | null; workflow?: string; [key: string]: unknown };
    [key: string]: unknown;
  };
}

/** GET /v1/workflows/{name}: the compiled graph's shape. */
export interface WorkflowShape {
  name: string;
  source?: string;
  start: string;
  end: string;
  state: { key: string; reducer: string; has_default: boolean }[];
  nodes: { name: string; destinations: string[] | null; [key: string]: unknown }[];
  edges: { source: string; target: string }[];
  joins: { sources: string[]; target: string }[];
  branches: { source: string; targets: string[] | null }[];
}

/** GET /v1/budgets/{name}/status. */
export interface BudgetStatus {
  name: string;
  unit: "usd" | "tokens" | string;
  limit: number;
  spent: number;
  reserved: number;
  remaining: number;
  used_pct: string;
  overdrawn: boolean;
  enforcement: string;
}

/** GET /v1/workflows/{name}/stats: one row per node. */
export interface NodeStats {
  node: string;
  runs: number;
  calls: number;
  errors: number;
  p50_ms: number | null;
  p95_ms: number | null;
  cost_usd: string;
  tokens: number;
}

/** One pending pause of an `interrupt` event. */
export interface PendingInterrupt {
  id: string;
  node: string;
  task_id?: string;
  value: unknown;
  when: "during" | "before" | "after" | string;
}
