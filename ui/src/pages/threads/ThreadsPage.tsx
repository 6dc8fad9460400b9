import { useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { ErrorBox, Loading, Page, StatusBadge } from "../../components/common";
import { formatTime } from "../../lib/format";
import { useRecentRuns, useThreads } from "./queries";
import { ThreadView } from "./ThreadView";
import type { RunRecord } from "./types";
import "./threads.css";

const SHOWN = 200;

/** Threads and time travel: the list of threads, or one thread's checkpoints. */
export default function ThreadsPage() {
  const { threadId } = useParams();
  return threadId ? <ThreadView key={threadId} thread={threadId} /> : <ThreadList />;
}

/** Each thread with its latest run (from one request for the newest runs), newest first. */
export function threadRows(threads: string[], runs: RunRecord[]): { thread: string; run: RunRecord | undefined }[] {
  const latest = new Map<string, RunRecord>();
  for (const r of runs) if (!latest.has(r.thread_id)) latest.set(r.thread_id, r); // runs come newest first
  return threads
    .map((thread) => ({ thread, run: latest.get(thread) }))
    .sort((a, b) => (b.run?.started_at ?? "").localeCompare(a.run?.started_at ?? "") || a.thread.localeCompare(b.thread));
}

function ThreadList() {
  const threads = useThreads();
  const runs = useRecentRuns();
  const [filter, setFilter] = useState("");
  const rows = useMemo(() => threadRows(threads.data ?? [], runs.data ?? []), [threads.data, runs.data]);
  const needle = filter.trim().toLowerCase();
  const matching = needle
    ? rows.filter((r) => r.thread.toLowerCase().includes(needle) || r.run?.graph.toLowerCase().includes(needle))
    : rows;

  return (
    <Page title="Threads">
      <p className="muted">
        A thread keeps a run's checkpoints: pick one to see its state at any step, compare two steps, edit the state,
        fork from an earlier step and run again.
      </p>
      <div className="row">
        <label>
          Filter threads
          <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="thread or workflow" />
        </label>
        <span className="muted" role="status" aria-live="polite">
          {threads.data ? `${matching.length} of ${rows.length} threads` : ""}
        </span>
      </div>
      <ErrorBox error={threads.error ?? runs.error} />
      {threads.isPending ? (
        <Loading what="the threads" />
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Thread</th>
              <th scope="col">Workflow</th>
              <th scope="col">Latest run</th>
              <th scope="col">Started</th>
            </tr>
          </thead>
          <tbody>
            {matching.slice(0, SHOWN).map(({ thread, run }) => (
              <tr key={thread}>
                <td>
                  <Link to={`/threads/${encodeURIComponent(thread)}`}>{thread}</Link>
                </td>
                <td>{run?.graph ?? "—"}</td>
                <td>{run ? <StatusBadge status={run.status} /> : <span className="muted">no recent run</span>}</td>
                <td>{formatTime(run?.started_at)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {matching.length > SHOWN ? <p className="muted">{matching.length - SHOWN} more: filter to find them.</p> : null}
      {threads.data && !rows.length ? <p className="muted">No thread yet: start a run (Runs, or orca run).</p> : null}
    </Page>
  );
}
