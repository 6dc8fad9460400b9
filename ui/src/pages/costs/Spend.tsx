// Spend over time as stacked bars (one stack per model, node, role, workflow or
// session), the same figures as a table (shown on demand, always there for screen
// readers), and the totals over the range from GET /v1/usage.
import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api } from "../../api/client";
import { ErrorBox, Loading } from "../../components/common";
import { Field } from "../../components/FormProblems";
import { formatInt } from "../../lib/format";
import { formatUsd } from "../../lib/money";
import { formatNano, formatUsdExact } from "./amounts";
import { summarize, toChartData, type ChartData } from "./series";
import type { Bucket, Series, SeriesBy, UsageRow } from "./types";

export const DIMENSIONS: SeriesBy[] = ["model", "node", "role", "workflow", "session"];
export const RANGES: { value: string; label: string; bucket: Bucket }[] = [
  { value: "24h", label: "Last 24 hours", bucket: "hour" },
  { value: "7d", label: "Last 7 days", bucket: "day" },
  { value: "30d", label: "Last 30 days", bucket: "day" },
  { value: "90d", label: "Last 90 days", bucket: "day" },
  { value: "", label: "All time", bucket: "day" },
];

const colour = (i: number) => `var(--chart-${(i % 8) + 1})`;

function SpendChart({ data, label }: { data: ChartData; label: string }) {
  return (
    <div className="chart-box" role="img" aria-label={label}>
      <ResponsiveContainer width="100%" height="100%">
        <BarChart data={data.rows} margin={{ top: 8, right: 16, bottom: 8, left: 8 }} accessibilityLayer={false} maxBarSize={56}>
          <CartesianGrid stroke="var(--border)" strokeDasharray="3 3" />
          <XAxis dataKey="label" stroke="var(--fg-muted)" tick={{ fill: "var(--fg-muted)", fontSize: 12 }} />
          <YAxis
            stroke="var(--fg-muted)"
            tick={{ fill: "var(--fg-muted)", fontSize: 12 }}
            tickFormatter={(v: number) => `$${v.toPrecision(3).replace(/\.?0+$/, "")}`}
            width={70}
          />
          <Tooltip
            contentStyle={{ background: "var(--bg-raised)", border: "1px solid var(--border)", color: "var(--fg)" }}
            // the exact figure from the row, never the float height
            formatter={(_value, name, item) => {
              const row = (item as { payload?: { costs?: Record<string, string> } }).payload;
              return [formatUsd(row?.costs?.[String(name)] ?? "0"), String(name)];
            }}
          />
          <Legend wrapperStyle={{ color: "var(--fg)" }} />
          {data.keys.map((key, i) => (
            <Bar key={key} name={key} dataKey={(row: { heights: Record<string, number> }) => row.heights[key] ?? 0} stackId="spend" fill={colour(i)} isAnimationActive={false} />
          ))}
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

/** The figures table renders at most this many buckets until asked for all. */
export const TABLE_ROWS = 400;

function SpendTable({ data, by, bucket, shown }: { data: ChartData; by: string; bucket: Bucket; shown: boolean }) {
  const [all, setAll] = useState(false);
  const rows = all ? data.rows : data.rows.slice(-TABLE_ROWS);
  return (
    <div className={shown ? "table-scroll" : "visually-hidden"} id="spend-table">
      <table>
        <caption className="visually-hidden">
          Spend per {bucket} by {by} (UTC), the chart's figures
        </caption>
        <thead>
          <tr>
            <th scope="col">{bucket === "day" ? "Day" : "Hour"} (UTC)</th>
            {data.keys.map((k) => (
              <th scope="col" className="num" key={k}>
                {k}
              </th>
            ))}
            <th scope="col" className="num">
              Total
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.t}>
              <th scope="row">{r.label}</th>
              {data.keys.map((k) => (
                <td className="num" key={k}>
                  {formatUsdExact(r.costs[k] ?? "0")}
                </td>
              ))}
              <td className="num">{formatUsdExact(r.total)}</td>
            </tr>
          ))}
        </tbody>
        <tfoot>
          <tr>
            <th scope="row">All</th>
            {data.keys.map((k) => (
              <td className="num" key={k}>
                {formatUsdExact(data.totals[k] ?? "0")}
              </td>
            ))}
            <td className="num">{formatUsdExact(data.total)}</td>
          </tr>
        </tfoot>
      </table>
      {rows.length < data.rows.length ? (
        <button type="button" onClick={() => setAll(true)}>
          Show all {data.rows.length} {bucket}s (the latest {rows.length} are shown; the totals are of all)
        </button>
      ) : null}
    </div>
  );
}

