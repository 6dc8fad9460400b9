// Tokens: the server's (admin: make one, shown once with a copy button; revoke one),
// and the token this browser sends (set, forget; who the server takes it for).
import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, getToken, setToken } from "../../api/client";
import { ErrorBox, Loading } from "../../components/common";
import { FormProblems, fieldProps, serverProblems, type Problem } from "../../components/FormProblems";
import { formatTime } from "../../lib/format";
import { startSignIn, useSso } from "../../lib/sso";
import { useWhoami } from "../../lib/whoami";
import type { CreatedToken, TokenInfo } from "./types";
import { checkToken, type Scope } from "./validate";

/** A token for display: its id part only ("orca_1a2b3c…"), never the secret. */
export function maskToken(token: string): string {
  return token.length > 12 ? `${token.slice(0, 12)}…` : "•".repeat(token.length);
}

function Secret({ made, onClose }: { made: CreatedToken; onClose: () => void }) {
  const [copied, setCopied] = useState("");
  const client = useQueryClient();
  return (
    <div className="card" style={{ marginTop: 8 }} role="region" aria-labelledby="secret-title">
      <h3 id="secret-title" style={{ marginTop: 0 }}>
        Token {made.name} made
      </h3>
      <p className="warn-text">⚠ Copy it now: the server keeps only its hash and will never show it again.</p>
      <div className="row">
        <label className="grow">
          Token {made.name}
          <input className="secret" readOnly value={made.token} onFocus={(e) => e.target.select()} />
        </label>
        <button
          type="button"
          onClick={() => {
            navigator.clipboard.writeText(made.token).then(
              () => setCopied("Copied to the clipboard."),
              () => setCopied("Could not copy: select the token and copy it by hand."),
            );
          }}
        >
          Copy token
        </button>
        <button
          type="button"
          onClick={() => {
            setToken(made.token);
            setCopied("This browser now uses it.");
            void client.invalidateQueries();
          }}
        >
          Use it in this browser
        </button>
        <button type="button" onClick={onClose}>
          Done
        </button>
      </div>
      <p role="status" aria-live="polite" className="ok-text" style={{ margin: "4px 0 0" }}>
        {copied}
      </p>
    </div>
  );
}

