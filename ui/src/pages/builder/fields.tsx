// Small labelled inputs of the node panel: each carries `data-field` (what a validation
// error's field names, so clicking the error focuses it) and shows that field's errors.

import { useId, useState, type ReactNode } from "react";
import type { ValidationError } from "./types";

export function FieldErrors({ id, errors }: { id: string; errors: ValidationError[] }) {
  if (!errors.length) return null;
  return (
    <ul id={id} className="field-errors">
      {errors.map((e, i) => (
        <li key={i}>
          ⚠ {e.message}
          {e.fix ? <span className="muted"> Fix: {e.fix}</span> : null}
        </li>
      ))}
    </ul>
  );
}

interface TextFieldProps {
  label: string;
  field: string;
  value: string;
  onChange: (value: string) => void;
  errors?: ValidationError[];
  hint?: ReactNode;
  list?: string;
  mono?: boolean;
  placeholder?: string;
  /** Commit on blur/Enter instead of each keystroke. */
  commit?: boolean;
  type?: "text" | "number";
}

export function TextField({ label, field, value, onChange, errors = [], hint, list, mono, placeholder, commit, type = "text" }: TextFieldProps) {
  const id = useId();
  const [draft, setDraft] = useState<string | null>(null);
  const shown = commit ? (draft ?? value) : value;
  const describedBy = [errors.length ? `${id}-err` : "", hint ? `${id}-hint` : ""].filter(Boolean).join(" ") || undefined;
  const done = () => {
    if (draft !== null && draft !== value) onChange(draft);
    setDraft(null);
  };
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <input
        id={id}
        data-field={field}
        type={type}
        className={mono ? "mono" : undefined}
        value={shown}
        list={list}
        placeholder={placeholder}
        aria-invalid={errors.length ? true : undefined}
        aria-describedby={describedBy}
        spellCheck={false}
        autoComplete="off"
        onChange={(e) => (commit ? setDraft(e.target.value) : onChange(e.target.value))}
        onBlur={commit ? done : undefined}
        onKeyDown={
          commit
            ? (e) => {
                if (e.key === "Enter") {
                  e.preventDefault();
                  done();
                } else if (e.key === "Escape") setDraft(null);
              }
            : undefined
        }
      />
      {hint ? (
        <div id={`${id}-hint`} className="hint">
          {hint}
        </div>
      ) : null}
      <FieldErrors id={`${id}-err`} errors={errors} />
    </div>
  );
}

interface SelectFieldProps {
  label: string;
  field: string;
  value: string;
  options: (string | [string, string])[];
  onChange: (value: string) => void;
  errors?: ValidationError[];
}

export function SelectField({ label, field, value, options, onChange, errors = [] }: SelectFieldProps) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <select
        id={id}
        data-field={field}
        value={value}
        aria-invalid={errors.length ? true : undefined}
        aria-describedby={errors.length ? `${id}-err` : undefined}
        onChange={(e) => onChange(e.target.value)}
      >
        {options.map((o) => {
          const [v, text] = typeof o === "string" ? [o, o] : o;
          return (
            <option key={v} value={v}>
              {text}
            </option>
          );
        })}
      </select>
      <FieldErrors id={`${id}-err`} errors={errors} />
    </div>
  );
}

/** A JSON value edited as text: committed when it parses (and `accept` takes it). */
export function JsonField({
  label,
  field,
  value,
  onChange,
  errors = [],
  rows = 4,
  accept,
}: {
  label: string;
  field: string;
  value: unknown;
  onChange: (value: unknown) => void;
  errors?: ValidationError[];
  rows?: number;
  accept?: (v: unknown) => string | null;
}) {
  const id = useId();
  const [text, setText] = useState<string | null>(null);
  const [problem, setProblem] = useState<string | null>(null);
  const shown = text ?? (value === undefined ? "" : JSON.stringify(value, null, 2));
  const describedBy = [problem ? `${id}-problem` : "", errors.length ? `${id}-err` : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <textarea
        id={id}
        data-field={field}
        className="mono"
        rows={rows}
        value={shown}
        spellCheck={false}
        aria-invalid={problem || errors.length ? true : undefined}
        aria-describedby={describedBy}
        onChange={(e) => {
          const t = e.target.value;
          setText(t);
          if (!t.trim()) {
            setProblem(null);
            onChange(undefined);
            return;
          }
          try {
            const parsed: unknown = JSON.parse(t);
            const bad = accept?.(parsed) ?? null;
            setProblem(bad);
            if (!bad) onChange(parsed);
          } catch (err) {
            setProblem(`not JSON yet: ${(err as Error).message}`);
          }
        }}
        onBlur={() => {
          if (!problem) setText(null);
        }}
      />
      {problem ? (
        <div id={`${id}-problem`} className="field-errors">
          {problem}
        </div>
      ) : null}
      <FieldErrors id={`${id}-err`} errors={errors} />
    </div>
  );
}

export const isObject = (v: unknown): string | null =>
  typeof v === "object" && v !== null && !Array.isArray(v) ? null : "expected a JSON object {...}";
