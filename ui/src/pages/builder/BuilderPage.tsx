import { useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { ReactFlowProvider } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useNavigate, useParams, useSearchParams } from "react-router-dom";
import { ErrorBox, Page } from "../../components/common";
import { Canvas } from "./Canvas";
import { DiffView } from "./DiffView";
import { ConnectRow, NodePanel } from "./NodePanel";
import { Palette } from "./Palette";
import { StateEditor } from "./StateEditor";
import { ValidationList } from "./ValidationList";
import { VersionsPanel } from "./VersionsPanel";
import { RunPanel } from "./RunPanel";
import { exportWorkflow, getVersion, listFlows, listWorkflows, saveFlow, serverTools, startRun, toolsFromErrors, validateFlow } from "./flowsApi";
import {
  addNode,
  connect,
  declareKey,
  disconnect,
  emptyFlow,
  FLOW_NAME,
  getNode,
  layout,
  moveNode,
  parseFlowDoc,
  pushHistory,
  redo,
  removeNode,
  renameNode,
  startHistory,
  toFlowDoc,
  undo,
  updateNode,
  type History,
} from "./flowModel";
import { errorsByNode, locateErrors, type Located } from "./validation";
import { END, START, type FlowDoc, type Kind, type VersionInfo } from "./types";
import "./builder.css";

const VALIDATE_DEBOUNCE_MS = 400;

