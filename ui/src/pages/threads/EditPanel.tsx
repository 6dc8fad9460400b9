import { useId, useState } from "react";
import { ErrorBox } from "../../components/common";
import { checkEdit, reducerNote } from "./jsonEdit";
import type { WorkflowShape } from "./types";

interface Props {
  values: Record<string, unknown>;
  workflow: WorkflowShape | undefined;
  step: number;
  /** sends the edit; resolves to the new checkpoint's id */
  onSave: (values: Record<string, unknown>, asNode: string | null) => Promise<unknown>;
}

function pretty(v: unknown): string {
  return v === undefined ? "" : JSON.stringify(v, null, 2);
}

/** Edit one state key at the selected checkpoint: a new checkpoint, written through the
 * key's reducer (as if `as node` wrote it, when one is picked). */
export function EditPanel({ values, workflow, step, onSave }: Props) {
  const stateKeys = workflow?.state.map((s) => s.key) ?? Object.keys(values);
  const [key, setKey] = useState(() => stateKeys[0] ?? "");
  const [text, setText] = useState(() => pretty(values[stateKeys[0] ?? ""]));
  const [asNode, setAsNode] = useState("");
  const [touched, setTouched] = useState(false);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const id = useId();
  const check = checkEdit(key, text, workflow ? stateKeys : []);
  const note = reducerNote(workflow?.state.find((s) => s.key === key)?.reducer);
  const showError = touched && !check.ok;

  return (
    <section aria-labelledby={`${id}-title`} className="card">
      <h2 id={`${id}-title`}>Edit state at step {step}</h2>
      <form
        className="grid"
        onSubmit={(e) => {
          e.preventDefault();
          setTouched(true);
          if (!check.ok) return;
          setSaving(true);
          setError(null);
          onSave(check.values, asNode || null)
            .then(() => setSaved(`Saved ${key} as a new checkpoint.`))
            .catch(setError)
            .finally(() => setSaving(false));
        }}
      >
        <div className="row">
          <label>
            State key
            <select
              value={key}
              onChange={(e) => {
                setKey(e.target.value);
                setText(pretty(values[e.target.value]));
                setSaved(null);
              }}
              aria-invalid={showError && !check.ok && check.field === "key"}
            >
              {stateKeys.map((k) => (
                <option key={k} value={k}>
                  {k}
                </option>
              ))}
            </select>
          </label>
          <label>
            As node (optional)
            <select value={asNode} onChange={(e) => setAsNode(e.target.value)}>
              <option value="">— none: what runs next stays</option>
              {(workflow?.nodes ?? []).map((n) => (
                <option key={n.name} value={n.name}>
                  {n.name}
                </option>
              ))}
            </select>
          </label>
        </div>
        <label>
          New value (JSON)
          <textarea
            className="mono json-edit"
            rows={Math.min(16, Math.max(3, text.split("\n").length + 1))}
            value={text}
            spellCheck={false}
            onChange={(e) => {
              setText(e.target.value);
              setTouched(true);
              setSaved(null);
            }}
            aria-invalid={showError}
            aria-describedby={`${id}-help`}
          />
        </label>
        <div id={`${id}-help`}>
          {showError && !check.ok ? (
            <p className="field-error" role="alert">
              {check.error}
            </p>
          ) : null}
          {note ? <p className="muted">{note}</p> : null}
        </div>
        <div className="row">
          <button className="primary" type="submit" disabled={saving || (touched && !check.ok)}>
            {saving ? "Saving…" : "Save as a new checkpoint"}
          </button>
          {saved ? (
            <span role="status" className="muted">
              {saved}
            </span>
          ) : null}
        </div>
        <ErrorBox error={error} />
      </form>
    </section>
  );
}
