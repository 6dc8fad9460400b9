// The page's server state: TanStack Query keys and fetchers over the public API.
import { keepPreviousData, useQuery, type QueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import type { CheckpointInfo, RunRecord, ThreadState, WorkflowListItem, WorkflowShape } from "./types";

const enc = encodeURIComponent;

/** How many checkpoints of a thread the page lists (the server's maximum is 1000). */
export const HISTORY_LIMIT = 200;

export const keys = {
  threads: ["threads"] as const,
  recentRuns: ["runs", { limit: 200 }] as const,
  threadRuns: (thread: string) => ["runs", { thread_id: thread, limit: 20 }] as const,
  history: (thread: string, workflow: string | null) => ["threads", thread, "history", workflow] as const,
  state: (thread: string, checkpoint: string | null, workflow: string | null) =>
    ["threads", thread, "state", checkpoint ?? "latest", workflow] as const,
  workflows: ["workflows"] as const,
  workflow: (name: string) => ["workflows", name] as const,
};

export function useThreads() {
  return useQuery({ queryKey: keys.threads, queryFn: () => api<string[]>("/v1/threads") });
}

/** The newest runs, to show each thread's latest run (one request, not one per thread). */
export function useRecentRuns() {
  return useQuery({ queryKey: keys.recentRuns, queryFn: () => api<RunRecord[]>("/v1/runs", { query: { limit: 200 } }) });
}

export function useThreadRuns(thread: string) {
  return useQuery({
    queryKey: keys.threadRuns(thread),
    queryFn: () => api<RunRecord[]>("/v1/runs", { query: { thread_id: thread, limit: 20 } }),
  });
}

export function useHistory(thread: string, workflow: string | null, enabled: boolean) {
  return useQuery({
    queryKey: keys.history(thread, workflow),
    queryFn: () =>
      api<CheckpointInfo[]>(`/v1/threads/${enc(thread)}/history`, { query: { workflow, limit: HISTORY_LIMIT } }),
    enabled,
  });
}

function fetchState(thread: string, checkpoint: string | null, workflow: string | null) {
  return () =>
    api<ThreadState>(`/v1/threads/${enc(thread)}/state`, { query: { checkpoint_id: checkpoint, workflow } });
}

/** A checkpoint's state: a checkpoint never changes, so it is fetched once and kept. */
export function useCheckpointState(thread: string, checkpoint: string | null, workflow: string | null) {
  return useQuery({
    queryKey: keys.state(thread, checkpoint, workflow),
    queryFn: fetchState(thread, checkpoint, workflow),
    enabled: checkpoint !== null,
    staleTime: Infinity,
    gcTime: 10 * 60_000,
    placeholderData: keepPreviousData,
  });
}

/** Fetches checkpoints' states ahead (the neighbours of the selected one). */
export function prefetchStates(client: QueryClient, thread: string, checkpoints: (string | null | undefined)[], workflow: string | null) {
  for (const cp of checkpoints) {
    if (!cp) continue;
    void client.prefetchQuery({
      queryKey: keys.state(thread, cp, workflow),
      queryFn: fetchState(thread, cp, workflow),
      staleTime: Infinity,
    });
  }
}

/** The thread's head: what runs next and its pending interrupts. */
export function useLatestState(thread: string, workflow: string | null, enabled: boolean) {
  return useQuery({ queryKey: keys.state(thread, null, workflow), queryFn: fetchState(thread, null, workflow), enabled });
}

export function useWorkflows() {
  return useQuery({ queryKey: keys.workflows, queryFn: () => api<WorkflowListItem[]>("/v1/workflows") });
}

export function useWorkflow(name: string | null) {
  return useQuery({
    queryKey: keys.workflow(name ?? ""),
    queryFn: () => api<WorkflowShape>(`/v1/workflows/${enc(name ?? "")}`),
    enabled: name !== null,
    staleTime: 60_000,
  });
}
