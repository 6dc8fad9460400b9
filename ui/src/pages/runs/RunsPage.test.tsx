import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import { buildRunRequest } from "./StartRun";
import { checkFilters, compareDecimal, filtersFromParams, filtersToParams, NO_FILTERS, runsQuery } from "./filters";
import RunsPage from "./RunsPage";

const RUN = {
  run_id: "run-1",
  thread_id: "t1",
  graph: "research",
  status: "failed",
  started_at: "2026-12-06T07:59:07+00:00",
  ended_at: "2026-12-06T07:59:09+00:00",
  steps: 2,
  llm_calls: 6,
  input_tokens: 730,
  output_tokens: 108,
  cost_nano_usd: 58_100_001,
  checkpoint_id: null,
  error: "NodeError: boom",
  metadata: { request: { workflow: "research" } },
};
const STATS = {
  running: 1,
  queued: 0,
  interrupted: 2,
  done: 3,
  failed: 1,
  cancelled: 0,
  total: 7,
  cost_usd: "0.0581",
  cost_usd_24h: "0.0581",
  tokens_24h: 838,
  runs_24h: 7,
};

/** A fetch at the network edge answering like the server; it records each URL asked. */
function stubServer(): string[] {
  const asked: string[] = [];
  vi.stubGlobal("fetch", (input: string) => {
    asked.push(input);
    const path = input.split("?")[0];
    const body =
      path === "/v1/runs/stats"
        ? STATS
        : path === "/v1/runs"
          ? [RUN]
          : path === "/v1/workflows"
            ? [{ name: "research", nodes: 3 }]
            : [];
    return Promise.resolve(new Response(JSON.stringify(body), { status: 200 }));
  });
  return asked;
}

function renderAt(url: string) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const router = createMemoryRouter([{ path: "/runs", element: <RunsPage /> }], { initialEntries: [url] });
  render(
    <QueryClientProvider client={client}>
      <RouterProvider router={router} />
    </QueryClientProvider>,
  );
  return router;
}

afterEach(() => vi.unstubAllGlobals());

describe("RunsPage", () => {
  it("lists the runs with exact costs, live counters and links to their monitors", async () => {
    stubServer();
    renderAt("/runs");
    const table = await screen.findByRole("table", { name: "Runs, newest first" });
    const link = within(table).getByRole("link", { name: "run-1" });
    expect(link).toHaveAttribute("href", "/runs/run-1");
    expect(within(table).getByText("$0.0581")).toBeInTheDocument();
    const counters = await screen.findByLabelText("Run counters");
    expect(counters).toHaveAttribute("aria-live", "polite");
    expect(within(counters).getByText("Interrupted").nextSibling).toHaveTextContent("2");
  });

  it("sends the URL's filters to the server", async () => {
    const asked = stubServer();
    renderAt("/runs?status=failed&status=done&workflow=research&range=24h&min_cost=0.01&q=boom");
    await screen.findByRole("table", { name: "Runs, newest first" });
    const list = asked.find((u) => u.startsWith("/v1/runs?"));
    expect(list).toBeDefined();
    const params = new URLSearchParams(list?.split("?")[1]);
    expect(params.getAll("status")).toEqual(["failed", "done"]);
    expect(params.get("workflow")).toBe("research");
    expect(params.get("since")).toBe("24h");
    expect(params.get("min_cost_usd")).toBe("0.01");
    expect(params.get("q")).toBe("boom");
  });

  it("pages with the cursor of the last run shown, and back", async () => {
    const asked: string[] = [];
    const page = Array.from({ length: 50 }, (_, i) => ({ ...RUN, run_id: `run-${100 - i}` }));
    vi.stubGlobal("fetch", (input: string) => {
      asked.push(input);
      const path = input.split("?")[0];
      const before = new URLSearchParams(input.split("?")[1]).get("before");
      const body =
        path === "/v1/runs/stats" ? STATS : path === "/v1/runs" ? (before ? [{ ...RUN, run_id: "run-50" }] : page) : [];
      return Promise.resolve(new Response(JSON.stringify(body), { status: 200 }));
    });
    renderAt("/runs");
    const table = await screen.findByRole("table", { name: "Runs, newest first" });
    // (plain queries: role queries over 50 rows are slow in jsdom)
    expect(table.querySelectorAll("tbody a")).toHaveLength(50);
    const pager = screen.getByRole("group", { name: "Pages of runs" });
    expect(within(pager).getByRole("button", { name: "Newer runs" })).toBeDisabled();
    await userEvent.click(within(pager).getByRole("button", { name: "Older runs" }));
    await screen.findByText("run-50");
    expect(asked.some((u) => u.startsWith("/v1/runs?") && u.includes("before=run-51"))).toBe(true);
    expect(within(pager).getByRole("button", { name: "Older runs" })).toBeDisabled();
    await userEvent.click(within(pager).getByRole("button", { name: "Newer runs" }));
    await screen.findByText("run-100");
  }, 20_000);

  it("names a bad cost filter with its fix and keeps it out of the URL", async () => {
    stubServer();
    const router = renderAt("/runs");
    const form = await screen.findByRole("form", { name: "Filter runs" });
    await userEvent.type(within(form).getByLabelText("Min cost ($)"), "abc");
    await userEvent.click(within(form).getByRole("button", { name: "Apply filters" }));
    expect(within(form).getByText(/is not an amount of dollars: write it like 0.25/)).toBeInTheDocument();
    expect(within(form).getByLabelText("Min cost ($)")).toHaveAttribute("aria-invalid", "true");
    expect(router.state.location.search).toBe("");
    await userEvent.clear(within(form).getByLabelText("Min cost ($)"));
    await userEvent.click(within(form).getByRole("checkbox", { name: "failed" }));
    await userEvent.click(within(form).getByRole("button", { name: "Apply filters" }));
    await waitFor(() => expect(router.state.location.search).toBe("?status=failed"));
  });
});

