import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render, screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { getToken, setToken } from "../../api/client";
import { stubFetch } from "../../test/stubFetch";
import SettingsPage from "./SettingsPage";
import { checkProfile, checkToken, emptyProfile } from "./validate";
import { maskToken } from "./Tokens";

const profile = {
  name: "local-tiny",
  active: true,
  description: "",
  planner: { provider: "llamacpp", model: "/m/orca-tiny.gguf", params: { n_ctx: 1024 } },
  worker: { provider: "llamacpp", model: "/m/orca-tiny.gguf", params: {} },
};

function routes() {
  const tokens = [{ name: "ci", scopes: ["read"], created_at: "2026-12-06T08:00:00+00:00", last_used_at: null }];
  return {
    "GET /v1/auth/whoami": { name: null, scope: "admin", scopes: ["read", "run", "admin"], auth: false },
    "GET /v1/profiles": [profile],
    "GET /v1/auth/tokens": () => [200, tokens],
    "POST /v1/auth/tokens": (req: { body: unknown }) => {
      const body = req.body as { name: string; scopes: string[] };
      tokens.push({ name: body.name, scopes: body.scopes, created_at: "2026-12-06T09:00:00+00:00", last_used_at: null });
      return [201, { name: body.name, scopes: body.scopes, created_at: "2026-12-06T09:00:00+00:00", last_used_at: null, token: "orca_0123456789ab_SECRETSECRETSECRETSECRETSECRETSECRETSECRET1" }];
    },
    "DELETE /v1/auth/tokens/ci": () => {
      tokens.splice(0, 1);
      return [204, null];
    },
    "POST /v1/profiles": () => [
      400,
      { code: "INVALID_REQUEST", message: "unknown LLM provider 'nope'", details: { field: "planner", fix: "use one of anthropic, openai" } },
    ],
    "GET /healthz": { status: "ok", version: "0.1.0" },
    "GET /v1/capabilities": {
      api_version: "v1", version: "0.1.0", engines: [], models: [], max_context: null,
      concurrency: { max_running: 4, max_queued: 256, safe: 260, running: 0, mean_service_ms: 1000 },
      rate_limits: { max_body_bytes: 1048576, tasks: { policy: "reject" } },
      feature_flags: { sse: true, kv_reuse: false, priorities: ["interactive", "batch"] }, workloads: ["completion"],
    },
  };
}

function renderPage() {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return render(
    <QueryClientProvider client={client}>
      <SettingsPage />
    </QueryClientProvider>,
  );
}

afterEach(() => {
  vi.unstubAllGlobals();
  setToken(null);
});

