// GET /v1/usage/series as a stacked bar chart and its table: one row per time bucket
// (gaps filled with empty buckets), one stack per key. Sums are exact (BigInt
// nano-dollars); the chart's bar heights are the only floats, from usdForChart.
import { fromNano, toNano, usdForChart } from "../../lib/money";
import type { Bucket, Series } from "./types";

export const OTHER = "(other)";
export const NONE = "(none)";
/** At most this many keys get their own stack; the rest are summed as "(other)". */
export const MAX_KEYS = 8;
/** Gaps are filled only up to this many buckets (a long range of hours stays sparse). */
const MAX_FILLED = 2000;

export interface ChartRow {
  t: string;
  label: string;
  /** per key: dollars as a Number, for the bar heights only */
  heights: Record<string, number>;
  /** per key: the exact decimal dollar string ("0.00" when none) */
  costs: Record<string, string>;
  /** the bucket's exact total */
  total: string;
  calls: number;
  tokens: number;
}

export interface ChartData {
  keys: string[];
  rows: ChartRow[];
  /** per key over the whole range, exact */
  totals: Record<string, string>;
  total: string;
}

const STEP_MS: Record<Bucket, number> = { hour: 3_600_000, day: 86_400_000 };

/** "2026-12-06" for a day, "12-06 14:00" for an hour (UTC, as the server buckets). */
export function bucketLabel(t: string, bucket: Bucket): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return t;
  const iso = d.toISOString();
  return bucket === "day" ? iso.slice(0, 10) : `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
}

function bucketKey(t: string): string {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toISOString();
}

/** The chart's data from a series: keys by total spend (largest first, the smallest
 * summed as "(other)" past MAX_KEYS), one row per bucket in time order. */
export function toChartData(series: Series, maxKeys = MAX_KEYS): ChartData {
  const perKey = new Map<string, bigint>();
  for (const p of series.points) {
    const key = p.key ?? NONE;
    perKey.set(key, (perKey.get(key) ?? 0n) + toNano(p.cost_usd));
  }
  const ranked = [...perKey.entries()].sort((a, b) => (a[1] === b[1] ? a[0].localeCompare(b[0]) : a[1] > b[1] ? -1 : 1));
  const own = ranked.length > maxKeys ? ranked.slice(0, maxKeys - 1) : ranked;
  const ownKeys = new Set(own.map(([k]) => k));
  const keys = own.map(([k]) => k);
  if (ranked.length > own.length) keys.push(OTHER);

  const buckets = new Map<string, { t: string; nano: Map<string, bigint>; calls: number; tokens: number }>();
  for (const p of series.points) {
    const id = bucketKey(p.t);
    let b = buckets.get(id);
    if (!b) {
      b = { t: p.t, nano: new Map(), calls: 0, tokens: 0 };
      buckets.set(id, b);
    }
    const key = ownKeys.has(p.key ?? NONE) ? (p.key ?? NONE) : OTHER;
    b.nano.set(key, (b.nano.get(key) ?? 0n) + toNano(p.cost_usd));
    b.calls += p.calls;
    b.tokens += p.tokens_in + p.tokens_out;
  }
  fillGaps(buckets, series.bucket);

  const totals: Record<string, bigint> = Object.fromEntries(keys.map((k) => [k, 0n]));
  let total = 0n;
  const rows: ChartRow[] = [...buckets.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, b]) => {
      const heights: Record<string, number> = {};
      const costs: Record<string, string> = {};
      let sum = 0n;
      for (const key of keys) {
        const nano = b.nano.get(key) ?? 0n;
        costs[key] = fromNano(nano);
        heights[key] = usdForChart(costs[key]);
        totals[key] = (totals[key] ?? 0n) + nano;
        sum += nano;
      }
      total += sum;
      return { t: b.t, label: bucketLabel(b.t, series.bucket), heights, costs, total: fromNano(sum), calls: b.calls, tokens: b.tokens };
    });
  return {
    keys,
    rows,
    totals: Object.fromEntries(Object.entries(totals).map(([k, v]) => [k, fromNano(v)])),
    total: fromNano(total),
  };
}

/** Empty buckets between the first and the last, so the time axis is even. */
function fillGaps(
  buckets: Map<string, { t: string; nano: Map<string, bigint>; calls: number; tokens: number }>,
  bucket: Bucket,
): void {
  const times = [...buckets.keys()].map((k) => Date.parse(k)).filter((n) => !Number.isNaN(n));
  if (times.length < 2) return;
  const first = Math.min(...times);
  const last = Math.max(...times);
  const step = STEP_MS[bucket];
  if ((last - first) / step > MAX_FILLED) return;
  for (let at = first + step; at < last; at += step) {
    const id = new Date(at).toISOString();
    if (!buckets.has(id)) buckets.set(id, { t: id, nano: new Map(), calls: 0, tokens: 0 });
  }
}

/** The chart's summary for its aria-label: the range, the total, the largest key. */
export function summarize(data: ChartData, by: string, bucket: Bucket, format: (usd: string) => string): string {
  if (!data.rows.length) return `No spend by ${by} in this range.`;
  const first = data.rows[0]?.label ?? "";
  const last = data.rows[data.rows.length - 1]?.label ?? "";
  const top = data.keys[0];
  const topText = top && top !== OTHER ? `; largest: ${top}, ${format(data.totals[top] ?? "0")}` : "";
  return `Spend per ${bucket} by ${by}, ${first} to ${last} (UTC): ${format(data.total)} in all over ${data.keys.length} ${
    data.keys.length === 1 ? by : `${by}s`
  }${topText}.`;
}
