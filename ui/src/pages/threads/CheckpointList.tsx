import { useEffect, useRef, type KeyboardEvent } from "react";
import type { CheckpointInfo } from "./types";

interface Props {
  history: CheckpointInfo[]; // newest first
  selected: string;
  onSelect: (checkpointId: string) => void;
}

/** Where the arrow keys, Home and End take the selection in the list (newest first). */
export function nextCheckpoint(history: CheckpointInfo[], selected: string, key: string): string | null {
  const i = history.findIndex((c) => c.checkpoint_id === selected);
  const to = key === "ArrowDown" ? i + 1 : key === "ArrowUp" ? i - 1 : key === "Home" ? 0 : key === "End" ? history.length - 1 : -1;
  if (i < 0 || to < 0 || to >= history.length || to === i) return null;
  return history[to]?.checkpoint_id ?? null;
}

export function describeCheckpoint(c: CheckpointInfo): string {
  const by = c.metadata.nodes?.filter((n) => n !== "__start__").join(", ");
  const source = c.metadata.source ?? "checkpoint";
  return by ? `${source} by ${by}` : source;
}

/**
 * The thread's checkpoints as a listbox (newest first): the arrow keys move the selection
 * (and with it the state shown), Home/End go to the newest/oldest.
 */
export function CheckpointList({ history, selected, onSelect }: Props) {
  const items = useRef(new Map<string, HTMLLIElement>());
  const hadFocus = useRef(false);

  useEffect(() => {
    if (hadFocus.current) items.current.get(selected)?.focus();
  }, [selected]);

  const onKeyDown = (e: KeyboardEvent<HTMLUListElement>) => {
    const to = nextCheckpoint(history, selected, e.key);
    if (["ArrowDown", "ArrowUp", "Home", "End"].includes(e.key)) e.preventDefault();
    if (to) {
      hadFocus.current = true;
      onSelect(to);
    }
  };

  return (
    <ul role="listbox" aria-label="Checkpoints, newest first" className="cp-list" onKeyDown={onKeyDown}>
      {history.map((c, i) => {
        const isSel = c.checkpoint_id === selected;
        const next = c.next.map((t) => t.node);
        return (
          <li
            key={c.checkpoint_id}
            ref={(el) => {
              if (el) items.current.set(c.checkpoint_id, el);
              else items.current.delete(c.checkpoint_id);
            }}
            role="option"
            aria-selected={isSel}
            tabIndex={isSel ? 0 : -1}
            className={`cp-item${isSel ? " cp-selected" : ""}`}
            onClick={() => {
              hadFocus.current = true;
              onSelect(c.checkpoint_id);
            }}
            data-checkpoint={c.checkpoint_id}
          >
            <div className="row">
              <strong>Step {c.step}</strong>
              <span className="grow">{describeCheckpoint(c)}</span>
              {i === 0 ? <span className="badge">head</span> : null}
            </div>
            <div className="muted small">
              {next.length ? `next: ${next.join(", ")}` : "next: — (end)"} · {new Date(c.created_at).toLocaleTimeString()}
            </div>
          </li>
        );
      })}
    </ul>
  );
}
