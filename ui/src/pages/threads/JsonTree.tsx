import { useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import type { Mark } from "./diff";
import { CHILD_PAGE, isOpen, keyAction, preview, visibleRows, type Row, type TreeView } from "./treeRows";

const MARK_TEXT: Record<Mark, string> = { added: "added", removed: "removed", changed: "changed", contains: "has changes" };
const MARK_SIGN: Record<Mark, string> = { added: "+", removed: "−", changed: "~", contains: "•" };

interface Props {
  value: unknown;
  /** the tree's accessible name */
  label: string;
  marks?: ReadonlyMap<string, Mark>;
  /** levels open at first (changes open whatever the depth) */
  depth?: number;
}

/**
 * A JSON value as an accessible tree (WAI-ARIA tree pattern): one tab stop, arrow keys to
 * move, open and close, Enter/Space to toggle or show more; large arrays, objects and
 * strings show a part with a "show more" row. Highlights (a diff's marks) show as a sign
 * and a word, not only a colour.
 */
export function JsonTree({ value, label, marks, depth = 1 }: Props) {
  const [expanded, setExpanded] = useState<Map<string, boolean>>(() => new Map());
  const [shown, setShown] = useState<Map<string, number>>(() => new Map());
  const [whole, setWhole] = useState<Set<string>>(() => new Set());
  const [active, setActive] = useState<string | null>(null);
  const wantFocus = useRef(false);
  const items = useRef(new Map<string, HTMLLIElement>());

  const view: TreeView = useMemo(() => ({ expanded, shown, whole, marks, depth }), [expanded, shown, whole, marks, depth]);
  const rows = useMemo(() => visibleRows(value, view), [value, view]);
  const activeKey = active !== null && rows.some((r) => r.key === active) ? active : (rows[0]?.key ?? null);

  useEffect(() => {
    if (!wantFocus.current || activeKey === null) return;
    wantFocus.current = false;
    items.current.get(activeKey)?.focus();
  }, [activeKey, rows]);

  const act = useCallback(
    (action: ReturnType<typeof keyAction>) => {
      if (!action) return false;
      wantFocus.current = true;
      if (action.type === "focus") setActive(action.key);
      else if (action.type === "toggle") {
        setActive(action.key);
        setExpanded((m) => new Map(m).set(action.key, action.open));
      } else if (action.kind === "string") {
        setWhole((s) => {
          const next = new Set(s);
          if (next.has(action.of)) next.delete(action.of);
          else next.add(action.of);
          return next;
        });
      } else {
        setShown((m) => new Map(m).set(action.of, (m.get(action.of) ?? CHILD_PAGE) + CHILD_PAGE));
      }
      return true;
    },
    [],
  );

  const onKeyDown = (e: KeyboardEvent<HTMLUListElement>) => {
    if (activeKey === null || e.altKey || e.ctrlKey || e.metaKey) return;
    if (act(keyAction(rows, activeKey, e.key, view))) e.preventDefault();
    else if (["ArrowUp", "ArrowDown", "Home", "End", " "].includes(e.key)) e.preventDefault();
  };

  const onClick = (row: Row) => {
    setActive(row.key);
    if (row.kind === "more") act(keyAction(rows, row.key, "Enter", view));
    else if (row.kind === "object" || row.kind === "array") act({ type: "toggle", key: row.key, open: !isOpen(view, row) });
  };

  if (rows.length === 0) return <p className="muted">(empty)</p>;
  return (
    <ul role="tree" aria-label={label} className="json-tree" onKeyDown={onKeyDown}>
      {rows.map((row) => {
        const branch = row.kind === "object" || row.kind === "array";
        const open = branch && isOpen(view, row);
        const text = row.kind === "more" ? (row.moreText ?? "") : preview(row.value, whole.has(row.key));
        const name = `${row.label !== null ? `${row.label}: ` : ""}${text}${row.mark ? `, ${MARK_TEXT[row.mark]}` : ""}`;
        return (
          <li
            key={row.key}
            ref={(el) => {
              if (el) items.current.set(row.key, el);
              else items.current.delete(row.key);
            }}
            role="treeitem"
            aria-label={name}
            aria-level={row.level}
            aria-setsize={row.setsize}
            aria-posinset={row.posinset}
            aria-expanded={branch ? open : undefined}
            aria-selected={row.key === activeKey}
            tabIndex={row.key === activeKey ? 0 : -1}
            className={`jt-row${row.kind === "more" ? " jt-more" : ""}${row.mark ? ` jt-mark-${row.mark}` : ""}`}
            style={{ paddingLeft: 4 + (row.level - 1) * 16 }}
            onClick={() => onClick(row)}
            onFocus={() => {
              if (row.key !== activeKey) setActive(row.key);
            }}
          >
            <span className="jt-caret" aria-hidden="true">
              {branch ? (open ? "▾" : "▸") : ""}
            </span>
            {row.kind === "more" ? (
              <span className="jt-more-text">{text}</span>
            ) : (
              <>
                {row.label !== null ? <span className="jt-key">{row.label}</span> : null}
                {row.label !== null ? <span aria-hidden="true">: </span> : null}
                <span className={`jt-value jt-${row.kind === "leaf" ? typeName(row.value) : row.kind}`}>
                  {text}
                </span>
              </>
            )}
            {row.mark ? (
              <span className={`jt-badge jt-badge-${row.mark}`}>
                <span aria-hidden="true">{MARK_SIGN[row.mark]} </span>
                {MARK_TEXT[row.mark]}
              </span>
            ) : null}
          </li>
        );
      })}
    </ul>
  );
}

function typeName(v: unknown): string {
  return v === null ? "null" : typeof v;
}
