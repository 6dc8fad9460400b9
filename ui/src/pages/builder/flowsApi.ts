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

/** The tool names a validate error's fix lists ("use one of: a, b, c"), if it does. */
export function toolsFromErrors(result: ValidateResult | undefined): string[] {
  for (const e of result?.errors ?? []) {
    const m = /use one of: (.+)$/.exec(e.fix);
    const list = m?.[1];
    if (list && (e.field === "tool" || e.path.includes(".tools."))) {
      return list
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s && s !== "no tools are registered");
    }
  }
  return [];
}

/** The tools a saved flow may call on this server. No endpoint lists them, so this asks
 * the validator about a one-node flow calling no tool: its error names the known ones. */
export async function serverTools(signal?: AbortSignal): Promise<string[]> {
  const probe: FlowDoc = {
    format: "orca.flow/v1",
    name: "tools-probe",
    state: [],
    nodes: [{ id: "probe", kind: "tool", tool: "?" }],
    edges: [
      { from: "__start__", to: "probe" },
      { from: "probe", to: "__end__" },
    ],
  };
  return toolsFromErrors(await validateFlow(probe, signal));
}
