import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor, within } from "@testing-library/react";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import { formatUsd, fromNano } from "../../lib/money";
import RunMonitor from "./RunMonitor";
import { syntheticRun } from "./synthetic";
import type { WorkflowShape } from "./types";

const SHAPE: WorkflowShape = {
  name: "research",
  start: "__start__",
  end: "__end__",
  state: [],
  nodes: ["plan", "worker", "review"].map((name) => ({ name, destinations: null })),
  edges: [
    { source: "__start__", target: "plan" },
    { source: "plan", target: "worker" },
    { source: "worker", target: "review" },
    { source: "review", target: "__end__" },
  ],
  joins: [],
  branches: [],
};

// jsdom lacks what the graph canvas measures with
class NoResize {
  observe(): void {}
  unobserve(): void {}
  disconnect(): void {}
}

function stubServer(run: ReturnType<typeof syntheticRun>): string[] {
  const asked: string[] = [];
  const record = {
    run_id: "run-1",
    thread_id: "t-synthetic",
    graph: "research",
    status: "done",
    started_at: "2026-12-06T07:59:07+00:00",
    ended_at: "2026-12-06T07:59:09+00:00",
    steps: 3,
    llm_calls: run.expected.calls,
    input_tokens: run.expected.inputTokens,
    output_tokens: run.expected.outputTokens,
    cost_nano_usd: Number(run.expected.costNano),
    checkpoint_id: null,
    error: null,
    metadata: { request: { workflow: "research" } },
  };
  // the log keeps no token events
  const logged = run.events.filter((e) => e.type !== "token");
  vi.stubGlobal("fetch", (input: string) => {
    asked.push(input);
    const [path, query = ""] = input.split("?");
    let body: unknown = [];
    if (path === "/v1/runs/run-1") body = record;
    else if (path === "/v1/workflows/research") body = SHAPE;
    else if (path === "/v1/runs/run-1/events") {
      const start = Number(new URLSearchParams(query).get("start") ?? 0);
      body = logged.filter((e) => e.seq >= start);
    }
    return Promise.resolve(new Response(JSON.stringify(body), { status: 200 }));
  });
  return asked;
}

beforeEach(() => {
  vi.stubGlobal("ResizeObserver", NoResize);
});
afterEach(() => vi.unstubAllGlobals());

describe("RunMonitor", () => {
  it("opens a finished run from its logged events, with each node's state and exact cost", async () => {
    const run = syntheticRun({ nodes: ["plan", "worker", "review"], steps: 3, width: 2, tokens: 3 });
    const asked = stubServer(run);
    const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
    const router = createMemoryRouter([{ path: "/runs/:runId", element: <RunMonitor /> }], {
      initialEntries: ["/runs/run-1"],
    });
    render(
      <QueryClientProvider client={client}>
        <RouterProvider router={router} />
      </QueryClientProvider>,
    );
    expect(await screen.findByRole("heading", { level: 1, name: "Run run-1" })).toBeInTheDocument();
    await waitFor(() => expect(screen.getByText("from the event log")).toBeInTheDocument());
    const totals = screen.getByLabelText("Run totals");
    expect(totals).toHaveAttribute("aria-live", "polite");
    expect(within(totals).getByText(formatUsd(fromNano(run.expected.costNano)))).toBeInTheDocument();
    const nodes = screen.getByRole("table", { name: "Nodes: state, calls, tokens and cost" });
    for (const [name, want] of Object.entries(run.expected.perNode)) {
      const row = within(nodes).getByRole("button", { name }).closest("tr") as HTMLElement;
      expect(within(row).getByText("done")).toBeInTheDocument();
      expect(within(row).getByText(formatUsd(fromNano(want.costNano)))).toBeInTheDocument();
    }
    const logged = run.events.filter((e) => e.type !== "token").length;
    expect(screen.getByTestId("events-applied")).toHaveTextContent(String(logged));
    expect(window.__orcaMonitor?.eventsApplied).toBe(logged);
    expect(window.__orcaMonitor?.done).toBe(true);
    expect(asked.some((u) => u.includes("/stream"))).toBe(false);
    // the timeline renders at a lower priority than the totals
    await waitFor(() => expect(screen.getByRole("list", { name: "Supersteps" }).children).toHaveLength(3));
  });
});