describe("the Settings page", () => {
  it("makes a token, shows its secret once with a copy button, and revokes one", async () => {
    const seen = stubFetch(routes());
    const writeText = vi.fn(() => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    renderPage();
    const form = await screen.findByRole("form", { name: "Make a token" });
    await userEvent.type(within(form).getByLabelText("Token name"), "bad name");
    await userEvent.click(within(form).getByRole("button", { name: "Make token" }));
    expect(await screen.findByText(/token name "bad name" is not 1 to 64/)).toBeInTheDocument();
    await userEvent.clear(within(form).getByLabelText("Token name"));
    await userEvent.type(within(form).getByLabelText("Token name"), "ci-bot");
    await userEvent.click(within(form).getByLabelText("run"));
    await userEvent.click(within(form).getByRole("button", { name: "Make token" }));
    const secret = await screen.findByRole("region", { name: "Token ci-bot made" });
    expect(within(secret).getByLabelText("Token ci-bot")).toHaveValue("orca_0123456789ab_SECRETSECRETSECRETSECRETSECRETSECRETSECRET1");
    expect(seen.find((s) => s.method === "POST")?.body).toEqual({ name: "ci-bot", scopes: ["run"] });
    await userEvent.click(within(secret).getByRole("button", { name: "Copy token" }));
    expect(writeText).toHaveBeenCalledWith("orca_0123456789ab_SECRETSECRETSECRETSECRETSECRETSECRETSECRET1");
    expect(await within(secret).findByText("Copied to the clipboard.")).toBeInTheDocument();
    await userEvent.click(within(secret).getByRole("button", { name: "Done" }));
    expect(screen.queryByText(/SECRETSECRET/)).toBeNull();
    expect(screen.queryByRole("region", { name: "Token ci-bot made" })).toBeNull();

    const table = screen.getByRole("table", { name: "Server tokens" });
    expect(await within(table).findByRole("rowheader", { name: "ci-bot" })).toBeInTheDocument();
    await userEvent.click(within(table).getByRole("button", { name: "Revoke token ci" }));
    await userEvent.click(within(table).getByRole("button", { name: "Confirm revoke token ci" }));
    expect(seen.some((s) => s.method === "DELETE" && s.path === "/v1/auth/tokens/ci")).toBe(true);
    await screen.findByRole("button", { name: "Revoke token ci-bot" });
    expect(within(table).queryByRole("rowheader", { name: "ci" })).toBeNull();
  });

  it("sets and forgets this browser's token, sending it after", async () => {
    const seen = stubFetch(routes());
    renderPage();
    const form = await screen.findByRole("form", { name: "Set this browser's token" });
    expect(screen.getByText(/Sends no token\./)).toBeInTheDocument();
    await userEvent.type(within(form).getByLabelText("Token to use"), "orca_abcdef123456_x");
    await userEvent.click(within(form).getByRole("button", { name: "Use this token" }));
    expect(getToken()).toBe("orca_abcdef123456_x");
    expect(await screen.findByText("orca_abcdef1…")).toBeInTheDocument();
    await screen.findByText(/a loopback client/);
    const calls = seen.length;
    await userEvent.click(within(form).getByRole("button", { name: "Forget this browser's token" }));
    expect(getToken()).toBeNull();
    expect(seen.length).toBeGreaterThan(calls); // asked again, who am I now
  });

  it("lists profiles and shows the server's error on a new one with its fix", async () => {
    stubFetch(routes());
    renderPage();
    const row = await screen.findByRole("row", { name: /local-tiny/ });
    expect(within(row).getAllByRole("cell", { name: "llamacpp:/m/orca-tiny.gguf" })).toHaveLength(2);
    expect(within(row).getByText("active")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "New profile" }));
    const form = screen.getByRole("form", { name: "New profile" });
    await userEvent.type(within(form).getByLabelText("Name"), "p2");
    await userEvent.type(within(form).getByLabelText("Planner (PROVIDER:MODEL)"), "nope:x");
    await userEvent.type(within(form).getByLabelText("Worker (PROVIDER:MODEL)"), "openai:gpt-4o-mini");
    await userEvent.click(within(form).getByRole("button", { name: "Create profile" }));
    expect(await within(form).findByRole("alert")).toHaveTextContent("unknown LLM provider 'nope' Fix: use one of anthropic, openai");
  });

  it("shows the server's version and capabilities", async () => {
    stubFetch(routes());
    renderPage();
    expect(await screen.findByText(/Orca 0\.1\.0 \(API v1\) · health: ok/)).toBeInTheDocument();
    expect(screen.getByText("interactive, batch")).toBeInTheDocument();
  });
});

describe("settings forms", () => {
  it("checks a profile: names, PROVIDER:MODEL, JSON parameters", () => {
    const bad = checkProfile({ ...emptyProfile, name: "-x", planner: "gpt-4o", worker: "openai:", planner_params: "[1]" });
    expect(bad.body).toBeNull();
    expect(bad.problems.map((p) => p.field)).toEqual(["name", "planner", "worker", "planner_params"]);
    const good = checkProfile({ ...emptyProfile, name: "p", planner: "openai:gpt-4o", worker: "llamacpp:/m/x.gguf", worker_params: '{"n_ctx": 1024}' });
    expect(good.body).toEqual({ name: "p", activate: false, planner: "openai:gpt-4o", worker: "llamacpp:/m/x.gguf", planner_params: {}, worker_params: { n_ctx: 1024 }, description: "" });
    // editing sends no name
    expect(checkProfile({ ...emptyProfile, name: "", planner: "a:b", worker: "a:b" }, true).body).not.toHaveProperty("name");
  });
  it("checks a token's name", () => {
    expect(checkToken(" ci.bot ", "admin").body).toEqual({ name: "ci.bot", scopes: ["admin"] });
    expect(checkToken("", "read").problems[0]?.message).toBe("name is empty");
    expect(checkToken("x".repeat(65), "read").body).toBeNull();
  });
  it("never shows a token whole", () => {
    expect(maskToken("orca_0123456789ab_SECRET")).toBe("orca_0123456…");
    expect(maskToken("short")).toBe("•••••");
  });
});
