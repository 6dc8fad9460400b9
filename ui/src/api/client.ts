// The one way the UI talks to the server: its public API under /v1, with the bearer
// token the user gave (Settings or the sign-in prompt), errors read from the envelope.

const TOKEN_KEY = "orca.token";

export function getToken(): string | null {
  try {
    return window.localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function setToken(token: string | null): void {
  if (token) window.localStorage.setItem(TOKEN_KEY, token);
  else window.localStorage.removeItem(TOKEN_KEY);
  window.dispatchEvent(new Event("orca-token"));
}

/** An error the server answered with: its envelope's code, message and fix. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly fix: string | null;
  readonly details: Record<string, unknown>;
  readonly retryAfterMs: number | null;

  constructor(status: number, body: unknown) {
    const env = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
    const details = (typeof env.details === "object" && env.details !== null
      ? env.details
      : {}) as Record<string, unknown>;
    super(typeof env.message === "string" ? env.message : `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.code = typeof env.code === "string" ? env.code : `HTTP_${status}`;
    this.fix = typeof details.fix === "string" ? details.fix : null;
    this.details = details;
    this.retryAfterMs = typeof env.retry_after_ms === "number" ? env.retry_after_ms : null;
  }
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { Authorization: `Bearer ${token}` } : {};
}

type Query = Record<string, string | number | boolean | string[] | null | undefined>;

/** `path` with `query`'s set values appended (arrays repeat the key). */
export function withQuery(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === null || value === undefined || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, v));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  query?: Query;
  body?: unknown;
  signal?: AbortSignal;
}

/** The JSON the server answers to `path`; an `ApiError` for a 4xx/5xx. */
export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json", ...authHeaders() };
  let body: string | undefined;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(options.body);
  }
  const response = await fetch(withQuery(path, options.query), {
    method: options.method ?? "GET",
    headers,
    body,
    signal: options.signal,
  });
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let parsed: unknown = null;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { message: text.slice(0, 300) };
    }
  }
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new Event("orca-unauthenticated"));
    throw new ApiError(response.status, parsed);
  }
  return parsed as T;
}
