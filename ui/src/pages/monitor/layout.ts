// A deterministic layered layout of a workflow's shape (GET /v1/workflows/{name}):
// each node's layer is its longest distance from the start along edges (back edges of
// cycles left out), nodes of a layer sorted by their first appearance. No layout library.
import type { WorkflowShape } from "./types";

export interface LayoutEdge {
  id: string;
  source: string;
  target: string;
  /** decided at run time (a conditional edge, a Send, a join), not a static edge */
  dynamic: boolean;
}

export interface LayoutNode {
  id: string;
  layer: number;
  index: number;
  x: number;
  y: number;
  kind: "start" | "end" | "node";
}

export interface GraphLayout {
  nodes: LayoutNode[];
  edges: LayoutEdge[];
}

export const LAYER_GAP = 120;
export const NODE_GAP = 190;

/** The edges of a shape: static edges, joins, conditional edges with their targets (a
 * conditional edge whose targets are decided at run time goes to the nodes that no
 * static edge reaches), nodes' declared destinations, and edges the run took. */
export function shapeEdges(shape: WorkflowShape, taken: readonly string[] = []): LayoutEdge[] {
  const out: LayoutEdge[] = [];
  const seen = new Set<string>();
  const add = (source: string, target: string, dynamic: boolean) => {
    const id = `${source}->${target}`;
    if (seen.has(id)) return;
    seen.add(id);
    out.push({ id, source, target, dynamic });
  };
  for (const e of shape.edges) add(e.source, e.target, false);
  for (const j of shape.joins) for (const s of j.sources) add(s, j.target, false);
  const names = shape.nodes.map((n) => n.name);
  const reached = new Set(out.map((e) => e.target));
  const unreached = names.filter((n) => !reached.has(n));
  for (const b of shape.branches) {
    const targets = b.targets ?? unreached.filter((n) => n !== b.source);
    for (const t of targets) add(b.source, t, true);
  }
  for (const n of shape.nodes) for (const d of n.destinations ?? []) add(n.name, d, true);
  for (const key of taken) {
    const [source, target] = key.split("->");
    if (source && target) add(source, target, true);
  }
  return out;
}

/** Place the start, the nodes and the end in layers, top to bottom. */
export function layoutGraph(shape: WorkflowShape, taken: readonly string[] = []): GraphLayout {
  const edges = shapeEdges(shape, taken);
  const ids = [shape.start, ...shape.nodes.map((n) => n.name), shape.end];
  const known = new Set(ids);
  const usable = edges.filter((e) => known.has(e.source) && known.has(e.target));
  const out = new Map<string, string[]>();
  for (const id of ids) out.set(id, []);
  for (const e of usable) out.get(e.source)?.push(e.target);

  // back edges by a depth-first walk from the start (iterative: no recursion limit)
  const back = new Set<string>();
  const state = new Map<string, 1 | 2>();
  const roots = [shape.start, ...ids.filter((id) => id !== shape.start)];
  for (const root of roots) {
    if (state.has(root)) continue;
    const stack: [string, number][] = [[root, 0]];
    state.set(root, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1] as [string, number];
      const [id, i] = top;
      const next = out.get(id) ?? [];
      if (i < next.length) {
        top[1] = i + 1;
        const to = next[i] as string;
        const s = state.get(to);
        if (s === 1) back.add(`${id}->${to}`);
        else if (s === undefined) {
          state.set(to, 1);
          stack.push([to, 0]);
        }
      } else {
        state.set(id, 2);
        stack.pop();
      }
    }
  }

  // longest path over the remaining DAG, in topological order (Kahn)
  const forward = usable.filter((e) => !back.has(e.id));
  const indegree = new Map<string, number>(ids.map((id) => [id, 0]));
  for (const e of forward) indegree.set(e.target, (indegree.get(e.target) ?? 0) + 1);
  const layer = new Map<string, number>(ids.map((id) => [id, 0]));
  const queue = ids.filter((id) => indegree.get(id) === 0);
  for (let q = 0; q < queue.length; q++) {
    const id = queue[q] as string;
    for (const e of forward) {
      if (e.source !== id) continue;
      layer.set(e.target, Math.max(layer.get(e.target) ?? 0, (layer.get(id) ?? 0) + 1));
      const left = (indegree.get(e.target) ?? 0) - 1;
      indegree.set(e.target, left);
      if (left === 0) queue.push(e.target);
    }
  }
  // the end goes below everything
  let deepest = 0;
  for (const id of ids) if (id !== shape.end) deepest = Math.max(deepest, layer.get(id) ?? 0);
  layer.set(shape.end, Math.max(layer.get(shape.end) ?? 0, deepest + 1));

  const rows = new Map<number, string[]>();
  for (const id of ids) {
    const l = layer.get(id) ?? 0;
    rows.set(l, [...(rows.get(l) ?? []), id]);
  }
  const nodes: LayoutNode[] = [];
  for (const [l, row] of [...rows.entries()].sort((a, b) => a[0] - b[0])) {
    row.forEach((id, index) => {
      nodes.push({
        id,
        layer: l,
        index,
        x: (index - (row.length - 1) / 2) * NODE_GAP,
        y: l * LAYER_GAP,
        kind: id === shape.start ? "start" : id === shape.end ? "end" : "node",
      });
    });
  }
  return { nodes, edges: usable };
}
