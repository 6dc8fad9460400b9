import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import ThreadsPage, { threadRows } from "./ThreadsPage";
import type { CheckpointInfo, RunRecord, ThreadState } from "./types";

// A thread of three checkpoints, as the server answers them (the network edge is stubbed).
const cp = (step: number, nodes: string[], source: string, next: string[]): CheckpointInfo => ({
  thread_id: "t-1",
  checkpoint_id: `cp-${step}`,
  parent_id: step ? `cp-${step - 1}` : null,
  step,
  next: next.map((node) => ({ node })),
  metadata: { source, nodes, run_id: "run-1" },
  created_at: "2026-12-06T08:00:00+00:00",
});
const HISTORY = [cp(2, ["work"], "loop", ["review"]), cp(1, ["plan"], "loop", ["work"]), cp(0, ["__start__"], "input", ["plan"])];
const VALUES: Record<string, Record<string, unknown>> = {
  "cp-0": { topic: "orcas", notes: [] },
  "cp-1": { topic: "orcas", notes: [], plan: { parts: ["history"] } },
  "cp-2": { topic: "orcas", notes: ["note on history"], plan: { parts: ["history"] } },
};
const RUN: RunRecord = {
  run_id: "run-1",
  thread_id: "t-1",
  graph: "research",
  status: "interrupted",
  started_at: "2026-12-06T08:00:00+00:00",
  ended_at: null,
  steps: 2,
  checkpoint_id: "cp-2",
  error: null,
  metadata: {},
};

function state(id: string): ThreadState {
  const info = HISTORY.find((c) => c.checkpoint_id === id) as CheckpointInfo;
  return {
    thread_id: "t-1",
    checkpoint_id: id,
    parent_id: info.parent_id,
    step: info.step,
    next: info.next.map((t) => t.node),
    values: VALUES[id] as Record<string, unknown>,
    interrupts: id === "cp-2" ? [{ id: "i-1", node: "review", task_id: "k", value: { question: "approve?" }, when: "during" }] : [],
    metadata: info.metadata,
    created_at: info.created_at,
  };
}

const requests: string[] = [];

function answer(url: URL): unknown {
  if (url.pathname === "/v1/runs") return [RUN];
  if (url.pathname === "/v1/threads") return ["t-1", "t-2"];
  if (url.pathname === "/v1/threads/t-1/history") return HISTORY;
  if (url.pathname === "/v1/threads/t-1/state") return state(url.searchParams.get("checkpoint_id") ?? "cp-2");
  if (url.pathname === "/v1/workflows/research") {
    return { name: "research", source: "x.py:g", state: [{ key: "topic", reducer: "overwrite", has_default: false }, { key: "notes", reducer: "append", has_default: true }, { key: "plan", reducer: "overwrite", has_default: false }], nodes: [{ name: "plan" }, { name: "work" }, { name: "review" }] };
  }
  return null;
}

beforeEach(() => {
  requests.length = 0;
  vi.stubGlobal("fetch", async (input: string) => {
    const url = new URL(input, "http://orca.test");
    requests.push(`${url.pathname}${url.search}`);
    const body = answer(url);
    return new Response(JSON.stringify(body ?? { code: "NOT_FOUND", message: "no" }), {
      status: body === null ? 404 : 200,
      headers: { "Content-Type": "application/json" },
    });
  });
});
afterEach(() => vi.unstubAllGlobals());

function renderAt(path: string) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const router = createMemoryRouter(
    [
      { path: "/threads", element: <ThreadsPage /> },
      { path: "/threads/:threadId", element: <ThreadsPage /> },
      { path: "/runs/:runId", element: <p>monitor</p> },
    ],
    { initialEntries: [path] },
  );
  render(
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return router;
}

