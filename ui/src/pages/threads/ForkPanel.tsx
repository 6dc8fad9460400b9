import { useId, useState } from "react";
import { Link } from "react-router-dom";
import { ErrorBox } from "../../components/common";
import type { CheckpointRef } from "./types";

interface Props {
  thread: string;
  step: number;
  workflow: string | null;
  onFork: (toThread: string | null) => Promise<CheckpointRef>;
  /** starts a run on the forked thread (with the page's breakpoints) */
  onRun: (thread: string) => Promise<unknown>;
}

/** Branch from the selected checkpoint (onto a new thread, or this one's head), then
 * run the branch and watch it in the run monitor. */
export function ForkPanel({ thread, step, workflow, onFork, onRun }: Props) {
  const id = useId();
  const [toThread, setToThread] = useState(`${thread}-fork-${step}`);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [forked, setForked] = useState<CheckpointRef | null>(null);

  const run = (p: Promise<unknown>, then?: (v: unknown) => void) => {
    setBusy(true);
    setError(null);
    p.then(then)
      .catch(setError)
      .finally(() => setBusy(false));
  };

  return (
    <section aria-labelledby={`${id}-title`} className="card">
      <h2 id={`${id}-title`}>Fork from step {step}</h2>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          run(onFork(toThread.trim() || null), (v) => setForked(v as CheckpointRef));
        }}
      >
        <label className="grow">
          New thread (empty: branch on this thread)
          <input value={toThread} onChange={(e) => setToThread(e.target.value)} maxLength={200} autoComplete="off" />
        </label>
        <button type="submit" disabled={busy}>
          Fork
        </button>
      </form>
      {forked ? (
        <div className="row" role="status">
          <span>
            Forked to thread <code>{forked.thread_id}</code> at checkpoint <code>{forked.checkpoint_id}</code>.
          </span>
          <button className="primary" type="button" disabled={busy} onClick={() => run(onRun(forked.thread_id))}>
            Run the fork
          </button>
          {forked.thread_id !== thread ? (
            <Link to={`/threads/${encodeURIComponent(forked.thread_id)}${workflow ? `?workflow=${encodeURIComponent(workflow)}` : ""}`}>
              Open thread {forked.thread_id}
            </Link>
          ) : null}
        </div>
      ) : null}
      <ErrorBox error={error} />
    </section>
  );
}
