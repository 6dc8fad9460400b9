import { useId, useState } from "react";
import { ErrorBox } from "../../components/common";

/** Test input (a JSON object) and Run: saves the flow, runs NAME@VERSION, opens the monitor. */
export function RunPanel({ running, error, canRun, onRun }: { running: boolean; error: unknown; canRun: boolean; onRun: (input: Record<string, unknown>) => void }) {
  const id = useId();
  const [text, setText] = useState("{}");
  let problem: string | null = null;
  let value: Record<string, unknown> | null = null;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) value = parsed as Record<string, unknown>;
    else problem = "The input is a JSON object of state keys, e.g. {\"question\": \"...\"}.";
  } catch (e) {
    problem = `Not JSON: ${(e as Error).message}`;
  }
  return (
    <section className="run-panel" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Test run</h2>
      <label htmlFor={`${id}-input`}>Test input (JSON)</label>
      <textarea
        id={`${id}-input`}
        className="mono"
        rows={5}
        value={text}
        spellCheck={false}
        aria-invalid={problem ? true : undefined}
        aria-describedby={`${id}-hint`}
        onChange={(e) => setText(e.target.value)}
      />
      <div id={`${id}-hint`} className={problem ? "field-errors" : "hint"}>
        {problem ?? "Saves this flow (the same content keeps its version), runs it and opens the monitor."}
      </div>
      <button type="button" className="primary" disabled={running || !canRun || !value} onClick={() => value && onRun(value)}>
        {running ? "Starting…" : "Save and run"}
      </button>
      <ErrorBox error={error} />
    </section>
  );
}
