// A stand-in for the server at the network edge (window.fetch): each route answers a
// method and path with a status and a JSON body; every request is recorded.
import { vi } from "vitest";

export interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

export type Handler = (req: Seen) => [number, unknown];

/** Installs `routes` ("GET /v1/budgets" -> handler or fixed body) as fetch; returns the log. */
export function stubFetch(routes: Record<string, Handler | unknown>): Seen[] {
  const seen: Seen[] = [];
  vi.stubGlobal("fetch", async (input: string, init?: RequestInit) => {
    const url = new URL(input, "http://orca.test");
    const method = init?.method ?? "GET";
    const req: Seen = {
      method,
      path: url.pathname,
      query: url.searchParams,
      body: typeof init?.body === "string" ? JSON.parse(init.body) : undefined,
    };
    seen.push(req);
    const route = routes[`${method} ${decodeURIComponent(url.pathname)}`];
    if (route === undefined) {
      return new Response(JSON.stringify({ code: "NOT_FOUND", message: `no route ${method} ${url.pathname}`, details: {} }), { status: 404 });
    }
    const [status, body] = typeof route === "function" ? (route as Handler)(req) : [200, route];
    return new Response(status === 204 ? null : JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
  return seen;
}