describe("ThreadsPage", () => {
  it("shows a thread's checkpoints, its state, the diff with its parent and its interrupt", async () => {
    const user = userEvent.setup();
    renderAt("/threads/t-1");
    expect(await screen.findByRole("heading", { level: 1, name: "Thread t-1" })).toBeInTheDocument();
    const list = await screen.findByRole("listbox", { name: "Checkpoints, newest first" });
    expect(within(list).getAllByRole("option").map((o) => o.getAttribute("aria-selected"))).toEqual(["true", "false", "false"]);
    const tree = await screen.findByRole("tree", { name: "State at step 2" });
    expect(within(tree).getByRole("treeitem", { name: '0: "note on history"' })).toBeInTheDocument();
    expect(await screen.findByTestId("diff-summary")).toHaveTextContent("1 added, 0 removed, 0 changed");
    expect(screen.getByRole("heading", { name: "Waiting for an answer (1)" })).toBeInTheDocument();
    // the editor starts on the first key with its value; an appending key says so
    expect(screen.getByLabelText("New value (JSON)")).toHaveValue('"orcas"');
    expect(screen.queryByText(/This key appends/)).toBeNull();
    await user.selectOptions(screen.getByLabelText("State key"), "notes");
    expect(screen.getByLabelText("New value (JSON)")).toHaveValue('[\n  "note on history"\n]');
    expect(screen.getByText(/This key appends/)).toBeInTheDocument();
  });

  it("moves between checkpoints with the arrow keys, the neighbours fetched ahead", async () => {
    const user = userEvent.setup();
    const router = renderAt("/threads/t-1");
    const list = await screen.findByRole("listbox", { name: "Checkpoints, newest first" });
    await screen.findByRole("tree", { name: "State at step 2" });
    // the next older checkpoint was prefetched before any key press
    expect(requests).toContain("/v1/threads/t-1/state?checkpoint_id=cp-1&workflow=research");
    within(list).getAllByRole("option")[0]?.focus();
    await user.keyboard("{ArrowDown}");
    expect(await screen.findByRole("tree", { name: "State at step 1" })).toBeInTheDocument();
    expect(within(list).getByRole("option", { selected: true })).toHaveTextContent("Step 1");
    expect(within(list).getByRole("option", { selected: true })).toHaveFocus();
    expect(router.state.location.search).toBe("?checkpoint=cp-1");
    expect(await screen.findByTestId("diff-summary")).toHaveTextContent("1 added, 0 removed, 0 changed");
    await user.keyboard("{End}");
    expect(await screen.findByRole("tree", { name: "State at step 0" })).toBeInTheDocument();
    await user.keyboard("{ArrowDown}"); // the oldest stays selected
    expect(within(list).getByRole("option", { selected: true })).toHaveTextContent("Step 0");
    await user.keyboard("{Home}");
    expect(await screen.findByRole("tree", { name: "State at step 2" })).toBeInTheDocument();
    // each checkpoint's state was fetched once, whatever the travel
    const fetched = requests.filter((r) => r.startsWith("/v1/threads/t-1/state?checkpoint_id=cp-"));
    expect(new Set(fetched).size).toBe(fetched.length);
  });

  it("lists threads with their latest run", async () => {
    renderAt("/threads");
    const link = await screen.findByRole("link", { name: "t-1" });
    expect(link).toHaveAttribute("href", "/threads/t-1");
    const row = link.closest("tr") as HTMLElement;
    expect(await within(row).findByText("interrupted")).toBeInTheDocument();
    expect(within(screen.getByRole("link", { name: "t-2" }).closest("tr") as HTMLElement).getByText("no recent run")).toBeInTheDocument();
  });
});

describe("threadRows", () => {
  it("takes each thread's newest run and puts the recently run first", () => {
    const run = (thread_id: string, started_at: string, status: string): RunRecord => ({ ...RUN, thread_id, started_at, status });
    const rows = threadRows(["a", "b", "c"], [run("b", "2026-12-06T09:00:00Z", "done"), run("a", "2026-12-06T08:00:00Z", "failed"), run("b", "2026-12-06T07:00:00Z", "failed")]);
    expect(rows.map((r) => [r.thread, r.run?.status ?? null])).toEqual([
      ["b", "done"],
      ["a", "failed"],
      ["c", null],
    ]);
  });
});
