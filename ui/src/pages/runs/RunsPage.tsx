// The runs page: live counters, the runs list with its filters (status, workflow, thread,
// time, cost, text in the event log) and pages, a search over the event log, and a form
// to start a run. Each run links to its monitor.
import { useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { ErrorBox, Loading, Page, StatusBadge } from "../../components/common";
import { formatDuration, formatInt, formatTime } from "../../lib/format";
import { formatUsd, fromNano } from "../../lib/money";
import {
  checkFilters,
  filtersFromParams,
  filtersToParams,
  RANGES,
  runDurationMs,
  runsQuery,
  STATUSES,
  type RunFilters,
} from "./filters";
import { StartRun } from "./StartRun";
import type { EventHit, RunRecord, RunStats, WorkflowSummary } from "./types";
import "./runs.css";

const PAGE_SIZE = 50;
const RANGE_LABEL: Record<string, string> = {
  "": "any time",
  "1h": "the last hour",
  "24h": "the last 24 hours",
  "7d": "the last 7 days",
  "30d": "the last 30 days",
  custom: "a custom range",
};

function Counters() {
  const stats = useQuery({
    queryKey: ["runs", "stats"],
    queryFn: () => api<RunStats>("/v1/runs/stats"),
    refetchInterval: 5_000,
  });
  const s = stats.data;
  if (!s) return stats.error ? <ErrorBox error={stats.error} /> : <Loading what="the counters" />;
  const items: [string, string][] = [
    ["Running", formatInt(s.running)],
    ["Queued", formatInt(s.queued)],
    ["Interrupted", formatInt(s.interrupted)],
    ["Done", formatInt(s.done)],
    ["Failed", formatInt(s.failed)],
    ["Cancelled", formatInt(s.cancelled)],
    ["Runs (24 h)", formatInt(s.runs_24h)],
    ["Cost (24 h)", formatUsd(s.cost_usd_24h)],
    ["Tokens (24 h)", formatInt(s.tokens_24h)],
    ["Cost (all)", formatUsd(s.cost_usd)],
  ];
  return (
    <dl className="counters" aria-live="polite" aria-label="Run counters">
      {items.map(([label, value]) => (
        <div key={label}>
          <dt>{label}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function FilterForm({ applied, onApply }: { applied: RunFilters; onApply: (f: RunFilters) => void }) {
  const [draft, setDraft] = useState(applied);
  const [errors, setErrors] = useState<ReturnType<typeof checkFilters>>({});
  const workflows = useQuery({ queryKey: ["workflows"], queryFn: () => api<WorkflowSummary[]>("/v1/workflows") });
  const set = <K extends keyof RunFilters>(key: K, value: RunFilters[K]) => setDraft((d) => ({ ...d, [key]: value }));
  const err = (key: keyof RunFilters) =>
    errors[key] ? (
      <span className="field-error" id={`filter-${key}-error`}>
        {errors[key]}
      </span>
    ) : null;
  const invalid = (key: keyof RunFilters) =>
    errors[key] ? { "aria-invalid": true, "aria-describedby": `filter-${key}-error` } : {};
  return (
    <form
      className="card filters"
      aria-label="Filter runs"
      onSubmit={(e) => {
        e.preventDefault();
        const found = checkFilters(draft);
        setErrors(found);
        if (Object.keys(found).length === 0) onApply(draft);
      }}
    >
      <fieldset className="statuses">
        <legend>Status</legend>
        {STATUSES.map((s) => (
          <label key={s} className="check">
            <input
              type="checkbox"
              checked={draft.status.includes(s)}
              onChange={() =>
                set("status", draft.status.includes(s) ? draft.status.filter((x) => x !== s) : [...draft.status, s])
              }
            />
            {s}
          </label>
        ))}
      </fieldset>
      <div className="row">
        <label>
          Workflow
          <select value={draft.workflow} onChange={(e) => set("workflow", e.target.value)}>
            <option value="">all workflows</option>
            {(workflows.data ?? []).map((w) => (
              <option key={w.name} value={w.name}>
                {w.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Thread
          <input value={draft.thread} onChange={(e) => set("thread", e.target.value)} placeholder="thread id" />
        </label>
        <label>
          Started in
          <select value={draft.range} onChange={(e) => set("range", e.target.value as RunFilters["range"])}>
            {RANGES.map((r) => (
              <option key={r} value={r}>
                {RANGE_LABEL[r]}
              </option>
            ))}
          </select>
        </label>
        {draft.range === "custom" ? (
          <>
            <div className="field">
              <label>
                From
                <input type="datetime-local" value={draft.from} onChange={(e) => set("from", e.target.value)} {...invalid("from")} />
              </label>
              {err("from")}
            </div>
            <div className="field">
              <label>
                To
                <input type="datetime-local" value={draft.to} onChange={(e) => set("to", e.target.value)} {...invalid("to")} />
              </label>
              {err("to")}
            </div>
          </>
        ) : null}
        <div className="field">
          <label>
            Min cost ($)
            <input
              inputMode="decimal"
              size={8}
              value={draft.minCost}
              onChange={(e) => set("minCost", e.target.value)}
              {...invalid("minCost")}
            />
          </label>
          {err("minCost")}
        </div>
        <div className="field">
          <label>
            Max cost ($)
            <input
              inputMode="decimal"
              size={8}
              value={draft.maxCost}
              onChange={(e) => set("maxCost", e.target.value)}
              {...invalid("maxCost")}
            />
          </label>
          {err("maxCost")}
        </div>
        <div className="field grow">
          <label>
            Text in the event log
            <input
              type="search"
              value={draft.q}
              onChange={(e) => set("q", e.target.value)}
              placeholder="an error, a prompt, a tool…"
              {...invalid("q")}
            />
          </label>
          {err("q")}
        </div>
      </div>
      <div className="row">
        <button className="primary" type="submit">
          Apply filters
        </button>
        <button
          type="button"
          onClick={() => {
            const none = filtersFromParams(new URLSearchParams());
            setDraft(none);
            setErrors({});
            onApply(none);
          }}
        >
          Clear filters
        </button>
      </div>
    </form>
  );
}

function RunsTable({ runs }: { runs: RunRecord[] }) {
  return (
    <table aria-label="Runs, newest first">
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Status</th>
          <th scope="col">Workflow</th>
          <th scope="col">Thread</th>
          <th scope="col">Started</th>
          <th scope="col" className="num">
            Duration
          </th>
          <th scope="col" className="num">
            Steps
          </th>
          <th scope="col" className="num">
            Tokens
          </th>
          <th scope="col" className="num">
            Cost
          </th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.run_id}>
            <td>
              <Link to={`/runs/${encodeURIComponent(r.run_id)}`} className="mono">
                {r.run_id}
              </Link>
            </td>
            <td>
              <StatusBadge status={r.status} />
            </td>
            <td>{r.metadata?.request?.workflow ?? r.graph}</td>
            <td className="mono">{r.thread_id}</td>
            <td>{formatTime(r.started_at)}</td>
            <td className="num">{formatDuration(runDurationMs(r.started_at, r.ended_at))}</td>
            <td className="num">{formatInt(r.steps)}</td>
            <td className="num">{formatInt((r.input_tokens ?? 0) + (r.output_tokens ?? 0))}</td>
            <td className="num">
              {r.cost_usd ? formatUsd(r.cost_usd) : formatUsd(fromNano(BigInt(r.cost_nano_usd ?? 0)))}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function EventSearch() {
  const [text, setText] = useState("");
  const [q, setQ] = useState("");
  const hits = useQuery({
    queryKey: ["events-search", q],
    queryFn: () => api<EventHit[]>("/v1/events/search", { query: { q, limit: 50 } }),
    enabled: q !== "",
  });
  return (
    <section className="card" aria-labelledby="search-title">
      <h2 id="search-title">Search the event log</h2>
      <form
        className="row"
        role="search"
        aria-label="Search events"
        onSubmit={(e) => {
          e.preventDefault();
          setQ(text.trim());
        }}
      >
        <label className="grow">
          Text to find in events
          <input type="search" value={text} maxLength={200} onChange={(e) => setText(e.target.value)} />
        </label>
        <button type="submit">Search events</button>
      </form>
      <ErrorBox error={hits.error} />
      {hits.isFetching ? <Loading what="matching events" /> : null}
      {hits.data ? (
        hits.data.length === 0 ? (
          <p role="status">No event holds “{q}”.</p>
        ) : (
          <table aria-label="Matching events">
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col" className="num">
                  Seq
                </th>
                <th scope="col">Type</th>
                <th scope="col">Node</th>
                <th scope="col">Excerpt</th>
              </tr>
            </thead>
            <tbody>
              {hits.data.map((h) => (
                <tr key={`${h.run_id}:${h.seq}`}>
                  <td>
                    <Link to={`/runs/${encodeURIComponent(h.run_id)}`} className="mono">
                      {h.run_id}
                    </Link>
                  </td>
                  <td className="num">{h.seq}</td>
                  <td>{h.type}</td>
                  <td>{h.node ?? ""}</td>
                  <td className="mono excerpt">{h.excerpt}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : null}
    </section>
  );
}

export default function RunsPage() {
  const [params, setParams] = useSearchParams();
  const filters = filtersFromParams(params);
  const filterKey = filtersToParams(filters).toString();
  // cursors of the pages before this one (newest first): "Newer" pops, "Older" pushes
  const [cursors, setCursors] = useState<{ key: string; stack: string[] }>({ key: filterKey, stack: [] });
  const stack = cursors.key === filterKey ? cursors.stack : [];
  const before = stack[stack.length - 1] ?? null;
  const [starting, setStarting] = useState(false);
  const runs = useQuery({
    queryKey: ["runs", filterKey, before],
    queryFn: () => api<RunRecord[]>("/v1/runs", { query: runsQuery(filters, { before, limit: PAGE_SIZE }) }),
    placeholderData: keepPreviousData,
    refetchInterval: stack.length === 0 ? 5_000 : false,
  });
  const rows = runs.data ?? [];
  const last = rows[rows.length - 1];
  return (
    <Page
      title="Runs"
      actions={
        <button type="button" className="primary" onClick={() => setStarting(true)} aria-expanded={starting}>
          Start a run
        </button>
      }
    >
      <Counters />
      {starting ? <StartRun onClose={() => setStarting(false)} /> : null}
      <FilterForm key={filterKey} applied={filters} onApply={(f) => setParams(filtersToParams(f))} />
      <ErrorBox error={runs.error} />
      {runs.isPending ? (
        <Loading what="the runs" />
      ) : rows.length === 0 ? (
        <p role="status">No run matches these filters.</p>
      ) : (
        <div className="table-wrap">
          <RunsTable runs={rows} />
        </div>
      )}
      <div className="row pager" role="group" aria-label="Pages of runs">
        <button
          type="button"
          disabled={stack.length === 0}
          onClick={() => setCursors({ key: filterKey, stack: stack.slice(0, -1) })}
        >
          Newer runs
        </button>
        <span className="muted" role="status">
          Page {stack.length + 1} · {rows.length} runs
        </span>
        <button
          type="button"
          disabled={!last || rows.length < PAGE_SIZE}
          onClick={() => last && setCursors({ key: filterKey, stack: [...stack, last.run_id] })}
        >
          Older runs
        </button>
      </div>
      <EventSearch />
    </Page>
  );
}
