// What the monitor can do to a run: answer its interrupt (a resume run on its thread),
// cancel it, and download its trace.
import { useState } from "react";
import { useNavigate } from "react-router-dom";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, authHeaders } from "../../api/client";
import { ErrorBox } from "../../components/common";
import type { PendingInterrupt } from "./types";

/** Parse the answer box: JSON when it parses, else the text itself. */
export function parseAnswer(text: string): unknown {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  try {
    return JSON.parse(trimmed) as unknown;
  } catch {
    return text;
  }
}

export function InterruptPanel({
  interrupts,
  threadId,
  workflow,
}: {
  interrupts: readonly PendingInterrupt[];
  threadId: string;
  workflow: string;
}) {
  const [answer, setAnswer] = useState("true");
  const navigate = useNavigate();
  const client = useQueryClient();
  const resume = useMutation({
    mutationFn: (value: unknown) =>
      api<{ run_id: string }>(`/v1/threads/${encodeURIComponent(threadId)}/runs`, {
        method: "POST",
        body: { workflow, resume: value },
      }),
    onSuccess: (started) => {
      void client.invalidateQueries({ queryKey: ["runs"] });
      void navigate(`/runs/${encodeURIComponent(started.run_id)}`);
    },
  });
  return (
    <section aria-labelledby="interrupt-title" className="card interrupt-card">
      <h2 id="interrupt-title">Waiting for an answer</h2>
      {interrupts.map((i) => (
        <div key={i.id}>
          <p>
            Node <strong>{i.node}</strong> paused ({i.when}) and asks:
          </p>
          <pre>{JSON.stringify(i.value, null, 2)}</pre>
        </div>
      ))}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          resume.mutate(parseAnswer(answer));
        }}
      >
        <label className="block">
          Answer (JSON, or plain text)
          <textarea rows={3} value={answer} onChange={(e) => setAnswer(e.target.value)} spellCheck={false} />
        </label>
        <div className="row">
          <button className="primary" type="submit" disabled={resume.isPending}>
            Resume with this answer
          </button>
          <button type="button" disabled={resume.isPending} onClick={() => resume.mutate(true)}>
            Approve (true)
          </button>
          <button type="button" disabled={resume.isPending} onClick={() => resume.mutate(false)}>
            Reject (false)
          </button>
        </div>
      </form>
      <ErrorBox error={resume.error} />
    </section>
  );
}

export function CancelControl({ runId }: { runId: string }) {
  const [action, setAction] = useState<"interrupt" | "rollback">("interrupt");
  const client = useQueryClient();
  const cancel = useMutation({
    mutationFn: () =>
      api<Record<string, unknown>>(`/v1/runs/${encodeURIComponent(runId)}/cancel`, {
        method: "POST",
        query: { action },
      }),
    onSettled: () => client.invalidateQueries({ queryKey: ["run", runId] }),
  });
  return (
    <form
      className="row"
      aria-label="Cancel the run"
      onSubmit={(e) => {
        e.preventDefault();
        cancel.mutate();
      }}
    >
      <label>
        Cancel action
        <select value={action} onChange={(e) => setAction(e.target.value as "interrupt" | "rollback")}>
          <option value="interrupt">interrupt (keep what it committed)</option>
          <option value="rollback">rollback (remove its checkpoints)</option>
        </select>
      </label>
      <button className="danger" type="submit" disabled={cancel.isPending}>
        {cancel.isPending ? "Cancelling…" : "Cancel run"}
      </button>
      <ErrorBox error={cancel.error} />
    </form>
  );
}

/** Fetch with the bearer token and save the answer as a file. */
async function download(path: string, filename: string): Promise<void> {
  const response = await fetch(path, { headers: authHeaders() });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function TraceLinks({ runId }: { runId: string }) {
  const [error, setError] = useState<unknown>(null);
  const id = encodeURIComponent(runId);
  return (
    <div className="row">
      <button
        type="button"
        onClick={() => {
          setError(null);
          download(`/v1/runs/${id}/trace?format=perfetto`, `${runId}.trace.json`).catch(setError);
        }}
      >
        Download trace (Perfetto)
      </button>
      <button
        type="button"
        onClick={() => {
          setError(null);
          download(`/v1/runs/${id}/timeline`, `${runId}.timeline.json`).catch(setError);
        }}
      >
        Download timeline
      </button>
      <ErrorBox error={error} />
    </div>
  );
}
