import { describe, expect, it } from "vitest";
import schema from "../../../../contracts/workflow.schema.json";
import { newNode } from "./flowModel";
import { KINDS, OPS, REDUCERS, STATE_TYPES } from "./types";

// The builder's idea of the format against the committed JSON Schema (the truth).
interface Def {
  properties?: Record<string, { const?: string; enum?: string[]; default?: unknown }>;
  required?: string[];
}
const defs = (schema as unknown as { $defs: Record<string, Def> }).$defs;
const nodeDefs = Object.values(defs).filter((d) => d.properties?.kind);
const kindOf = (d: Def) => d.properties?.kind?.const ?? d.properties?.kind?.enum?.[0];

describe("the builder follows contracts/workflow.schema.json", () => {
  it("knows exactly the schema's node kinds", () => {
    expect(nodeDefs.map(kindOf).sort()).toEqual([...KINDS].sort());
  });

  it("makes new nodes with every field the schema requires, and no field it lacks", () => {
    for (const d of nodeDefs) {
      const kind = kindOf(d);
      const made = newNode(kind as (typeof KINDS)[number], "n1", { x: 0, y: 0 });
      for (const field of d.required ?? []) expect(made, `${kind}.${field}`).toHaveProperty(field);
      for (const field of Object.keys(made)) expect(Object.keys(d.properties ?? {}), `${kind}.${field}`).toContain(field);
    }
  });

  it("offers the schema's state types, reducers and condition ops", () => {
    const key = defs.StateKey?.properties ?? {};
    expect([...STATE_TYPES].sort()).toEqual([...(key.type?.enum ?? [])].sort());
    expect([...REDUCERS].sort()).toEqual([...(key.reducer?.enum ?? [])].sort());
    const op = defs.Condition?.properties?.op?.enum ?? [];
    for (const o of OPS) expect(op).toContain(o);
  });
});
