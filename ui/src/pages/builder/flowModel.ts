// The builder's document model: pure functions over a FlowDoc (no React, no I/O), so every
// edit the canvas and the side panel make is one tested transformation. A document is
// never mutated: each function answers a new one (or the same one when nothing changes).

import { END, FORMAT, KINDS, START, type FlowDoc, type FlowEdge, type FlowNode, type Kind, type Position, type StateKey } from "./types";

export const NODE_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
export const STATE_KEY = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
export const FLOW_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** `package.module:function` (dotted identifiers, one colon, a function name). */
export const PYTHON_REF = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$/;

/** What each kind of node does, for the palette. */
export const KIND_INFO: Record<Kind, { label: string; description: string }> = {
  llm: { label: "LLM call", description: "One model call: a prompt over the state, the answer to an output key." },
  agent: { label: "Agent", description: "A tool-calling loop: the model calls tools until it answers." },
  tool: { label: "Tool", description: "One call of a registered tool, its arguments from the state." },
  router: { label: "Router", description: "Goes to the first route whose condition on the state holds." },
  map: { label: "Map", description: "Runs a node once per item of a list (fan-out)." },
  human: { label: "Human", description: "Pauses the run for a person's approval or input." },
  subflow: { label: "Subflow", description: "Runs another saved flow as one step." },
  python: { label: "Python", description: "A Python function referenced as module:function." },
};

export function isKind(value: unknown): value is Kind {
  return typeof value === "string" && (KINDS as readonly string[]).includes(value);
}

export function emptyFlow(name = "untitled"): FlowDoc {
  return { format: FORMAT, name, description: "", state: [], nodes: [], edges: [] };
}

/** A new node of `kind` with the fields its kind needs (left blank for the user to fill). */
export function newNode(kind: Kind, id: string, position?: Position): FlowNode {
  const base: FlowNode = { id, kind, ...(position ? { position: roundPosition(position) } : {}) };
  switch (kind) {
    case "llm":
      return { ...base, role: "worker", prompt: "", output: "" };
    case "agent":
      return { ...base, role: "worker", prompt: "", tools: [], max_turns: 5, output: "" };
    case "tool":
      return { ...base, tool: "", args: {} };
    case "router":
      return { ...base, routes: [], default: END };
    case "map":
      return { ...base, over: "", to: "", as: "item" };
    case "human":
      return { ...base, prompt: "", output: "" };
    case "subflow":
      return { ...base, flow: "", input: {}, output: {} };
    case "python":
      return { ...base, ref: "" };
  }
}

function roundPosition(p: Position): Position {
  return { x: Math.round(p.x), y: Math.round(p.y) };
}

/** `base` if no node has it, else `base2`, `base3`... */
export function uniqueId(doc: FlowDoc, base: string): string {
  const taken = new Set(doc.nodes.map((n) => n.id));
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) if (!taken.has(`${base}${i}`)) return `${base}${i}`;
}

/** The document with a new `kind` node (id `kind1`, `kind2`...) and that id. */
export function addNode(doc: FlowDoc, kind: Kind, position?: Position): { doc: FlowDoc; id: string } {
  const taken = new Set(doc.nodes.map((n) => n.id));
  let n = 1;
  while (taken.has(`${kind}${n}`)) n++;
  const id = `${kind}${n}`;
  const count = doc.nodes.length;
  const at = position ?? { x: 220 + 220 * (count % 4), y: 40 + 130 * Math.floor(count / 4) + 30 * (count % 2) };
  return { doc: { ...doc, nodes: [...doc.nodes, newNode(kind, id, at)] }, id };
}

export function getNode(doc: FlowDoc, id: string): FlowNode | undefined {
  return doc.nodes.find((n) => n.id === id);
}

/** The node `id` with `patch` applied (a field set to undefined is removed). */
export function updateNode(doc: FlowDoc, id: string, patch: Partial<FlowNode>): FlowDoc {
  if (!getNode(doc, id)) return doc;
  if ("id" in patch && patch.id !== id) throw new Error("use renameNode to change a node's id");
  return {
    ...doc,
    nodes: doc.nodes.map((n) => {
      if (n.id !== id) return n;
      const merged: Record<string, unknown> = { ...n, ...patch };
      return Object.fromEntries(Object.entries(merged).filter(([, v]) => v !== undefined)) as unknown as FlowNode;
    }),
  };
}

