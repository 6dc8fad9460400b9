// The run monitor (/runs/:runId): the workflow's graph with each node's live state, the
// superstep timeline, token streams, cost and tokens against the budget, the interrupt
// form, cancel, the events table and the trace. Live runs follow their SSE stream; a run
// that has stopped opens from its logged events.
import { useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router-dom";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, ApiError } from "../../api/client";
import { ErrorBox, Loading, Page, StatusBadge } from "../../components/common";
import { formatInt, formatTime } from "../../lib/format";
import { formatUsd, fromNano } from "../../lib/money";
import { CancelControl, InterruptPanel, TraceLinks } from "./actions";
import { GraphView } from "./GraphView";
import { EventsTable, NodeDetail, NodeMetrics, NodeTable, StepTimeline, TokenStreams } from "./panels";
import type { MonitorState } from "./reducer";
import type { BudgetStatus, NodeStats, RunRecord, WorkflowShape } from "./types";
import { useRunEvents, useThrottled, type Source } from "./useRunEvents";
import "./monitor.css";

/** How often (ms) the graph shows the nodes' new states while a run is live. */
const GRAPH_MS = 150;

const LIVE = new Set(["queued", "running", "pending"]);

/** Where a run's events come from: its stream while it may still run, else its log. */
export function sourceFor(record: RunRecord | undefined): Source | null {
  if (!record) return null;
  return LIVE.has(record.status) ? "stream" : "log";
}

function BudgetMeter({ budget }: { budget: BudgetStatus }) {
  const pct = Math.min(100, Number.parseFloat(budget.used_pct) || 0);
  const money = budget.unit === "usd";
  const show = (v: number) => (money ? formatUsd(fromNano(BigInt(v))) : formatInt(v));
  return (
    <div className="budget-meter">
      <div className="row">
        <span>
          Budget <strong>{budget.name}</strong>: {show(budget.spent)} of {show(budget.limit)} ({budget.used_pct}%)
        </span>
        {budget.overdrawn ? <span className="badge status-failed">overdrawn</span> : null}
      </div>
      <meter min={0} max={100} value={pct} low={80} high={95} optimum={0} aria-label={`Budget ${budget.name} used`}>
        {budget.used_pct}%
      </meter>
    </div>
  );
}

function Totals({ state, record }: { state: MonitorState; record: RunRecord }) {
  const t = state.totals;
  return (
    <dl className="totals" aria-live="polite" aria-label="Run totals">
      <div>
        <dt>Status</dt>
        <dd>
          <StatusBadge status={state.status === "pending" ? record.status : state.status} />
        </dd>
      </div>
      <div>
        <dt>Step</dt>
        <dd>{state.step}</dd>
      </div>
      <div>
        <dt>Cost</dt>
        <dd data-testid="run-cost">{formatUsd(fromNano(state.final?.costNano ?? t.costNano))}</dd>
      </div>
      <div>
        <dt>Tokens in / out</dt>
        <dd>
          {formatInt(t.inputTokens)} / {formatInt(t.outputTokens)}
        </dd>
      </div>
      <div>
        <dt>LLM calls</dt>
        <dd>
          {formatInt(t.calls)}
          {t.cachedCalls ? ` (+${t.cachedCalls} from records)` : ""}
        </dd>
      </div>
      <div>
        <dt>Events</dt>
        <dd data-testid="events-applied">{formatInt(state.applied)}</dd>
      </div>
    </dl>
  );
}

export default function RunMonitor() {
  const { runId = "" } = useParams();
  // a new run (after a resume, say) starts from a fresh state
  return <Monitor key={runId} runId={runId} />;
}

function Monitor({ runId }: { runId: string }) {
  const client = useQueryClient();
  const [selected, setSelected] = useState<string | null>(null);
  const record = useQuery({
    queryKey: ["run", runId],
    queryFn: () => api<RunRecord>(`/v1/runs/${encodeURIComponent(runId)}`),
  });
  const run = record.data;
  const workflow = run?.metadata?.request?.workflow ?? run?.graph ?? null;
  const shape = useQuery({
    queryKey: ["workflow", workflow],
    queryFn: () => api<WorkflowShape>(`/v1/workflows/${encodeURIComponent(workflow ?? "")}`),
    enabled: workflow !== null,
    staleTime: 60_000,
  });
  // the source is chosen once, from the record as first read: a live run keeps its stream
  const [source, setSource] = useState<Source | null>(null);
  if (source === null && run) setSource(sourceFor(run));
  const nodeNames = useMemo(() => shape.data?.nodes.map((n) => n.name) ?? [], [shape.data]);
  // the events are read once the graph's shape is known (or known to be missing): the
  // graph mounts first, and a live run's first frames apply events, not a page's mount
  const shapeSettled = workflow === null || shape.isSuccess || shape.isError;
  const { state, ended, error } = useRunEvents(runId, shapeSettled ? source : null, nodeNames);
  const live = source === "stream" && !ended;
  // the heavy panels (the timeline and the events table) change at most a few times a
  // second while live, at a lower priority (a transition React renders in slices between
  // frames), so a burst of events never holds a frame; the graph, the totals and the
  // token streams (memoised, O(tasks of a step)) stay current
  const slow = useThrottled(state, live ? 250 : 0);
  // the graph's nodes change at most every GRAPH_MS while live (the totals and the nodes
  // table tick every frame): a React Flow update costs more than a table row's
  const graphNodes = useThrottled(state.nodes, live ? GRAPH_MS : 0);
  const takenKey = useMemo(() => Object.keys(state.taken).join("|"), [state.taken]);

  // the record's final figures once the stream has ended
  useEffect(() => {
    if (ended) void client.invalidateQueries({ queryKey: ["run", runId] });
  }, [ended, client, runId]);

  const budgetName = run?.metadata?.request?.budget ?? null;
  const budget = useQuery({
    queryKey: ["budget-status", budgetName],
    queryFn: () => api<BudgetStatus>(`/v1/budgets/${encodeURIComponent(budgetName ?? "")}/status`),
    enabled: budgetName !== null,
    refetchInterval: live ? 3_000 : false,
  });
  const stats = useQuery({
    queryKey: ["workflow-stats", workflow],
    queryFn: () => api<NodeStats[]>(`/v1/workflows/${encodeURIComponent(workflow ?? "")}/stats`),
    enabled: workflow !== null,
    retry: false,
  });

  // an interrupted run may be answered from here only while it is its thread's latest run
  const waiting = (state.status === "pending" ? run?.status : state.status) === "interrupted";
  const threadId = run?.thread_id ?? null;
  const newest = useQuery({
    queryKey: ["runs", "newest-on-thread", threadId],
    queryFn: () => api<RunRecord[]>("/v1/runs", { query: { thread_id: threadId, limit: 1 } }),
    enabled: waiting && threadId !== null,
  });
  const next = newest.data?.[0];
  const answeredBy = next && next.run_id !== runId ? next.run_id : null;

  if (record.isPending) return <Loading what="the run" />;
  if (record.error || !run) {
    return (
      <Page title="Run">
        <ErrorBox error={record.error} />
        <p>
          <Link to="/runs">Back to the runs</Link>
        </p>
      </Page>
    );
  }
  const status = state.status === "pending" ? run.status : state.status;
  const canCancel = status === "running" || status === "queued" || (live && status === "pending");
  const selectedNode = selected ? state.nodes[selected] : undefined;
  const runBudgets = state.budgets;

  return (
    <Page
      title={`Run ${runId}`}
      actions={
        <div className="row">
          <TraceLinks runId={runId} />
        </div>
      }
    >
      <p className="muted">
        Workflow <strong>{workflow}</strong> on thread{" "}
        <Link to={`/threads/${encodeURIComponent(run.thread_id)}`}>{run.thread_id}</Link> · started{" "}
        {formatTime(run.started_at)}
        {run.ended_at ? ` · ended ${formatTime(run.ended_at)}` : ""} ·{" "}
        <span role="status">
          {live ? "live" : !ended ? "loading events" : source === "stream" ? "streamed live, ended" : "from the event log"}
        </span> ·{" "}
        <Link to="/runs">all runs</Link>
      </p>
      <ErrorBox error={error} />
      {state.error ?? run.error ? (
        <div className="error-box" role="alert">
          <strong>Run failed</strong>: {state.error ?? run.error}
        </div>
      ) : null}
      <div className="monitor-top">
        <Totals state={state} record={run} />
        {canCancel ? <CancelControl runId={runId} /> : null}
      </div>
      {budget.data ? <BudgetMeter budget={budget.data} /> : null}
      {!budget.data && runBudgets.length > 0
        ? runBudgets.map((b) => <BudgetMeter key={b.name} budget={{ ...b, reserved: 0, enforcement: "" }} />)
        : null}
      {state.warnings.length > 0 ? (
        <ul className="warnings" aria-label="Warnings">
          {state.warnings.map((w, i) => (
            <li key={i}>{w}</li>
          ))}
        </ul>
      ) : null}
      {status === "interrupted" && state.interrupts.length > 0 && workflow && newest.isSuccess ? (
        answeredBy ? (
          <p className="card" role="note">
            Run <Link to={`/runs/${encodeURIComponent(answeredBy)}`}>{answeredBy}</Link> has continued this
            thread since this run paused.
          </p>
        ) : (
          <InterruptPanel interrupts={state.interrupts} threadId={run.thread_id} workflow={workflow} />
        )
      ) : null}
      <div className="monitor-main">
        <div className="monitor-canvas">
          {shape.data ? (
            <GraphView
              shape={shape.data}
              nodes={graphNodes}
              taken={takenKey}
              selected={selected}
              onSelect={setSelected}
            />
          ) : shape.error ? (
            <ErrorBox error={shape.error} />
          ) : (
            <Loading what="the graph" />
          )}
        </div>
        <aside className="monitor-side card" aria-labelledby="side-title">
          <h2 id="side-title">{selectedNode ? `Node ${selectedNode.name}` : "Nodes"}</h2>
          {selectedNode ? (
            <>
              <NodeDetail node={selectedNode} />
              <button type="button" onClick={() => setSelected(null)}>
                Show all nodes
              </button>
            </>
          ) : (
            <NodeTable nodes={state.nodes} selected={selected} onSelect={setSelected} />
          )}
          <h3>Node metrics (all runs of {workflow})</h3>
          {stats.data ? (
            <NodeMetrics stats={stats.data} selected={selected} />
          ) : stats.error instanceof ApiError && stats.error.status === 404 ? (
            <p className="muted">This server has no per-node metrics.</p>
          ) : stats.error ? (
            <ErrorBox error={stats.error} />
          ) : (
            <Loading what="the metrics" />
          )}
        </aside>
      </div>
      <div className="monitor-panels">
        <StepTimeline state={slow} />
        <TokenStreams state={state} />
      </div>
      <EventsTable state={slow} />
    </Page>
  );
}