function Totals({ by, since }: { by: SeriesBy; since: string }) {
  const totals = useQuery({
    queryKey: ["usage", { by, since }],
    queryFn: ({ signal }) => api<UsageRow[]>("/v1/usage", { query: { by, since }, signal }),
  });
  if (totals.isPending) return <Loading what="totals" />;
  if (totals.error) return <ErrorBox error={totals.error} />;
  return (
    <div className="table-scroll">
      <table aria-labelledby="totals-title">
        <caption id="totals-title" style={{ textAlign: "left", fontWeight: 600, padding: "8px 0" }}>
          Totals by {by}
        </caption>
        <thead>
          <tr>
            <th scope="col">{by}</th>
            <th scope="col" className="num">Calls</th>
            <th scope="col" className="num">Input tokens</th>
            <th scope="col" className="num">Output tokens</th>
            <th scope="col" className="num">Cost</th>
            <th scope="col">Notes</th>
          </tr>
        </thead>
        <tbody>
          {totals.data.map((r) => (
            <tr key={r.key ?? "-"}>
              <th scope="row" className="mono">{r.key ?? "(none)"}</th>
              <td className="num">{formatInt(r.llm_calls)}</td>
              <td className="num">{formatInt(r.input_tokens)}</td>
              <td className="num">{formatInt(r.output_tokens)}</td>
              <td className="num">{formatNano(r.cost_nano_usd)}</td>
              <td className="muted">
                {[
                  r.unpriced_calls ? `${r.unpriced_calls} unpriced` : "",
                  r.estimated_calls ? `${r.estimated_calls} estimated` : "",
                ]
                  .filter(Boolean)
                  .join(", ")}
              </td>
            </tr>
          ))}
          {!totals.data.length ? (
            <tr>
              <td colSpan={6} className="muted">No calls in this range.</td>
            </tr>
          ) : null}
        </tbody>
      </table>
    </div>
  );
}

export function Spend() {
  const [by, setBy] = useState<SeriesBy>("model");
  const [range, setRange] = useState("7d");
  const [bucketChoice, setBucket] = useState<Bucket | "">("");
  const [showTable, setShowTable] = useState(false);
  const preset = RANGES.find((r) => r.value === range) ?? { bucket: "day" as Bucket };
  const bucket: Bucket = bucketChoice || preset.bucket;
  const series = useQuery({
    queryKey: ["usage-series", { by, range, bucket }],
    queryFn: ({ signal }) => api<Series>("/v1/usage/series", { query: { by, bucket, since: range }, signal }),
  });
  const data = useMemo(() => (series.data ? toChartData(series.data) : null), [series.data]);
  // the figures are described as the server grouped them
  const shownBy = series.data?.by ?? by;
  const shownBucket = series.data?.bucket ?? bucket;
  const label = data ? summarize(data, shownBy, shownBucket, formatUsd) : "";
  return (
    <section aria-labelledby="spend-title">
      <h2 id="spend-title">Spend over time</h2>
      <div className="row" role="group" aria-label="Spend chart options">
        <Field label="Split by">
          {(id) => (
            <select id={id} value={by} onChange={(e) => setBy(e.target.value as SeriesBy)}>
              {DIMENSIONS.map((d) => (
                <option key={d} value={d}>
                  {d}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Time range">
          {(id) => (
            <select id={id} value={range} onChange={(e) => setRange(e.target.value)}>
              {RANGES.map((r) => (
                <option key={r.value} value={r.value}>
                  {r.label}
                </option>
              ))}
            </select>
          )}
        </Field>
        <Field label="Per">
          {(id) => (
            <select id={id} value={bucket} onChange={(e) => setBucket(e.target.value as Bucket)}>
              <option value="hour">hour</option>
              <option value="day">day</option>
            </select>
          )}
        </Field>
        <span className="grow" />
        <button type="button" aria-expanded={showTable} aria-controls="spend-table" onClick={() => setShowTable((s) => !s)}>
          {showTable ? "Hide the figures" : "Show the figures as a table"}
        </button>
      </div>
      {series.isPending ? <Loading what="spend" /> : null}
      <ErrorBox error={series.error} />
      {data ? (
        <>
          <p className="muted" aria-live="polite">
            {label}
          </p>
          {data.rows.length ? <SpendChart data={data} label={label} /> : null}
          <SpendTable data={data} by={shownBy} bucket={shownBucket} shown={showTable} />
        </>
      ) : null}
      <Totals by={by} since={range} />
    </section>
  );
}