function ServerTokens() {
  const client = useQueryClient();
  const [name, setName] = useState("");
  const [scope, setScope] = useState<Scope>("read");
  const [problems, setProblems] = useState<Problem[]>([]);
  const [made, setMade] = useState<CreatedToken | null>(null);
  const [confirm, setConfirm] = useState<string | null>(null);
  const list = useQuery({ queryKey: ["tokens"], queryFn: ({ signal }) => api<TokenInfo[]>("/v1/auth/tokens", { signal }) });
  const create = useMutation({
    mutationFn: (body: unknown) => api<CreatedToken>("/v1/auth/tokens", { method: "POST", body }),
    onSuccess: (t) => {
      setMade(t);
      setName("");
      void client.invalidateQueries({ queryKey: ["tokens"] });
    },
    onError: (e) => setProblems(serverProblems(e)),
  });
  const revoke = useMutation({
    mutationFn: (n: string) => api(`/v1/auth/tokens/${encodeURIComponent(n)}`, { method: "DELETE" }),
    onSuccess: () => {
      setConfirm(null);
      void client.invalidateQueries({ queryKey: ["tokens"] });
    },
  });
  const err = "token-problems";
  return (
    <>
      <form
        className="row"
        aria-label="Make a token"
        onSubmit={(e) => {
          e.preventDefault();
          const checked = checkToken(name, scope);
          setProblems(checked.problems);
          if (checked.body) create.mutate(checked.body);
        }}
      >
        <label>
          Token name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-bot" {...fieldProps(problems, "name", err)} />
        </label>
        <fieldset className="checks">
          <legend className="visually-hidden">Scope</legend>
          {(["read", "run", "admin"] as Scope[]).map((s) => (
            <label key={s}>
              <input type="radio" name="token-scope" value={s} checked={scope === s} onChange={() => setScope(s)} />
              {s}
            </label>
          ))}
        </fieldset>
        <button className="primary" type="submit" disabled={create.isPending}>
          Make token
        </button>
      </form>
      <p className="muted" style={{ margin: "4px 0" }}>
        read: look; run: start and answer runs too; admin: everything, budgets, prices and tokens included.
      </p>
      <FormProblems problems={problems} id={err} />
      {made ? <Secret made={made} onClose={() => setMade(null)} /> : null}
      {list.isPending ? <Loading what="tokens" /> : null}
      <ErrorBox error={list.error ?? revoke.error} />
      {list.data ? (
        <table aria-label="Server tokens">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Scope</th>
              <th scope="col">Made</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((t) => (
              <tr key={t.name}>
                <th scope="row">{t.name}</th>
                <td>{t.scope ?? t.scopes.join(", ")}</td>
                <td>{formatTime(t.created_at)}</td>
                <td>{t.last_used_at ? formatTime(t.last_used_at) : "never"}</td>
                <td>
                  {confirm === t.name ? (
                    <button type="button" className="danger" onClick={() => revoke.mutate(t.name)}>
                      Confirm revoke{" "}<span className="visually-hidden">token {t.name}</span>
                    </button>
                  ) : (
                    <button type="button" onClick={() => setConfirm(t.name)}>
                      Revoke{" "}<span className="visually-hidden">token {t.name}</span>
                    </button>
                  )}
                </td>
              </tr>
            ))}
            {!list.data.length ? (
              <tr>
                <td colSpan={5} className="muted">No token: this server lets loopback clients in without one.</td>
              </tr>
            ) : null}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

function BrowserToken() {
  const client = useQueryClient();
  const who = useWhoami();
  const sso = useSso();
  const [value, setValue] = useState("");
  const [current, setCurrent] = useState(getToken());
  const change = (token: string | null) => {
    setToken(token);
    setCurrent(getToken());
    void client.invalidateQueries();
  };
  return (
    <div className="card" style={{ marginTop: 8 }}>
      <h3 style={{ marginTop: 0 }}>This browser</h3>
      <p aria-live="polite">
        {current ? (
          <>
            Sends token <code>{maskToken(current)}</code> (kept in this browser's local storage).
          </>
        ) : (
          "Sends no token."
        )}{" "}
        {who.data ? (
          <>
            The server takes it for{" "}
            <strong>{who.data.name ?? (who.data.auth ? (who.data.subject ?? "an unnamed token") : "a loopback client (auth off)")}</strong>
            {who.data.kind === "oidc" ? (
              <>
                {" "}
                (signed in with SSO, role <strong>{who.data.role}</strong>)
              </>
            ) : null}{" "}
            with scope <strong>{who.data.scope}</strong>
            {who.data.auth && who.data.tenant ? (
              <>
                {" "}
                in tenant <strong>{who.data.tenant}</strong>
              </>
            ) : null}
            .
          </>
        ) : null}
      </p>
      <ErrorBox error={who.error} />
      <form
        className="row"
        aria-label="Set this browser's token"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) {
            change(value.trim());
            setValue("");
          }
        }}
      >
        <label>
          Token to use
          <input type="password" autoComplete="off" value={value} onChange={(e) => setValue(e.target.value)} />
        </label>
        <button type="submit">Use this token</button>
        {current ? (
          <button type="button" onClick={() => change(null)}>
            Forget this browser's token
          </button>
        ) : null}
        {sso ? (
          <button type="button" onClick={() => void startSignIn(sso, "/settings")}>
            Sign in with SSO
          </button>
        ) : null}
      </form>
    </div>
  );
}

export function Tokens({ admin }: { admin: boolean }) {
  return (
    <section aria-labelledby="tokens-title">
      <h2 id="tokens-title">Tokens</h2>
      <BrowserToken />
      {admin ? (
        <div style={{ marginTop: 8 }}>
          <h3>Server tokens</h3>
          <ServerTokens />
        </div>
      ) : (
        <p className="muted">Making and revoking tokens needs a token with scope admin (or <code>orca token create</code>).</p>
      )}
    </section>
  );
}
