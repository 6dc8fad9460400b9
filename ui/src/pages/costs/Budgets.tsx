// Budgets: each one's standing in its current period as a meter with words (spent,
// held, left, the thresholds crossed), and for an admin token: create one, raise one.
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { ErrorBox, Loading } from "../../components/common";
import { Field, FormProblems, fieldProps, serverProblems, type Problem } from "../../components/FormProblems";
import { formatTime } from "../../lib/format";
import { formatInUnit } from "./amounts";
import type { BudgetDetail, BudgetStatus } from "./types";
import { checkBudget, checkRaise, emptyBudget, type BudgetForm } from "./validate";

const enc = encodeURIComponent;

/** The thresholds `pct` has reached, highest first. */
export function crossed(pct: string, thresholds: number[]): number[] {
  const used = Number(pct);
  return thresholds.filter((t) => used >= t).sort((a, b) => b - a);
}

/** A budget's standing in words: what the meter shows, never by colour alone. */
export function standing(b: BudgetStatus, thresholds: number[]): { word: string; tone: "ok" | "warn" | "bad" } {
  if (b.overdrawn) return { word: `Overdrawn by ${formatInUnit(b.unit, b.overdraft)}`, tone: "bad" };
  const hit = crossed(b.used_pct, thresholds);
  if (b.remaining <= 0) return { word: b.enforcement === "block" ? "Used up: calls are blocked" : "Used up (warn only)", tone: "bad" };
  if (hit.length) return { word: `Warning: ${hit[0]}% threshold reached`, tone: "warn" };
  return { word: "Within budget", tone: "ok" };
}

function periodText(b: BudgetStatus): string {
  if (b.kind === "credit") return "Credit (once, no period)";
  const period = b.period ?? "recurring";
  return `${period[0]?.toUpperCase()}${period.slice(1)}; this period: ${formatTime(b.period_start)} to ${formatTime(b.period_end)}`;
}

function BudgetCard({ budget, admin }: { budget: BudgetStatus; admin: boolean }) {
  const status = useQuery({
    queryKey: ["budgets", budget.name, "status"],
    queryFn: ({ signal }) => api<BudgetStatus>(`/v1/budgets/${enc(budget.name)}/status`, { signal }),
    initialData: budget,
    staleTime: 5_000,
    refetchInterval: 15_000,
  });
  const detail = useQuery({
    queryKey: ["budgets", budget.name, "detail"],
    queryFn: ({ signal }) => api<BudgetDetail>(`/v1/budgets/${enc(budget.name)}`, { signal }),
  });
  const b = status.data;
  const thresholds = detail.data?.thresholds ?? [80, 100];
  const { word, tone } = standing(b, thresholds);
  const pct = Number(b.used_pct);
  const titleId = `budget-${budget.name}-title`;
  return (
    <article className="card" aria-labelledby={titleId}>
      <div className="row">
        <h3 id={titleId} className="grow" style={{ margin: 0 }}>
          {b.name}
        </h3>
        {b.active ? <span className="badge status-done">active</span> : null}
        <span className="badge">{b.enforcement}</span>
      </div>
      <p className="muted" style={{ margin: "4px 0" }}>
        {periodText(b)}
        {b.scope !== "global" ? ` · ${b.scope} ${b.scope_ref ?? ""}` : ""}
      </p>
      <meter
        className="budget-meter"
        min={0}
        max={100}
        low={thresholds[0] ?? 80}
        high={Math.max(...thresholds, 1)}
        optimum={0}
        value={Math.min(Math.max(pct, 0), 100)}
        aria-label={`${b.name}: ${b.used_pct}% used`}
      />
      <p className="budget-figures" style={{ margin: "4px 0" }}>
        {formatInUnit(b.unit, b.spent)} spent of {formatInUnit(b.unit, b.limit)} ({b.used_pct}%)
        {b.reserved ? `, ${formatInUnit(b.unit, b.reserved)} held by running calls` : ""};{" "}
        {formatInUnit(b.unit, Math.max(b.remaining, 0))} left
      </p>
      <p className={`${tone}-text`} style={{ margin: "4px 0" }}>
        {tone === "ok" ? "✓ " : "⚠ "}
        {word}
      </p>
      <p className="muted" style={{ margin: "4px 0" }}>
        Warns at {thresholds.map((t) => `${t}%`).join(", ")}
        {detail.data ? ` · periods in ${detail.data.timezone}` : ""}
      </p>
      {admin ? <RaiseForm budget={b} /> : null}
    </article>
  );
}

function RaiseForm({ budget }: { budget: BudgetStatus }) {
  const client = useQueryClient();
  const [mode, setMode] = useState<"by" | "to">("by");
  const [value, setValue] = useState("");
  const [problems, setProblems] = useState<Problem[]>([]);
  const [done, setDone] = useState("");
  const raise = useMutation({
    mutationFn: (body: { by: string } | { to: string }) =>
      api<BudgetStatus>(`/v1/budgets/${enc(budget.name)}/raise`, { method: "POST", body }),
    onSuccess: (b) => {
      setValue("");
      setDone(`Raised: the limit is now ${formatInUnit(b.unit, b.limit)}.`);
      void client.invalidateQueries({ queryKey: ["budgets"] });
    },
    onError: (e) => setProblems(serverProblems(e)),
  });
  const id = `raise-${budget.name}`;
  return (
    <form
      className="row"
      aria-label={`Raise budget ${budget.name}`}
      onSubmit={(e) => {
        e.preventDefault();
        setDone("");
        const checked = checkRaise(mode, value, budget.unit);
        setProblems(checked.problems);
        if (checked.body) raise.mutate(checked.body);
      }}
    >
      <Field label="Raise">
        {(id) => (
          <select id={id} value={mode} onChange={(e) => setMode(e.target.value as "by" | "to")}>
            <option value="by">by</option>
            <option value="to">to</option>
          </select>
        )}
      </Field>
      <label>
        {budget.unit === "usd" ? "Amount (USD)" : "Tokens"}
        <input
          inputMode="decimal"
          value={value}
          size={8}
          onChange={(e) => setValue(e.target.value)}
          {...fieldProps(problems, mode, `${id}-problems`)}
        />
      </label>
      <button type="submit" disabled={raise.isPending}>
        Raise {budget.name}
      </button>
      <div style={{ flexBasis: "100%" }}>
        <FormProblems problems={problems} id={`${id}-problems`} />
        {done ? (
          <p role="status" className="ok-text" style={{ margin: 0 }}>
            {done}
          </p>
        ) : null}
      </div>
    </form>
  );
}

