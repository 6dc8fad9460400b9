// Where each validation error belongs: its node (named, or found from a `nodes.N...` path)
// and field, and how many errors each node has (the canvas marks them).

import type { FlowDoc, ValidationError } from "./types";

export interface Located extends ValidationError {
  nodeId: string | null;
}

export function locateErrors(doc: FlowDoc, errors: readonly ValidationError[]): Located[] {
  return errors.map((e) => {
    let nodeId = e.node;
    let field = e.field;
    const m = /^nodes\.(\d+)(?:\.([^.]+))?/.exec(e.path);
    if (m) {
      nodeId ??= doc.nodes[Number(m[1])]?.id ?? null;
      field ??= m[2] ?? null;
    }
    return { ...e, node: e.node, field, nodeId };
  });
}

export function errorsByNode(located: readonly Located[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of located) if (e.nodeId) out.set(e.nodeId, (out.get(e.nodeId) ?? 0) + 1);
  return out;
}
