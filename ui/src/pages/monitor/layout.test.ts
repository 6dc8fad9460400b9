import { layoutGraph, shapeEdges } from "./layout";
import type { WorkflowShape } from "./types";

const node = (name: string, destinations: string[] | null = null) => ({ name, destinations });

// the shape GET /v1/workflows/research answers (examples/research.py)
const research: WorkflowShape = {
  name: "research",
  start: "__start__",
  end: "__end__",
  state: [],
  nodes: [node("plan"), node("worker"), node("review")],
  edges: [
    { source: "__start__", target: "plan" },
    { source: "worker", target: "review" },
    { source: "review", target: "__end__" },
  ],
  joins: [],
  branches: [{ source: "plan", targets: null }],
};

describe("layoutGraph", () => {
  it("places a run-time branch's unreached targets below its source", () => {
    const layout = layoutGraph(research);
    const layer = Object.fromEntries(layout.nodes.map((n) => [n.id, n.layer]));
    expect(layer).toEqual({ __start__: 0, plan: 1, worker: 2, review: 3, __end__: 4 });
    expect(layout.edges.find((e) => e.id === "plan->worker")?.dynamic).toBe(true);
    expect(layout.edges.find((e) => e.id === "worker->review")?.dynamic).toBe(false);
  });

  it("is deterministic and spreads a layer's nodes side by side", () => {
    const fan: WorkflowShape = {
      ...research,
      nodes: [node("a"), node("b"), node("c")],
      edges: [
        { source: "__start__", target: "a" },
        { source: "__start__", target: "b" },
        { source: "a", target: "c" },
        { source: "b", target: "c" },
        { source: "c", target: "__end__" },
      ],
      branches: [],
    };
    const one = layoutGraph(fan);
    expect(layoutGraph(fan)).toEqual(one);
    const a = one.nodes.find((n) => n.id === "a");
    const b = one.nodes.find((n) => n.id === "b");
    expect(a?.y).toBe(b?.y);
    expect(a?.x).toBeLessThan(b?.x ?? 0);
  });

  it("lays out a cycle by leaving its back edge out of the layering", () => {
    const loop: WorkflowShape = {
      ...research,
      nodes: [node("draft"), node("check", ["draft", "__end__"])],
      edges: [
        { source: "__start__", target: "draft" },
        { source: "draft", target: "check" },
      ],
      branches: [],
    };
    const layout = layoutGraph(loop);
    const layer = Object.fromEntries(layout.nodes.map((n) => [n.id, n.layer]));
    expect(layer).toEqual({ __start__: 0, draft: 1, check: 2, __end__: 3 });
    expect(layout.edges.map((e) => e.id)).toContain("check->draft");
  });

  it("adds the edges the run took and ignores unknown nodes", () => {
    const edges = shapeEdges(research, ["review->plan"]);
    expect(edges.map((e) => e.id)).toContain("review->plan");
    const layout = layoutGraph(research, ["ghost->plan"]);
    expect(layout.edges.map((e) => e.id)).not.toContain("ghost->plan");
  });
});
