// Feed the monitor's reducer: a live run from its SSE stream (resumed with Last-Event-ID
// by followStream), a run that has stopped from its logged events (no stream). Messages
// are queued as they arrive and applied once per animation frame, so a fast run costs
// one render per frame however many events it sends.
import { startTransition, useEffect, useLayoutEffect, useRef, useState } from "react";
import { api } from "../../api/client";
import { followStream } from "../../api/sse";
import { applyEvents, initialState, parseEvent, type MonitorState } from "./reducer";
import type { RunEvent } from "./types";

/** Counters the e2e benchmark reads (docs/ui.md, "Run monitor"). */
export interface MonitorCounters {
  runId: string | null;
  /** events applied to the monitor's state since it opened */
  eventsApplied: number;
  /** frames after the first that took over 50 ms from their first queued event to
   * their commit (the first frame mounts the page: `firstFrameMs`) */
  framesOver50ms: number;
  /** frames that applied at least one event */
  frames: number;
  /** the slowest frame after the first, in ms */
  maxFrameMs: number;
  /** the first frame (it also mounts the graph and the panels), in ms */
  firstFrameMs: number | null;
  /** the stream has ended (or the logged events are loaded) */
  done: boolean;
  /** performance.now() of the first and the latest frame that applied events */
  firstAppliedAt: number | null;
  lastAppliedAt: number | null;
}

declare global {
  interface Window {
    __orcaMonitor?: MonitorCounters;
  }
}

export const FRAME_BUDGET_MS = 50;
const LOGGED_PAGE = 5000;

export type Source = "stream" | "log";

export interface RunEventsResult {
  state: MonitorState;
  ended: boolean;
  error: unknown;
}

/** The run's monitor state, live from `source`. `nodes` seed the graph's waiting nodes. */
export function useRunEvents(runId: string, source: Source | null, nodes: readonly string[]): RunEventsResult {
  const [state, setState] = useState<MonitorState>(() => initialState(nodes));
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const latest = useRef(state);
  const frameStart = useRef<number | null>(null);
  const nodeKey = nodes.join("\u0000");

  // a newly known node list (the workflow's shape arrived) seeds waiting nodes
  useEffect(() => {
    if (!nodeKey) return;
    const names = nodeKey.split("\u0000");
    const missing = names.filter((n) => !(n in latest.current.nodes));
    if (missing.length === 0) return;
    const seeded = initialState(missing).nodes;
    latest.current = { ...latest.current, nodes: { ...seeded, ...latest.current.nodes } };
    setState(latest.current);
  }, [nodeKey]);

  useEffect(() => {
    if (source === null) return;
    const counters: MonitorCounters = {
      runId,
      eventsApplied: 0,
      framesOver50ms: 0,
      frames: 0,
      maxFrameMs: 0,
      firstFrameMs: null,
      done: false,
      firstAppliedAt: null,
      lastAppliedAt: null,
    };
    window.__orcaMonitor = counters;
    const controller = new AbortController();
    let pending: RunEvent[] = [];
    let frame: number | null = null;
    let queuedAt = 0;

    const flush = () => {
      frame = null;
      const batch = pending;
      pending = [];
      if (batch.length === 0) return;
      const before = latest.current.applied;
      latest.current = applyEvents(latest.current, batch);
      counters.eventsApplied += latest.current.applied - before;
      const now = performance.now();
      counters.firstAppliedAt ??= now;
      counters.lastAppliedAt = now;
      frameStart.current = queuedAt;
      setState(latest.current);
    };
    const enqueue = (events: RunEvent[]) => {
      if (events.length === 0) return;
      if (pending.length === 0) queuedAt = performance.now();
      for (const e of events) pending.push(e);
      if (frame === null) frame = requestAnimationFrame(flush);
    };
    const finish = () => {
      if (frame !== null) cancelAnimationFrame(frame);
      flush();
      counters.done = true;
      setEnded(true);
    };

    if (source === "stream") {
      void followStream(`/v1/runs/${encodeURIComponent(runId)}/stream`, {
        signal: controller.signal,
        lastEventId: latest.current.lastSeq >= 0 ? String(latest.current.lastSeq) : null,
        onMessages: (messages) => {
          const events: RunEvent[] = [];
          for (const m of messages) {
            if (m.event === "end") continue;
            const e = parseEvent(m.data);
            if (e) events.push(e);
          }
          enqueue(events);
        },
        onEnd: finish,
        onError: (e) => setError(e),
      });
    } else {
      void (async () => {
        try {
          // page through the log so that a long run does not arrive as one huge answer
          let start = latest.current.lastSeq + 1;
          for (;;) {
            const page = await api<RunEvent[]>(`/v1/runs/${encodeURIComponent(runId)}/events`, {
              query: { start, max: LOGGED_PAGE },
              signal: controller.signal,
            });
            enqueue(page);
            const last = page[page.length - 1];
            if (page.length < LOGGED_PAGE || !last) break;
            start = last.seq + 1;
          }
          finish();
        } catch (e) {
          if (!controller.signal.aborted) setError(e);
        }
      })();
    }
    return () => {
      controller.abort();
      if (frame !== null) cancelAnimationFrame(frame);
    };
  }, [runId, source]);

  // after each commit: how long the frame took from its first queued event
  useLayoutEffect(() => {
    const started = frameStart.current;
    if (started === null) return;
    frameStart.current = null;
    const counters = window.__orcaMonitor;
    if (!counters) return;
    const took = performance.now() - started;
    counters.frames += 1;
    if (counters.firstFrameMs === null) {
      counters.firstFrameMs = took;
      return;
    }
    if (took > counters.maxFrameMs) counters.maxFrameMs = took;
    if (took > FRAME_BUDGET_MS) counters.framesOver50ms += 1;
  }, [state]);

  return { state, ended, error };
}

/** `value`, changing at most once per `ms` (its latest value after a quiet moment);
 * `ms` 0 follows it at once. The throttled changes are transitions: React renders them
 * at a lower priority, in slices that let the browser paint between them. */
export function useThrottled<T>(value: T, ms: number): T {
  const [shown, setShown] = useState(value);
  const last = useRef(0);
  useEffect(() => {
    if (Object.is(shown, value)) return;
    const wait = ms <= 0 ? 0 : Math.max(0, last.current + ms - performance.now());
    const timer = setTimeout(() => {
      last.current = performance.now();
      startTransition(() => setShown(value));
    }, wait);
    return () => clearTimeout(timer);
  }, [value, ms, shown]);
  return ms <= 0 ? value : shown;
}
