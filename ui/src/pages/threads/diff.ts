// A structural diff of two JSON values (a checkpoint's state and another's): what was
// added, removed or changed, by path, down to the leaves.

export type Path = (string | number)[];
export type ChangeKind = "added" | "removed" | "changed";

export interface Change {
  path: Path;
  kind: ChangeKind;
  before?: unknown;
  after?: unknown;
}

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Whether two JSON values are equal (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/**
 * The changes from `before` to `after`: objects are compared key by key, arrays index by
 * index (a longer array has its extra items added, a shorter one removed), anything else
 * as a whole (a value whose type changed is one change). Keys come in sorted order.
 */
export function diffValues(before: unknown, after: unknown, path: Path = []): Change[] {
  const out: Change[] = [];
  walk(before, after, path, out);
  return out;
}

function walk(a: unknown, b: unknown, path: Path, out: Change[]): void {
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    for (const k of keys) {
      const p = [...path, k];
      if (!Object.hasOwn(a, k)) out.push({ path: p, kind: "added", after: b[k] });
      else if (!Object.hasOwn(b, k)) out.push({ path: p, kind: "removed", before: a[k] });
      else walk(a[k], b[k], p, out);
    }
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.max(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const p = [...path, i];
      if (i >= a.length) out.push({ path: p, kind: "added", after: b[i] });
      else if (i >= b.length) out.push({ path: p, kind: "removed", before: a[i] });
      else walk(a[i], b[i], p, out);
    }
    return;
  }
  if (!jsonEqual(a, b)) out.push({ path, kind: "changed", before: a, after: b });
}

/** A path as one string key (the tree's and the marks' key). */
export function pathKey(path: Path): string {
  return JSON.stringify(path);
}

/** A path as people read it: plan.parts[1]. */
export function formatPath(path: Path): string {
  if (path.length === 0) return "(root)";
  return path
    .map((p, i) =>
      typeof p === "number" ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? (i ? `.${p}` : p) : `[${JSON.stringify(p)}]`,
    )
    .join("");
}

export type Mark = ChangeKind | "contains";

/**
 * The highlights of one side of a diff, by path key: each change's own path with its
 * kind, and its ancestors as "contains" (so a collapsed branch shows it holds changes).
 * The "before" side shows what was removed or changed; the "after" side what was added
 * or changed.
 */
export function diffMarks(changes: Change[], side: "before" | "after"): Map<string, Mark> {
  const marks = new Map<string, Mark>();
  for (const c of changes) {
    if (c.kind === (side === "before" ? "added" : "removed")) continue;
    marks.set(pathKey(c.path), c.kind);
    for (let i = c.path.length - 1; i >= 0; i--) {
      const key = pathKey(c.path.slice(0, i));
      if (marks.has(key)) break;
      marks.set(key, "contains");
    }
  }
  return marks;
}

/** Counts of a diff's changes by kind. */
export function summarize(changes: Change[]): Record<ChangeKind, number> {
  const counts = { added: 0, removed: 0, changed: 0 };
  for (const c of changes) counts[c.kind] += 1;
  return counts;
}
