import { describe, expect, it } from "vitest";
import {
  addNode,
  canvasEdges,
  connect,
  declareKey,
  disconnect,
  emptyFlow,
  getNode,
  layout,
  moveNode,
  parseFlowDoc,
  PYTHON_REF,
  pushHistory,
  redo,
  removeNode,
  renameNode,
  renameProblem,
  startHistory,
  toFlowDoc,
  undo,
  updateNode,
  variablesFor,
  HISTORY_LIMIT,
} from "./flowModel";
import { END, START, type FlowDoc } from "./types";

function threeNodes(): FlowDoc {
  let doc = emptyFlow("triage");
  doc = addNode(doc, "llm", { x: 0, y: 0 }).doc;
  doc = addNode(doc, "router", { x: 200, y: 0 }).doc;
  doc = addNode(doc, "human", { x: 400, y: 0 }).doc;
  doc = connect(doc, START, "llm1");
  doc = connect(doc, "llm1", "router1");
  doc = connect(doc, "router1", "human1");
  doc = connect(doc, "human1", END);
  return doc;
}

describe("addNode", () => {
  it("numbers ids per kind and fills the fields the kind needs", () => {
    let doc = emptyFlow();
    const a = addNode(doc, "llm", { x: 10.4, y: 20.6 });
    doc = a.doc;
    const b = addNode(doc, "llm");
    expect(a.id).toBe("llm1");
    expect(b.id).toBe("llm2");
    expect(getNode(doc, "llm1")).toEqual({ id: "llm1", kind: "llm", position: { x: 10, y: 21 }, role: "worker", prompt: "", output: "" });
    expect(addNode(b.doc, "router").doc.nodes[2]).toMatchObject({ kind: "router", routes: [], default: END });
    expect(addNode(b.doc, "map").doc.nodes[2]).toMatchObject({ kind: "map", over: "", to: "", as: "item" });
    expect(addNode(b.doc, "python").doc.nodes[2]).toMatchObject({ kind: "python", ref: "" });
  });

  it("never reuses a taken id after a removal", () => {
    let doc = addNode(emptyFlow(), "tool").doc;
    doc = addNode(doc, "tool").doc;
    doc = removeNode(doc, "tool1");
    expect(addNode(doc, "tool").id).toBe("tool1");
    expect(addNode(addNode(doc, "tool").doc, "tool").id).toBe("tool3");
  });

  it("does not mutate the document it is given", () => {
    const doc = emptyFlow();
    const frozen = JSON.stringify(doc);
    addNode(doc, "agent");
    expect(JSON.stringify(doc)).toBe(frozen);
  });
});

describe("connect", () => {
  it("adds a plain edge once, and refuses edges into START or out of END", () => {
    let doc = threeNodes();
    const before = doc.edges.length;
    expect(connect(doc, "llm1", "router1")).toBe(doc);
    expect(connect(doc, "llm1", START)).toBe(doc);
    expect(connect(doc, END, "llm1")).toBe(doc);
    expect(connect(doc, "nope", "llm1")).toBe(doc);
    expect(connect(doc, "llm1", "nope")).toBe(doc);
    doc = connect(doc, "llm1", END);
    expect(doc.edges).toHaveLength(before + 1);
  });

  it("gives a router a route (not an edge), on the first state key", () => {
    let doc = declareKey(threeNodes(), "score", "number");
    doc = connect(doc, "router1", END);
    const router = getNode(doc, "router1");
    expect(doc.edges.some((e) => e.from === "router1")).toBe(false);
    expect(router?.routes).toEqual([
      { when: { key: "", op: "truthy" }, to: "human1" },
    ]);
    // END is already the default: no second way there
    expect(connect(doc, "router1", END)).toBe(doc);
    const other = connect(updateNode(doc, "router1", { default: "llm1" }), "router1", END);
    expect(getNode(other, "router1")?.routes?.[1]).toEqual({ when: { key: "score", op: "truthy" }, to: END });
  });

  it("sets a map's target instead of adding an edge", () => {
    let doc = addNode(threeNodes(), "map").doc;
    doc = connect(doc, "map1", "llm1");
    expect(getNode(doc, "map1")?.to).toBe("llm1");
    expect(doc.edges.some((e) => e.from === "map1")).toBe(false);
  });
});

describe("canvasEdges and disconnect", () => {
  it("draws plain edges, routes, the router default and map targets with stable ids", () => {
    let doc = addNode(threeNodes(), "map").doc;
    doc = connect(doc, "map1", "human1");
    const ids = canvasEdges(doc).map((e) => `${e.id}:${e.kind}`);
    expect(ids).toEqual([
      "e:__start__->llm1:edge",
      "e:llm1->router1:edge",
      "e:human1->__end__:edge",
      "r:router1:0:route",
      "d:router1:default",
      "m:map1:map",
    ]);
    expect(canvasEdges(doc).find((e) => e.kind === "route")?.label).toBe("? truthy");
  });

  it("removes what each kind of arrow stands for", () => {
    let doc = addNode(threeNodes(), "map").doc;
    doc = connect(doc, "map1", "human1");
    expect(disconnect(doc, "e:llm1->router1").edges.some((e) => e.from === "llm1")).toBe(false);
    expect(getNode(disconnect(doc, "r:router1:0"), "router1")?.routes).toEqual([]);
    expect(getNode(disconnect(updateNode(doc, "router1", { default: "llm1" }), "d:router1"), "router1")?.default).toBe(END);
    expect(getNode(disconnect(doc, "m:map1"), "map1")?.to).toBe("");
    expect(disconnect(doc, "e:nope->x")).toBe(doc);
  });
});

