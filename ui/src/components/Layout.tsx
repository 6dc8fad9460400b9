import { useEffect, useState } from "react";
import { NavLink, Outlet, useLocation } from "react-router-dom";
import { getToken, setToken } from "../api/client";
import { startSignIn, useSso } from "../lib/sso";
import { applyTheme, storedTheme, type Theme } from "./theme";

const PAGES: [string, string][] = [
  ["/runs", "Runs"],
  ["/threads", "Threads"],
  ["/costs", "Costs"],
  ["/builder", "Builder"],
  ["/settings", "Settings"],
];

/** Asks for a bearer token when the server answers 401 (a server with auth on), and
 * offers the identity provider's sign-in when the server takes OIDC tokens. */
function SignIn({ onDone }: { onDone: () => void }) {
  const [value, setValue] = useState("");
  const sso = useSso();
  const { pathname, search } = useLocation();
  const [going, setGoing] = useState(false);
  return (
    <div className="card" role="dialog" aria-labelledby="signin-title" style={{ marginBottom: 12 }}>
      <h2 id="signin-title">This server needs a token</h2>
      {sso ? (
        <p>
          <button
            className="primary"
            type="button"
            disabled={going}
            onClick={() => {
              setGoing(true);
              void startSignIn(sso, pathname + search).catch(() => setGoing(false));
            }}
          >
            Sign in with SSO
          </button>{" "}
          <span className="muted">through {new URL(sso.issuer).host}, or paste a token below.</span>
        </p>
      ) : null}
      <p className="muted">
        Paste a token made with <code>orca token create NAME</code>. It stays in this browser only.
      </p>
      <form
        className="row"
        onSubmit={(e) => {
          e.preventDefault();
          if (value.trim()) {
            setToken(value.trim());
            onDone();
          }
        }}
      >
        <label>
          Token
          <input type="password" value={value} onChange={(e) => setValue(e.target.value)} autoComplete="off" />
        </label>
        <button className="primary" type="submit">
          Sign in
        </button>
      </form>
    </div>
  );
}

export function Layout() {
  const [theme, setTheme] = useState<Theme>(storedTheme);
  const [needToken, setNeedToken] = useState(false);
  useEffect(() => applyTheme(theme), [theme]);
  useEffect(() => {
    const ask = () => setNeedToken(true);
    window.addEventListener("orca-unauthenticated", ask);
    return () => window.removeEventListener("orca-unauthenticated", ask);
  }, []);
  // Settings changes the theme and this browser's token too: follow them
  const [, setTokenSeen] = useState(getToken);
  useEffect(() => {
    const theme = () => setTheme(storedTheme());
    const token = () => {
      setTokenSeen(getToken());
      if (getToken()) setNeedToken(false);
    };
    window.addEventListener("orca-theme", theme);
    window.addEventListener("orca-token", token);
    return () => {
      window.removeEventListener("orca-theme", theme);
      window.removeEventListener("orca-token", token);
    };
  }, []);
  const next: Theme = theme === "dark" ? "light" : theme === "light" ? "system" : "dark";
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <nav aria-label="Main">
        <span className="brand">Orca</span>
        {PAGES.map(([to, label]) => (
          <NavLink key={to} to={to}>
            {label}
          </NavLink>
        ))}
        <span className="spacer" />
        <button type="button" onClick={() => setTheme(next)} aria-label={`Theme: ${theme}. Switch to ${next}`}>
          Theme: {theme}
        </button>
        {getToken() ? (
          <button type="button" onClick={() => setToken(null)}>
            Sign out
          </button>
        ) : null}
      </nav>
      <main id="main" tabIndex={-1}>
        {needToken ? <SignIn onDone={() => setNeedToken(false)} /> : null}
        <Outlet />
      </main>
    </div>
  );
}
