// The runs list's filters: kept in the page's URL (shareable, and the back button works),
// checked before they are sent, and turned into GET /v1/runs's query.

export const STATUSES = ["queued", "running", "interrupted", "done", "failed", "cancelled"] as const;
export const RANGES = ["", "1h", "24h", "7d", "30d", "custom"] as const;
export type Range = (typeof RANGES)[number];

export interface RunFilters {
  status: string[];
  workflow: string;
  thread: string;
  /** a relative range the server reads ("24h"), "custom" for from/to, "" for any time */
  range: Range;
  /** custom range, as the datetime-local inputs give it (local time) */
  from: string;
  to: string;
  minCost: string;
  maxCost: string;
  q: string;
}

export const NO_FILTERS: RunFilters = {
  status: [],
  workflow: "",
  thread: "",
  range: "",
  from: "",
  to: "",
  minCost: "",
  maxCost: "",
  q: "",
};

const KEYS: Record<Exclude<keyof RunFilters, "status" | "range">, string> = {
  workflow: "workflow",
  thread: "thread",
  from: "from",
  to: "to",
  minCost: "min_cost",
  maxCost: "max_cost",
  q: "q",
};

export function filtersFromParams(params: URLSearchParams): RunFilters {
  const range = params.get("range") ?? "";
  const out: RunFilters = {
    ...NO_FILTERS,
    status: params.getAll("status").filter((s) => (STATUSES as readonly string[]).includes(s)),
    range: (RANGES as readonly string[]).includes(range) ? (range as Range) : "",
  };
  for (const [field, key] of Object.entries(KEYS) as [keyof typeof KEYS, string][]) {
    out[field] = params.get(key) ?? "";
  }
  return out;
}

export function filtersToParams(f: RunFilters): URLSearchParams {
  const params = new URLSearchParams();
  for (const s of f.status) params.append("status", s);
  if (f.range) params.set("range", f.range);
  for (const [field, key] of Object.entries(KEYS) as [keyof typeof KEYS, string][]) {
    const value = f[field].trim();
    if (value && (field !== "from" && field !== "to" ? true : f.range === "custom")) params.set(key, value);
  }
  return params;
}

const MONEY = /^\d{1,12}(\.\d{1,12})?$/;

/** Problems by field, each saying what to fix; empty when the filters can be sent. */
export function checkFilters(f: RunFilters): Partial<Record<keyof RunFilters, string>> {
  const errors: Partial<Record<keyof RunFilters, string>> = {};
  for (const field of ["minCost", "maxCost"] as const) {
    const v = f[field].trim();
    if (v && !MONEY.test(v)) errors[field] = `"${v}" is not an amount of dollars: write it like 0.25`;
  }
  if (!errors.minCost && !errors.maxCost && f.minCost.trim() && f.maxCost.trim()) {
    if (compareDecimal(f.minCost.trim(), f.maxCost.trim()) > 0) errors.maxCost = "the maximum is below the minimum";
  }
  if (f.range === "custom") {
    const from = f.from ? new Date(f.from) : null;
    const to = f.to ? new Date(f.to) : null;
    if (from && Number.isNaN(from.getTime())) errors.from = "not a date and time";
    if (to && Number.isNaN(to.getTime())) errors.to = "not a date and time";
    if (from && to && !errors.from && !errors.to && from >= to) errors.to = "the end is not after the start";
  }
  if (f.q.length > 200) errors.q = "search at most 200 characters";
  return errors;
}

/** Compare two non-negative decimal strings exactly (no floats on money). */
export function compareDecimal(a: string, b: string): number {
  const [aw = "0", af = ""] = a.split(".");
  const [bw = "0", bf = ""] = b.split(".");
  const width = Math.max(af.length, bf.length);
  const x = BigInt(aw + af.padEnd(width, "0"));
  const y = BigInt(bw + bf.padEnd(width, "0"));
  return x === y ? 0 : x < y ? -1 : 1;
}

/** GET /v1/runs's query for these filters (they must have passed `checkFilters`). */
export function runsQuery(
  f: RunFilters,
  page: { before?: string | null; limit: number },
): Record<string, string | number | string[] | null> {
  let since: string | null = null;
  let until: string | null = null;
  if (f.range === "custom") {
    since = f.from ? new Date(f.from).toISOString() : null;
    until = f.to ? new Date(f.to).toISOString() : null;
  } else if (f.range) {
    since = f.range;
  }
  return {
    status: f.status,
    workflow: f.workflow.trim() || null,
    thread_id: f.thread.trim() || null,
    since,
    until,
    min_cost_usd: f.minCost.trim() || null,
    max_cost_usd: f.maxCost.trim() || null,
    q: f.q.trim() || null,
    before: page.before ?? null,
    limit: page.limit,
  };
}

/** A run's duration in ms from its record's ISO times (null while it runs). */
export function runDurationMs(started: string | null, ended: string | null): number | null {
  if (!started || !ended) return null;
  const ms = new Date(ended).getTime() - new Date(started).getTime();
  return Number.isFinite(ms) ? ms : null;
}
