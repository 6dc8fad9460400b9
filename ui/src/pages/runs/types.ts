// Shapes of the answers the runs page reads (src/orca/server/_uiapi.py, _app.py).
export type { RunRecord } from "../monitor/types";

/** GET /v1/runs/stats. */
export interface RunStats {
  running: number;
  queued: number;
  interrupted: number;
  done: number;
  failed: number;
  cancelled: number;
  total: number;
  cost_usd: string;
  cost_usd_24h: string;
  tokens_24h: number;
  runs_24h: number;
}

/** GET /v1/events/search: one logged event holding the text. */
export interface EventHit {
  run_id: string;
  seq: number;
  type: string;
  ts: number;
  node: string | null;
  excerpt: string;
}

/** GET /v1/workflows: one served workflow. */
export interface WorkflowSummary {
  name: string;
  source?: string;
  nodes?: number;
  kind?: string;
}

/** GET /v1/budgets and /v1/profiles: what the start form lists. */
export interface Named {
  name: string;
  active?: boolean;
}

/** POST /v1/runs and /v1/threads/{id}/runs. */
export interface StartedRun {
  run_id: string;
  thread_id: string;
  status: string;
}