export function moveNode(doc: FlowDoc, id: string, position: Position): FlowDoc {
  const at = roundPosition(position);
  const was = getNode(doc, id)?.position;
  if (was && was.x === at.x && was.y === at.y) return doc;
  return updateNode(doc, id, { position: roundPosition(position) });
}

/** Removes node `id`, its edges, the routes that lead to it; a router's default or a map's
 * target that named it go back to END / blank. */
export function removeNode(doc: FlowDoc, id: string): FlowDoc {
  if (!getNode(doc, id)) return doc;
  return {
    ...doc,
    nodes: doc.nodes
      .filter((n) => n.id !== id)
      .map((n) => {
        if (n.kind === "router") {
          const routes = (n.routes ?? []).filter((r) => r.to !== id);
          return { ...n, routes, default: n.default === id ? END : n.default };
        }
        if (n.kind === "map" && n.to === id) return { ...n, to: "" };
        return n;
      }),
    edges: doc.edges.filter((e) => e.from !== id && e.to !== id),
  };
}

/** Why `newId` cannot be node `oldId`'s new id (null: it can). */
export function renameProblem(doc: FlowDoc, oldId: string, newId: string): string | null {
  if (newId === oldId) return null;
  if (newId === START || newId === END) return `${newId} is reserved`;
  if (!NODE_ID.test(newId)) return "an id starts with a letter, then letters, digits, _ or - (64 at most)";
  if (getNode(doc, newId)) return `a node is already called ${newId}`;
  return null;
}

/** Renames node `oldId` to `newId`, and every edge, route, default and map target naming it. */
export function renameNode(doc: FlowDoc, oldId: string, newId: string): FlowDoc {
  if (newId === oldId || !getNode(doc, oldId)) return doc;
  const problem = renameProblem(doc, oldId, newId);
  if (problem) throw new Error(problem);
  const swap = (x: string | undefined) => (x === oldId ? newId : x);
  return {
    ...doc,
    nodes: doc.nodes.map((n) => {
      let next: FlowNode = n.id === oldId ? { ...n, id: newId } : n;
      if (next.kind === "router") {
        next = {
          ...next,
          routes: (next.routes ?? []).map((r) => (r.to === oldId ? { ...r, to: newId } : r)),
          default: swap(next.default),
        };
      }
      if (next.kind === "map" && next.to === oldId) next = { ...next, to: newId };
      return next;
    }),
    edges: doc.edges.map((e) => ({ ...e, from: swap(e.from) as string, to: swap(e.to) as string })),
  };
}

/** Connects `from` to `to`. A plain node gets an edge; a router a new route (its condition
 * to be filled in; the first route of a router with none); a map its target. Edges into
 * START, out of END, and duplicates are refused (the document comes back unchanged). */
export function connect(doc: FlowDoc, from: string, to: string): FlowDoc {
  if (to === START || from === END) return doc;
  const source = from === START ? undefined : getNode(doc, from);
  if (from !== START && !source) return doc;
  if (to !== END && !getNode(doc, to)) return doc;
  if (source?.kind === "router") {
    const routes = source.routes ?? [];
    if (routes.some((r) => r.to === to) || source.default === to) return doc;
    const key = doc.state[0]?.key ?? "";
    return updateNode(doc, from, { routes: [...routes, { when: { key, op: "truthy" }, to }] });
  }
  if (source?.kind === "map") return updateNode(doc, from, { to });
  if (doc.edges.some((e) => e.from === from && e.to === to)) return doc;
  return { ...doc, edges: [...doc.edges, { from, to }] };
}

export type CanvasEdgeKind = "edge" | "route" | "default" | "map";

/** An arrow the canvas draws: a plain edge, or one a router's routes/default or a map imply. */
export interface CanvasEdge {
  id: string;
  source: string;
  target: string;
  kind: CanvasEdgeKind;
  label?: string;
}

function conditionText(when: { key: string; op?: string; value?: unknown }): string {
  const op = when.op ?? "eq";
  if (op === "exists" || op === "truthy") return `${when.key || "?"} ${op}`;
  return `${when.key || "?"} ${op} ${JSON.stringify(when.value ?? null)}`;
}

