// What the page sends: edits, forks and runs (with breakpoints), as the API takes them.
import { api } from "../../api/client";
import type { CheckpointRef, RunRecord } from "./types";

const enc = encodeURIComponent;

export interface Breakpoints {
  before: string[];
  after: string[];
}

export const NO_BREAKPOINTS: Breakpoints = { before: [], after: [] };

/** A run body: the workflow, resume or continue (no input), and breakpoints when set
 * (left out when none, so a server without them takes the body too). */
export function runBody(workflow: string, breakpoints: Breakpoints, resume?: unknown): Record<string, unknown> {
  const body: Record<string, unknown> = { workflow };
  if (resume !== undefined) body.resume = resume;
  if (breakpoints.before.length) body.interrupt_before = breakpoints.before;
  if (breakpoints.after.length) body.interrupt_after = breakpoints.after;
  return body;
}

export function startRun(thread: string, body: Record<string, unknown>) {
  return api<RunRecord>(`/v1/threads/${enc(thread)}/runs`, { method: "POST", body });
}

export function editState(
  thread: string,
  values: Record<string, unknown>,
  checkpointId: string,
  asNode: string | null,
  workflow: string | null,
) {
  const body: Record<string, unknown> = { values, checkpoint_id: checkpointId };
  if (asNode) body.as_node = asNode;
  if (workflow) body.workflow = workflow;
  return api<CheckpointRef>(`/v1/threads/${enc(thread)}/state`, { method: "POST", body });
}

export function forkThread(thread: string, checkpointId: string, toThread: string | null, workflow: string | null) {
  const body: Record<string, unknown> = { checkpoint_id: checkpointId };
  if (toThread) body.to_thread = toThread;
  if (workflow) body.workflow = workflow;
  return api<CheckpointRef>(`/v1/threads/${enc(thread)}/fork`, { method: "POST", body });
}
