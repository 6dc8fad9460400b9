// "What would this run have cost on model X": a run's recorded calls priced again on
// another model (POST /v1/runs/{id}/reprice), side by side with what it cost.
import { useState } from "react";
import { useMutation, useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { ErrorBox } from "../../components/common";
import { Field, FormProblems, serverProblems, type Problem } from "../../components/FormProblems";
import { formatInt } from "../../lib/format";
import { formatUsd } from "../../lib/money";
import { differenceUsd, formatNano, formatSignedUsd, nanoToUsd } from "./amounts";
import { splitModel } from "./Prices";
import type { Reprice as RepriceResult, RunRecord } from "./types";

/** The reprice's figures, exact: actual, repriced, and the difference (repriced - actual). */
export function comparison(r: RepriceResult): { actual: string; repriced: string; difference: string } {
  const actual = nanoToUsd(r.original_nano_usd);
  const repriced = nanoToUsd(r.repriced_nano_usd);
  return { actual, repriced, difference: differenceUsd(actual, repriced) };
}

export function Reprice({ models, admin }: { models: string[]; admin: boolean }) {
  const [runId, setRunId] = useState("");
  const [target, setTarget] = useState("openai/gpt-4o-mini");
  const [problems, setProblems] = useState<Problem[]>([]);
  const runs = useQuery({
    queryKey: ["runs", { limit: 50, for: "reprice" }],
    queryFn: ({ signal }) => api<RunRecord[]>("/v1/runs", { query: { limit: 50 }, signal }),
    enabled: admin,
  });
  const reprice = useMutation({
    mutationFn: (v: { run: string; provider: string; model: string }) =>
      api<RepriceResult>(`/v1/runs/${encodeURIComponent(v.run)}/reprice`, { method: "POST", body: { provider: v.provider, model: v.model } }),
    onError: (e) => setProblems(serverProblems(e)),
    onSuccess: () => setProblems([]),
  });
  const priced = (runs.data ?? []).filter((r) => r.llm_calls > 0);
  if (!admin) {
    return (
      <section aria-labelledby="reprice-title">
        <h2 id="reprice-title">What would a run have cost on another model?</h2>
        <p className="muted">
          Repricing a run needs a token with scope admin (or <code>orca pricing reprice RUN --as PROVIDER/MODEL</code>).
        </p>
      </section>
    );
  }
  const chosen = runId || priced[0]?.run_id || "";
  const result = reprice.data;
  const figures = result ? comparison(result) : null;
  return (
    <section aria-labelledby="reprice-title">
      <h2 id="reprice-title">What would a run have cost on another model?</h2>
      <ErrorBox error={runs.error} />
      <form
        className="row"
        aria-label="Reprice a run"
        onSubmit={(e) => {
          e.preventDefault();
          const split = splitModel(target.trim());
          const found: Problem[] = [];
          if (!chosen) found.push({ field: "run", message: "no run picked", fix: "start a run that calls a model, then pick it" });
          if (!split) found.push({ field: "model", message: `model ${JSON.stringify(target)} is not PROVIDER/MODEL`, fix: "write it as openai/gpt-4o-mini" });
          setProblems(found);
          if (!found.length && split) reprice.mutate({ run: chosen, ...split });
        }}
      >
        <Field label="Run">
          {(id) => (
            <select id={id} value={chosen} onChange={(e) => setRunId(e.target.value)}>
              {priced.map((r) => (
                <option key={r.run_id} value={r.run_id}>
                  {r.run_id} · {r.graph} · {r.status} · {formatNano(r.cost_nano_usd)}
                </option>
              ))}
              {!priced.length ? <option value="">no run with model calls</option> : null}
            </select>
          )}
        </Field>
        <label>
          On model (provider/model)
          <input list="reprice-models" value={target} onChange={(e) => setTarget(e.target.value)} size={28} aria-invalid={problems.some((p) => p.field === "model") || undefined} />
        </label>
        <datalist id="reprice-models">
          {models.map((m) => (
            <option key={m} value={m} />
          ))}
        </datalist>
        <button type="submit" className="primary" disabled={reprice.isPending}>
          Reprice
        </button>
      </form>
      <FormProblems problems={problems} />
      {result && figures ? (
        <div className="card" style={{ marginTop: 8 }} role="status" aria-live="polite">
          <table aria-label={`Run ${result.run_id} repriced on ${result.as}`}>
            <thead>
              <tr>
                <th scope="col">Run</th>
                <th scope="col" className="num">Model calls</th>
                <th scope="col" className="num">Actual cost</th>
                <th scope="col" className="num">On {result.as}</th>
                <th scope="col" className="num">Difference</th>
                <th scope="col" className="num">Ratio</th>
              </tr>
            </thead>
            <tbody>
              <tr>
                <th scope="row" className="mono">{result.run_id}</th>
                <td className="num">{formatInt(result.llm_calls)}</td>
                <td className="num">{formatUsd(figures.actual)}</td>
                <td className="num">{result.priced ? formatUsd(figures.repriced) : "no price known"}</td>
                <td className="num">{result.priced ? formatSignedUsd(figures.difference) : "—"}</td>
                <td className="num">{result.priced ? `×${result.ratio}` : "—"}</td>
              </tr>
            </tbody>
          </table>
          {!result.priced ? (
            <p className="warn-text">
              ⚠ No price is known for {result.as}: set an override in the price table, then reprice again.
            </p>
          ) : (
            <p style={{ margin: "6px 0 0" }}>
              On {result.as} this run would have cost {formatUsd(figures.repriced)} instead of {formatUsd(figures.actual)} (
              {formatSignedUsd(figures.difference)}).
            </p>
          )}
        </div>
      ) : null}
    </section>
  );
}
