import { diffMarks, diffValues, formatPath, jsonEqual, pathKey, summarize } from "./diff";

describe("diffValues", () => {
  it("finds nothing between equal values, whatever their key order", () => {
    expect(diffValues({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1 })).toEqual([]);
    expect(jsonEqual({ a: [1, { b: null }] }, { a: [1, { b: null }] })).toBe(true);
    expect(jsonEqual({ a: 1 }, { a: 1, b: undefined })).toBe(false);
    expect(jsonEqual({ constructor: 1 }, { toString: 1 })).toBe(false);
  });

  it("names added, removed and changed keys, nested, in sorted order", () => {
    const before = { topic: "orcas", plan: { parts: ["history"], depth: 1 }, gone: true };
    const after = { topic: "whales", plan: { parts: ["history", "cost"], depth: 1 }, words: 12 };
    expect(diffValues(before, after)).toEqual([
      { path: ["gone"], kind: "removed", before: true },
      { path: ["plan", "parts", 1], kind: "added", after: "cost" },
      { path: ["topic"], kind: "changed", before: "orcas", after: "whales" },
      { path: ["words"], kind: "added", after: 12 },
    ]);
  });

  it("compares arrays index by index and removes the tail of a shorter one", () => {
    expect(diffValues([1, 2, 3], [1, 5])).toEqual([
      { path: [1], kind: "changed", before: 2, after: 5 },
      { path: [2], kind: "removed", before: 3 },
    ]);
  });

  it("treats a change of type as one change of the whole value", () => {
    expect(diffValues({ a: { b: 1 } }, { a: [1] })).toEqual([
      { path: ["a"], kind: "changed", before: { b: 1 }, after: [1] },
    ]);
    expect(diffValues({ a: null }, { a: 0 })).toEqual([{ path: ["a"], kind: "changed", before: null, after: 0 }]);
    expect(diffValues("x", "y")).toEqual([{ path: [], kind: "changed", before: "x", after: "y" }]);
  });

  it("keeps keys that look like paths or prototypes apart", () => {
    const changes = diffValues({ "a.b": 1, __proto__x: 1 }, { "a.b": 2, constructor: 1 });
    expect(changes.map((c) => [formatPath(c.path), c.kind])).toEqual([
      ["__proto__x", "removed"],
      ['["a.b"]', "changed"],
      ["constructor", "added"],
    ]);
  });
});

describe("diffMarks", () => {
  const changes = diffValues({ plan: { parts: ["a"] }, old: 1 }, { plan: { parts: ["a", "b"] }, x: 2 });

  it("marks each side's own changes and their ancestors", () => {
    const after = diffMarks(changes, "after");
    expect(after.get(pathKey(["plan", "parts", 1]))).toBe("added");
    expect(after.get(pathKey(["plan", "parts"]))).toBe("contains");
    expect(after.get(pathKey(["plan"]))).toBe("contains");
    expect(after.get(pathKey([]))).toBe("contains");
    expect(after.get(pathKey(["x"]))).toBe("added");
    expect(after.has(pathKey(["old"]))).toBe(false); // removed: shown on the before side
    const before = diffMarks(changes, "before");
    expect(before.get(pathKey(["old"]))).toBe("removed");
    expect(before.has(pathKey(["plan"]))).toBe(false);
  });

  it("counts the changes by kind", () => {
    expect(summarize(changes)).toEqual({ added: 2, removed: 1, changed: 0 });
  });
});

describe("formatPath", () => {
  it("writes paths as people read them", () => {
    expect(formatPath([])).toBe("(root)");
    expect(formatPath(["plan", "parts", 1])).toBe("plan.parts[1]");
    expect(formatPath(["a b", 0, "c"])).toBe('["a b"][0].c');
  });
});
