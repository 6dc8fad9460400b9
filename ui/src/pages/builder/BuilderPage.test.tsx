import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { act, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { createMemoryRouter, RouterProvider } from "react-router-dom";
import { useState } from "react";
import BuilderPage from "./BuilderPage";
import { PromptEditor } from "./PromptEditor";
import type { FlowDoc } from "./types";

// jsdom lacks the layout APIs React Flow measures with; these stand in for the browser's.
class NoResize {
  observe() {}
  unobserve() {}
  disconnect() {}
}

interface Call {
  method: string;
  path: string;
  body: unknown;
}

/** The network edge: a tiny fake of the server's /v1/flows answers, recording each call. */
function stubServer() {
  const calls: Call[] = [];
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  const fetchStub = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), "http://orca.test");
    const method = init?.method ?? "GET";
    const body: unknown = init?.body ? JSON.parse(String(init.body)) : undefined;
    calls.push({ method, path: url.pathname + url.search, body });
    if (url.pathname === "/v1/flows/validate") {
      const flow = (body as { flow: FlowDoc }).flow;
      if (flow.name === "tools-probe") {
        return json(200, { ok: false, graph: null, errors: [{ path: "nodes.0.tool", node: "probe", field: "tool", message: "not registered", fix: "use one of: files_read, http_fetch" }] });
      }
      const errors = flow.nodes.flatMap((n, i) =>
        n.output === "" ? [{ path: `nodes.${i}.output`, node: n.id, field: "output", message: `node '${n.id}': output: String should match pattern`, fix: "name a state key" }] : [],
      );
      return json(200, { ok: errors.length === 0, errors, graph: null });
    }
    if (url.pathname === "/v1/flows" && method === "GET") return json(200, []);
    if (url.pathname === "/v1/flows" && method === "POST") {
      const req = body as { flow: FlowDoc; version: string | null; message: string | null };
      return json(201, { name: req.flow.name, version: req.version ?? "0.1.0", hash: "sha256:abc123", created_at: "2026-12-06T08:00:00Z", message: req.message });
    }
    if (/^\/v1\/flows\/[^/]+\/versions$/.test(url.pathname)) {
      return json(200, [{ name: "demo", version: "0.1.0", hash: "sha256:abc123", created_at: "2026-12-06T08:00:00Z", message: null }]);
    }
    if (/^\/v1\/threads\/[^/]+\/runs$/.test(url.pathname)) return json(202, { run_id: "run-42", thread_id: "t", status: "running" });
    return json(404, { code: "NOT_FOUND", message: `no ${url.pathname}` });
  });
  return { calls, fetchStub };
}

