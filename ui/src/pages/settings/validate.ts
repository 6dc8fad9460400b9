// What the profile and token forms check before asking the server (which checks again):
// each problem names its field and the fix.
import type { Problem } from "../../components/FormProblems";

const PROFILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MODEL = /^[a-z][a-z0-9-]*:.+$/;

export interface ProfileForm {
  name: string;
  planner: string;
  worker: string;
  planner_params: string;
  worker_params: string;
  description: string;
  activate: boolean;
}

export const emptyProfile: ProfileForm = {
  name: "",
  planner: "",
  worker: "",
  planner_params: "",
  worker_params: "",
  description: "",
  activate: false,
};

function params(text: string, field: string, problems: Problem[]): Record<string, unknown> {
  if (!text.trim()) return {};
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === "object" && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  problems.push({ field, message: `${field} is not a JSON object`, fix: `write ${field} as {"temperature": 0.2}, or leave it empty` });
  return {};
}

/** The body of POST /v1/profiles (or, with `editing`, of PATCH /v1/profiles/{name}). */
export function checkProfile(form: ProfileForm, editing = false): { problems: Problem[]; body: Record<string, unknown> | null } {
  const problems: Problem[] = [];
  const name = form.name.trim();
  if (!editing && !PROFILE_NAME.test(name)) {
    problems.push({
      field: "name",
      message: name ? `profile name ${JSON.stringify(name)} is not valid` : "name is empty",
      fix: "use 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit",
    });
  }
  for (const field of ["planner", "worker"] as const) {
    if (!MODEL.test(form[field].trim())) {
      problems.push({
        field,
        message: form[field].trim() ? `${field} ${JSON.stringify(form[field].trim())} is not PROVIDER:MODEL` : `${field} is empty`,
        fix: `write ${field} as PROVIDER:MODEL, e.g. openai:gpt-4o-mini`,
      });
    }
  }
  const planner_params = params(form.planner_params, "planner_params", problems);
  const worker_params = params(form.worker_params, "worker_params", problems);
  if (problems.length) return { problems, body: null };
  const body: Record<string, unknown> = {
    planner: form.planner.trim(),
    worker: form.worker.trim(),
    planner_params,
    worker_params,
    description: form.description,
  };
  if (!editing) {
    body.name = name;
    body.activate = form.activate;
  }
  return { problems, body };
}

export type Scope = "read" | "run" | "admin";

/** The body of POST /v1/auth/tokens. */
export function checkToken(name: string, scope: Scope): { problems: Problem[]; body: { name: string; scopes: Scope[] } | null } {
  const text = name.trim();
  if (!TOKEN_NAME.test(text)) {
    return {
      problems: [
        {
          field: "name",
          message: text ? `token name ${JSON.stringify(text)} is not 1 to 64 letters, digits, '.', '_' or '-'` : "name is empty",
          fix: "name it after who uses it, e.g. ci-bot",
        },
      ],
      body: null,
    };
  }
  return { problems: [], body: { name: text, scopes: [scope] } };
}
