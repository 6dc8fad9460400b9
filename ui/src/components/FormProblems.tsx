// A form's problems, each naming its field and fix: the ones the form found itself and
// the server's (its envelope's message and fix, or pydantic's problems by field).
import { useId, type ReactNode } from "react";
import { ApiError } from "../api/client";
import "./forms.css";

export interface Problem {
  field: string;
  message: string;
  fix: string;
}

/** The problems the server named in an error answer (`details.problems`, or `details.field`). */
export function serverProblems(error: unknown): Problem[] {
  if (!(error instanceof ApiError)) {
    return error ? [{ field: "", message: error instanceof Error ? error.message : String(error), fix: "" }] : [];
  }
  const listed = error.details.problems;
  if (Array.isArray(listed) && listed.length) {
    return listed.map((p: unknown) => {
      const item = (typeof p === "object" && p !== null ? p : {}) as Record<string, unknown>;
      return { field: String(item.field ?? ""), message: `${String(item.field ?? "")}: ${String(item.problem ?? "")}`, fix: "" };
    });
  }
  const field = typeof error.details.field === "string" ? error.details.field : "";
  return [{ field, message: `${error.code}: ${error.message}`, fix: error.fix ?? "" }];
}

/** The list of problems as an alert (nothing when none). */
export function FormProblems({ problems, id }: { problems: Problem[]; id?: string }) {
  if (!problems.length) return null;
  return (
    <div className="error-box" role="alert" id={id}>
      <strong>{problems.length === 1 ? "Cannot save" : `Cannot save: ${problems.length} problems`}</strong>
      <ul style={{ margin: "4px 0 0", paddingLeft: 18 }}>
        {problems.map((p, i) => (
          <li key={`${p.field}-${i}`}>
            {p.message}
            {p.fix ? <span className="muted"> Fix: {p.fix}</span> : null}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Props that tie an input to the problems naming its field (aria-invalid, the message). */
export function fieldProps(problems: Problem[], field: string, errorId: string) {
  const bad = problems.some((p) => p.field === field);
  return bad ? { "aria-invalid": true as const, "aria-describedby": errorId } : {};
}

/** A labelled control whose label holds only its words (a select's options stay out of
 * its name): `<Field label="Period">{(id) => <select id={id} …/>}</Field>`. */
export function Field({ label, children }: { label: string; children: (id: string) => ReactNode }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id)}
    </div>
  );
}
