import type { ReactNode } from "react";
import { ApiError } from "../api/client";

export function StatusBadge({ status }: { status: string | null | undefined }) {
  const s = status ?? "unknown";
  return <span className={`badge status-${s}`}>{s}</span>;
}

/** An error from the API (its code, message and fix) or any other error, as an alert. */
export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  if (error instanceof ApiError) {
    return (
      <div className="error-box" role="alert">
        <strong>{error.code}</strong>: {error.message}
        {error.fix ? <div className="muted">Fix: {error.fix}</div> : null}
      </div>
    );
  }
  return (
    <div className="error-box" role="alert">
      <strong>Error</strong>: {error instanceof Error ? error.message : String(error)}
    </div>
  );
}

export function Loading({ what }: { what?: string }) {
  return (
    <p className="muted" role="status">
      Loading{what ? ` ${what}` : ""}…
    </p>
  );
}

export function Page({ title, actions, children }: { title: string; actions?: ReactNode; children: ReactNode }) {
  return (
    <section aria-labelledby="page-title">
      <div className="row">
        <h1 id="page-title" className="grow">
          {title}
        </h1>
        {actions}
      </div>
      {children}
    </section>
  );
}
