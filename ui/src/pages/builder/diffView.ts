// The data of the side-by-side version diff: which nodes and arrows of each version were
// added, removed or changed, and the field-level change list, from GET /v1/flows/{name}/diff.

import { canvasEdges } from "./flowModel";
import type { FlowDiff, FlowDoc, FlowEdge } from "./types";

export type Change = "added" | "removed" | "changed" | "same";

/** The words (and mark) a change is shown with, so it never relies on colour alone. */
export const CHANGE_MARK: Record<Change, string> = { added: "+ added", removed: "− removed", changed: "~ changed", same: "" };

export interface DiffSide {
  nodes: Map<string, Change>;
  /** canvas edge id -> change */
  edges: Map<string, Change>;
}

export interface ChangeRow {
  what: "flow" | "state" | "node" | "edge";
  name: string;
  change: Exclude<Change, "same">;
  field: string | null;
  from: string;
  to: string;
}

const edgeKey = (e: { from: string; to: string }) => `${e.from}->${e.to}`;

function side(doc: FlowDoc, diff: FlowDiff, which: "from" | "to"): DiffSide {
  const gone = new Set(which === "from" ? diff.nodes.removed : diff.nodes.added);
  const changed = new Set(diff.nodes.changed.map((c) => c.name));
  const mark: Change = which === "from" ? "removed" : "added";
  const nodes = new Map<string, Change>();
  for (const n of doc.nodes) nodes.set(n.id, gone.has(n.id) ? mark : changed.has(n.id) ? "changed" : "same");
  const edgeSet = new Set((which === "from" ? diff.edges.removed : diff.edges.added).map(edgeKey));
  const edges = new Map<string, Change>();
  for (const e of canvasEdges(doc)) {
    let change: Change = "same";
    if (e.kind === "edge" && edgeSet.has(`${e.source}->${e.target}`)) change = mark;
    else if (e.kind !== "edge" && (gone.has(e.source) || changed.has(e.source))) {
      // a route/default/map arrow belongs to its node: it changes with it
      change = gone.has(e.source) ? mark : "changed";
    } else if (gone.has(e.source) || gone.has(e.target)) change = mark;
    edges.set(e.id, change);
  }
  return { nodes, edges };
}

/** What each version's canvas marks: the older one its removed nodes/edges, the newer its added. */
export function diffSides(fromDoc: FlowDoc, toDoc: FlowDoc, diff: FlowDiff): { from: DiffSide; to: DiffSide } {
  return { from: side(fromDoc, diff, "from"), to: side(toDoc, diff, "to") };
}

/** A value as the change list shows it (JSON, shortened). */
export function showValue(value: unknown, limit = 120): string {
  if (value === undefined || value === null) return "—";
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

function edgeText(e: FlowEdge): string {
  return `${e.from} → ${e.to}`;
}

/** Every change as one row of the list: state keys, nodes (field by field), edges. */
export function changeRows(diff: FlowDiff): ChangeRow[] {
  const rows: ChangeRow[] = [];
  for (const c of diff.flow ?? []) rows.push({ what: "flow", name: "flow", change: "changed", field: c.field, from: showValue(c.from), to: showValue(c.to) });
  for (const k of diff.state.added) rows.push({ what: "state", name: k, change: "added", field: null, from: "—", to: "—" });
  for (const k of diff.state.removed) rows.push({ what: "state", name: k, change: "removed", field: null, from: "—", to: "—" });
  for (const c of diff.state.changed) {
    for (const f of c.fields) rows.push({ what: "state", name: c.key, change: "changed", field: f.field, from: showValue(f.from), to: showValue(f.to) });
  }
  for (const n of diff.nodes.added) rows.push({ what: "node", name: n, change: "added", field: null, from: "—", to: "—" });
  for (const n of diff.nodes.removed) rows.push({ what: "node", name: n, change: "removed", field: null, from: "—", to: "—" });
  for (const c of diff.nodes.changed) {
    for (const f of c.fields) rows.push({ what: "node", name: c.name, change: "changed", field: f.field, from: showValue(f.from), to: showValue(f.to) });
  }
  for (const e of diff.edges.added) rows.push({ what: "edge", name: edgeText(e), change: "added", field: null, from: "—", to: "—" });
  for (const e of diff.edges.removed) rows.push({ what: "edge", name: edgeText(e), change: "removed", field: null, from: "—", to: "—" });
  return rows;
}

/** "3 nodes changed, 1 added..." */
export function summary(diff: FlowDiff): string {
  const parts: string[] = [];
  const count = (n: number, what: string) => n && parts.push(`${n} ${what}`);
  count(diff.nodes.added.length, "node(s) added");
  count(diff.nodes.removed.length, "node(s) removed");
  count(diff.nodes.changed.length, "node(s) changed");
  count(diff.edges.added.length, "edge(s) added");
  count(diff.edges.removed.length, "edge(s) removed");
  count(diff.state.added.length + diff.state.removed.length + diff.state.changed.length, "state key change(s)");
  return parts.length ? parts.join(", ") : "no changes";
}
