// The server's answers the Costs page reads (from src/orca/server/_admin.py and
// GET /v1/usage/series). Money: integer nano-USD (`*_nano_usd`, budgets' limit/spent/...
// when unit is "usd"), or decimal strings (`cost_usd`, prices per 1M tokens).

export interface BudgetStatus {
  name: string;
  unit: "usd" | "tokens";
  kind: "credit" | "recurring";
  period: "daily" | "weekly" | "monthly" | null;
  enforcement: "block" | "warn";
  scope: string;
  scope_ref: string | null;
  active: boolean;
  limit: number;
  spent: number;
  reserved: number;
  remaining: number;
  used_pct: string;
  overdrawn: boolean;
  overdraft: number;
  period_start: string | null;
  period_end: string | null;
}

export interface BudgetDetail extends BudgetStatus {
  thresholds: number[];
  timezone: string;
}

export interface UsageRow {
  key: string | null;
  llm_calls: number;
  input_tokens: number;
  output_tokens: number;
  reasoning_tokens: number;
  cost_nano_usd: number;
  unpriced_calls: number;
  estimated_calls: number;
}

export type SeriesBy = "model" | "node" | "role" | "workflow" | "session";
export type Bucket = "hour" | "day";

export interface SeriesPoint {
  t: string;
  key: string | null;
  cost_usd: string;
  cost_nano_usd?: number;
  tokens_in: number;
  tokens_out: number;
  calls: number;
}

export interface Series {
  bucket: Bucket;
  by: SeriesBy;
  points: SeriesPoint[];
}

export interface Price {
  provider: string;
  model: string;
  source: "user" | "catalog" | "local" | "unknown";
  priced: boolean;
  input: string | null;
  output: string | null;
  cached_input: string | null;
  cache_write: string | null;
  reasoning: string | null;
  effective_from: string | null;
}

export interface Reprice {
  run_id: string;
  llm_calls: number;
  original_nano_usd: number;
  repriced_nano_usd: number;
  as: string;
  priced: boolean;
  ratio: string;
}

export interface RunRecord {
  run_id: string;
  thread_id: string;
  graph: string;
  status: string;
  started_at: string | null;
  cost_nano_usd: number;
  llm_calls: number;
}

export interface Profile {
  name: string;
  active: boolean;
  description: string;
  planner: { provider: string; model: string; params: Record<string, unknown> };
  worker: { provider: string; model: string; params: Record<string, unknown> };
}
