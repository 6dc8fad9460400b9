import { checkEdit, lineColumn, reducerNote } from "./jsonEdit";

const KEYS = ["topic", "notes", "plan"];

describe("checkEdit", () => {
  it("takes any JSON value for a known key", () => {
    expect(checkEdit("plan", '{"parts": ["a"], "depth": 2}', KEYS)).toEqual({
      ok: true,
      values: { plan: { parts: ["a"], depth: 2 } },
    });
    expect(checkEdit("topic", ' "whales" ', KEYS)).toEqual({ ok: true, values: { topic: "whales" } });
    expect(checkEdit("notes", "null", KEYS)).toEqual({ ok: true, values: { notes: null } });
  });

  it("refuses a key the workflow does not have, naming those it has", () => {
    const r = checkEdit("topik", '"x"', KEYS);
    expect(r).toEqual({ ok: false, field: "key", error: expect.stringContaining("pick one of topic, notes, plan") });
    expect(checkEdit("", '"x"', KEYS)).toMatchObject({ ok: false, field: "key" });
    expect(checkEdit("anything", "1", [])).toEqual({ ok: true, values: { anything: 1 } }); // keys unknown
  });

  it("says where the JSON is wrong and how to fix it", () => {
    const single = checkEdit("topic", "'whales'", KEYS);
    expect(single).toMatchObject({ ok: false, field: "value" });
    expect(!single.ok && single.error).toMatch(/double quotes/);
    const comma = checkEdit("plan", '{\n  "a": 1,\n}', KEYS);
    expect(!comma.ok && comma.error).toMatch(/line 3, column 1.*trailing comma/);
    const bare = checkEdit("topic", "whales", KEYS);
    expect(!bare.ok && bare.error).toMatch(/"like this"/);
    const keys = checkEdit("plan", "{depth: 1}", KEYS);
    expect(!keys.ok && keys.error).toMatch(/quote the keys/);
    const open = checkEdit("plan", '{"a": [1, 2', KEYS);
    expect(!open.ok && open.error).toMatch(/^Not valid JSON/);
    expect(checkEdit("topic", "   ", KEYS)).toMatchObject({ ok: false, field: "value", error: expect.stringMatching(/empty/) });
  });

  it("refuses a value larger than the server takes", () => {
    const big = JSON.stringify("x".repeat(1 << 20));
    expect(checkEdit("topic", big, KEYS)).toMatchObject({ ok: false, field: "value", error: expect.stringMatching(/1 MiB/) });
  });

  it("keeps a hostile key as data", () => {
    const r = checkEdit("__proto__", '{"polluted": true}', ["__proto__"]);
    expect(r.ok && Object.keys(r.values)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("lineColumn and reducerNote", () => {
  it("counts lines and columns from 1", () => {
    expect(lineColumn("ab\ncd", 0)).toEqual({ line: 1, column: 1 });
    expect(lineColumn("ab\ncd", 4)).toEqual({ line: 2, column: 2 });
  });
  it("explains reducers that do not replace", () => {
    expect(reducerNote("overwrite")).toBeNull();
    expect(reducerNote("append")).toMatch(/added to the list/);
    expect(reducerNote("sum")).toMatch(/added to it/);
  });
});
