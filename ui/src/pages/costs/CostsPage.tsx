import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { Page } from "../../components/common";
import { useIsAdmin } from "../../lib/whoami";
import { Budgets } from "./Budgets";
import { knownModels, Prices } from "./Prices";
import { Reprice } from "./Reprice";
import { Spend } from "./Spend";
import type { Price, Profile, UsageRow } from "./types";
import "./costs.css";
import "../../components/forms.css";

/** Costs: budgets, spend over time, the price table, and repricing a run. */
export default function CostsPage() {
  const admin = useIsAdmin();
  // the same queries as the price table's (shared by key): the models to reprice on
  const overrides = useQuery({ queryKey: ["prices", "overrides"], queryFn: ({ signal }) => api<Price[]>("/v1/prices", { signal }) });
  const usage = useQuery({ queryKey: ["usage", { by: "model", since: "" }], queryFn: ({ signal }) => api<UsageRow[]>("/v1/usage", { query: { by: "model" }, signal }) });
  const profiles = useQuery({ queryKey: ["profiles"], queryFn: ({ signal }) => api<Profile[]>("/v1/profiles", { signal }) });
  const models = knownModels(overrides.data ?? [], usage.data ?? [], profiles.data ?? []);
  return (
    <Page title="Costs">
      {!admin ? (
        <p className="muted">This token may read costs; changing budgets and prices needs scope admin.</p>
      ) : null}
      <Budgets admin={admin} />
      <Spend />
      <Prices admin={admin} />
      <Reprice admin={admin} models={[...new Set(["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", ...models])]} />
    </Page>
  );
}
