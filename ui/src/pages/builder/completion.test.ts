import { describe, expect, it } from "vitest";
import { applyCompletion, completionAt, suggestions, templateVariables, type CompletionContext } from "./completion";

function at(text: string, caret: number): CompletionContext {
  const ctx = completionAt(text, caret);
  if (!ctx) throw new Error(`no completion at ${caret} of ${text}`);
  return ctx;
}

describe("completionAt", () => {
  it("opens after {{ and carries what was typed since", () => {
    expect(completionAt("Plan: {{", 8)).toEqual({ start: 6, prefix: "" });
    expect(completionAt("Plan: {{ que", 12)).toEqual({ start: 6, prefix: "que" });
    expect(completionAt("{{a.b", 5)).toEqual({ start: 0, prefix: "a.b" });
  });

  it("stays closed outside an open variable", () => {
    expect(completionAt("Plan: {", 7)).toBeNull();
    expect(completionAt("Plan: {{q}} and", 15)).toBeNull();
    expect(completionAt("{{a b", 5)).toBeNull();
    expect(completionAt("no braces", 9)).toBeNull();
    // the caret before the braces
    expect(completionAt("x {{q", 1)).toBeNull();
  });
});

describe("suggestions", () => {
  const keys = ["question", "notes", "quality", "subquery"];
  it("puts prefix matches first, then substring matches, case-insensitively", () => {
    expect(suggestions(keys, "qu")).toEqual(["question", "quality", "subquery"]);
    expect(suggestions(keys, "QUE")).toEqual(["question", "subquery"]);
    expect(suggestions(keys, "")).toEqual(keys);
    expect(suggestions(keys, "zzz")).toEqual([]);
  });
});

describe("applyCompletion", () => {
  it("writes {{key}} in place of the open variable and puts the caret after it", () => {
    const text = "Plan: {{qu";
    const out = applyCompletion(text, text.length, at(text, text.length), "question");
    expect(out).toEqual({ text: "Plan: {{question}}", caret: 18 });
  });

  it("reuses the closing braces and the rest of a name already typed after the caret", () => {
    const text = "A {{qu}} B";
    const ctx = at(text, 6);
    expect(applyCompletion(text, 6, ctx, "question")).toEqual({ text: "A {{question}} B", caret: 14 });
    const mid = "A {{qxx}} B";
    expect(applyCompletion(mid, 5, at(mid, 5), "notes").text).toBe("A {{notes}} B");
  });

  it("keeps text after the caret that is not part of the variable", () => {
    const text = "{{ and more";
    const ctx = at(text, 2);
    expect(applyCompletion(text, 2, ctx, "q").text).toBe("{{q}} and more");
  });
});

describe("templateVariables", () => {
  it("lists each root key a template uses once", () => {
    expect(templateVariables("{{a}} {{ b.c }} {{a}} {{1x}}")).toEqual(["a", "b"]);
  });
});
