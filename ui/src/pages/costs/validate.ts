// What the budget and price forms check before they ask the server (the server checks
// again and its errors are shown with their fix): each problem names its field and fix.

import type { Problem } from "../../components/FormProblems";

const DECIMAL = /^\d{1,12}(\.\d{1,12})?$/;
const BUDGET_NAME = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
const WHOLE = /^\d{1,18}$/;

export interface BudgetForm {
  name: string;
  amount: string;
  unit: "usd" | "tokens";
  type: "credit" | "recurring";
  period: "" | "daily" | "weekly" | "monthly";
  enforcement: "block" | "warn";
  thresholds: string;
  timezone: string;
  activate: boolean;
}

export const emptyBudget: BudgetForm = {
  name: "",
  amount: "",
  unit: "usd",
  type: "credit",
  period: "",
  enforcement: "block",
  thresholds: "80, 100",
  timezone: "UTC",
  activate: false,
};

/** The body of POST /v1/budgets. */
export interface BudgetBody {
  name: string;
  amount: string;
  unit: "usd" | "tokens";
  type: "credit" | "recurring";
  period: "daily" | "weekly" | "monthly" | null;
  enforcement: "block" | "warn";
  thresholds: number[];
  timezone: string;
  activate: boolean;
}

function amountProblem(field: string, value: string, unit: "usd" | "tokens", zero = false): Problem | null {
  const text = value.trim();
  if (!text) return { field, message: `${field} is empty`, fix: unit === "usd" ? `write ${field} 5.00` : `write ${field} 100000` };
  if (unit === "tokens") {
    if (!WHOLE.test(text)) return { field, message: `${field} ${JSON.stringify(text)} is not a whole number of tokens`, fix: `write ${field} 100000` };
  } else if (!DECIMAL.test(text)) {
    return {
      field,
      message: `${field} ${JSON.stringify(text)} is not an amount of dollars`,
      fix: `write ${field} as digits with an optional decimal point, e.g. 5.00`,
    };
  }
  if (!zero && /^[0.]+$/.test(text)) return { field, message: `${field} must be above zero`, fix: `write ${field} 5.00` };
  return null;
}

/** The form's problems (none: `body` is what to send). */
export function checkBudget(form: BudgetForm): { problems: Problem[]; body: BudgetBody | null } {
  const problems: Problem[] = [];
  const name = form.name.trim();
  if (!BUDGET_NAME.test(name)) {
    problems.push({
      field: "name",
      message: name ? `budget name ${JSON.stringify(name)} is not valid` : "name is empty",
      fix: "use 1-128 letters, digits, '.', '_', ':' or '-', starting with a letter or digit",
    });
  }
  const amount = amountProblem("amount", form.amount, form.unit);
  if (amount) problems.push(amount);
  if (form.type === "recurring" && !form.period) {
    problems.push({ field: "period", message: "a recurring budget needs a period", fix: "pick daily, weekly or monthly" });
  }
  const thresholds: number[] = [];
  const parts = form.thresholds.split(",").map((p) => p.trim()).filter(Boolean);
  for (const part of parts) {
    const n = /^\d{1,3}$/.test(part) ? Number(part) : NaN;
    if (!(n >= 1 && n <= 100)) {
      problems.push({
        field: "thresholds",
        message: `threshold ${JSON.stringify(part)} is not a whole percentage from 1 to 100`,
        fix: "write percentages separated by commas, e.g. 50, 80, 100",
      });
      break;
    }
    thresholds.push(n);
  }
  if (!form.timezone.trim()) problems.push({ field: "timezone", message: "timezone is empty", fix: "write UTC or a zone such as Europe/Paris" });
  if (problems.length) return { problems, body: null };
  return {
    problems,
    body: {
      name,
      amount: form.amount.trim(),
      unit: form.unit,
      type: form.type,
      period: form.type === "recurring" && form.period ? form.period : null,
      enforcement: form.enforcement,
      thresholds: [...new Set(thresholds)].sort((a, b) => a - b),
      timezone: form.timezone.trim(),
      activate: form.activate,
    },
  };
}

/** The body of POST /v1/budgets/{name}/raise: `by` adds, `to` sets. */
export function checkRaise(
  mode: "by" | "to",
  value: string,
  unit: "usd" | "tokens",
): { problems: Problem[]; body: { by: string } | { to: string } | null } {
  const problem = amountProblem(mode, value, unit);
  if (problem) return { problems: [problem], body: null };
  const text = value.trim();
  return { problems: [], body: mode === "by" ? { by: text } : { to: text } };
}

export interface PriceForm {
  input: string;
  output: string;
  cached_input: string;
  cache_write: string;
  reasoning: string;
  effective_from: string;
}

export const PRICE_FIELDS: [keyof PriceForm, string][] = [
  ["input", "Input"],
  ["output", "Output"],
  ["cached_input", "Cached input"],
  ["cache_write", "Cache write"],
  ["reasoning", "Reasoning"],
];

/** The body of PUT /v1/prices/{provider}/{model}: input and output needed, the rest optional. */
export function checkPrice(form: PriceForm): { problems: Problem[]; body: Record<string, string | null> | null } {
  const problems: Problem[] = [];
  const body: Record<string, string | null> = {};
  for (const [field] of PRICE_FIELDS) {
    const text = form[field].trim();
    const optional = field !== "input" && field !== "output";
    if (optional && !text) {
      body[field] = null;
      continue;
    }
    const problem = amountProblem(field, text, "usd", true);
    if (problem) problems.push({ ...problem, fix: `write ${field} in USD per 1M tokens, e.g. 2.50` });
    else body[field] = text;
  }
  const from = form.effective_from.trim();
  if (from && !/^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(from)) {
    problems.push({ field: "effective_from", message: `effective_from ${JSON.stringify(from)} is not a date`, fix: "write a date such as 2026-11-01, or leave it empty (always)" });
  }
  body.effective_from = from || null;
  return problems.length ? { problems, body: null } : { problems, body };
}
