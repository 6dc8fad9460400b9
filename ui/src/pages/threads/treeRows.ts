// The visible rows of a JSON tree: which nodes show, at what level, given what is
// expanded and how much of each large value is shown. Pure, so the tree's keyboard
// behaviour and truncation are tested without a DOM.

import { pathKey, type Mark, type Path } from "./diff";

/** Children shown per step of "show more", and characters of a string before it. */
export const CHILD_PAGE = 50;
export const STRING_LIMIT = 160;

export interface Row {
  key: string;
  path: Path;
  level: number; // 1 for the top keys
  label: string | null; // the key or index; null for the root value itself
  value: unknown;
  kind: "object" | "array" | "leaf" | "more";
  /** for a "more" row: the key of the value it shows more of, and what it says */
  moreOf?: string;
  moreKind?: "string" | "children";
  moreText?: string;
  parentKey: string | null;
  posinset: number;
  setsize: number;
  mark?: Mark;
}

export interface TreeView {
  /** explicit expand/collapse choices, by row key */
  expanded: ReadonlyMap<string, boolean>;
  /** how many children of a large object/array show, by its key (default CHILD_PAGE) */
  shown: ReadonlyMap<string, number>;
  /** long strings shown whole, by key */
  whole: ReadonlySet<string>;
  marks?: ReadonlyMap<string, Mark>;
  /** levels open by default */
  depth: number;
}

function kindOf(v: unknown): Row["kind"] {
  if (Array.isArray(v)) return "array";
  if (typeof v === "object" && v !== null) return "object";
  return "leaf";
}

/** Whether a row's children show: an explicit choice, else open near the top or when
 * it holds a highlighted change. */
export function isOpen(view: TreeView, row: Pick<Row, "key" | "level" | "kind">): boolean {
  if (row.kind !== "object" && row.kind !== "array") return false;
  const chosen = view.expanded.get(row.key);
  if (chosen !== undefined) return chosen;
  return row.level <= view.depth || view.marks?.get(row.key) === "contains";
}

function entries(value: unknown): [string | number, unknown][] {
  if (Array.isArray(value)) return value.map((v, i) => [i, v]);
  return Object.entries(value as Record<string, unknown>);
}

/** The rows that show for `root` (an object's keys at level 1). */
export function visibleRows(root: unknown, view: TreeView): Row[] {
  const rows: Row[] = [];
  const addChildren = (value: unknown, path: Path, level: number, parentKey: string | null) => {
    const all = entries(value);
    const limit = parentKey === null ? Math.max(all.length, CHILD_PAGE) : (view.shown.get(parentKey) ?? CHILD_PAGE);
    const some = all.slice(0, limit);
    const setsize = some.length + (all.length > limit ? 1 : 0);
    some.forEach(([k, v], i) => {
      const p = [...path, k];
      const row: Row = {
        key: pathKey(p),
        path: p,
        level,
        label: String(k),
        value: v,
        kind: kindOf(v),
        parentKey,
        posinset: i + 1,
        setsize,
        mark: view.marks?.get(pathKey(p)),
      };
      rows.push(row);
      if (isOpen(view, row)) addChildren(v, p, level + 1, row.key);
      else if (row.kind === "leaf" && typeof v === "string" && v.length > STRING_LIMIT) {
        const whole = view.whole.has(row.key);
        rows.push({
          key: `${row.key}#more`,
          path: p,
          level: level + 1,
          label: null,
          value: null,
          kind: "more",
          moreOf: row.key,
          moreKind: "string",
          moreText: whole ? "show less" : `show more (all ${v.length.toLocaleString("en-US")} characters)`,
          parentKey: row.key,
          posinset: 1,
          setsize: 1,
        });
      }
    });
    if (all.length > limit) {
      rows.push({
        key: `${parentKey ?? "root"}#more`,
        path,
        level,
        label: null,
        value: null,
        kind: "more",
        moreOf: parentKey ?? "root",
        moreKind: "children",
        moreText: `show more (${(all.length - limit).toLocaleString("en-US")} of ${all.length.toLocaleString("en-US")} not shown)`,
        parentKey,
        posinset: setsize,
        setsize,
      });
    }
  };
  if (kindOf(root) === "leaf") {
    rows.push({ key: pathKey([]), path: [], level: 1, label: null, value: root, kind: "leaf", parentKey: null, posinset: 1, setsize: 1 });
  } else {
    addChildren(root, [], 1, null);
  }
  return rows;
}

/** A value's one-line preview: strings quoted (cut at STRING_LIMIT unless whole). */
export function preview(value: unknown, whole = false): string {
  if (Array.isArray(value)) return `[${value.length} item${value.length === 1 ? "" : "s"}]`;
  if (typeof value === "object" && value !== null) {
    const n = Object.keys(value).length;
    return `{${n} key${n === 1 ? "" : "s"}}`;
  }
  if (typeof value === "string") {
    const text = !whole && value.length > STRING_LIMIT ? `${value.slice(0, STRING_LIMIT)}…` : value;
    return JSON.stringify(text);
  }
  return value === undefined ? "undefined" : JSON.stringify(value);
}

export type TreeAction =
  | { type: "focus"; key: string }
  | { type: "toggle"; key: string; open: boolean }
  | { type: "more"; of: string; kind: "string" | "children" }
  | null;

/**
 * What a key press on the focused row does (the WAI-ARIA tree pattern): up/down move,
 * right opens or goes to the first child, left closes or goes to the parent, home/end
 * go to the ends, Enter/Space open/close a branch or show more.
 */
export function keyAction(rows: Row[], activeKey: string, key: string, view: TreeView): TreeAction {
  const i = rows.findIndex((r) => r.key === activeKey);
  if (i < 0) return rows[0] ? { type: "focus", key: rows[0].key } : null;
  const row = rows[i] as Row;
  const open = isOpen(view, row);
  const branch = row.kind === "object" || row.kind === "array";
  const at = (j: number): TreeAction => {
    const r = rows[j];
    return r ? { type: "focus", key: r.key } : null;
  };
  switch (key) {
    case "ArrowDown":
      return at(i + 1);
    case "ArrowUp":
      return at(i - 1);
    case "Home":
      return at(0);
    case "End":
      return at(rows.length - 1);
    case "ArrowRight":
      if (branch && !open) return { type: "toggle", key: row.key, open: true };
      if (branch && open && rows[i + 1]?.parentKey === row.key) return at(i + 1);
      return null;
    case "ArrowLeft":
      if (branch && open) return { type: "toggle", key: row.key, open: false };
      return row.parentKey !== null ? { type: "focus", key: row.parentKey } : null;
    case "Enter":
    case " ":
      if (row.kind === "more") return { type: "more", of: row.moreOf as string, kind: row.moreKind ?? "children" };
      if (branch) return { type: "toggle", key: row.key, open: !open };
      return null;
    default:
      return null;
  }
}
