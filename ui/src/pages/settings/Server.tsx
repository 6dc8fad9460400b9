// What the server is and offers (GET /healthz, GET /v1/capabilities).
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { ErrorBox, Loading } from "../../components/common";
import { formatInt } from "../../lib/format";
import type { Capabilities, Health } from "./types";

function flagText(value: unknown): string {
  if (value === true) return "yes";
  if (value === false) return "no";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
  return String(value);
}

export function Server() {
  const health = useQuery({ queryKey: ["healthz"], queryFn: ({ signal }) => api<Health>("/healthz", { signal }) });
  const caps = useQuery({ queryKey: ["capabilities"], queryFn: ({ signal }) => api<Capabilities>("/v1/capabilities", { signal }) });
  const c = caps.data;
  return (
    <section aria-labelledby="server-title">
      <h2 id="server-title">Server</h2>
      {caps.isPending ? <Loading what="capabilities" /> : null}
      <ErrorBox error={health.error ?? caps.error} />
      {c ? (
        <div className="card">
          <dl className="facts">
            <dt>Version</dt>
            <dd>
              Orca {health.data?.version ?? c.version} (API {c.api_version}){health.data ? ` · health: ${health.data.status}` : ""}
            </dd>
            <dt>Engines</dt>
            <dd>{c.engines.length ? c.engines.map((e) => `${e.engine}${e.local ? " (local)" : ""}: ${e.models.join(", ")}`).join("; ") : "none served for tasks"}</dd>
            <dt>Concurrency</dt>
            <dd>
              {formatInt(c.concurrency.running)} running of {formatInt(c.concurrency.max_running)}, up to {formatInt(c.concurrency.max_queued)} queued
            </dd>
            <dt>Largest request</dt>
            <dd>{formatInt(c.rate_limits.max_body_bytes)} bytes</dd>
            <dt>Max context</dt>
            <dd>{c.max_context === null ? "—" : `${formatInt(c.max_context)} tokens`}</dd>
            <dt>Workloads</dt>
            <dd>{c.workloads.join(", ")}</dd>
            {Object.entries(c.feature_flags).map(([k, v]) => (
              <FlagRow key={k} name={k} value={v} />
            ))}
          </dl>
        </div>
      ) : null}
    </section>
  );
}

function FlagRow({ name, value }: { name: string; value: unknown }) {
  return (
    <>
      <dt>{name.replace(/_/g, " ")}</dt>
      <dd>{flagText(value)}</dd>
    </>
  );
}
