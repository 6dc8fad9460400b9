import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { NodePanel } from "./NodePanel";
import { addNode, connect, declareKey, emptyFlow, getNode, renameNode, updateNode } from "./flowModel";
import type { FlowDoc, ValidationError } from "./types";

/** The panel over a real document, edits applied with the real model functions. */
function Editable({ start, id, errors = [] }: { start: FlowDoc; id: string; errors?: ValidationError[] }) {
  const [doc, setDoc] = useState(start);
  const [selected, setSelected] = useState(id);
  const node = getNode(doc, selected);
  if (!node) return <p>gone</p>;
  return (
    <>
      <NodePanel
        key={node.id}
        doc={doc}
        node={node}
        errors={errors}
        tools={["files_read", "http_fetch"]}
        flows={["other", "other@1.0.0"]}
        onPatch={(p) => setDoc((d) => updateNode(d, node.id, p))}
        onRename={(to) => {
          setDoc((d) => renameNode(d, node.id, to));
          setSelected(to);
        }}
        onDeclare={(k) => setDoc((d) => declareKey(d, k))}
        onConnect={(to) => setDoc((d) => connect(d, node.id, to))}
        onDelete={vi.fn()}
      />
      <pre data-testid="doc">{JSON.stringify(doc)}</pre>
    </>
  );
}

const docOf = () => JSON.parse(screen.getByTestId("doc").textContent ?? "{}") as FlowDoc;

function routerFlow(): FlowDoc {
  let doc = declareKey(emptyFlow("r"), "score", "number");
  doc = addNode(doc, "router").doc;
  doc = addNode(doc, "llm").doc;
  doc = addNode(doc, "human").doc;
  return connect(doc, "router1", "llm1");
}

describe("NodePanel", () => {
  it("edits a router's routes: test, value, target, and adds one", async () => {
    const user = userEvent.setup();
    render(<Editable start={routerFlow()} id="router1" />);
    fireEvent.change(screen.getByLabelText("Route 1 key"), { target: { value: "score" } });
    await user.selectOptions(screen.getByLabelText("Route 1 test"), "ge");
    const value = screen.getByLabelText("Route 1 value (JSON)");
    await user.type(value, "0.5{Enter}");
    await user.selectOptions(screen.getByLabelText("Route 1 goes to"), "human1");
    await user.click(screen.getByRole("button", { name: "Add route" }));
    await user.selectOptions(screen.getByLabelText("Default (when no route holds)"), "llm1");
    expect(getNode(docOf(), "router1")).toMatchObject({
      routes: [
        { when: { key: "score", op: "ge", value: 0.5 }, to: "human1" },
        { when: { key: "score", op: "truthy" }, to: "" },
      ],
      default: "llm1",
    });
    await user.click(screen.getByRole("button", { name: "Remove route 2" }));
    expect(getNode(docOf(), "router1")?.routes).toHaveLength(1);
  });

  it("renames on Enter, and refuses a taken id with the reason", async () => {
    const user = userEvent.setup();
    render(<Editable start={routerFlow()} id="llm1" />);
    const id = screen.getByLabelText("Node id");
    await user.clear(id);
    await user.type(id, "human1{Enter}");
    expect(screen.getByText("a node is already called human1")).toBeInTheDocument();
    expect(getNode(docOf(), "llm1")).toBeDefined();
    await user.clear(id);
    await user.type(id, "plan{Enter}");
    expect(getNode(docOf(), "plan")?.kind).toBe("llm");
    // the route that led to it follows the rename
    expect(getNode(docOf(), "router1")?.routes?.[0]?.to).toBe("plan");
  });

  it("checks a python reference as module:function while it is typed", () => {
    let doc = addNode(emptyFlow("p"), "python").doc;
    doc = updateNode(doc, "python1", { ref: "" });
    render(<Editable start={doc} id="python1" />);
    const ref = screen.getByLabelText("Function reference (module:function)");
    fireEvent.change(ref, { target: { value: "mypkg.nodes" } });
    expect(screen.getByText(/write it as package.module:function/)).toBeInTheDocument();
    fireEvent.change(ref, { target: { value: "mypkg.nodes:format_report" } });
    expect(screen.getByText(/looks like module:function/)).toBeInTheDocument();
    expect(getNode(docOf(), "python1")?.ref).toBe("mypkg.nodes:format_report");
  });

  it("shows a field's server errors on the field and marks it invalid", () => {
    const doc = addNode(emptyFlow("e"), "tool").doc;
    const errors: ValidationError[] = [
      { path: "nodes.0.tool", node: "tool1", field: "tool", message: "node 'tool1': tool '' is not registered", fix: "use one of: files_read" },
    ];
    render(<Editable start={doc} id="tool1" errors={errors} />);
    const tool = screen.getByRole("combobox", { name: "Tool" });
    expect(tool).toHaveAttribute("aria-invalid", "true");
    expect(tool).toHaveAccessibleDescription(/is not registered.*Fix: use one of: files_read/);
  });

  it("picks a subflow from the saved flows and takes JSON mappings only when they parse", () => {
    const doc = addNode(emptyFlow("s"), "subflow").doc;
    render(<Editable start={doc} id="subflow1" />);
    fireEvent.change(screen.getByLabelText("Flow"), { target: { value: "other@1.0.0" } });
    const input = screen.getByLabelText("Input (subflow key → template)");
    fireEvent.change(input, { target: { value: '{"q": ' } });
    expect(screen.getByText(/not JSON yet/)).toBeInTheDocument();
    fireEvent.change(input, { target: { value: "[1]" } });
    expect(screen.getByText("expected a JSON object {...}")).toBeInTheDocument();
    fireEvent.change(input, { target: { value: '{"q": "{{question}}"}' } });
    expect(getNode(docOf(), "subflow1")).toMatchObject({ flow: "other@1.0.0", input: { q: "{{question}}" } });
  });
});
