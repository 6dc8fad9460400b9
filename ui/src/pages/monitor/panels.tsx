// The run monitor's panels: the superstep timeline, the token streams of running tasks,
// per-node cost and tokens, the events table and the workflow's per-node metrics.
import { memo, useCallback, useMemo, useState } from "react";
import { StatusBadge } from "../../components/common";
import { formatDuration, formatInt } from "../../lib/format";
import { formatUsd, fromNano } from "../../lib/money";
import { NODE_STATUSES, visibleSteps, type MonitorState, type NodeState, type StepState } from "./reducer";
import type { NodeStats, RunEvent } from "./types";

const usd = (nano: bigint) => formatUsd(fromNano(nano));

/** The axis's span (seconds) while a run is live: `span` rounded up to 1, 1.25, 1.5, 2,
 * 2.5, 3, 4, 5, 6 or 8 times a power of ten, so it grows in steps and the rows already
 * shown keep their bars (and are not rendered again) between two steps. */
export function axisSpan(span: number): number {
  if (!(span > 0)) return 1;
  const power = 10 ** Math.floor(Math.log10(span));
  for (const m of [1, 1.25, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (span <= m * power * (1 + 1e-9)) return m * power;
  return 10 * power;
}

/** Supersteps as rows, each task a bar placed on the run's time axis. */
export const StepTimeline = memo(function StepTimeline({ state }: { state: MonitorState }) {
  const steps = visibleSteps(state);
  const t0 = state.startTs ?? steps[0]?.startTs ?? null;
  const last = state.endTs ?? steps[steps.length - 1]?.endTs ?? null;
  let tEnd = last ?? t0 ?? 0;
  // the steps' ends grow with the run: the last steps (and the current one) hold the latest
  for (const s of steps.slice(-2)) for (const id of s.taskIds) tEnd = Math.max(tEnd, s.tasks[id]?.endTs ?? s.tasks[id]?.startTs ?? 0);
  const exact = t0 !== null && tEnd > t0 ? tEnd - t0 : 1;
  const span = state.endTs !== null ? exact : axisSpan(exact);
  const shown = steps.slice(-50);
  return (
    <section aria-labelledby="timeline-title" className="card">
      <h2 id="timeline-title">Superstep timeline</h2>
      {steps.length === 0 ? <p className="muted">No superstep yet.</p> : null}
      {steps.length > shown.length ? (
        <p className="muted">The last {shown.length} of {steps.length} supersteps.</p>
      ) : null}
      <ol className="timeline" aria-label="Supersteps">
        {shown.map((s) => (
          <StepRow key={s.step} step={s} t0={t0} span={span} />
        ))}
      </ol>
    </section>
  );
});

/** One superstep's row: rendered again only when its step, or the axis, changes. */
const StepRow = memo(function StepRow({ step, t0, span }: { step: StepState; t0: number | null; span: number }) {
  const pct = (ts: number | null) => (t0 === null || ts === null ? 0 : Math.min(100, ((ts - t0) / span) * 100));
  const ms = step.startTs !== null && step.endTs !== null ? (step.endTs - step.startTs) * 1000 : null;
  return (
    <li className="timeline-step">
      <span className="timeline-label">
        Step {step.step} <span className="muted">{ms !== null ? formatDuration(ms) : "running"}</span>
      </span>
      <span className="timeline-track">
        {step.taskIds.map((id) => {
          const t = step.tasks[id];
          if (!t) return null;
          const left = pct(t.startTs ?? step.startTs);
          const right = t.endTs !== null ? pct(t.endTs) : 100;
          return (
            <span
              key={id}
              className={`timeline-bar bar-${t.status}`}
              style={{ left: `${left}%`, width: `${Math.max(1.5, right - left)}%` }}
              title={`${t.node} (${t.status})`}
            >
              <span className="visually-hidden">
                {t.node}: {t.status}
              </span>
            </span>
          );
        })}
      </span>
    </li>
  );
});

/** The text each task of the current step is streaming (its tail). */
export const TokenStreams = memo(function TokenStreams({ state }: { state: MonitorState }) {
  // the current step's streams, or the last step's that streamed once it has ended
  // (walked back from the newest without copying the steps: this renders every frame)
  const streamed = (s: StepState | null | undefined): s is StepState =>
    !!s && s.taskIds.some((id) => (s.tasks[id]?.tokens ?? 0) > 0);
  let step: StepState | null = streamed(state.current) ? state.current : null;
  for (let i = state.stepCount - 1; step === null && i >= 0; i--) {
    const s = state.steps[i];
    if (streamed(s)) step = s;
  }
  const tasks = step ? step.taskIds.map((id) => step.tasks[id]).filter((t) => t && t.tokens > 0) : [];
  return (
    <section aria-labelledby="tokens-title" className="card">
      <h2 id="tokens-title">Token streams</h2>
      {tasks.length === 0 ? <p className="muted">No node has streamed tokens yet (a run's log keeps none).</p> : null}
      {step && step !== state.current ? <p className="muted">From step {step.step}.</p> : null}
      {tasks.map((t) =>
        t ? (
          <figure key={t.id} className="token-stream">
            <figcaption>
              <strong>{t.node}</strong> <StatusBadge status={t.status} />{" "}
              <span className="muted">
                {formatInt(t.tokens)} tokens · task {t.id}
              </span>
            </figcaption>
            <pre aria-label={`Tokens of ${t.node} task ${t.id}`}>{t.text}</pre>
          </figure>
        ) : null,
      )}
    </section>
  );
});

/** Per-node state, calls, tokens and cost, ticking live; doubles as the graph's table view. */
export const NodeTable = memo(function NodeTable({
  nodes,
  selected,
  onSelect,
}: {
  nodes: Readonly<Record<string, NodeState>>;
  selected: string | null;
  onSelect: (node: string) => void;
}) {
  const rows = Object.values(nodes);
  return (
    <table aria-label="Nodes: state, calls, tokens and cost">
      <thead>
        <tr>
          <th scope="col">Node</th>
          <th scope="col">State</th>
          <th scope="col" className="num">
            Tasks
          </th>
          <th scope="col" className="num">
            LLM calls
          </th>
          <th scope="col" className="num">
            Tokens in/out
          </th>
          <th scope="col" className="num">
            Cost
          </th>
        </tr>
      </thead>
      <tbody>
        {rows.map((n) => (
          <tr key={n.name} aria-selected={selected === n.name}>
            <th scope="row">
              <button type="button" className="link-button" onClick={() => onSelect(n.name)}>
                {n.name}
              </button>
            </th>
            <td>
              <StatusBadge status={n.status} />
            </td>
            <td className="num">{formatInt(n.started || n.finished)}</td>
            <td className="num">
              {formatInt(n.calls)}
              {n.cachedCalls ? <span className="muted"> +{n.cachedCalls} cached</span> : null}
            </td>
            <td className="num">
              {formatInt(n.inputTokens)} / {formatInt(n.outputTokens)}
            </td>
            <td className="num">{usd(n.costNano)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
});

export const STATUS_LEGEND = NODE_STATUSES;

const EVENT_PAGE = 50;

/** Describe an event in one line for the table. */
export function eventSummary(e: RunEvent): string {
  switch (e.type) {
    case "token":
      return JSON.stringify(e.text ?? "");
    case "usage":
      return `${String(e.model)}: ${String(e.input_tokens)} in, ${String(e.output_tokens)} out, ${formatUsd(
        fromNano(BigInt(typeof e.cost_nano_usd === "number" ? e.cost_nano_usd : 0)),
      )}`;
    case "task.failed":
      return `${String(e.error_type)}: ${String(e.error)}`;
    case "tool.call":
      return `${String(e.tool)} → ${String(e.status)}${e.cached ? " (cached)" : ""}`;
    case "llm.response":
      return `${String(e.model)} ${String(e.stop_reason)}${e.cached ? " (cached)" : ""}`;
    case "run.finished":
      return `${String(e.status)}${e.error ? `: ${String(e.error)}` : ""}`;
    case "step.started":
      return `${Array.isArray(e.tasks) ? e.tasks.length : 0} tasks`;
    case "interrupt":
      return `${Array.isArray(e.interrupts) ? e.interrupts.length : 0} pending`;
    case "error":
      return `${String(e.error_type)}: ${String(e.message)}`;
    case "warning":
      return `${String(e.code)}: ${String(e.message)}`;
    case "custom":
      return JSON.stringify(e.data).slice(0, 160);
    default:
      return "";
  }
}

/** The newest events first, filtered by type and node; at most `shown` rows rendered. */
export const EventsTable = memo(function EventsTable({ state }: { state: MonitorState }) {
  const [type, setType] = useState("");
  const [node, setNode] = useState("");
  const [limit, setLimit] = useState(EVENT_PAGE);
  const [open, setOpen] = useState<number | null>(null);
  const types = Object.keys(state.byType).sort();
  const nodes = Object.keys(state.nodes).sort();
  // walk back from the newest: the work is bounded by the rows shown (plus skipped ones)
  const rows = useMemo(() => {
    const out: RunEvent[] = [];
    for (let i = state.eventCount - 1; i >= 0 && out.length < limit; i--) {
      const e = state.events[i];
      if (!e) continue;
      if (type && e.type !== type) continue;
      if (node && e.node !== node) continue;
      out.push(e);
    }
    return out;
  }, [state.events, state.eventCount, type, node, limit]);
  const total = type ? (state.byType[type] ?? 0) : state.eventCount;
  const toggle = useCallback((seq: number) => setOpen((was) => (was === seq ? null : seq)), []);
  return (
    <section aria-labelledby="events-title" className="card monitor-events">
      <div className="row">
        <h2 id="events-title" className="grow">
          Events
        </h2>
        <label>
          Event type
          <select value={type} onChange={(e) => setType(e.target.value)}>
            <option value="">all types</option>
            {types.map((t) => (
              <option key={t} value={t}>
                {t} ({state.byType[t]})
              </option>
            ))}
          </select>
        </label>
        <label>
          Event node
          <select value={node} onChange={(e) => setNode(e.target.value)}>
            <option value="">all nodes</option>
            {nodes.map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </div>
      <div className="table-scroll">
        <table aria-label="Run events, newest first">
          <thead>
            <tr>
              <th scope="col" className="num">
                Seq
              </th>
              <th scope="col" className="num">
                Step
              </th>
              <th scope="col">Type</th>
              <th scope="col">Node</th>
              <th scope="col">Detail</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <EventRow key={e.seq} event={e} open={open === e.seq} onToggle={toggle} />
            ))}
          </tbody>
        </table>
      </div>
      <p className="row muted">
        Showing {rows.length} of {node ? "the matching" : formatInt(total)} events.
        {rows.length >= limit ? (
          <button type="button" onClick={() => setLimit(limit + EVENT_PAGE)}>
            Show more events
          </button>
        ) : null}
      </p>
    </section>
  );
});

/** One event's row: an event never changes, so a row renders once (and when opened). */
const EventRow = memo(function EventRow({
  event: e,
  open,
  onToggle,
}: {
  event: RunEvent;
  open: boolean;
  onToggle: (seq: number) => void;
}) {
  return (
    <tr>
      <td className="num">{e.seq}</td>
      <td className="num">{e.step}</td>
      <td>
        <button type="button" className="link-button" aria-expanded={open} onClick={() => onToggle(e.seq)}>
          {e.type}
        </button>
      </td>
      <td>{e.node ?? ""}</td>
      <td className="event-detail">{open ? <pre>{JSON.stringify(e, null, 2)}</pre> : eventSummary(e)}</td>
    </tr>
  );
});

/** The workflow's per-node metrics over its runs (GET /v1/workflows/{name}/stats). */
export const NodeMetrics = memo(function NodeMetrics({ stats, selected }: { stats: NodeStats[]; selected: string | null }) {
  return (
    <table aria-label="Node metrics over the workflow's runs">
      <thead>
        <tr>
          <th scope="col">Node</th>
          <th scope="col" className="num">
            Runs
          </th>
          <th scope="col" className="num">
            Errors
          </th>
          <th scope="col" className="num">
            p50
          </th>
          <th scope="col" className="num">
            p95
          </th>
          <th scope="col" className="num">
            Cost
          </th>
        </tr>
      </thead>
      <tbody>
        {stats.map((s) => (
          <tr key={s.node} aria-selected={selected === s.node}>
            <th scope="row">{s.node}</th>
            <td className="num">{formatInt(s.runs)}</td>
            <td className="num">{formatInt(s.errors)}</td>
            <td className="num">{formatDuration(s.p50_ms)}</td>
            <td className="num">{formatDuration(s.p95_ms)}</td>
            <td className="num">{formatUsd(s.cost_usd)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
});

/** The selected node's live figures. */
export const NodeDetail = memo(function NodeDetail({ node }: { node: NodeState }) {
  return (
    <dl className="facts" aria-label={`Node ${node.name}`}>
      <dt>State</dt>
      <dd>
        <StatusBadge status={node.status} />
      </dd>
      <dt>Tasks</dt>
      <dd>
        {node.started} started, {node.finished} finished, {node.failed} failed
        {node.retries ? `, ${node.retries} retries` : ""}
      </dd>
      <dt>LLM calls</dt>
      <dd>
        {node.calls} paid, {node.cachedCalls} from records; {node.toolCalls} tool calls
      </dd>
      <dt>Tokens</dt>
      <dd>
        {formatInt(node.inputTokens)} in, {formatInt(node.outputTokens)} out ({formatInt(node.streamed)} streamed)
      </dd>
      <dt>Cost</dt>
      <dd>{usd(node.costNano)}</dd>
      <dt>Task time</dt>
      <dd>{formatDuration(node.durationMs)}</dd>
      {node.lastError ? (
        <>
          <dt>Last error</dt>
          <dd className="mono">{node.lastError}</dd>
        </>
      ) : null}
    </dl>
  );
});
