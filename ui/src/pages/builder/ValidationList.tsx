import type { Located } from "./validation";


/** The validation result: OK, or each error with its node and field; clicking one selects
 * the node and focuses the field. */
export function ValidationList({
  state,
  errors,
  onPick,
}: {
  state: "idle" | "checking" | "ok" | "errors" | "failed";
  errors: Located[];
  onPick: (e: Located) => void;
}) {
  return (
    <section className="validation" aria-labelledby="validation-title">
      <h2 id="validation-title">Validation</h2>
      <p role="status" aria-live="polite" className={`validation-status v-${state}`} data-testid="validation-status">
        {state === "checking"
          ? "Checking…"
          : state === "ok"
            ? "✓ Valid: the server compiles this flow."
            : state === "errors"
              ? `✗ ${errors.length} problem${errors.length === 1 ? "" : "s"}`
              : state === "failed"
                ? "Could not validate (see the error)."
                : "Not checked yet."}
      </p>
      {errors.length ? (
        <ul className="error-list">
          {errors.map((e, i) => (
            <li key={i}>
              <button type="button" className="error-item" onClick={() => onPick(e)}>
                <span className="mono">{e.nodeId ?? "flow"}{e.field ? `.${e.field}` : ""}</span>: {e.message}
              </button>
              {e.fix ? <div className="hint">Fix: {e.fix}</div> : null}
            </li>
          ))}
        </ul>
      ) : null}
    </section>
  );
}
