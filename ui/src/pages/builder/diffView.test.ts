import { describe, expect, it } from "vitest";
import { changeRows, diffSides, showValue, summary } from "./diffView";
import type { FlowDiff, FlowDoc } from "./types";

const v1: FlowDoc = {
  format: "orca.flow/v1",
  name: "triage",
  state: [{ key: "q" }],
  nodes: [
    { id: "plan", kind: "llm", prompt: "Plan {{q}}", output: "q" },
    { id: "route", kind: "router", routes: [{ when: { key: "q", op: "truthy" }, to: "old" }], default: "__end__" },
    { id: "old", kind: "python", ref: "m:f" },
  ],
  edges: [
    { from: "__start__", to: "plan" },
    { from: "plan", to: "route" },
    { from: "old", to: "__end__" },
  ],
};

const v2: FlowDoc = {
  ...v1,
  nodes: [
    { id: "plan", kind: "llm", prompt: "Plan well {{q}}", output: "q" },
    { id: "route", kind: "router", routes: [{ when: { key: "q", op: "truthy" }, to: "ask" }], default: "__end__" },
    { id: "ask", kind: "human", prompt: "OK?", output: "q" },
  ],
  edges: [
    { from: "__start__", to: "plan" },
    { from: "plan", to: "route" },
    { from: "ask", to: "__end__" },
  ],
};

const diff: FlowDiff = {
  from: "0.1.0",
  to: "0.2.0",
  flow: [],
  state: { added: [], removed: [], changed: [] },
  nodes: {
    added: ["ask"],
    removed: ["old"],
    changed: [
      { name: "plan", fields: [{ field: "prompt", from: "Plan {{q}}", to: "Plan well {{q}}" }] },
      { name: "route", fields: [{ field: "routes.0.to", from: "old", to: "ask" }] },
    ],
    moved: [],
  },
  edges: { added: [{ from: "ask", to: "__end__" }], removed: [{ from: "old", to: "__end__" }] },
};

describe("diffSides", () => {
  it("marks the older version's removed nodes and the newer's added ones, changed on both", () => {
    const { from, to } = diffSides(v1, v2, diff);
    expect(Object.fromEntries(from.nodes)).toEqual({ plan: "changed", route: "changed", old: "removed" });
    expect(Object.fromEntries(to.nodes)).toEqual({ plan: "changed", route: "changed", ask: "added" });
  });

  it("marks the edges added and removed, and a changed router's arrows as changed", () => {
    const { from, to } = diffSides(v1, v2, diff);
    expect(from.edges.get("e:old->__end__")).toBe("removed");
    expect(to.edges.get("e:ask->__end__")).toBe("added");
    expect(to.edges.get("e:plan->route")).toBe("same");
    expect(to.edges.get("r:route:0")).toBe("changed");
    expect(from.edges.get("d:route")).toBe("changed");
  });
});

describe("changeRows", () => {
  it("lists each change field by field, with its kind in words", () => {
    const rows = changeRows(diff);
    expect(rows.map((r) => `${r.change} ${r.what} ${r.name} ${r.field ?? ""}`.trim())).toEqual([
      "added node ask",
      "removed node old",
      "changed node plan prompt",
      "changed node route routes.0.to",
      "added edge ask → __end__",
      "removed edge old → __end__",
    ]);
    expect(rows[2]).toMatchObject({ from: "Plan {{q}}", to: "Plan well {{q}}" });
  });

  it("includes state and flow-level changes", () => {
    const rows = changeRows({
      ...diff,
      flow: [{ field: "description", from: null, to: "new" }],
      state: { added: ["notes"], removed: [], changed: [{ key: "q", fields: [{ field: "type", from: "any", to: "string" }] }] },
    });
    expect(rows.slice(0, 3).map((r) => [r.what, r.name, r.field, r.from, r.to])).toEqual([
      ["flow", "flow", "description", "—", "new"],
      ["state", "notes", null, "—", "—"],
      ["state", "q", "type", "any", "string"],
    ]);
  });
});

describe("summary and showValue", () => {
  it("says what changed in words, or that nothing did", () => {
    expect(summary(diff)).toBe("1 node(s) added, 1 node(s) removed, 2 node(s) changed, 1 edge(s) added, 1 edge(s) removed");
    const none: FlowDiff = { ...diff, nodes: { added: [], removed: [], changed: [] }, edges: { added: [], removed: [] } };
    expect(summary(none)).toBe("no changes");
  });

  it("shortens long values and shows absent ones as a dash", () => {
    expect(showValue(null)).toBe("—");
    expect(showValue({ a: 1 })).toBe('{"a":1}');
    expect(showValue("x".repeat(300), 10)).toBe(`${"x".repeat(9)}…`);
  });
});
