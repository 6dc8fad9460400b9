import { useMemo } from "react";
import { ErrorBox, Loading } from "../../components/common";
import { describeCheckpoint } from "./CheckpointList";
import { diffMarks, diffValues, formatPath, pathKey, summarize } from "./diff";
import { JsonTree } from "./JsonTree";
import { useCheckpointState } from "./queries";
import { preview } from "./treeRows";
import type { CheckpointInfo } from "./types";

interface Props {
  thread: string;
  workflow: string | null;
  history: CheckpointInfo[];
  from: string | null;
  to: string;
  onPick: (side: "from" | "to", checkpointId: string) => void;
}

const MAX_ROWS = 200;
const EMPTY: Record<string, unknown> = {};

function Picker({ label, value, history, onChange }: { label: string; value: string | null; history: CheckpointInfo[]; onChange: (v: string) => void }) {
  return (
    <label>
      {label}
      <select value={value ?? ""} onChange={(e) => onChange(e.target.value)}>
        {value === null ? <option value="">(none: the thread's start)</option> : null}
        {history.map((c) => (
          <option key={c.checkpoint_id} value={c.checkpoint_id}>
            Step {c.step} · {describeCheckpoint(c)} · {c.checkpoint_id.slice(0, 8)}
          </option>
        ))}
        {value !== null && !history.some((c) => c.checkpoint_id === value) ? <option value={value}>{value}</option> : null}
      </select>
    </label>
  );
}

/** Two checkpoints' states compared: the changes as a table, and both states as trees
 * with the changes highlighted, side by side. */
export function DiffPanel({ thread, workflow, history, from, to, onPick }: Props) {
  const before = useCheckpointState(thread, from, workflow);
  const after = useCheckpointState(thread, to, workflow);
  // a placeholder (the previous checkpoint's data) must not be diffed as this one's
  const beforeValues = from === null ? EMPTY : before.data?.checkpoint_id === from ? before.data.values : undefined;
  const afterValues = after.data?.checkpoint_id === to ? after.data.values : undefined;
  const changes = useMemo(
    () => (beforeValues !== undefined && afterValues !== undefined ? diffValues(beforeValues, afterValues) : null),
    [beforeValues, afterValues],
  );
  const marks = useMemo(
    () => (changes ? { before: diffMarks(changes, "before"), after: diffMarks(changes, "after") } : null),
    [changes],
  );
  const counts = changes ? summarize(changes) : null;

  return (
    <section aria-labelledby="diff-title" className="card">
      <h2 id="diff-title">Diff between checkpoints</h2>
      <div className="row">
        <Picker label="From (before)" value={from} history={history} onChange={(v) => onPick("from", v)} />
        <Picker label="To (after)" value={to} history={history} onChange={(v) => onPick("to", v)} />
      </div>
      <ErrorBox error={before.error ?? after.error} />
      {!changes || !marks || !counts ? (
        <Loading what="the two states" />
      ) : (
        <>
          <p role="status" aria-live="polite" data-testid="diff-summary">
            {changes.length === 0
              ? "No change between these checkpoints."
              : `${counts.added} added, ${counts.removed} removed, ${counts.changed} changed`}
          </p>
          {changes.length ? (
            <table className="diff-table">
              <caption className="visually-hidden">Changes from the first checkpoint to the second</caption>
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Change</th>
                  <th scope="col">Before</th>
                  <th scope="col">After</th>
                </tr>
              </thead>
              <tbody>
                {changes.slice(0, MAX_ROWS).map((c) => (
                  <tr key={pathKey(c.path)} className={`diff-${c.kind}`}>
                    <td className="mono">{formatPath(c.path)}</td>
                    <td>
                      <span className={`jt-badge jt-badge-${c.kind}`}>{c.kind}</span>
                    </td>
                    <td className="mono">{c.kind === "added" ? "—" : preview(c.before)}</td>
                    <td className="mono">{c.kind === "removed" ? "—" : preview(c.after)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : null}
          {changes.length > MAX_ROWS ? <p className="muted">{changes.length - MAX_ROWS} more changes not listed: the trees below show them all.</p> : null}
          <div className="side-by-side">
            <div>
              <h3>Before</h3>
              <JsonTree key={`b-${from}-${to}`} value={beforeValues} label="State before" marks={marks.before} depth={0} />
            </div>
            <div>
              <h3>After</h3>
              <JsonTree key={`a-${from}-${to}`} value={afterValues} label="State after" marks={marks.after} depth={0} />
            </div>
          </div>
        </>
      )}
    </section>
  );
}
