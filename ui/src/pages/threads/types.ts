// The shapes of the server answers this page reads (src/orca/server/_runs.py, _app.py).

/** One checkpoint of GET /v1/threads/{id}/history (newest first; no values). */
export interface CheckpointInfo {
  thread_id: string;
  checkpoint_id: string;
  parent_id: string | null;
  step: number;
  /** the tasks that run next: their node (and, for a Send, its argument) */
  next: { node: string; [more: string]: unknown }[];
  /** how it came to be: source input|loop|update|fork, the nodes that wrote it, the run */
  metadata: {
    source?: string;
    nodes?: string[];
    run_id?: string;
    /** a fork onto this thread: where it came from */
    from?: { thread_id: string; checkpoint_id: string };
    [more: string]: unknown;
  };
  created_at: string;
}

/** A pause awaiting a resume. */
export interface PendingInterrupt {
  id: string;
  node: string;
  task_id: string;
  value: unknown;
  when: string;
}

/** GET /v1/threads/{id}/state (optionally ?checkpoint_id=). */
export interface ThreadState {
  thread_id: string;
  checkpoint_id: string;
  parent_id: string | null;
  step: number;
  next: string[];
  values: Record<string, unknown>;
  interrupts: PendingInterrupt[];
  metadata: CheckpointInfo["metadata"];
  created_at: string;
}

/** A run record (GET /v1/runs, POST /v1/threads/{id}/runs). */
export interface RunRecord {
  run_id: string;
  thread_id: string;
  graph: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  steps: number;
  checkpoint_id: string | null;
  error: unknown;
  metadata: Record<string, unknown>;
}

/** GET /v1/workflows/{name}: the parts this page uses. */
export interface WorkflowShape {
  name: string;
  source: string;
  state: { key: string; reducer: string; has_default: boolean }[];
  nodes: { name: string }[];
}

export interface WorkflowListItem {
  name: string;
  source: string;
  nodes: number;
}

/** POST /v1/threads/{id}/state and /fork. */
export interface CheckpointRef {
  thread_id: string;
  checkpoint_id: string;
}
