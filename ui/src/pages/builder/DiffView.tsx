import { useMemo } from "react";
import { useQuery } from "@tanstack/react-query";
import { ReactFlowProvider } from "@xyflow/react";
import { ErrorBox, Loading } from "../../components/common";
import { Canvas } from "./Canvas";
import { changeRows, CHANGE_MARK, diffSides, summary } from "./diffView";
import { diffFlow, getVersion } from "./flowsApi";
import { layout } from "./flowModel";

/** Two saved versions side by side, their changed nodes marked (by text and outline as
 * well as colour), and the field-level change list. */
export function DiffView({ name, from, to }: { name: string; from: string; to: string }) {
  const diff = useQuery({ queryKey: ["flows", name, "diff", from, to], queryFn: () => diffFlow(name, from, to) });
  const a = useQuery({ queryKey: ["flows", name, "version", from], queryFn: () => getVersion(name, from) });
  const b = useQuery({ queryKey: ["flows", name, "version", to], queryFn: () => getVersion(name, to) });
  const sides = useMemo(
    () => (diff.data && a.data && b.data ? diffSides(a.data.flow, b.data.flow, diff.data) : null),
    [diff.data, a.data, b.data],
  );
  const rows = useMemo(() => (diff.data ? changeRows(diff.data) : []), [diff.data]);
  if (diff.error || a.error || b.error) return <ErrorBox error={diff.error ?? a.error ?? b.error} />;
  if (!diff.data || !a.data || !b.data || !sides) return <Loading what="the diff" />;
  return (
    <section className="diff-view" aria-labelledby="diff-title">
      <h2 id="diff-title">
        {name}: {from} → {to}
      </h2>
      <p role="status">{summary(diff.data)}</p>
      <p className="hint legend">
        Marks: <span className="legend-item change-added">{CHANGE_MARK.added}</span>{" "}
        <span className="legend-item change-removed">{CHANGE_MARK.removed}</span>{" "}
        <span className="legend-item change-changed">{CHANGE_MARK.changed}</span>
      </p>
      <div className="diff-canvases">
        <div>
          <h3>{from} (older)</h3>
          <ReactFlowProvider>
            <Canvas doc={layout(a.data.flow)} selected={null} changes={sides.from} readOnly label={`Version ${from}`} />
          </ReactFlowProvider>
        </div>
        <div>
          <h3>{to} (newer)</h3>
          <ReactFlowProvider>
            <Canvas doc={layout(b.data.flow)} selected={null} changes={sides.to} readOnly label={`Version ${to}`} />
          </ReactFlowProvider>
        </div>
      </div>
      <table className="change-list" aria-label="Changes">
        <thead>
          <tr>
            <th scope="col">Change</th>
            <th scope="col">What</th>
            <th scope="col">Name</th>
            <th scope="col">Field</th>
            <th scope="col">{from}</th>
            <th scope="col">{to}</th>
          </tr>
        </thead>
        <tbody>
          {rows.length ? (
            rows.map((r, i) => (
              <tr key={i} className={`change-${r.change}`}>
                <td>{CHANGE_MARK[r.change]}</td>
                <td>{r.what}</td>
                <td className="mono">{r.name}</td>
                <td className="mono">{r.field ?? "—"}</td>
                <td className="mono">{r.from}</td>
                <td className="mono">{r.to}</td>
              </tr>
            ))
          ) : (
            <tr>
              <td colSpan={6}>No changes (positions aside).</td>
            </tr>
          )}
        </tbody>
      </table>
    </section>
  );
}
