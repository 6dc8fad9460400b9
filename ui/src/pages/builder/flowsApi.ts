// The builder's calls to the server's public API (/v1/flows..., runs).

import { api } from "../../api/client";
import type { FlowDiff, FlowDoc, FlowSummary, FlowVersion, ValidateResult, VersionInfo } from "./types";

const enc = encodeURIComponent;

export const listFlows = () => api<FlowSummary[]>("/v1/flows");
export const listVersions = (name: string) => api<VersionInfo[]>(`/v1/flows/${enc(name)}/versions`);
export const getVersion = (name: string, version: string) =>
  api<FlowVersion>(`/v1/flows/${enc(name)}/versions/${enc(version)}`);
export const validateFlow = (flow: FlowDoc, signal?: AbortSignal) =>
  api<ValidateResult>("/v1/flows/validate", { method: "POST", body: { flow }, signal });
export const saveFlow = (flow: FlowDoc, version: string | null, message: string | null) =>
  api<VersionInfo>("/v1/flows", { method: "POST", body: { flow, version, message } });
export interface ServedWorkflow {
  name: string;
  kind?: "served" | "flow";
  source?: string;
  nodes?: number;
  version?: string;
}
export const listWorkflows = () => api<ServedWorkflow[]>("/v1/workflows");
/** A served workflow as a flow document (a Python graph's nodes as `python` nodes). */
export const exportWorkflow = (name: string) => api<unknown>(`/v1/workflows/${enc(name)}/flow`);
export const diffFlow = (name: string, from: string, to: string) =>
  api<FlowDiff>(`/v1/flows/${enc(name)}/diff`, { query: { from, to } });

export interface StartedRun {
  run_id: string;
  thread_id: string;
  status?: string;
}

/** Starts the saved flow `name@version` on a fresh thread of its own. */
export function startRun(name: string, version: string, input: Record<string, unknown>): Promise<StartedRun> {
  const thread = `builder-${name}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
  return api<StartedRun>(`/v1/threads/${enc(thread)}/runs`, {
    method: "POST",
    body: { workflow: `${name}@${version}`, input },
  });
}

export interface ServerTool {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

/** The tools a saved flow may call on this server (GET /v1/tools), by name. */
export async function serverTools(signal?: AbortSignal): Promise<string[]> {
  const tools = await api<ServerTool[]>("/v1/tools", { signal });
  return tools.map((t) => t.name);
}
