import { useId, useState } from "react";
import { PromptEditor } from "./PromptEditor";
import { FieldErrors, isObject, JsonField, SelectField, TextField } from "./fields";
import { KIND_INFO, PYTHON_REF, renameProblem, variablesFor } from "./flowModel";
import { END, OPS, START, type FlowDoc, type FlowNode, type Op, type Route, type ValidationError } from "./types";

interface Props {
  doc: FlowDoc;
  node: FlowNode;
  errors: ValidationError[];
  tools: string[];
  flows: string[];
  onPatch: (patch: Partial<FlowNode>) => void;
  onRename: (newId: string) => void;
  onDeclare: (key: string) => void;
  onConnect: (to: string) => void;
  onDelete: () => void;
}

function parseValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The side panel of the selected node: a form for its kind. */
export function NodePanel({ doc, node, errors, tools, flows, onPatch, onRename, onDeclare, onConnect, onDelete }: Props) {
  const vars = variablesFor(doc, node.id);
  const stateKeys = doc.state.map((s) => s.key);
  const listId = useId();
  const of = (field: string) => errors.filter((e) => e.field === field);
  const [renameError, setRenameError] = useState<string | null>(null);
  const others = doc.nodes.map((n) => n.id).filter((id) => id !== node.id);
  const targets: [string, string][] = [["", "(choose)"], ...others.map((id): [string, string] => [id, id]), [END, "END"]];

  const output = (field = "output") => {
    const value = typeof node.output === "string" ? node.output : "";
    const undeclared = value && !stateKeys.includes(value);
    return (
      <>
        <TextField label="Output key" field={field} value={value} list={`${listId}-keys`} onChange={(v) => onPatch({ output: v })} errors={of(field)} mono />
        {undeclared ? (
          <button type="button" onClick={() => onDeclare(value)}>
            Declare state key “{value}”
          </button>
        ) : null}
      </>
    );
  };

  const modelChoice = () => {
    const mode = node.model !== undefined ? "model" : (node.role ?? "worker");
    return (
      <>
        <SelectField
          label="Model"
          field="role"
          value={mode}
          options={[
            ["worker", "role: worker (the profile's worker model)"],
            ["planner", "role: planner (the profile's planner model)"],
            ["model", "a named model (provider/model)"],
          ]}
          errors={of("role")}
          onChange={(v) => onPatch(v === "model" ? { role: undefined, model: node.model ?? "" } : { role: v as "planner" | "worker", model: undefined })}
        />
        {node.model !== undefined ? (
          <TextField label="Named model" field="model" value={node.model} placeholder="llamacpp/tiny" onChange={(v) => onPatch({ model: v })} errors={of("model")} mono />
        ) : null}
      </>
    );
  };

  const prompt = (label = "Prompt") => (
    <>
      <PromptEditor label={label} field="prompt" value={node.prompt ?? ""} variables={vars} onChange={(v) => onPatch({ prompt: v })} describedBy={of("prompt").length ? `${listId}-prompt-err` : undefined} />
      <p className="hint">
        Type <code>{"{{"}</code> for the state variables.
      </p>
      <FieldErrors id={`${listId}-prompt-err`} errors={of("prompt")} />
    </>
  );

  const routeEditor = () => {
    const routes = node.routes ?? [];
    const set = (i: number, r: Route) => onPatch({ routes: routes.map((x, j) => (j === i ? r : x)) });
    return (
      <fieldset className="routes">
        <legend>Routes (first that holds wins)</legend>
        {routes.map((r, i) => (
          <div key={i} className="route" role="group" aria-label={`Route ${i + 1}`}>
            <TextField label={`Route ${i + 1} key`} field={`routes.${i}.when.key`} value={r.when.key} list={`${listId}-keys`} onChange={(v) => set(i, { ...r, when: { ...r.when, key: v } })} mono />
            <SelectField label={`Route ${i + 1} test`} field={`routes.${i}.when.op`} value={r.when.op ?? "eq"} options={[...OPS]} onChange={(v) => set(i, { ...r, when: { ...r.when, op: v as Op } })} />
            {r.when.op === "exists" || r.when.op === "truthy" ? null : (
              <TextField
                label={`Route ${i + 1} value (JSON)`}
                field={`routes.${i}.when.value`}
                value={r.when.value === undefined ? "" : JSON.stringify(r.when.value)}
                commit
                onChange={(v) => set(i, { ...r, when: { ...r.when, value: parseValue(v) } })}
                mono
              />
            )}
            <SelectField label={`Route ${i + 1} goes to`} field={`routes.${i}.to`} value={r.to} options={targets} onChange={(v) => set(i, { ...r, to: v })} />
            <button type="button" onClick={() => onPatch({ routes: routes.filter((_, j) => j !== i) })}>
              Remove route {i + 1}
            </button>
          </div>
        ))}
        <button type="button" onClick={() => onPatch({ routes: [...routes, { when: { key: stateKeys[0] ?? "", op: "truthy" }, to: "" }] })}>
          Add route
        </button>
        <FieldErrors id={`${listId}-routes-err`} errors={errors.filter((e) => e.field === "routes")} />
      </fieldset>
    );
  };

  const refOk = node.ref ? PYTHON_REF.test(node.ref) : false;

  return (
    <div className="node-panel" aria-label={`Node ${node.id}`} role="group">
      <h2>
        {KIND_INFO[node.kind].label} <span className="mono">{node.id}</span>
      </h2>
      <TextField
        label="Node id"
        field="id"
        value={node.id}
        commit
        mono
        errors={of("id")}
        hint={renameError ?? "Renaming updates its edges and routes."}
        onChange={(v) => {
          const problem = renameProblem(doc, node.id, v);
          setRenameError(problem);
          if (!problem) onRename(v);
        }}
      />
      <datalist id={`${listId}-keys`}>
        {stateKeys.map((k) => (
          <option key={k} value={k} />
        ))}
      </datalist>

      {node.kind === "llm" || node.kind === "agent" ? (
        <>
          {modelChoice()}
          {prompt()}
          <PromptEditor label="System instructions (optional)" field="system" rows={2} value={node.system ?? ""} variables={vars} onChange={(v) => onPatch({ system: v || undefined })} />
          <FieldErrors id={`${listId}-system-err`} errors={of("system")} />
          {output()}
          <TextField
            label="Temperature (0 to 2, optional)"
            field="temperature"
            type="number"
            value={node.temperature === undefined ? "" : String(node.temperature)}
            onChange={(v) => onPatch({ temperature: v === "" ? undefined : Number(v) })}
            errors={of("temperature")}
          />
        </>
      ) : null}
      {node.kind === "llm" ? (
        <>
          <TextField label="Max tokens" field="max_tokens" type="number" value={node.max_tokens === undefined ? "" : String(node.max_tokens)} onChange={(v) => onPatch({ max_tokens: v ? Number(v) : undefined })} errors={of("max_tokens")} />
          <JsonField label="Output schema (JSON Schema, optional)" field="schema" value={node.schema} onChange={(v) => onPatch({ schema: v as Record<string, unknown> | undefined })} accept={isObject} errors={of("schema")} />
        </>
      ) : null}
      {node.kind === "agent" ? (
        <>
          <fieldset>
            <legend>Tools it may call</legend>
            {tools.length ? (
              tools.map((t) => (
                <label key={t} className="check">
                  <input
                    type="checkbox"
                    checked={(node.tools ?? []).includes(t)}
                    onChange={(e) => onPatch({ tools: e.target.checked ? [...(node.tools ?? []), t] : (node.tools ?? []).filter((x) => x !== t) })}
                  />
                  {t}
                </label>
              ))
            ) : (
              <p className="hint">The server lists no tools.</p>
            )}
          </fieldset>
          <TextField label="Tools (comma separated)" field="tools" value={(node.tools ?? []).join(", ")} commit mono onChange={(v) => onPatch({ tools: v.split(",").map((s) => s.trim()).filter(Boolean) })} errors={errors.filter((e) => e.field === "tools")} />
          <TextField label="Max turns" field="max_turns" type="number" value={String(node.max_turns ?? 5)} onChange={(v) => onPatch({ max_turns: v ? Number(v) : undefined })} errors={of("max_turns")} />
        </>
      ) : null}
      {node.kind === "tool" ? (
        <>
          <TextField label="Tool" field="tool" value={node.tool ?? ""} list={`${listId}-tools`} onChange={(v) => onPatch({ tool: v })} errors={of("tool")} mono hint={tools.length ? `Known: ${tools.join(", ")}` : undefined} />
          <datalist id={`${listId}-tools`}>
            {tools.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
          <JsonField label="Arguments (JSON object; strings are templates)" field="args" value={node.args ?? {}} onChange={(v) => onPatch({ args: (v ?? {}) as Record<string, unknown> })} accept={isObject} errors={of("args")} />
          <TextField label="Output key (optional)" field="output" value={typeof node.output === "string" ? node.output : ""} list={`${listId}-keys`} onChange={(v) => onPatch({ output: v || undefined })} errors={of("output")} mono />
        </>
      ) : null}
      {node.kind === "router" ? (
        <>
          {routeEditor()}
          <SelectField label="Default (when no route holds)" field="default" value={node.default ?? END} options={targets.slice(1)} onChange={(v) => onPatch({ default: v })} errors={of("default")} />
        </>
      ) : null}
      {node.kind === "map" ? (
        <>
          <TextField label="Over (a list state key)" field="over" value={node.over ?? ""} list={`${listId}-keys`} onChange={(v) => onPatch({ over: v })} errors={of("over")} mono />
          <TextField label="As (the item's variable name)" field="as" value={node.as ?? "item"} onChange={(v) => onPatch({ as: v })} errors={of("as")} mono />
          <SelectField label="To (the node run per item)" field="to" value={node.to ?? ""} options={targets.filter(([v]) => v !== END)} onChange={(v) => onPatch({ to: v })} errors={of("to")} />
        </>
      ) : null}
      {node.kind === "human" ? (
        <>
          {prompt("Question for the person")}
          {output()}
          <TextField label="Choices (comma separated, optional)" field="choices" value={(node.choices ?? []).join(", ")} commit onChange={(v) => onPatch({ choices: v ? v.split(",").map((s) => s.trim()).filter(Boolean) : undefined })} errors={of("choices")} />
        </>
      ) : null}
      {node.kind === "subflow" ? (
        <>
          <SelectField
            label="Flow"
            field="flow"
            value={node.flow ?? ""}
            options={[["", "(choose a saved flow)"], ...[...new Set([...flows, ...(node.flow ? [node.flow] : [])])].map((f): [string, string] => [f, f])]}
            onChange={(v) => onPatch({ flow: v })}
            errors={of("flow")}
          />
          <JsonField label="Input (subflow key → template)" field="input" value={node.input ?? {}} onChange={(v) => onPatch({ input: (v ?? {}) as Record<string, unknown> })} accept={isObject} errors={of("input")} />
          <JsonField label="Output (this flow's key → subflow key)" field="output" value={node.output ?? {}} onChange={(v) => onPatch({ output: (v ?? {}) as Record<string, string> })} accept={isObject} errors={of("output")} />
        </>
      ) : null}
      {node.kind === "python" ? (
        <TextField
          label="Function reference (module:function)"
          field="ref"
          value={node.ref ?? ""}
          placeholder="mypkg.nodes:format_report"
          mono
          onChange={(v) => onPatch({ ref: v })}
          errors={of("ref")}
          hint={node.ref ? (refOk ? "✓ looks like module:function" : "✗ write it as package.module:function") : "A function def fn(state) or fn(state, ctx) returning an update; the server imports it from its allowed modules."}
        />
      ) : null}
      <TextField label="Description (optional)" field="description" value={node.description ?? ""} onChange={(v) => onPatch({ description: v || undefined })} />
      <ConnectRow from={node.id} targets={targets} onConnect={onConnect} />
      <button type="button" className="danger" onClick={onDelete}>
        Delete node {node.id}
      </button>
    </div>
  );
}

/** The keyboard way to draw an arrow: pick a target, press Connect. */
export function ConnectRow({ from, targets, onConnect }: { from: string; targets: [string, string][]; onConnect: (to: string) => void }) {
  const [to, setTo] = useState("");
  const id = useId();
  return (
    <div className="row connect-row">
      <label htmlFor={id}>Connect {from === START ? "START" : from} to</label>
      <select id={id} value={to} onChange={(e) => setTo(e.target.value)}>
        {targets.map(([v, t]) => (
          <option key={v} value={v}>
            {t}
          </option>
        ))}
      </select>
      <button
        type="button"
        disabled={!to}
        onClick={() => {
          onConnect(to);
          setTo("");
        }}
      >
        Connect
      </button>
    </div>
  );
}