function CreateBudget({ onDone }: { onDone: () => void }) {
  const client = useQueryClient();
  const [form, setForm] = useState<BudgetForm>(emptyBudget);
  const [problems, setProblems] = useState<Problem[]>([]);
  const create = useMutation({
    mutationFn: (body: unknown) => api<BudgetStatus>("/v1/budgets", { method: "POST", body }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["budgets"] });
      setForm(emptyBudget);
      onDone();
    },
    onError: (e) => setProblems(serverProblems(e)),
  });
  const set = <K extends keyof BudgetForm>(key: K, value: BudgetForm[K]) => setForm((f) => ({ ...f, [key]: value }));
  const err = "create-budget-problems";
  return (
    <form
      className="card"
      aria-labelledby="create-budget-title"
      onSubmit={(e) => {
        e.preventDefault();
        const checked = checkBudget(form);
        setProblems(checked.problems);
        if (checked.body) create.mutate(checked.body);
      }}
    >
      <h3 id="create-budget-title" style={{ marginTop: 0 }}>
        New budget
      </h3>
      <div className="form-grid">
        <label>
          Name
          <input value={form.name} onChange={(e) => set("name", e.target.value)} {...fieldProps(problems, "name", err)} />
        </label>
        <label>
          Amount
          <input inputMode="decimal" value={form.amount} onChange={(e) => set("amount", e.target.value)} {...fieldProps(problems, "amount", err)} />
        </label>
        <Field label="Unit">
          {(id) => (
            <select id={id} value={form.unit} onChange={(e) => set("unit", e.target.value as BudgetForm["unit"])}>
              <option value="usd">USD</option>
              <option value="tokens">tokens</option>
            </select>
          )}
        </Field>
        <Field label="Type">
          {(id) => (
            <select id={id} value={form.type} onChange={(e) => set("type", e.target.value as BudgetForm["type"])}>
              <option value="credit">credit (once)</option>
              <option value="recurring">recurring (each period)</option>
            </select>
          )}
        </Field>
        <Field label="Period">
          {(id) => (
            <select id={id} value={form.period} onChange={(e) => set("period", e.target.value as BudgetForm["period"])} {...fieldProps(problems, "period", err)}>
              <option value="">none</option>
              <option value="daily">daily</option>
              <option value="weekly">weekly</option>
              <option value="monthly">monthly</option>
            </select>
          )}
        </Field>
        <Field label="Enforcement">
          {(id) => (
            <select id={id} value={form.enforcement} onChange={(e) => set("enforcement", e.target.value as BudgetForm["enforcement"])}>
              <option value="block">block (stop calls)</option>
              <option value="warn">warn only</option>
            </select>
          )}
        </Field>
        <label>
          Warn at (%)
          <input value={form.thresholds} onChange={(e) => set("thresholds", e.target.value)} {...fieldProps(problems, "thresholds", err)} />
        </label>
        <label>
          Time zone
          <input value={form.timezone} onChange={(e) => set("timezone", e.target.value)} {...fieldProps(problems, "timezone", err)} />
        </label>
        <label className="inline">
          <input type="checkbox" checked={form.activate} onChange={(e) => set("activate", e.target.checked)} />
          Make it active
        </label>
      </div>
      <div className="row" style={{ marginTop: 8 }}>
        <button className="primary" type="submit" disabled={create.isPending}>
          Create budget
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
      <FormProblems problems={problems} id={err} />
    </form>
  );
}

export function Budgets({ admin }: { admin: boolean }) {
  const [all, setAll] = useState(false);
  const [creating, setCreating] = useState(false);
  const list = useQuery({
    queryKey: ["budgets", { all }],
    queryFn: ({ signal }) => api<BudgetStatus[]>("/v1/budgets", { query: { all: all || undefined }, signal }),
  });
  return (
    <section aria-labelledby="budgets-title">
      <div className="row">
        <h2 id="budgets-title" className="grow">
          Budgets
        </h2>
        <label className="inline" style={{ flexDirection: "row", alignItems: "center", gap: 4 }}>
          <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} />
          Include single runs' budgets
        </label>
        {admin && !creating ? (
          <button type="button" onClick={() => setCreating(true)}>
            New budget
          </button>
        ) : null}
      </div>
      {creating ? <CreateBudget onDone={() => setCreating(false)} /> : null}
      {list.isPending ? <Loading what="budgets" /> : null}
      <ErrorBox error={list.error} />
      {list.data && !list.data.length ? (
        <p className="muted">
          No budget yet. {admin ? "Create one with New budget" : "An admin can create one"} (or{" "}
          <code>orca budget create NAME --amount 5.00</code>).
        </p>
      ) : null}
      <div className="costs-budgets" style={{ marginTop: 8 }}>
        {list.data?.map((b) => <BudgetCard key={b.name} budget={b} admin={admin} />)}
      </div>
    </section>
  );
}
