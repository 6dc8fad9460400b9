import { useId, useState } from "react";
import { ErrorBox } from "../../components/common";
import { JsonTree } from "./JsonTree";
import type { PendingInterrupt } from "./types";

interface Props {
  interrupts: PendingInterrupt[];
  next: string[];
  /** resumes the thread with `answer` (undefined: continue with no answer) */
  onResume: (answer: unknown) => Promise<unknown>;
}

/** The thread's pending interrupts, answered from here (a run resumes the thread), or a
 * plain continue when it stopped at a breakpoint (an interrupt "before"/"after" a node,
 * which asks nothing) or before a node with none. */
export function InterruptPanel({ interrupts: pending, next, onResume }: Props) {
  const interrupts = pending.filter((i) => i.when !== "before" && i.when !== "after");
  const breakpoints = pending.filter((i) => i.when === "before" || i.when === "after");
  const id = useId();
  const [answer, setAnswer] = useState("true");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [parseError, setParseError] = useState<string | null>(null);

  const send = (value: unknown) => {
    setBusy(true);
    setError(null);
    onResume(value)
      .catch(setError)
      .finally(() => setBusy(false));
  };

  if (!pending.length && !next.length) return null;
  return (
    <section aria-labelledby={`${id}-title`} className="card attention">
      <h2 id={`${id}-title`}>{interrupts.length ? `Waiting for an answer (${interrupts.length})` : "Paused"}</h2>
      {breakpoints.length ? (
        <p>
          Stopped at a breakpoint: {breakpoints.map((b) => `${b.when} ${b.node}`).join(", ")}.
        </p>
      ) : null}
      {interrupts.map((i) => (
        <div key={i.id}>
          <p>
            Node <strong>{i.node}</strong> asks:
          </p>
          <JsonTree value={i.value} label={`Interrupt of ${i.node}`} depth={1} />
        </div>
      ))}
      {interrupts.length ? (
        <form
          className="grid"
          onSubmit={(e) => {
            e.preventDefault();
            try {
              const value: unknown = JSON.parse(answer);
              setParseError(null);
              send(value);
            } catch {
              setParseError('The answer is not JSON. Fix: write true, false, a number or a "string" in double quotes.');
            }
          }}
        >
          <label>
            Answer (JSON)
            <textarea
              className="mono"
              rows={2}
              value={answer}
              onChange={(e) => setAnswer(e.target.value)}
              aria-invalid={parseError !== null}
              aria-describedby={`${id}-err`}
            />
          </label>
          <div id={`${id}-err`}>
            {parseError ? (
              <p className="field-error" role="alert">
                {parseError}
              </p>
            ) : null}
          </div>
          <div className="row">
            <button className="primary" type="submit" disabled={busy}>
              Answer and resume
            </button>
          </div>
        </form>
      ) : (
        <div className="row">
          <span>Next: {next.join(", ")}</span>
          <button className="primary" type="button" disabled={busy} onClick={() => send(undefined)}>
            Continue the thread
          </button>
        </div>
      )}
      <ErrorBox error={error} />
    </section>
  );
}