describe("removeNode", () => {
  it("drops the node, its edges, the routes to it; resets a default and a map target naming it", () => {
    let doc = addNode(threeNodes(), "map").doc;
    doc = connect(doc, "map1", "human1");
    doc = updateNode(doc, "router1", { default: "human1" });
    doc = removeNode(doc, "human1");
    expect(getNode(doc, "human1")).toBeUndefined();
    expect(doc.edges.some((e) => e.from === "human1" || e.to === "human1")).toBe(false);
    expect(getNode(doc, "router1")).toMatchObject({ routes: [], default: END });
    expect(getNode(doc, "map1")?.to).toBe("");
    expect(removeNode(doc, "ghost")).toBe(doc);
  });
});

describe("renameNode", () => {
  it("renames the node and every edge, route, default and map target naming it", () => {
    let doc = addNode(threeNodes(), "map").doc;
    doc = connect(doc, "map1", "human1");
    doc = updateNode(doc, "router1", { default: "human1" });
    doc = renameNode(doc, "human1", "approve");
    expect(getNode(doc, "approve")?.kind).toBe("human");
    expect(doc.edges).toContainEqual({ from: "approve", to: END });
    expect(getNode(doc, "router1")?.routes?.[0]?.to).toBe("approve");
    expect(getNode(doc, "router1")?.default).toBe("approve");
    expect(getNode(doc, "map1")?.to).toBe("approve");
    expect(JSON.stringify(doc)).not.toContain("human1");
  });

  it("refuses a taken, reserved or malformed id with the reason", () => {
    const doc = threeNodes();
    expect(renameProblem(doc, "llm1", "router1")).toMatch(/already/);
    expect(renameProblem(doc, "llm1", START)).toMatch(/reserved/);
    expect(renameProblem(doc, "llm1", "1abc")).toMatch(/starts with a letter/);
    expect(renameProblem(doc, "llm1", "a".repeat(65))).toMatch(/64/);
    expect(renameProblem(doc, "llm1", "plan")).toBeNull();
    expect(() => renameNode(doc, "llm1", "router1")).toThrow(/already/);
    expect(renameNode(doc, "llm1", "llm1")).toBe(doc);
  });

  it("updateNode refuses an id change (rename does that)", () => {
    expect(() => updateNode(threeNodes(), "llm1", { id: "x" })).toThrow(/renameNode/);
  });
});

describe("updateNode and moveNode", () => {
  it("removes fields set to undefined and keeps the others", () => {
    const doc = updateNode(threeNodes(), "llm1", { role: undefined, model: "llamacpp/tiny", prompt: "Hi {{q}}" });
    const node = getNode(doc, "llm1");
    expect(node).not.toHaveProperty("role");
    expect(node).toMatchObject({ model: "llamacpp/tiny", prompt: "Hi {{q}}", output: "" });
  });

  it("moves a node to a rounded position, and answers the same document for no move", () => {
    const doc = threeNodes();
    const moved = moveNode(doc, "llm1", { x: 5.5, y: -3.2 });
    expect(getNode(moved, "llm1")?.position).toEqual({ x: 6, y: -3 });
    expect(moveNode(moved, "llm1", { x: 6.2, y: -3.4 })).toBe(moved);
  });
});

describe("variablesFor", () => {
  it("offers the state keys, and a map's item to the node it maps to", () => {
    let doc = declareKey(declareKey(threeNodes(), "question"), "topics", "list");
    doc = addNode(doc, "map").doc;
    doc = updateNode(doc, "map1", { to: "llm1", as: "topic" });
    expect(variablesFor(doc)).toEqual(["question", "topics"]);
    expect(variablesFor(doc, "llm1")).toEqual(["question", "topics", "topic"]);
    expect(declareKey(doc, "question")).toBe(doc);
  });
});