/** Every arrow of the document, with a stable id (`e:from->to`, `r:router:index`, ...). */
export function canvasEdges(doc: FlowDoc): CanvasEdge[] {
  const out: CanvasEdge[] = doc.edges.map((e) => ({
    id: `e:${e.from}->${e.to}`,
    source: e.from,
    target: e.to,
    kind: "edge" as const,
    ...(e.conditional ? { label: "conditional" } : {}),
  }));
  for (const n of doc.nodes) {
    if (n.kind === "router") {
      (n.routes ?? []).forEach((r, i) => {
        if (r.to) out.push({ id: `r:${n.id}:${i}`, source: n.id, target: r.to, kind: "route", label: conditionText(r.when) });
      });
      out.push({ id: `d:${n.id}`, source: n.id, target: n.default ?? END, kind: "default", label: "default" });
    } else if (n.kind === "map" && n.to) {
      out.push({ id: `m:${n.id}`, source: n.id, target: n.to, kind: "map", label: `each ${n.as ?? "item"}` });
    }
  }
  return out;
}

/** Removes the arrow `edgeId` (from `canvasEdges`): the edge, the route, the map target;
 * a router's default goes back to END. */
export function disconnect(doc: FlowDoc, edgeId: string): FlowDoc {
  const edge = canvasEdges(doc).find((e) => e.id === edgeId);
  if (!edge) return doc;
  switch (edge.kind) {
    case "edge":
      return { ...doc, edges: doc.edges.filter((e) => !(e.from === edge.source && e.to === edge.target)) };
    case "route": {
      const index = Number(edgeId.slice(edgeId.lastIndexOf(":") + 1));
      const node = getNode(doc, edge.source);
      return updateNode(doc, edge.source, { routes: (node?.routes ?? []).filter((_, i) => i !== index) });
    }
    case "default":
      return updateNode(doc, edge.source, { default: END });
    case "map":
      return updateNode(doc, edge.source, { to: "" });
  }
}

export function setStateKeys(doc: FlowDoc, state: StateKey[]): FlowDoc {
  return { ...doc, state };
}

/** Adds state key `key` (type any) unless declared. */
export function declareKey(doc: FlowDoc, key: string, type: StateKey["type"] = "any"): FlowDoc {
  if (!key || doc.state.some((s) => s.key === key)) return doc;
  return { ...doc, state: [...doc.state, { key, type, reducer: "overwrite" }] };
}

/** The variables a prompt may use: the state keys, then the items of the maps that lead
 * to `nodeId` (a map's `as`), deduplicated, in order. */
export function variablesFor(doc: FlowDoc, nodeId?: string): string[] {
  const out = doc.state.map((s) => s.key).filter(Boolean);
  if (nodeId) {
    for (const n of doc.nodes) if (n.kind === "map" && n.to === nodeId) out.push(n.as ?? "item");
  }
  return [...new Set(out)];
}

