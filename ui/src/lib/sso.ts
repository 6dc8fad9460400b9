// Sign-in with the server's identity provider (OIDC, authorization code with PKCE S256),
// when GET /v1/auth/config says it is on. The page goes to the issuer's authorization
// endpoint with a fresh state, nonce and code challenge (kept in this tab's session
// storage), comes back to /auth/callback with a code, checks the state, exchanges the code
// with the verifier at the token endpoint, checks the ID token's nonce, issuer and
// audience, and keeps the access token like a pasted token (setToken). The server checks
// that token's signature, audience and expiry on every request.
import { useQuery } from "@tanstack/react-query";
import { api, setToken } from "../api/client";

export interface AuthConfig {
  auth: boolean;
  oidc: boolean;
  issuer: string | null;
  client_id: string | null;
  audience: string | null;
  authorization_endpoint: string | null;
  token_endpoint: string | null;
  scopes: string[];
}

/** An OIDC configuration the UI can sign in with: every field it needs is set. */
export interface SsoConfig {
  issuer: string;
  clientId: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  scopes: string[];
}

export function ssoOf(config: AuthConfig | undefined): SsoConfig | null {
  if (!config?.oidc || !config.issuer || !config.client_id || !config.authorization_endpoint || !config.token_endpoint) {
    return null;
  }
  return {
    issuer: config.issuer,
    clientId: config.client_id,
    authorizationEndpoint: config.authorization_endpoint,
    tokenEndpoint: config.token_endpoint,
    scopes: config.scopes.length ? config.scopes : ["openid"],
  };
}

/** The server's sign-in configuration (an open path: no token needed). */
export function useSso(): SsoConfig | null {
  const { data } = useQuery({
    queryKey: ["auth-config"],
    queryFn: ({ signal }) => api<AuthConfig>("/v1/auth/config", { signal }),
    staleTime: 60_000,
  });
  return ssoOf(data);
}

export const CALLBACK_PATH = "/auth/callback";
const PENDING_KEY = "orca.sso.pending";

interface Pending {
  state: string;
  nonce: string;
  verifier: string;
  returnTo: string;
  redirectUri: string;
  sso: SsoConfig;
}

export function base64url(bytes: Uint8Array): string {
  let text = "";
  bytes.forEach((b) => (text += String.fromCharCode(b)));
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomText(bytes = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** The S256 code challenge of a PKCE verifier (RFC 7636). */
export async function challengeOf(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}

/** A path of this UI to come back to (never another origin's URL). */
function safeReturn(path: string): string {
  return path.startsWith("/") && !path.startsWith("//") && !path.startsWith(CALLBACK_PATH) ? path : "/runs";
}

/** The URL of the issuer's authorization endpoint for a new sign-in; the state, nonce
 * and verifier wait in this tab's session storage for the callback. */
export async function signInUrl(sso: SsoConfig, returnTo: string): Promise<string> {
  const pending: Pending = {
    state: randomText(),
    nonce: randomText(),
    verifier: randomText(48),
    returnTo: safeReturn(returnTo),
    redirectUri: `${window.location.origin}${CALLBACK_PATH}`,
    sso,
  };
  window.sessionStorage.setItem(PENDING_KEY, JSON.stringify(pending));
  const url = new URL(sso.authorizationEndpoint);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("client_id", sso.clientId);
  url.searchParams.set("redirect_uri", pending.redirectUri);
  url.searchParams.set("scope", sso.scopes.join(" "));
  url.searchParams.set("state", pending.state);
  url.searchParams.set("nonce", pending.nonce);
  url.searchParams.set("code_challenge", await challengeOf(pending.verifier));
  url.searchParams.set("code_challenge_method", "S256");
  return url.toString();
}

/** Go to the identity provider to sign in; back at `returnTo` after. */
export async function startSignIn(sso: SsoConfig, returnTo: string): Promise<void> {
  window.location.assign(await signInUrl(sso, returnTo));
}

/** The claims of a JWT's payload, unverified (the ID token came straight from the token
 * endpoint over the page's own request; only its nonce, issuer and audience are read). */
export function jwtClaims(token: string): Record<string, unknown> {
  const part = token.split(".")[1] ?? "";
  const text = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  const claims: unknown = JSON.parse(new TextDecoder().decode(bytes));
  if (typeof claims !== "object" || claims === null) throw new Error("not a JWT");
  return claims as Record<string, unknown>;
}

export class SignInError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SignInError";
  }
}

/** Finish a sign-in from the callback's query (`?code=...&state=...`): the access token is
 * kept (setToken) and the path to return to answered. A pending sign-in is used once.
 * @throws SignInError: no sign-in was started in this tab, the state differs, the
 *   provider refused, the exchange failed, or the ID token's nonce, issuer or audience is
 *   not this sign-in's. */
export async function finishSignIn(search: string): Promise<string> {
  const query = new URLSearchParams(search);
  const stored = window.sessionStorage.getItem(PENDING_KEY);
  window.sessionStorage.removeItem(PENDING_KEY);
  if (!stored) throw new SignInError("No sign-in was started in this tab. Start again from the sign-in prompt.");
  const pending = JSON.parse(stored) as Pending;
  if (!query.get("state") || query.get("state") !== pending.state) {
    throw new SignInError("The sign-in's state does not match the one this tab sent. Start again.");
  }
  const refused = query.get("error");
  if (refused) throw new SignInError(`The identity provider refused the sign-in (${refused.slice(0, 100)}).`);
  const code = query.get("code");
  if (!code) throw new SignInError("The identity provider sent no code back.");
  const response = await fetch(pending.sso.tokenEndpoint, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded", Accept: "application/json" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code,
      redirect_uri: pending.redirectUri,
      client_id: pending.sso.clientId,
      code_verifier: pending.verifier,
    }).toString(),
  });
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok || typeof body.access_token !== "string") {
    const why = typeof body.error === "string" ? body.error : `HTTP ${response.status}`;
    throw new SignInError(`The identity provider did not give a token (${why.slice(0, 100)}).`);
  }
  if (typeof body.id_token !== "string") throw new SignInError("The identity provider sent no ID token (scope openid).");
  const claims = jwtClaims(body.id_token);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (claims.nonce !== pending.nonce) throw new SignInError("The ID token's nonce is not this sign-in's. Start again.");
  if (claims.iss !== pending.sso.issuer) throw new SignInError("The ID token comes from another issuer.");
  if (!audiences.includes(pending.sso.clientId)) throw new SignInError("The ID token is for another client.");
  setToken(body.access_token);
  return pending.returnTo;
}