describe("to and from FLOWDOC", () => {
  it("round-trips a document with its positions", () => {
    const doc = updateNode(declareKey(threeNodes(), "q", "string"), "llm1", { prompt: "Q: {{q}}", output: "q" });
    const text = JSON.stringify(toFlowDoc(doc));
    const back = parseFlowDoc(text);
    expect(back.nodes.map((n) => [n.id, n.position])).toEqual(doc.nodes.map((n) => [n.id, n.position]));
    expect(toFlowDoc(back)).toEqual(toFlowDoc(doc));
    expect(JSON.parse(text)).toMatchObject({ format: "orca.flow/v1", name: "triage" });
  });

  it("drops blank optional fields the server would refuse", () => {
    let doc = updateNode(threeNodes(), "llm1", { model: "", system: "", description: "" });
    doc = { ...doc, description: "" };
    const out = toFlowDoc(doc);
    expect(out.nodes[0]).not.toHaveProperty("model");
    expect(out.nodes[0]).not.toHaveProperty("system");
    expect(out).not.toHaveProperty("description");
  });

  it("names the field and the fix for what is not a flow", () => {
    expect(() => parseFlowDoc("{nope")).toThrow(/not JSON/);
    expect(() => parseFlowDoc("[]")).toThrow(/JSON object/);
    expect(() => parseFlowDoc({ format: "x", name: "a", nodes: [] })).toThrow(/format: expected "orca.flow\/v1"/);
    expect(() => parseFlowDoc({ format: "orca.flow/v1", nodes: [] })).toThrow(/name: missing/);
    expect(() => parseFlowDoc({ format: "orca.flow/v1", name: "a" })).toThrow(/nodes: expected a list/);
    expect(() => parseFlowDoc({ format: "orca.flow/v1", name: "a", nodes: [{ id: "x", kind: "shell" }] })).toThrow(/nodes.0.kind: "shell" is not a kind/);
    expect(() => parseFlowDoc({ format: "orca.flow/v1", name: "a", nodes: [{ kind: "llm" }] })).toThrow(/nodes.0.id/);
    expect(() => parseFlowDoc({ format: "orca.flow/v1", name: "a", nodes: [], edges: [{ from: 1 }] })).toThrow(/edges.0/);
    expect(() => parseFlowDoc({ format: "orca.flow/v1", name: "a", nodes: [], state: "x" })).toThrow(/state: expected a list/);
  });

  it("lays out an exported flow without positions, left to right from START", () => {
    const doc = parseFlowDoc({
      format: "orca.flow/v1",
      name: "exported",
      nodes: [
        { id: "b", kind: "python", ref: "m:b" },
        { id: "a", kind: "python", ref: "m:a" },
        { id: "lost", kind: "python", ref: "m:c" },
      ],
      edges: [
        { from: START, to: "a" },
        { from: "a", to: "b" },
      ],
    });
    const laid = layout(doc);
    const x = (id: string) => getNode(laid, id)?.position?.x ?? -1;
    expect(x("a")).toBeLessThan(x("b"));
    expect(x("lost")).toBeGreaterThan(x("b"));
    expect(layout(laid)).toBe(laid);
  });
});

describe("python references", () => {
  it("takes module:function and refuses the rest", () => {
    for (const ok of ["mypkg.nodes:format_report", "m:f", "_a.b_c:_d"]) expect(PYTHON_REF.test(ok)).toBe(true);
    for (const bad of ["mypkg.nodes", "m:", ":f", "m:f:g", "m.:f", "m:f()", "os.system('x'):f", "a b:c"]) expect(PYTHON_REF.test(bad)).toBe(false);
  });
});

describe("undo and redo", () => {
  it("steps back and forth, and an edit clears the future", () => {
    const a = emptyFlow("a");
    const b = addNode(a, "llm").doc;
    const c = addNode(b, "tool").doc;
    let h = pushHistory(pushHistory(startHistory(a), b), c);
    h = undo(h);
    expect(h.present).toBe(b);
    h = undo(h);
    expect(h.present).toBe(a);
    expect(undo(h)).toBe(h);
    h = redo(h);
    expect(h.present).toBe(b);
    const d = addNode(b, "human").doc;
    h = pushHistory(h, d);
    expect(h.future).toEqual([]);
    expect(redo(h)).toBe(h);
    expect(pushHistory(h, h.present)).toBe(h);
  });

  it("makes edits of the same thing in a row one step, and any other edit a new one", () => {
    const a = emptyFlow("a");
    const typed: FlowDoc[] = ["H", "Hi", "Hi!"].map((text) => ({ ...a, description: text }));
    const [t0, t1, t2] = typed as [FlowDoc, FlowDoc, FlowDoc];
    let h = startHistory(a);
    for (const doc of typed) h = pushHistory(h, doc, "flow.description");
    expect(h.past).toEqual([a]);
    expect(h.present).toBe(t2);
    const moved = { ...a, name: "b" };
    h = pushHistory(h, moved, "flow.name");
    expect(h.past).toEqual([a, t2]);
    h = undo(h);
    expect(h.present).toBe(t2);
    // after an undo, the same kind of edit starts a new step
    h = pushHistory(undo(h), t0, "flow.description");
    expect(h.past).toEqual([a]);
    expect(pushHistory(h, t1).past).toEqual([a, t0]);
  });

  it("keeps a bounded past", () => {
    let h = startHistory(0);
    for (let i = 1; i <= HISTORY_LIMIT + 20; i++) h = pushHistory(h, i);
    expect(h.past).toHaveLength(HISTORY_LIMIT);
    expect(h.past[0]).toBe(20);
  });
});
