import { useId, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { ErrorBox } from "../../components/common";
import { formatTime } from "../../lib/format";
import { listVersions } from "./flowsApi";
import type { FlowSummary, VersionInfo } from "./types";

const SEMVER = /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/;

interface Props {
  name: string | null;
  flows: FlowSummary[] | undefined;
  flowsError: unknown;
  saved: VersionInfo | null;
  saving: boolean;
  saveError: unknown;
  canSave: boolean;
  onSave: (version: string | null, message: string | null) => void;
  onOpen: (name: string, version: string | null) => void;
  onCompare: (from: string, to: string) => void;
  served: string[];
  onView: (workflow: string) => void;
}

export function VersionInfoView({ info }: { info: VersionInfo }) {
  return (
    <dl className="version-info" data-testid="version-info">
      <dt>Version</dt>
      <dd className="mono">
        {info.name}@{info.version}
      </dd>
      <dt>Hash</dt>
      <dd className="mono" title={info.hash}>
        {info.hash.slice(0, 19)}…
      </dd>
      <dt>Saved</dt>
      <dd>{formatTime(info.created_at)}</dd>
      {info.message ? (
        <>
          <dt>Message</dt>
          <dd>{info.message}</dd>
        </>
      ) : null}
    </dl>
  );
}

/** Save a version; open a saved flow or one of its versions; pick two versions to compare. */
export function VersionsPanel({ name, flows, flowsError, saved, saving, saveError, canSave, onSave, onOpen, onCompare, served, onView }: Props) {
  const id = useId();
  const [version, setVersion] = useState("");
  const [message, setMessage] = useState("");
  const [open, setOpen] = useState("");
  const [view, setView] = useState("");
  const versions = useQuery({ queryKey: ["flows", name, "versions"], queryFn: () => listVersions(name as string), enabled: !!name });
  const list = versions.data ?? [];
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const fromV = from || list[1]?.version || "";
  const toV = to || list[0]?.version || "";
  const versionOk = !version || SEMVER.test(version);
  return (
    <section className="versions" aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>Versions</h2>
      <form
        className="save-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (versionOk) onSave(version.trim() || null, message.trim() || null);
        }}
      >
        <label>
          Version
          <input className="mono" value={version} placeholder="next patch" onChange={(e) => setVersion(e.target.value)} aria-invalid={versionOk ? undefined : true} aria-describedby={`${id}-vhint`} size={10} />
        </label>
        <label className="grow">
          Message
          <input value={message} onChange={(e) => setMessage(e.target.value)} />
        </label>
        <button type="submit" className="primary" disabled={saving || !canSave || !versionOk}>
          {saving ? "Saving…" : "Save version"}
        </button>
        <div id={`${id}-vhint`} className="hint">
          {versionOk ? "Semver, e.g. 0.1.0; blank: the next patch." : "A version is semver: MAJOR.MINOR.PATCH, e.g. 0.1.0."}
        </div>
      </form>
      <ErrorBox error={saveError} />
      <div role="status" aria-live="polite">
        {saved ? <VersionInfoView info={saved} /> : <p className="hint">Not saved yet.</p>}
      </div>

      <h3>Open a saved flow</h3>
      {flowsError ? <ErrorBox error={flowsError} /> : null}
      <div className="row">
        <label>
          Saved flow
          <select value={open} onChange={(e) => setOpen(e.target.value)}>
            <option value="">(choose)</option>
            {(flows ?? []).map((f) => (
              <option key={f.name} value={f.name}>
                {f.name} ({f.versions} version{f.versions === 1 ? "" : "s"}, latest {f.latest.version})
              </option>
            ))}
          </select>
        </label>
        <button type="button" disabled={!open} onClick={() => onOpen(open, null)}>
          Open
        </button>
      </div>

      {served.length ? (
        <div className="row">
          <label>
            Served workflow
            <select value={view} onChange={(e) => setView(e.target.value)}>
              <option value="">(choose)</option>
              {served.map((w) => (
                <option key={w}>{w}</option>
              ))}
            </select>
          </label>
          <button type="button" disabled={!view} onClick={() => onView(view)}>
            View as flow
          </button>
        </div>
      ) : null}

      {name && list.length ? (
        <>
          <h3>Versions of {name}</h3>
          <table>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">Saved</th>
                <th scope="col">Message</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((v) => (
                <tr key={v.version}>
                  <td className="mono">{v.version}</td>
                  <td>{formatTime(v.created_at)}</td>
                  <td>{v.message ?? ""}</td>
                  <td>
                    <button type="button" onClick={() => onOpen(v.name, v.version)} aria-label={`Load version ${v.version}`}>
                      Load
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {list.length > 1 ? (
            <div className="row compare-row">
              <label>
                Compare from
                <select value={fromV} onChange={(e) => setFrom(e.target.value)}>
                  {list.map((v) => (
                    <option key={v.version}>{v.version}</option>
                  ))}
                </select>
              </label>
              <label>
                Compare to
                <select value={toV} onChange={(e) => setTo(e.target.value)}>
                  {list.map((v) => (
                    <option key={v.version}>{v.version}</option>
                  ))}
                </select>
              </label>
              <button type="button" disabled={!fromV || !toV || fromV === toV} onClick={() => onCompare(fromV, toV)}>
                Compare versions
              </button>
            </div>
          ) : null}
        </>
      ) : null}
      {versions.error ? <ErrorBox error={versions.error} /> : null}
    </section>
  );
}
