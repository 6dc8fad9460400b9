import { getToken, setToken } from "../api/client";
import { base64url, challengeOf, finishSignIn, signInUrl, ssoOf, type SsoConfig } from "./sso";

const sso: SsoConfig = {
  issuer: "http://127.0.0.1:9000",
  clientId: "orca-ui",
  authorizationEndpoint: "http://127.0.0.1:9000/authorize",
  tokenEndpoint: "http://127.0.0.1:9000/token",
  scopes: ["openid"],
};

function jwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => base64url(new TextEncoder().encode(JSON.stringify(value)));
  return `${part({ alg: "RS256", kid: "k" })}.${part(claims)}.c2ln`;
}

/** The token endpoint: records the form it got, answers `answer(form)`. */
function tokenEndpoint(answer: (form: URLSearchParams) => [number, unknown]): URLSearchParams[] {
  const forms: URLSearchParams[] = [];
  vi.stubGlobal("fetch", async (input: string, init?: RequestInit) => {
    expect(input).toBe(sso.tokenEndpoint);
    expect(init?.method).toBe("POST");
    const form = new URLSearchParams(String(init?.body));
    forms.push(form);
    const [status, body] = answer(form);
    return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
  });
  return forms;
}

async function started(returnTo = "/runs?status=done"): Promise<URL> {
  return new URL(await signInUrl(sso, returnTo));
}

beforeEach(() => {
  window.sessionStorage.clear();
  setToken(null);
});

afterEach(() => vi.unstubAllGlobals());

test("the S256 challenge is RFC 7636's", async () => {
  // the example of RFC 7636, appendix B
  expect(await challengeOf("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
});

test("a sign-in goes to the authorization endpoint with PKCE, a state and a nonce", async () => {
  const url = await started();
  const query = url.searchParams;
  expect(`${url.origin}${url.pathname}`).toBe(sso.authorizationEndpoint);
  expect(query.get("response_type")).toBe("code");
  expect(query.get("client_id")).toBe("orca-ui");
  expect(query.get("redirect_uri")).toBe(`${window.location.origin}/auth/callback`);
  expect(query.get("code_challenge_method")).toBe("S256");
  expect(query.get("code_challenge")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(query.get("state")).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(query.get("nonce")).not.toBe(query.get("state"));
  const again = await started();
  expect(again.searchParams.get("state")).not.toBe(query.get("state"));
});

test("the callback exchanges the code with the verifier and keeps the access token", async () => {
  const url = await started();
  const nonce = url.searchParams.get("nonce");
  const challenge = url.searchParams.get("code_challenge");
  const forms = tokenEndpoint(() => [200, { access_token: "access-1", id_token: jwt({ iss: sso.issuer, aud: "orca-ui", nonce }) }]);
  const back = await finishSignIn(`?code=c-1&state=${url.searchParams.get("state")}`);
  expect(back).toBe("/runs?status=done");
  expect(getToken()).toBe("access-1");
  expect(forms).toHaveLength(1);
  const form = forms[0] as URLSearchParams;
  expect(form.get("grant_type")).toBe("authorization_code");
  expect(form.get("code")).toBe("c-1");
  expect(form.get("client_id")).toBe("orca-ui");
  expect(await challengeOf(form.get("code_verifier") ?? "")).toBe(challenge);
  // a sign-in is finished once
  await expect(finishSignIn(`?code=c-1&state=${url.searchParams.get("state")}`)).rejects.toThrow(/No sign-in was started/);
});

test("a callback with another state is refused before any exchange", async () => {
  await started();
  const forms = tokenEndpoint(() => [200, {}]);
  await expect(finishSignIn("?code=c-1&state=forged")).rejects.toThrow(/state does not match/);
  expect(forms).toHaveLength(0);
  expect(getToken()).toBeNull();
});

test("an ID token with another nonce, issuer or audience is refused", async () => {
  for (const [claims, said] of [
    [{ iss: sso.issuer, aud: "orca-ui", nonce: "other" }, /nonce/],
    [{ iss: "http://evil.example", aud: "orca-ui", nonce: "NONCE" }, /another issuer/],
    [{ iss: sso.issuer, aud: "someone", nonce: "NONCE" }, /another client/],
  ] as const) {
    const url = await started();
    const nonce = url.searchParams.get("nonce");
    const fixed = { ...claims, nonce: claims.nonce === "NONCE" ? nonce : claims.nonce };
    tokenEndpoint(() => [200, { access_token: "access-2", id_token: jwt(fixed) }]);
    await expect(finishSignIn(`?code=c&state=${url.searchParams.get("state")}`)).rejects.toThrow(said);
    expect(getToken()).toBeNull();
  }
});

test("the provider's refusal and a failed exchange are told", async () => {
  let url = await started();
  await expect(finishSignIn(`?error=access_denied&state=${url.searchParams.get("state")}`)).rejects.toThrow(/refused the sign-in \(access_denied\)/);
  url = await started();
  tokenEndpoint(() => [400, { error: "invalid_grant" }]);
  await expect(finishSignIn(`?code=c&state=${url.searchParams.get("state")}`)).rejects.toThrow(/invalid_grant/);
  expect(getToken()).toBeNull();
});

test("a return path is never another origin, and SSO needs every endpoint", async () => {
  const url = await started("//evil.example/x");
  tokenEndpoint(() => [200, { access_token: "a", id_token: jwt({ iss: sso.issuer, aud: ["orca-ui"], nonce: url.searchParams.get("nonce") }) }]);
  expect(await finishSignIn(`?code=c&state=${url.searchParams.get("state")}`)).toBe("/runs");
  const config = { auth: true, oidc: true, issuer: sso.issuer, client_id: "orca-ui", audience: "api", authorization_endpoint: sso.authorizationEndpoint, token_endpoint: sso.tokenEndpoint, scopes: [] };
  expect(ssoOf(config)?.scopes).toEqual(["openid"]);
  expect(ssoOf({ ...config, client_id: null })).toBeNull();
  expect(ssoOf({ ...config, oidc: false })).toBeNull();
  expect(ssoOf(undefined)).toBeNull();
});