describe("filters", () => {
  it("round-trip through the URL", () => {
    const f = { ...NO_FILTERS, status: ["done", "failed"], workflow: "w", minCost: "0.5", q: "x y" };
    expect(filtersFromParams(filtersToParams(f))).toEqual(f);
  });
  it("ignore unknown statuses and ranges from a hand-made URL", () => {
    const f = filtersFromParams(new URLSearchParams("status=bogus&status=done&range=9y"));
    expect(f.status).toEqual(["done"]);
    expect(f.range).toBe("");
  });
  it("check amounts exactly and ranges in order", () => {
    expect(checkFilters({ ...NO_FILTERS, minCost: "0.30", maxCost: "0.3" })).toEqual({});
    expect(checkFilters({ ...NO_FILTERS, minCost: "0.300000000001", maxCost: "0.3" }).maxCost).toMatch(/below/);
    expect(checkFilters({ ...NO_FILTERS, maxCost: "-1" }).maxCost).toMatch(/not an amount/);
    expect(compareDecimal("10", "9.99")).toBe(1);
    const bad = checkFilters({ ...NO_FILTERS, range: "custom", from: "2026-12-06T10:00", to: "2026-12-06T09:00" });
    expect(bad.to).toMatch(/not after/);
  });
  it("send a custom range as ISO times and a cursor as before", () => {
    const q = runsQuery({ ...NO_FILTERS, range: "custom", from: "2026-12-06T10:00" }, { before: "run-9", limit: 50 });
    expect(q.since).toBe(new Date("2026-12-06T10:00").toISOString());
    expect(q.until).toBeNull();
    expect(q.before).toBe("run-9");
  });
});

describe("buildRunRequest", () => {
  const form = { workflow: "w", input: "{}", thread: "", budget: "", profile: "", before: [], after: [] };
  it("starts a stateless run or one on a thread, with breakpoints", () => {
    expect(buildRunRequest(form).request).toEqual({ path: "/v1/runs", body: { workflow: "w", input: {} } });
    const r = buildRunRequest({ ...form, thread: "a b", budget: "demo", before: ["plan"], after: ["*", "x"] }).request;
    expect(r?.path).toBe("/v1/threads/a%20b/runs");
    expect(r?.body).toEqual({ workflow: "w", input: {}, budget: "demo", interrupt_before: ["plan"], interrupt_after: "*" });
  });
  it("names the field of bad input", () => {
    expect(buildRunRequest({ ...form, input: "{oops" }).errors.input).toMatch(/not JSON/);
    expect(buildRunRequest({ ...form, input: "[1]" }).errors.input).toMatch(/JSON object/);
    expect(buildRunRequest({ ...form, thread: "a\u0000b" }).errors.thread).toMatch(/control/);
    expect(buildRunRequest({ ...form, workflow: "" }).errors.workflow).toMatch(/pick/);
  });
});
