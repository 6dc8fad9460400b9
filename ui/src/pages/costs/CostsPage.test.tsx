import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { stubFetch } from "../../test/stubFetch";
import CostsPage from "./CostsPage";
import type { BudgetStatus } from "./types";

const demo: BudgetStatus = {
  name: "demo", unit: "usd", kind: "credit", period: null, enforcement: "block", scope: "global", scope_ref: null, active: true,
  limit: 5_000_000_000, spent: 4_100_000_000, reserved: 0, remaining: 900_000_000, used_pct: "82.00", overdrawn: false, overdraft: 0,
  period_start: null, period_end: null,
};
const price = { provider: "llamacpp", model: "orca-tiny.gguf", source: "user", priced: true, input: "50", output: "200", cached_input: null, cache_write: null, reasoning: null, effective_from: null };

function routes() {
  return {
    "GET /v1/auth/whoami": { name: null, scope: "admin", scopes: ["read", "run", "admin"], auth: false },
    "GET /v1/budgets": [demo],
    "GET /v1/budgets/demo/status": demo,
    "GET /v1/budgets/demo": { ...demo, thresholds: [50, 80, 100], timezone: "UTC" },
    "GET /v1/usage/series": {
      bucket: "day",
      by: "model",
      points: [
        { t: "2026-12-05T00:00:00+00:00", key: "llamacpp/orca-tiny.gguf", cost_usd: "0.1", tokens_in: 10, tokens_out: 2, calls: 1 },
        { t: "2026-12-06T00:00:00+00:00", key: "llamacpp/orca-tiny.gguf", cost_usd: "0.2", tokens_in: 10, tokens_out: 2, calls: 1 },
        { t: "2026-12-06T00:00:00+00:00", key: "openai/gpt-4o-mini", cost_usd: "0.000000001", tokens_in: 10, tokens_out: 2, calls: 1 },
      ],
    },
    "GET /v1/usage": [{ key: "llamacpp/orca-tiny.gguf", llm_calls: 6, input_tokens: 808, output_tokens: 108, reasoning_tokens: 0, cost_nano_usd: 62_000_000, unpriced_calls: 0, estimated_calls: 6 }],
    "GET /v1/prices": [price],
    "GET /v1/prices/llamacpp/orca-tiny.gguf": price,
    "GET /v1/profiles": [],
    "GET /v1/runs": [{ run_id: "run-1", thread_id: "t1", graph: "research", status: "done", started_at: null, cost_nano_usd: 62_000_000, llm_calls: 6 }],
    "POST /v1/runs/run-1/reprice": { run_id: "run-1", llm_calls: 6, original_nano_usd: 62_000_000, repriced_nano_usd: 186_000, as: "openai/gpt-4o-mini", priced: true, ratio: "0.003" },
    "POST /v1/budgets": () => [
      400,
      { code: "INVALID_REQUEST", message: "budget 'demo' already exists", details: { field: "name", fix: "pick another name, or change it with raise / delete" } },
    ],
    "POST /v1/budgets/demo/raise": (req: { body: unknown }) => [200, { ...demo, limit: 10_000_000_000, _sent: req.body }],
  };
}

function renderPage() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <CostsPage />
    </QueryClientProvider>,
  );
}

beforeAll(() => {
  // jsdom has no layout: Recharts' container asks for one
  vi.stubGlobal(
    "ResizeObserver",
    class {
      observe() {}
      unobserve() {}
      disconnect() {}
    },
  );
});
afterEach(() => vi.unstubAllGlobals());