function useDebounced<T>(value: T, ms: number): T {
  const [out, setOut] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setOut(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return out;
}

function download(name: string, text: string) {
  const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export default function BuilderPage() {
  const { name: routeName } = useParams();
  const [search] = useSearchParams();
  const routeVersion = search.get("version") ?? "latest";
  const navigate = useNavigate();
  const client = useQueryClient();

  const [history, setHistory] = useState<History<FlowDoc>>(() => startHistory(emptyFlow(routeName ?? "untitled")));
  const doc = history.present;
  // `what` names the edit: a run of edits of the same thing (a prompt typed) undoes as one
  const edit = (next: FlowDoc, what?: string) => setHistory((h) => pushHistory(h, next, what));
  const [selected, setSelected] = useState<string | null>(null);
  const [focusField, setFocusField] = useState<{ field: string; n: number } | null>(null);
  const [importError, setImportError] = useState<string | null>(null);
  const [saved, setSaved] = useState<VersionInfo | null>(null);
  const [fitKey, setFitKey] = useState(0);
  const [compare, setCompare] = useState<{ from: string; to: string } | null>(null);
  const panelRef = useRef<HTMLDivElement>(null);

  // A saved flow named in the address is loaded once per (name, version).
  const loadKey = routeName ? `${routeName}@${routeVersion}` : null;
  const [loadedKey, setLoadedKey] = useState<string | null>(null);
  const loaded = useQuery({
    queryKey: ["flows", routeName, "version", routeVersion],
    queryFn: () => getVersion(routeName as string, routeVersion),
    enabled: !!routeName,
    staleTime: Infinity,
  });
  if (loadKey && loadKey !== loadedKey && loaded.data) {
    setLoadedKey(loadKey);
    setHistory(startHistory(layout(loaded.data.flow)));
    setFitKey((k) => k + 1);
    setSaved(loaded.data.info);
    setSelected(null);
  }

  const flows = useQuery({ queryKey: ["flows"], queryFn: listFlows });
  const workflows = useQuery({ queryKey: ["workflows"], queryFn: listWorkflows });
  const served = (workflows.data ?? []).filter((w) => w.kind !== "flow").map((w) => w.name);
  const [viewed, setViewed] = useState<string | null>(null);
  const exported = useMutation({
    mutationFn: exportWorkflow,
    onSuccess: (data, workflow) => {
      try {
        setHistory(startHistory(layout(parseFlowDoc(data))));
        setViewed(workflow);
        setSaved(null);
        setSelected(null);
        setCompare(null);
        setFitKey((k) => k + 1);
        setImportError(null);
        if (routeName) navigate("/builder");
      } catch (err) {
        setImportError((err as Error).message);
      }
    },
  });
  const serverToolList = useQuery({ queryKey: ["flows", "tools"], queryFn: ({ signal }) => serverTools(signal), staleTime: 60_000 });

  // Live validation: the document as the server takes it, debounced.
  const text = useMemo(() => JSON.stringify(toFlowDoc(doc)), [doc]);
  const debounced = useDebounced(text, VALIDATE_DEBOUNCE_MS);
  const validation = useQuery({
    queryKey: ["flows", "validate", debounced],
    queryFn: ({ signal }) => validateFlow(JSON.parse(debounced) as FlowDoc, signal),
    placeholderData: keepPreviousData,
    staleTime: Infinity,
    retry: false,
  });
  const located: Located[] = useMemo(() => locateErrors(doc, validation.data?.errors ?? []), [doc, validation.data]);
  const counts = useMemo(() => errorsByNode(located), [located]);
  const vstate = validation.error ? "failed" : text !== debounced || validation.isFetching ? "checking" : validation.data ? (validation.data.ok ? "ok" : "errors") : "idle";

  const tools = useMemo(() => [...new Set([...(serverToolList.data ?? []), ...toolsFromErrors(validation.data)])], [serverToolList.data, validation.data]);
  const flowRefs = (flows.data ?? []).filter((f) => f.name !== doc.name).flatMap((f) => [f.name, `${f.name}@${f.latest.version}`]);

  useEffect(() => {
    if (!focusField) return;
    const root = panelRef.current;
    const el =
      root?.querySelector<HTMLElement>(`[data-field="${CSS.escape(focusField.field)}"]`) ??
      root?.querySelector<HTMLElement>(`[data-field^="${CSS.escape(focusField.field)}"]`) ??
      document.querySelector<HTMLElement>(`[data-state-field^="${CSS.escape(focusField.field)}"]`);
    el?.focus();
  }, [focusField]);

  const save = useMutation({
    mutationFn: (v: { version: string | null; message: string | null }) => saveFlow(toFlowDoc(doc), v.version, v.message),
    onSuccess: (info) => {
      setSaved(info);
      void client.invalidateQueries({ queryKey: ["flows"] });
      if (info.name !== routeName) {
        setLoadedKey(`${info.name}@latest`);
        navigate(`/builder/${encodeURIComponent(info.name)}`, { replace: true });
      }
    },
  });

  const run = useMutation({
    mutationFn: async (input: Record<string, unknown>) => {
      // the run names an exact saved version: save first (same content = the same version)
      const info = await saveFlow(toFlowDoc(doc), null, null);
      setSaved(info);
      const started = await startRun(info.name, info.version, input);
      return started;
    },
    onSuccess: (started) => {
      void client.invalidateQueries({ queryKey: ["flows"] });
      navigate(`/runs/${encodeURIComponent(started.run_id)}`);
    },
  });

  const node = selected ? getNode(doc, selected) : undefined;
  const nameOk = FLOW_NAME.test(doc.name);
  const targets = (from: string): [string, string][] => [
    ["", "(choose)"],
    ...doc.nodes.filter((n) => n.id !== from).map((n): [string, string] => [n.id, n.id]),
    ...(from === START ? [] : [[END, "END"] as [string, string]]),
  ];

  const add = (kind: Kind, position?: { x: number; y: number }) => {
    const r = addNode(doc, kind, position);
    edit(r.doc);
    setSelected(r.id);
    if (!position) setFitKey((k) => k + 1);
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const t = e.target as HTMLElement;
    if (["INPUT", "TEXTAREA", "SELECT"].includes(t.tagName)) return;
    if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") {
      e.preventDefault();
      setHistory((h) => (e.shiftKey ? redo(h) : undo(h)));
    } else if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "y") {
      e.preventDefault();
      setHistory(redo);
    }
  };

  return (
    <Page
      title="Builder"
      actions={
        <div className="row builder-actions">
          <button type="button" onClick={() => setHistory(undo)} disabled={!history.past.length}>
            Undo
          </button>
          <button type="button" onClick={() => setHistory(redo)} disabled={!history.future.length}>
            Redo
          </button>
          <button
            type="button"
            onClick={() => {
              setHistory(startHistory(emptyFlow()));
              setViewed(null);
              setSaved(null);
              setSelected(null);
              setCompare(null);
              navigate("/builder");
            }}
          >
            New flow
          </button>
          <label className="button file-button">
            Import JSON
            <input
              type="file"
              accept=".json,application/json"
              className="visually-hidden"
              onChange={(e) => {
                const file = e.target.files?.[0];
                e.target.value = "";
                if (!file) return;
                void file.text().then((t) => {
                  try {
                    edit(layout(parseFlowDoc(t)));
                    setFitKey((k) => k + 1);
                    setImportError(null);
                    setSelected(null);
                  } catch (err) {
                    setImportError((err as Error).message);
                  }
                });
              }}
            />
          </label>
          <button type="button" onClick={() => download(`${doc.name}.flow.json`, JSON.stringify(toFlowDoc(doc), null, 2))}>
            Export JSON
          </button>
        </div>
      }
    >
      <div className="builder" onKeyDown={onKeyDown}>
        {loaded.error ? <ErrorBox error={loaded.error} /> : null}
        {exported.error ? <ErrorBox error={exported.error} /> : null}
        {viewed ? (
          <div className="card notice" role="status">
            Viewing served workflow <strong className="mono">{viewed}</strong> exported as a flow: its Python nodes reference their
            functions (<code>module:function</code>). Saving it makes a flow that runs only if the server allows those modules.
            {doc.notes?.length ? (
              <ul>
                {doc.notes.map((n, i) => (
                  <li key={i}>{n}</li>
                ))}
              </ul>
            ) : null}
            <button type="button" onClick={() => setViewed(null)}>
              Dismiss
            </button>
          </div>
        ) : null}
        {importError ? (
          <div className="error-box" role="alert">
            <strong>Import failed</strong>: {importError}
          </div>
        ) : null}
        <div className="row flow-meta">
          <label>
            Flow name
            <input
              className="mono"
              value={doc.name}
              aria-invalid={nameOk ? undefined : true}
              aria-describedby="flow-name-hint"
              onChange={(e) => edit({ ...doc, name: e.target.value }, "flow.name")}
            />
          </label>
          <span id="flow-name-hint" className="hint">
            {nameOk ? "" : "A name: letters, digits, . _ - (64 at most)."}
          </span>
          <label className="grow">
            Description
            <input value={doc.description ?? ""} onChange={(e) => edit({ ...doc, description: e.target.value }, "flow.description")} />
          </label>
        </div>
        <div className="builder-grid">
          <Palette onAdd={(k) => add(k)} />
          <ReactFlowProvider>
            <Canvas
              doc={doc}
              selected={selected}
              errorsByNode={counts}
              label="Flow canvas"
              fitKey={fitKey}
              onSelect={setSelected}
              onMove={(id, p) => edit(moveNode(doc, id, p))}
              onConnect={(a, b) => edit(connect(doc, a, b))}
              onDisconnect={(id) => edit(disconnect(doc, id))}
              onRemove={(id) => {
                edit(removeNode(doc, id));
                if (selected === id) setSelected(null);
              }}
              onDropKind={add}
            />
          </ReactFlowProvider>
          <aside className="side-panel" aria-label="Node settings" ref={panelRef}>
            {node ? (
              <NodePanel
                key={node.id}
                doc={doc}
                node={node}
                errors={located.filter((e) => e.nodeId === node.id)}
                tools={tools}
                flows={flowRefs}
                onPatch={(patch) => edit(updateNode(doc, node.id, patch), `${node.id}.${Object.keys(patch).sort().join(",")}`)}
                onRename={(id) => {
                  edit(renameNode(doc, node.id, id));
                  setSelected(id);
                }}
                onDeclare={(key) => edit(declareKey(doc, key))}
                onConnect={(to) => edit(connect(doc, node.id, to))}
                onDelete={() => {
                  edit(removeNode(doc, node.id));
                  setSelected(null);
                }}
              />
            ) : selected === START ? (
              <div className="node-panel">
                <h2>START</h2>
                <p className="hint">The run begins here.</p>
                <ConnectRow from={START} targets={targets(START)} onConnect={(to) => edit(connect(doc, START, to))} />
              </div>
            ) : (
              <p className="hint">Select a node to configure it (click it, or Tab to it and press Enter).</p>
            )}
            <ValidationList
              state={vstate}
              errors={located}
              onPick={(e) => {
                if (e.nodeId) setSelected(e.nodeId);
                const field = e.nodeId ? e.field : e.path;
                if (field) setFocusField((f) => ({ field, n: (f?.n ?? 0) + 1 }));
              }}
            />
            {validation.error ? <ErrorBox error={validation.error} /> : null}
          </aside>
        </div>
        <div className="builder-lower">
          <StateEditor state={doc.state} errors={located.filter((e) => e.path.startsWith("state"))} onChange={(s) => edit({ ...doc, state: s }, "state")} />
          <VersionsPanel
            name={routeName ?? null}
            flows={flows.data}
            flowsError={flows.error}
            saved={saved}
            saving={save.isPending}
            saveError={save.error}
            canSave={nameOk}
            onSave={(version, message) => save.mutate({ version, message })}
            onOpen={(name, version) => navigate(`/builder/${encodeURIComponent(name)}${version ? `?version=${encodeURIComponent(version)}` : ""}`)}
            onCompare={(from, to) => setCompare({ from, to })}
            served={served}
            onView={(w) => exported.mutate(w)}
          />
          <RunPanel running={run.isPending} error={run.error} canRun={nameOk} onRun={(input) => run.mutate(input)} />
        </div>
        {compare && routeName ? <DiffView name={routeName} from={compare.from} to={compare.to} /> : null}
      </div>
    </Page>
  );
}
