// The price table: every model in use or overridden, the price in force (USD per 1M
// tokens) and where it comes from (your override, the catalog, a local model); an
// admin token sets and removes overrides. Lookup shows any model's price.
import { useState } from "react";
import { useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/client";
import { ErrorBox, Loading } from "../../components/common";
import { FormProblems, fieldProps, serverProblems, type Problem } from "../../components/FormProblems";
import { formatTime } from "../../lib/format";
import { formatUsd } from "../../lib/money";
import type { Price, Profile, UsageRow } from "./types";
import { checkPrice, PRICE_FIELDS, type PriceForm } from "./validate";

export const PROVIDERS = ["anthropic", "openai", "openrouter", "ollama", "vllm", "lmstudio", "llamacpp", "llamacpp-server", "llama-server"];

const SOURCE_WORDS: Record<Price["source"], string> = {
  user: "your override",
  catalog: "catalog",
  local: "local model (free)",
  unknown: "unknown",
};

/** "provider/model" split at its first slash (model names may hold more). */
export function splitModel(key: string): { provider: string; model: string } | null {
  const at = key.indexOf("/");
  if (at <= 0 || at === key.length - 1) return null;
  return { provider: key.slice(0, at), model: key.slice(at + 1) };
}

export function pricePath(provider: string, model: string): string {
  return `/v1/prices/${encodeURIComponent(provider)}/${model.split("/").map(encodeURIComponent).join("/")}`;
}

/** The models the page knows of: overrides, the usage ledger's, the profiles'. */
export function knownModels(overrides: Price[], usage: UsageRow[], profiles: Profile[]): string[] {
  const keys = new Set<string>();
  overrides.forEach((p) => keys.add(`${p.provider}/${p.model}`));
  usage.forEach((u) => u.key && splitModel(u.key) && keys.add(u.key));
  profiles.forEach((p) =>
    [p.planner, p.worker].forEach((m) => {
      // a local model file is charged by its file name, as runs record it
      const model = m.provider === "llamacpp" ? (m.model.split("/").pop() ?? m.model) : m.model;
      keys.add(`${m.provider}/${model}`);
    }),
  );
  return [...keys].sort();
}

const blank: PriceForm = { input: "", output: "", cached_input: "", cache_write: "", reasoning: "", effective_from: "" };

function fromPrice(p: Price | undefined): PriceForm {
  if (!p) return blank;
  return {
    input: p.input ?? "",
    output: p.output ?? "",
    cached_input: p.cached_input ?? "",
    cache_write: p.cache_write ?? "",
    reasoning: p.reasoning ?? "",
    effective_from: "",
  };
}

function PriceEditor({ provider, model, start, onDone }: { provider: string; model: string; start?: Price; onDone: () => void }) {
  const client = useQueryClient();
  const [form, setForm] = useState<PriceForm>(fromPrice(start));
  const [problems, setProblems] = useState<Problem[]>([]);
  const save = useMutation({
    mutationFn: (body: unknown) => api<Price>(pricePath(provider, model), { method: "PUT", body }),
    onSuccess: () => {
      void client.invalidateQueries({ queryKey: ["prices"] });
      onDone();
    },
    onError: (e) => setProblems(serverProblems(e)),
  });
  const err = `price-${provider}-${model}-problems`;
  return (
    <form
      aria-label={`Price override for ${provider}/${model}`}
      onSubmit={(e) => {
        e.preventDefault();
        const checked = checkPrice(form);
        setProblems(checked.problems);
        if (checked.body) save.mutate(checked.body);
      }}
    >
      <div className="form-grid">
        {PRICE_FIELDS.map(([field, label]) => (
          <label key={field}>
            {label} (USD / 1M tokens)
            <input
              inputMode="decimal"
              value={form[field]}
              onChange={(e) => setForm((f) => ({ ...f, [field]: e.target.value }))}
              {...fieldProps(problems, field, err)}
            />
          </label>
        ))}
        <label>
          Effective from (date, optional)
          <input
            value={form.effective_from}
            placeholder="2026-11-01"
            onChange={(e) => setForm((f) => ({ ...f, effective_from: e.target.value }))}
            {...fieldProps(problems, "effective_from", err)}
          />
        </label>
      </div>
      <div className="row" style={{ marginTop: 8 }}>
        <button className="primary" type="submit" disabled={save.isPending}>
          Save override
        </button>
        <button type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
      <FormProblems problems={problems} id={err} />
    </form>
  );
}

function priceCell(value: string | null): string {
  return value === null ? "—" : formatUsd(value);
}

function PriceRow({ keyName, price, error, admin, overridden }: { keyName: string; price: Price | undefined; error: unknown; admin: boolean; overridden: boolean }) {
  const client = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [confirm, setConfirm] = useState(false);
  const split = splitModel(keyName);
  const remove = useMutation({
    mutationFn: () => (split ? api(pricePath(split.provider, split.model), { method: "DELETE" }) : Promise.resolve()),
    onSuccess: () => {
      setConfirm(false);
      void client.invalidateQueries({ queryKey: ["prices"] });
    },
  });
  return (
    <>
      <tr>
        <th scope="row" className="mono">{keyName}</th>
        {price ? (
          <>
            <td className="num">{priceCell(price.input)}</td>
            <td className="num">{priceCell(price.output)}</td>
            <td className="num">{priceCell(price.cached_input)}</td>
            <td className="num">{priceCell(price.cache_write)}</td>
            <td className="num">{priceCell(price.reasoning)}</td>
            <td>{price.effective_from ? formatTime(price.effective_from) : "always"}</td>
            <td>
              <span className={`badge ${price.source === "user" ? "status-running" : price.priced ? "" : "status-failed"}`}>
                {price.priced ? SOURCE_WORDS[price.source] : "no price known"}
              </span>
            </td>
          </>
        ) : (
          <td colSpan={7}>{error ? <span className="bad-text">{error instanceof Error ? error.message : "unknown"}</span> : <Loading />}</td>
        )}
        <td>
          {admin && split ? (
            <div className="row">
              <button type="button" onClick={() => setEditing((v) => !v)} aria-expanded={editing}>
                {overridden ? "Edit override" : "Override"}
                {" "}<span className="visually-hidden">{keyName}</span>
              </button>
              {overridden ? (
                confirm ? (
                  <button type="button" className="danger" onClick={() => remove.mutate()}>
                    Confirm remove{" "}<span className="visually-hidden">{keyName}</span>
                  </button>
                ) : (
                  <button type="button" onClick={() => setConfirm(true)}>
                    Remove override{" "}<span className="visually-hidden">{keyName}</span>
                  </button>
                )
              ) : null}
            </div>
          ) : null}
          <ErrorBox error={remove.error} />
        </td>
      </tr>
      {editing && split ? (
        <tr>
          <td colSpan={9}>
            <PriceEditor provider={split.provider} model={split.model} start={price} onDone={() => setEditing(false)} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function Lookup({ admin, models }: { admin: boolean; models: string[] }) {
  const [provider, setProvider] = useState("openai");
  const [model, setModel] = useState("");
  const [asked, setAsked] = useState<{ provider: string; model: string } | null>(null);
  const [adding, setAdding] = useState(false);
  const found = useQuery({
    queryKey: ["prices", "lookup", asked],
    queryFn: ({ signal }) => api<Price>(pricePath(asked?.provider ?? "", asked?.model ?? ""), { signal }),
    enabled: asked !== null,
  });
  return (
    <div className="card" style={{ marginTop: 8 }}>
      <form
        className="row"
        aria-label="Look up a model's price"
        onSubmit={(e) => {
          e.preventDefault();
          setAdding(false);
          if (provider.trim() && model.trim()) setAsked({ provider: provider.trim(), model: model.trim() });
        }}
      >
        <label>
          Provider
          <input list="price-providers" value={provider} onChange={(e) => setProvider(e.target.value)} size={12} />
        </label>
        <datalist id="price-providers">
          {PROVIDERS.map((p) => (
            <option key={p} value={p} />
          ))}
        </datalist>
        <label>
          Model
          <input list="price-models" value={model} onChange={(e) => setModel(e.target.value)} placeholder="gpt-4o-mini" size={24} />
        </label>
        <datalist id="price-models">
          {models.map((m) => (
            <option key={m} value={splitModel(m)?.model ?? m} />
          ))}
        </datalist>
        <button type="submit">Look up price</button>
        {admin && asked ? (
          <button type="button" onClick={() => setAdding(true)}>
            Set an override for {asked.provider}/{asked.model}
          </button>
        ) : null}
      </form>
      {asked && found.isFetching ? <Loading what="the price" /> : null}
      {asked && found.error ? <ErrorBox error={found.error} /> : null}
      {asked && found.data ? (
        <p role="status">
          <span className="mono">{found.data.provider}/{found.data.model}</span>: input {priceCell(found.data.input)}, output{" "}
          {priceCell(found.data.output)} per 1M tokens; source: {SOURCE_WORDS[found.data.source]}.
        </p>
      ) : null}
      {adding && asked ? <PriceEditor provider={asked.provider} model={asked.model} start={found.data} onDone={() => setAdding(false)} /> : null}
    </div>
  );
}

export function Prices({ admin }: { admin: boolean }) {
  const overrides = useQuery({ queryKey: ["prices", "overrides"], queryFn: ({ signal }) => api<Price[]>("/v1/prices", { signal }) });
  const usage = useQuery({ queryKey: ["usage", { by: "model", since: "" }], queryFn: ({ signal }) => api<UsageRow[]>("/v1/usage", { query: { by: "model" }, signal }) });
  const profiles = useQuery({ queryKey: ["profiles"], queryFn: ({ signal }) => api<Profile[]>("/v1/profiles", { signal }) });
  const models = knownModels(overrides.data ?? [], usage.data ?? [], profiles.data ?? []);
  const overridden = new Set((overrides.data ?? []).map((p) => `${p.provider}/${p.model}`));
  const inForce = useQueries({
    queries: models.map((key) => ({
      queryKey: ["prices", "in-force", key],
      queryFn: ({ signal }: { signal: AbortSignal }) => {
        const s = splitModel(key) ?? { provider: "", model: key };
        return api<Price>(pricePath(s.provider, s.model), { signal });
      },
      enabled: splitModel(key) !== null,
    })),
  });
  return (
    <section aria-labelledby="prices-title">
      <h2 id="prices-title">Prices</h2>
      <p className="muted">
        USD per 1M tokens in force now for each model in use, set in a profile or overridden. Your overrides win over the catalog.
      </p>
      <ErrorBox error={overrides.error ?? usage.error} />
      {overrides.isPending || usage.isPending ? <Loading what="prices" /> : null}
      <div className="table-scroll">
        <table aria-label="Prices in force">
          <thead>
            <tr>
              <th scope="col">Model</th>
              <th scope="col" className="num">Input</th>
              <th scope="col" className="num">Output</th>
              <th scope="col" className="num">Cached input</th>
              <th scope="col" className="num">Cache write</th>
              <th scope="col" className="num">Reasoning</th>
              <th scope="col">From</th>
              <th scope="col">Source</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {models.map((key, i) => (
              <PriceRow key={key} keyName={key} price={inForce[i]?.data} error={inForce[i]?.error} admin={admin} overridden={overridden.has(key)} />
            ))}
            {!models.length && !overrides.isPending ? (
              <tr>
                <td colSpan={9} className="muted">No model in use yet: look one up below.</td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <Lookup admin={admin} models={models} />
    </section>
  );
}