/** Nodes without a position get one: layered left to right by distance from START. */
export function layout(doc: FlowDoc): FlowDoc {
  if (doc.nodes.every((n) => n.position)) return doc;
  const succ = new Map<string, string[]>();
  for (const e of canvasEdges(doc)) succ.set(e.source, [...(succ.get(e.source) ?? []), e.target]);
  const depth = new Map<string, number>([[START, 0]]);
  const queue = [START];
  while (queue.length) {
    const at = queue.shift() as string;
    for (const next of succ.get(at) ?? []) {
      if (!depth.has(next)) {
        depth.set(next, (depth.get(at) ?? 0) + 1);
        queue.push(next);
      }
    }
  }
  const perLayer = new Map<number, number>();
  return {
    ...doc,
    nodes: doc.nodes.map((n) => {
      if (n.position) return n;
      const layer = depth.get(n.id) ?? 1 + Math.max(0, ...depth.values());
      const row = perLayer.get(layer) ?? 0;
      perLayer.set(layer, row + 1);
      return { ...n, position: { x: 220 * layer, y: 40 + 110 * row } };
    }),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A FlowDoc read from JSON text or a parsed value; an Error naming the field and the fix
 * when it is not one. Only the document's shape is checked here; the server validates the
 * rest (POST /v1/flows/validate). */
export function parseFlowDoc(input: unknown): FlowDoc {
  let value = input;
  if (typeof input === "string") {
    try {
      value = JSON.parse(input);
    } catch (e) {
      throw new Error(`not JSON: ${(e as Error).message}. Fix: export the flow as JSON (orca.flow/v1)`, { cause: e });
    }
  }
  if (!isRecord(value)) throw new Error("a flow is a JSON object. Fix: give {\"format\": \"orca.flow/v1\", ...}");
  if (value.format !== FORMAT) {
    throw new Error(`format: expected "${FORMAT}", got ${JSON.stringify(value.format ?? null)}. Fix: set "format": "${FORMAT}"`);
  }
  if (typeof value.name !== "string" || !value.name) throw new Error('name: missing. Fix: add "name": "my-flow"');
  if (!Array.isArray(value.nodes)) throw new Error('nodes: expected a list. Fix: add "nodes": [...]');
  const state = value.state ?? [];
  const edges = value.edges ?? [];
  if (!Array.isArray(state)) throw new Error("state: expected a list of {key, type, reducer}");
  if (!Array.isArray(edges)) throw new Error("edges: expected a list of {from, to}");
  value.nodes.forEach((n, i) => {
    if (!isRecord(n)) throw new Error(`nodes.${i}: expected an object`);
    if (typeof n.id !== "string") throw new Error(`nodes.${i}.id: missing. Fix: give each node an id`);
    if (!isKind(n.kind)) throw new Error(`nodes.${i}.kind: ${JSON.stringify(n.kind ?? null)} is not a kind. Fix: use one of ${KINDS.join(", ")}`);
  });
  edges.forEach((e, i) => {
    if (!isRecord(e) || typeof e.from !== "string" || typeof e.to !== "string") {
      throw new Error(`edges.${i}: expected {"from": node, "to": node}`);
    }
  });
  state.forEach((s, i) => {
    if (!isRecord(s) || typeof s.key !== "string") throw new Error(`state.${i}: expected {"key": name, ...}`);
  });
  return {
    ...(value as unknown as FlowDoc),
    description: typeof value.description === "string" ? value.description : "",
    state: state as StateKey[],
    edges: edges as FlowEdge[],
  };
}

/** The document as the server takes it: positions rounded, blank optional fields dropped. */
export function toFlowDoc(doc: FlowDoc): FlowDoc {
  const nodes = doc.nodes.map((n) => {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(n)) {
      if (v === undefined) continue;
      if ((k === "description" || k === "system" || k === "model") && v === "") continue;
      out[k] = k === "position" ? roundPosition(v as Position) : v;
    }
    return out as unknown as FlowNode;
  });
  const out: FlowDoc = { format: FORMAT, name: doc.name, state: doc.state, nodes, edges: doc.edges };
  if (doc.description) out.description = doc.description;
  if (doc.notes?.length) out.notes = doc.notes;
  return out;
}

/** Undo/redo over documents: a bounded past, the present, a future cleared by each edit. */
export interface History<T> {
  past: T[];
  present: T;
  future: T[];
  /** What the last edit was (e.g. "llm1.prompt"): edits of the same thing in a row, such
   * as the keystrokes of one prompt, are one step to undo. */
  last?: string;
}

export const HISTORY_LIMIT = 100;

export function startHistory<T>(present: T): History<T> {
  return { past: [], present, future: [] };
}

export function pushHistory<T>(h: History<T>, next: T, what?: string): History<T> {
  if (next === h.present) return h;
  if (what !== undefined && what === h.last && h.past.length) return { ...h, present: next, future: [] };
  return { past: [...h.past, h.present].slice(-HISTORY_LIMIT), present: next, future: [], ...(what ? { last: what } : {}) };
}

export function undo<T>(h: History<T>): History<T> {
  const prev = h.past[h.past.length - 1];
  if (prev === undefined) return h;
  return { past: h.past.slice(0, -1), present: prev, future: [h.present, ...h.future] };
}

export function redo<T>(h: History<T>): History<T> {
  const next = h.future[0];
  if (next === undefined) return h;
  return { past: [...h.past, h.present], present: next, future: h.future.slice(1) };
}
