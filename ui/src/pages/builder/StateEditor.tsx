import { REDUCERS, STATE_TYPES, type Reducer, type StateKey, type StateType, type ValidationError } from "./types";

/** The flow's state keys: name, type, reducer; one row each. */
export function StateEditor({ state, errors, onChange }: { state: StateKey[]; errors: ValidationError[]; onChange: (state: StateKey[]) => void }) {
  const set = (i: number, patch: Partial<StateKey>) => onChange(state.map((s, j) => (j === i ? { ...s, ...patch } : s)));
  const errorsOf = (i: number) => errors.filter((e) => e.path === `state.${i}` || e.path.startsWith(`state.${i}.`));
  return (
    <section className="state-editor" aria-labelledby="state-title">
      <h2 id="state-title">State keys</h2>
      {state.length ? (
        <table>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col">Type</th>
              <th scope="col">Reducer</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {state.map((s, i) => (
              <tr key={i}>
                <td>
                  <input
                    aria-label={`State key ${i + 1} name`}
                    className="mono"
                    value={s.key}
                    data-state-field={`state.${i}.key`}
                    aria-invalid={errorsOf(i).length ? true : undefined}
                    onChange={(e) => set(i, { key: e.target.value })}
                  />
                  {errorsOf(i).map((e, k) => (
                    <div key={k} className="field-errors">
                      ⚠ {e.message}
                    </div>
                  ))}
                </td>
                <td>
                  <select aria-label={`State key ${i + 1} type`} value={s.type ?? "any"} onChange={(e) => set(i, { type: e.target.value as StateType })}>
                    {STATE_TYPES.map((t) => (
                      <option key={t}>{t}</option>
                    ))}
                  </select>
                </td>
                <td>
                  <select aria-label={`State key ${i + 1} reducer`} value={s.reducer ?? "overwrite"} onChange={(e) => set(i, { reducer: e.target.value as Reducer })}>
                    {REDUCERS.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </select>
                </td>
                <td>
                  <button type="button" aria-label={`Remove state key ${s.key || i + 1}`} onClick={() => onChange(state.filter((_, j) => j !== i))}>
                    ✕
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p className="hint">No state keys yet: node outputs and prompt variables are state keys.</p>
      )}
      <button type="button" onClick={() => onChange([...state, { key: "", type: "string", reducer: "overwrite" }])}>
        Add state key
      </button>
    </section>
  );
}