function renderBuilder(path = "/builder") {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  const router = createMemoryRouter(
    [
      { path: "/builder", element: <BuilderPage /> },
      { path: "/builder/:name", element: <BuilderPage /> },
      { path: "/runs/:runId", element: <p>monitor page</p> },
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

// rendered pages wait for the debounced validation: more than the default 5 s on a busy machine
describe("BuilderPage", { timeout: 20_000 }, () => {
  let server: ReturnType<typeof stubServer>;
  beforeEach(() => {
    server = stubServer();
    vi.stubGlobal("fetch", server.fetchStub);
    vi.stubGlobal("ResizeObserver", NoResize);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
  });

  it("adds a node from the palette by keyboard, shows the server's error on it, and focuses the field the error names", async () => {
    const user = userEvent.setup();
    renderBuilder();
    const palette = screen.getByRole("navigation", { name: "Node library" });
    within(palette).getByRole("button", { name: /llm LLM call/ }).focus();
    await user.keyboard("{Enter}");
    // the new node is selected: its form is open
    expect(await screen.findByRole("heading", { name: /LLM call llm1/ })).toBeInTheDocument();
    // the debounced validation lists the error by node and field
    const error = await screen.findByRole("button", { name: /llm1\.output/ }, { timeout: 3000 });
    expect(screen.getByTestId("validation-status")).toHaveTextContent("1 problem");
    // clicking it focuses the output field
    await user.click(screen.getByRole("heading", { name: "State keys" }));
    await user.click(error);
    const output = screen.getByRole("combobox", { name: "Output key" });
    await waitFor(() => expect(output).toHaveFocus());
    fireEvent.change(output, { target: { value: "answer" } });
    await waitFor(() => expect(screen.getByTestId("validation-status")).toHaveTextContent("Valid"), { timeout: 3000 });
    const sent = server.calls.filter((c) => c.path === "/v1/flows/validate").map((c) => (c.body as { flow: FlowDoc }).flow);
    expect(sent.at(-1)?.nodes[0]).toMatchObject({ id: "llm1", kind: "llm", output: "answer" });
    // the output is not declared: the panel offers to declare it
    await user.click(screen.getByRole("button", { name: "Declare state key “answer”" }));
    expect(screen.getByRole("textbox", { name: "State key 1 name" })).toHaveValue("answer");
  });

  it("saves a version and shows its info, then runs NAME@VERSION and opens the monitor", async () => {
    const user = userEvent.setup();
    const router = renderBuilder();
    fireEvent.change(screen.getByLabelText("Flow name"), { target: { value: "demo" } });
    await user.click(screen.getByRole("button", { name: /human Human/ }));
    fireEvent.change(screen.getByLabelText("Version"), { target: { value: "0.1.0" } });
    fireEvent.change(screen.getByLabelText("Message"), { target: { value: "first" } });
    await user.click(screen.getByRole("button", { name: "Save version" }));
    const info = await screen.findByTestId("version-info");
    expect(info).toHaveTextContent("demo@0.1.0");
    expect(info).toHaveTextContent("first");
    const save = server.calls.find((c) => c.method === "POST" && c.path === "/v1/flows");
    expect(save?.body).toMatchObject({ version: "0.1.0", message: "first", flow: { format: "orca.flow/v1", name: "demo" } });
    await waitFor(() => expect(router.state.location.pathname).toBe("/builder/demo"));

    const input = screen.getByLabelText("Test input (JSON)");
    fireEvent.change(input, { target: { value: "[1]" } });
    expect(screen.getByRole("button", { name: "Save and run" })).toBeDisabled();
    fireEvent.change(input, { target: { value: '{"question": "why?"}' } });
    await user.click(screen.getByRole("button", { name: "Save and run" }));
    expect(await screen.findByText("monitor page")).toBeInTheDocument();
    expect(router.state.location.pathname).toBe("/runs/run-42");
    const run = server.calls.find((c) => /\/v1\/threads\/.+\/runs/.test(c.path));
    expect(run?.body).toEqual({ workflow: "demo@0.1.0", input: { question: "why?" } });
  });

  it("refuses an imported file that is not a flow, naming the field", async () => {
    renderBuilder();
    const file = new File(['{"format": "nope", "name": "x", "nodes": []}'], "bad.json", { type: "application/json" });
    const picker = screen.getByLabelText("Import JSON");
    await act(async () => {
      fireEvent.change(picker, { target: { files: [file] } });
    });
    expect(await screen.findByRole("alert")).toHaveTextContent('format: expected "orca.flow/v1"');
  });
});

function Harness({ keys }: { keys: string[] }) {
  const [value, setValue] = useState("");
  return <PromptEditor label="Prompt" field="prompt" value={value} onChange={setValue} variables={keys} />;
}

describe("PromptEditor", () => {
  it("offers the state keys after {{ as a listbox chosen by keyboard", async () => {
    const user = userEvent.setup();
    render(<Harness keys={["question", "notes", "quality"]} />);
    const box = screen.getByRole("combobox", { name: "Prompt" });
    await user.type(box, "Ask {{{{q");
    const list = screen.getByRole("listbox");
    expect(within(list).getAllByRole("option").map((o) => o.textContent)).toEqual(["{{question}}", "{{quality}}"]);
    expect(box).toHaveAttribute("aria-expanded", "true");
    expect(box).toHaveAttribute("aria-activedescendant", within(list).getAllByRole("option")[0]?.id);
    await user.keyboard("{ArrowDown}{Enter}");
    expect(box).toHaveValue("Ask {{quality}}");
    expect(box).toHaveAttribute("aria-expanded", "false");
  });

  it("closes on Escape and keeps the text", async () => {
    const user = userEvent.setup();
    render(<Harness keys={["question"]} />);
    const box = screen.getByRole("combobox", { name: "Prompt" });
    await user.type(box, "{{{{");
    expect(screen.getByRole("listbox")).toBeVisible();
    await user.keyboard("{Escape}");
    expect(box).toHaveAttribute("aria-expanded", "false");
    expect(box).toHaveValue("{{");
  });
});
