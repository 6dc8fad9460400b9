import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { ApiError } from "../../api/client";
import { ErrorBox, Loading, Page, StatusBadge } from "../../components/common";
import { formatTime } from "../../lib/format";
import { editState, forkThread, NO_BREAKPOINTS, runBody, startRun, type Breakpoints } from "./actions";
import { BreakpointPicker } from "./Breakpoints";
import { CheckpointList, describeCheckpoint } from "./CheckpointList";
import { DiffPanel } from "./DiffPanel";
import { EditPanel } from "./EditPanel";
import { ForkPanel } from "./ForkPanel";
import { InterruptPanel } from "./InterruptPanel";
import { JsonTree } from "./JsonTree";
import { prefetchStates, useCheckpointState, useHistory, useLatestState, useThreadRuns, useWorkflow, useWorkflows } from "./queries";
import type { RunRecord } from "./types";

const LIVE = new Set(["running", "queued"]);

/** The time a checkpoint switch took to show (Performance API: `orca:checkpoint-switch`). */
function markSwitch() {
  performance.clearMarks("orca:checkpoint-switch:start");
  performance.mark("orca:checkpoint-switch:start");
}

export function ThreadView({ thread }: { thread: string }) {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const client = useQueryClient();
  const runs = useThreadRuns(thread);
  const latestRun: RunRecord | undefined = runs.data?.[0];
  const workflowName = params.get("workflow") ?? latestRun?.graph ?? null;
  const history = useHistory(thread, workflowName, runs.isSuccess || params.has("workflow"));
  const latest = useLatestState(thread, workflowName, history.isSuccess);
  const workflow = useWorkflow(workflowName);
  const [breakpoints, setBreakpoints] = useState<Breakpoints>(NO_BREAKPOINTS);

  const list = useMemo(() => history.data ?? [], [history.data]);
  const selected = params.get("checkpoint") ?? list[0]?.checkpoint_id ?? null;
  const index = list.findIndex((c) => c.checkpoint_id === selected);
  const info = index >= 0 ? list[index] : undefined;
  const state = useCheckpointState(thread, selected, workflowName);
  const current = state.data?.checkpoint_id === selected ? state.data : undefined;
  const from = params.has("from") ? params.get("from") || null : (info?.parent_id ?? null);
  const to = params.get("to") ?? selected;

  // what a key press can show next is fetched ahead (the neighbours, the ends for
  // Home/End, the parent for the diff): a switch shows at once
  useEffect(() => {
    if (index < 0) return;
    const near = [index - 1, index + 1, index - 2, index + 2, 0, list.length - 1].map((i) => list[i]?.checkpoint_id);
    prefetchStates(client, thread, [...near, info?.parent_id], workflowName);
  }, [client, thread, list, index, info?.parent_id, workflowName]);

  const shown = useRef<string | null>(null);
  useEffect(() => {
    if (!current || shown.current === current.checkpoint_id) return;
    shown.current = current.checkpoint_id;
    if (performance.getEntriesByName("orca:checkpoint-switch:start").length) {
      performance.measure("orca:checkpoint-switch", "orca:checkpoint-switch:start");
      performance.clearMarks("orca:checkpoint-switch:start");
    }
  }, [current]);

  const select = useCallback(
    (checkpoint: string) => {
      markSwitch();
      setParams(
        (p) => {
          const next = new URLSearchParams(p);
          next.set("checkpoint", checkpoint);
          next.delete("from");
          next.delete("to");
          return next;
        },
        { replace: true },
      );
    },
    [setParams],
  );

  const refresh = useCallback(async () => {
    await Promise.all([
      client.invalidateQueries({ queryKey: ["threads", thread, "history"] }),
      client.invalidateQueries({ queryKey: ["threads", thread, "state", "latest"] }),
      client.invalidateQueries({ queryKey: ["runs"] }),
      client.invalidateQueries({ queryKey: ["threads"], exact: true }),
    ]);
  }, [client, thread]);

  const runAndWatch = useCallback(
    async (onThread: string, resume?: unknown) => {
      if (!workflowName) throw new Error("the thread's workflow is not known: pick one");
      const run = await startRun(onThread, runBody(workflowName, breakpoints, resume));
      await refresh();
      navigate(`/runs/${encodeURIComponent(run.run_id)}`);
    },
    [workflowName, breakpoints, refresh, navigate],
  );

  const noWorkflow = history.error instanceof ApiError && history.error.status === 404 && !params.has("workflow");
  const title = `Thread ${thread}`;
  if (runs.isPending) return <Page title={title}><Loading what="the thread" /></Page>;

  return (
    <Page title={title} actions={<Link to="/threads">All threads</Link>}>
      <div className="row muted thread-facts">
        <span>
          Workflow: <strong>{workflowName ?? "—"}</strong>
        </span>
        {latestRun ? (
          <span>
            Latest run <Link to={`/runs/${encodeURIComponent(latestRun.run_id)}`}>{latestRun.run_id}</Link>{" "}
            <StatusBadge status={latestRun.status} /> {formatTime(latestRun.started_at)}
          </span>
        ) : null}
      </div>
      <ErrorBox error={runs.error ?? workflow.error} />
      {noWorkflow || (!workflowName && runs.isSuccess) ? (
        <WorkflowPicker onPick={(w) => setParams({ workflow: w })} />
      ) : null}
      {history.error && !noWorkflow ? <ErrorBox error={history.error} /> : null}
      {history.isPending && workflowName ? <Loading what="the checkpoints" /> : null}

      {latest.data && latestRun && LIVE.has(latestRun.status) ? (
        <p className="card" role="status">
          A run is {latestRun.status} on this thread: <Link to={`/runs/${encodeURIComponent(latestRun.run_id)}`}>watch it</Link>.
        </p>
      ) : latest.data ? (
        <InterruptPanel
          key={latest.data.checkpoint_id}
          interrupts={latest.data.interrupts}
          next={latest.data.next}
          onResume={(answer) => runAndWatch(thread, answer)}
        />
      ) : null}

      {workflow.data ? (
        <details className="card">
          <summary>
            Breakpoints for runs started here
            {breakpoints.before.length + breakpoints.after.length ? ` (${breakpoints.before.length + breakpoints.after.length} set)` : ""}
          </summary>
          <BreakpointPicker nodes={workflow.data.nodes.map((n) => n.name)} value={breakpoints} onChange={setBreakpoints} />
        </details>
      ) : null}

      {list.length && selected ? (
        <div className="thread-grid">
          <div className="cp-nav">
            <h2>Checkpoints ({list.length})</h2>
            <CheckpointList history={list} selected={selected} onSelect={select} />
          </div>
          <div className="grid thread-main">
            <section aria-labelledby="cp-title" className="card">
              <h2 id="cp-title">
                State at step {info?.step ?? current?.step ?? "?"}
                {info ? <span className="muted"> · {describeCheckpoint(info)}</span> : null}
              </h2>
              <p className="muted small">
                Checkpoint <code>{selected}</code>
                {info ? ` · ${formatTime(info.created_at)}` : ""}
                {info?.metadata.run_id ? (
                  <>
                    {" · run "}
                    <Link to={`/runs/${encodeURIComponent(info.metadata.run_id)}`}>{info.metadata.run_id}</Link>
                  </>
                ) : null}
                {info?.metadata.from && info.metadata.from.thread_id !== thread ? (
                  <>
                    {" · forked from "}
                    <Link
                      to={`/threads/${encodeURIComponent(info.metadata.from.thread_id)}?checkpoint=${encodeURIComponent(info.metadata.from.checkpoint_id)}`}
                    >
                      thread {info.metadata.from.thread_id}
                    </Link>
                  </>
                ) : null}
              </p>
              <ErrorBox error={state.error} />
              {current ? (
                <JsonTree key={selected} value={current.values} label={`State at step ${current.step}`} />
              ) : (
                <Loading what="the state" />
              )}
            </section>
            <DiffPanel
              thread={thread}
              workflow={workflowName}
              history={list}
              from={from}
              to={to ?? selected}
              onPick={(side, v) =>
                setParams(
                  (p) => {
                    const next = new URLSearchParams(p);
                    next.set("from", from ?? "");
                    next.set("to", to ?? selected);
                    next.set(side, v);
                    return next;
                  },
                  { replace: true },
                )
              }
            />
            {current ? (
              <EditPanel
                key={`edit-${selected}`}
                values={current.values}
                workflow={workflow.data}
                step={current.step}
                onSave={async (values, asNode) => {
                  const made = await editState(thread, values, selected, asNode, workflowName);
                  await refresh();
                  select(made.checkpoint_id);
                }}
              />
            ) : null}
            {current ? (
              <ForkPanel
                key={`fork-${selected}`}
                thread={thread}
                step={current.step}
                workflow={workflowName}
                onFork={async (toThread) => {
                  const made = await forkThread(thread, selected, toThread, workflowName);
                  await refresh();
                  return made;
                }}
                onRun={(onThread) => runAndWatch(onThread)}
              />
            ) : null}
          </div>
        </div>
      ) : null}
    </Page>
  );
}

function WorkflowPicker({ onPick }: { onPick: (name: string) => void }) {
  const workflows = useWorkflows();
  const [name, setName] = useState("");
  return (
    <form
      className="card row"
      onSubmit={(e) => {
        e.preventDefault();
        if (name) onPick(name);
      }}
    >
      <p className="grow">No run on this thread names its workflow: pick the one its checkpoints belong to.</p>
      <label>
        Workflow
        <select value={name} onChange={(e) => setName(e.target.value)}>
          <option value="">—</option>
          {(workflows.data ?? []).map((w) => (
            <option key={w.name} value={w.name}>
              {w.name}
            </option>
          ))}
        </select>
      </label>
      <button type="submit" disabled={!name}>
        Show
      </button>
    </form>
  );
}
