// Start a run from the runs page: a served workflow, its JSON input, an optional thread,
// budget and profile, and breakpoints (interrupt before/after nodes) for that run only.
import { useId, useState } from "react";
import { useNavigate } from "react-router-dom";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { ErrorBox } from "../../components/common";
import type { WorkflowShape } from "../monitor/types";
import type { Named, StartedRun, WorkflowSummary } from "./types";

export interface StartForm {
  workflow: string;
  input: string;
  thread: string;
  budget: string;
  profile: string;
  before: string[];
  after: string[];
}

export interface RunRequest {
  path: string;
  body: Record<string, unknown>;
}

/** The request a filled form makes, or the problems by field. */
export function buildRunRequest(form: StartForm): { request: RunRequest | null; errors: Partial<Record<keyof StartForm, string>> } {
  const errors: Partial<Record<keyof StartForm, string>> = {};
  if (!form.workflow) errors.workflow = "pick a workflow";
  let input: unknown = {};
  if (form.input.trim()) {
    try {
      input = JSON.parse(form.input);
    } catch (e) {
      errors.input = `not JSON (${e instanceof Error ? e.message : String(e)}): write an object such as {"topic": "x"}`;
    }
    if (!errors.input && (typeof input !== "object" || input === null || Array.isArray(input))) {
      errors.input = 'the input is a JSON object of state keys, such as {"topic": "x"}';
    }
  }
  const thread = form.thread.trim();
  if ([...thread].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) errors.thread = "no control characters in a thread id";
  if (thread.length > 200) errors.thread = "at most 200 characters";
  if (Object.keys(errors).length > 0) return { request: null, errors };
  const body: Record<string, unknown> = { workflow: form.workflow, input };
  if (form.budget) body.budget = form.budget;
  if (form.profile) body.profile = form.profile;
  if (form.before.length) body.interrupt_before = form.before.includes("*") ? "*" : form.before;
  if (form.after.length) body.interrupt_after = form.after.includes("*") ? "*" : form.after;
  const path = thread ? `/v1/threads/${encodeURIComponent(thread)}/runs` : "/v1/runs";
  return { request: { path, body }, errors };
}

function Breakpoints({
  legend,
  nodes,
  value,
  onChange,
}: {
  legend: string;
  nodes: string[];
  value: string[];
  onChange: (v: string[]) => void;
}) {
  const toggle = (n: string) => onChange(value.includes(n) ? value.filter((x) => x !== n) : [...value, n]);
  return (
    <fieldset className="breakpoints">
      <legend>{legend}</legend>
      {["*", ...nodes].map((n) => (
        <label key={n} className="check">
          <input type="checkbox" checked={value.includes(n)} onChange={() => toggle(n)} />
          {n === "*" ? "every node" : n}
        </label>
      ))}
    </fieldset>
  );
}

export function StartRun({ onClose }: { onClose: () => void }) {
  const id = useId();
  const navigate = useNavigate();
  const client = useQueryClient();
  const [form, setForm] = useState<StartForm>({
    workflow: "",
    input: "{}",
    thread: "",
    budget: "",
    profile: "",
    before: [],
    after: [],
  });
  const [errors, setErrors] = useState<Partial<Record<keyof StartForm, string>>>({});
  const workflows = useQuery({ queryKey: ["workflows"], queryFn: () => api<WorkflowSummary[]>("/v1/workflows") });
  const budgets = useQuery({ queryKey: ["budgets"], queryFn: () => api<Named[]>("/v1/budgets") });
  const profiles = useQuery({ queryKey: ["profiles"], queryFn: () => api<Named[]>("/v1/profiles") });
  const chosen = form.workflow || workflows.data?.[0]?.name || "";
  const shape = useQuery({
    queryKey: ["workflow", chosen],
    queryFn: () => api<WorkflowShape>(`/v1/workflows/${encodeURIComponent(chosen)}`),
    enabled: chosen !== "",
    staleTime: 60_000,
  });
  const nodes = shape.data?.nodes.map((n) => n.name) ?? [];
  const start = useMutation({
    mutationFn: (request: RunRequest) => api<StartedRun>(request.path, { method: "POST", body: request.body }),
    onSuccess: (run) => {
      void client.invalidateQueries({ queryKey: ["runs"] });
      void navigate(`/runs/${encodeURIComponent(run.run_id)}`);
    },
  });
  const set = <K extends keyof StartForm>(key: K, value: StartForm[K]) => {
    setForm((f) => ({ ...f, [key]: value }));
    // an edited field's problem is checked again on the next submit
    setErrors((e) => (e[key] ? { ...e, [key]: undefined } : e));
  };
  const fieldError = (key: keyof StartForm) =>
    errors[key] ? (
      <span id={`${id}-${key}-error`} className="field-error">
        {errors[key]}
      </span>
    ) : null;
  const described = (key: keyof StartForm) => (errors[key] ? `${id}-${key}-error` : undefined);

  return (
    <section className="card start-run" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Start a run</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const { request, errors: found } = buildRunRequest({ ...form, workflow: chosen });
          setErrors(found);
          if (request) start.mutate(request);
        }}
      >
        <div className="row">
          <div className="field">
            <label>
              Workflow
              <select
                value={chosen}
                onChange={(e) => setForm((f) => ({ ...f, workflow: e.target.value, before: [], after: [] }))}
                aria-describedby={described("workflow")}
              >
                {(workflows.data ?? []).map((w) => (
                  <option key={w.name} value={w.name}>
                    {w.name}
                  </option>
                ))}
              </select>
            </label>
            {fieldError("workflow")}
          </div>
          <div className="field">
            <label>
              Thread (empty: a new stateless run)
              <input
                value={form.thread}
                onChange={(e) => set("thread", e.target.value)}
                aria-invalid={errors.thread ? true : undefined}
                aria-describedby={described("thread")}
              />
            </label>
            {fieldError("thread")}
          </div>
          <label>
            Budget
            <select value={form.budget} onChange={(e) => set("budget", e.target.value)}>
              <option value="">the project's default</option>
              {(budgets.data ?? []).map((b) => (
                <option key={b.name} value={b.name}>
                  {b.name}
                </option>
              ))}
            </select>
          </label>
          <label>
            Profile
            <select value={form.profile} onChange={(e) => set("profile", e.target.value)}>
              <option value="">the active profile</option>
              {(profiles.data ?? []).map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name}
                </option>
              ))}
            </select>
          </label>
        </div>
        <div className="field wide">
          <label className="block">
            Input (JSON object)
            <textarea
              rows={4}
              value={form.input}
              spellCheck={false}
              className="mono"
              onChange={(e) => set("input", e.target.value)}
              aria-invalid={errors.input ? true : undefined}
              aria-describedby={described("input")}
            />
          </label>
          {fieldError("input")}
        </div>
        {nodes.length > 0 ? (
          <div className="row">
            <Breakpoints legend="Pause before" nodes={nodes} value={form.before} onChange={(v) => set("before", v)} />
            <Breakpoints legend="Pause after" nodes={nodes} value={form.after} onChange={(v) => set("after", v)} />
          </div>
        ) : null}
        <div className="row">
          <button className="primary" type="submit" disabled={start.isPending || !chosen}>
            {start.isPending ? "Starting…" : "Start run"}
          </button>
          <button type="button" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
      <ErrorBox error={start.error ?? workflows.error} />
    </section>
  );
}