describe("the Costs page", () => {
  it("shows a budget's standing in words, with its warning", async () => {
    stubFetch(routes());
    renderPage();
    const card = await screen.findByRole("article", { name: "demo" });
    expect(within(card).getByText(/\$4\.10 spent of \$5\.00 \(82\.00%\)/)).toBeInTheDocument();
    expect(await within(card).findByText(/Warning: 80% threshold reached/)).toBeInTheDocument();
    expect(within(card).getByRole("meter", { name: "demo: 82.00% used" })).toHaveAttribute("value", "82");
  });

  it("gives the chart's figures as a table, summed exactly per bucket", async () => {
    stubFetch(routes());
    renderPage();
    const table = await screen.findByRole("table", { name: /Spend per day by model/ });
    const rows = within(table).getAllByRole("row");
    // header, two days, the total
    expect(rows).toHaveLength(4);
    expect(within(rows[2] as HTMLElement).getAllByRole("cell").map((c) => c.textContent)).toEqual(["$0.20", "$0.000000001", "$0.200000001"]);
    expect(within(rows[3] as HTMLElement).getAllByRole("cell").map((c) => c.textContent)).toEqual(["$0.30", "$0.000000001", "$0.300000001"]);
    expect(screen.getByText(/Spend per day by model, 2026-12-05 to 2026-12-06 \(UTC\): \$0\.30 in all over 2 models/)).toBeInTheDocument();
    expect(screen.getByRole("img", { name: /Spend per day by model/ })).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Show the figures as a table" }));
    expect(screen.getByRole("button", { name: "Hide the figures" })).toHaveAttribute("aria-expanded", "true");
  });

  it("asks for the dimension and range picked", async () => {
    const seen = stubFetch(routes());
    renderPage();
    await screen.findByRole("table", { name: /Spend per day by model/ });
    await userEvent.selectOptions(screen.getByLabelText("Split by"), "node");
    await userEvent.selectOptions(screen.getByLabelText("Time range"), "24h");
    await waitFor(() => {
      const last = seen.filter((s) => s.path === "/v1/usage/series").at(-1);
      expect(last?.query.get("by")).toBe("node");
      expect(last?.query.get("since")).toBe("24h");
      expect(last?.query.get("bucket")).toBe("hour");
    });
  });

  it("reprices a run and shows the difference", async () => {
    const seen = stubFetch(routes());
    renderPage();
    const form = await screen.findByRole("form", { name: "Reprice a run" });
    await screen.findByRole("option", { name: /run-1/ });
    await userEvent.click(within(form).getByRole("button", { name: "Reprice" }));
    const result = await screen.findByRole("table", { name: "Run run-1 repriced on openai/gpt-4o-mini" });
    expect(within(result).getAllByRole("cell").map((c) => c.textContent)).toEqual(["6", "$0.062", "$0.000186", "-$0.061814", "×0.003"]);
    expect(seen.find((s) => s.method === "POST" && s.path === "/v1/runs/run-1/reprice")?.body).toEqual({ provider: "openai", model: "gpt-4o-mini" });
  });

  it("checks a new budget before sending it, and shows the server's error with its fix", async () => {
    const seen = stubFetch(routes());
    renderPage();
    await userEvent.click(await screen.findByRole("button", { name: "New budget" }));
    const form = screen.getByRole("form", { name: "New budget" });
    await userEvent.click(within(form).getByRole("button", { name: "Create budget" }));
    expect(within(form).getByRole("alert")).toHaveTextContent("name is empty");
    expect(within(form).getByLabelText("Name")).toHaveAttribute("aria-invalid", "true");
    expect(seen.some((s) => s.method === "POST")).toBe(false);
    await userEvent.type(within(form).getByLabelText("Name"), "demo");
    await userEvent.type(within(form).getByLabelText("Amount"), "5");
    await userEvent.click(within(form).getByRole("button", { name: "Create budget" }));
    expect(await within(form).findByText(/budget 'demo' already exists/)).toBeInTheDocument();
    expect(within(form).getByRole("alert")).toHaveTextContent("Fix: pick another name");
  });

  it("raises a budget by an amount", async () => {
    const seen = stubFetch(routes());
    renderPage();
    const form = await screen.findByRole("form", { name: "Raise budget demo" });
    await userEvent.type(within(form).getByLabelText("Amount (USD)"), "5");
    await userEvent.click(within(form).getByRole("button", { name: "Raise demo" }));
    expect(await within(form).findByRole("status")).toHaveTextContent("Raised: the limit is now $10.00.");
    expect(seen.find((s) => s.path === "/v1/budgets/demo/raise")?.body).toEqual({ by: "5" });
  });

  it("shows each price's source", async () => {
    stubFetch(routes());
    renderPage();
    const table = await screen.findByRole("table", { name: "Prices in force" });
    expect(await within(table).findByText("your override")).toBeInTheDocument();
    expect(within(table).getByRole("button", { name: "Edit override llamacpp/orca-tiny.gguf" })).toBeInTheDocument();
  });

  it("offers no change to a read-only token", async () => {
    const seen = stubFetch({ ...routes(), "GET /v1/auth/whoami": { name: "viewer", scope: "read", scopes: ["read"], auth: true } });
    renderPage();
    await screen.findByRole("article", { name: "demo" });
    expect(await screen.findByText(/Repricing a run needs a token with scope admin/)).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "New budget" })).toBeNull();
    expect(screen.queryByRole("form", { name: "Raise budget demo" })).toBeNull();
    expect(screen.queryByRole("button", { name: /Edit override/ })).toBeNull();
    expect(seen.some((s) => s.path === "/v1/runs")).toBe(false);
  });

  it("renders the latest 400 buckets of a long series until asked for all", async () => {
    const start = Date.parse("2026-11-01T00:00:00Z");
    const points = Array.from({ length: 450 }, (_, i) => ({
      t: new Date(start + i * 3_600_000).toISOString(),
      key: "m/x",
      cost_usd: "0.000000001",
      tokens_in: 1,
      tokens_out: 1,
      calls: 1,
    }));
    stubFetch({ ...routes(), "GET /v1/usage/series": { bucket: "hour", by: "model", points } });
    renderPage();
    const table = await screen.findByRole("table", { name: /Spend per hour by model/ });
    // header, 400 buckets, the total (of all 450)
    expect(within(table).getAllByRole("row")).toHaveLength(402);
    expect(table.querySelector("tfoot td:last-child")?.textContent).toBe("$0.00000045");
    await userEvent.click(screen.getByRole("button", { name: /Show all 450 hours/ }));
    expect(within(table).getAllByRole("row")).toHaveLength(452);
  });
});
