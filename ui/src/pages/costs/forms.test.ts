import { checkBudget, checkPrice, checkRaise, emptyBudget } from "./validate";
import { differenceUsd, formatInUnit, formatNano, formatSignedUsd, formatUsdExact, nanoToUsd } from "./amounts";
import { comparison } from "./Reprice";
import { crossed, standing } from "./Budgets";
import { knownModels, pricePath, splitModel } from "./Prices";
import type { BudgetStatus } from "./types";

describe("the budget form", () => {
  it("sends a valid budget, thresholds sorted and without repeats", () => {
    const { problems, body } = checkBudget({ ...emptyBudget, name: " team:eu ", amount: "12.50", type: "recurring", period: "monthly", thresholds: "100, 50,80, 50" });
    expect(problems).toEqual([]);
    expect(body).toMatchObject({ name: "team:eu", amount: "12.50", period: "monthly", thresholds: [50, 80, 100] });
  });
  it("names every bad field and its fix", () => {
    const { problems, body } = checkBudget({ ...emptyBudget, name: "bad name", amount: "1e3", type: "recurring", period: "", thresholds: "80, 150" });
    expect(body).toBeNull();
    expect(problems.map((p) => p.field)).toEqual(["name", "amount", "period", "thresholds"]);
    expect(problems.every((p) => p.fix.length > 0)).toBe(true);
  });
  it("refuses a zero or negative amount, and a fractional token amount", () => {
    expect(checkBudget({ ...emptyBudget, name: "a", amount: "0.00" }).problems[0]?.message).toMatch(/above zero/);
    expect(checkBudget({ ...emptyBudget, name: "a", amount: "-5" }).problems[0]?.field).toBe("amount");
    expect(checkBudget({ ...emptyBudget, name: "a", amount: "1.5", unit: "tokens" }).problems[0]?.message).toMatch(/whole number of tokens/);
    expect(checkBudget({ ...emptyBudget, name: "a", amount: "1500", unit: "tokens" }).problems).toEqual([]);
  });
  it("drops the period of a credit budget", () => {
    expect(checkBudget({ ...emptyBudget, name: "a", amount: "1", period: "daily" }).body?.period).toBeNull();
  });
  it("raises by or to a decimal amount", () => {
    expect(checkRaise("by", " 5 ", "usd").body).toEqual({ by: "5" });
    expect(checkRaise("to", "20.00", "usd").body).toEqual({ to: "20.00" });
    expect(checkRaise("to", "", "usd").problems[0]).toMatchObject({ field: "to", message: "to is empty" });
    expect(checkRaise("by", "five", "usd").problems[0]?.field).toBe("by");
  });
});

describe("the price form", () => {
  const blank = { input: "", output: "", cached_input: "", cache_write: "", reasoning: "", effective_from: "" };
  it("needs input and output, takes zero, leaves the rest null", () => {
    expect(checkPrice({ ...blank, input: "0", output: "2.50" }).body).toEqual({
      input: "0", output: "2.50", cached_input: null, cache_write: null, reasoning: null, effective_from: null,
    });
    const bad = checkPrice({ ...blank, input: "", output: "-1", cached_input: "x", effective_from: "yesterday" });
    expect(bad.body).toBeNull();
    expect(bad.problems.map((p) => p.field)).toEqual(["input", "output", "cached_input", "effective_from"]);
  });
});

describe("money on the Costs page", () => {
  it("shows integer nano-dollars exactly", () => {
    expect(nanoToUsd(62_000_000)).toBe("0.062");
    expect(nanoToUsd(1)).toBe("0.000000001");
    expect(formatNano(5_000_000_000)).toBe("$5.00");
    expect(formatInUnit("tokens", 1200)).toBe("1,200 tokens");
    expect(() => nanoToUsd(0.5)).toThrow(/whole number/);
  });
  it("shows every digit in the figures table", () => {
    expect(formatUsdExact("1234.000000001")).toBe("$1,234.000000001");
    expect(formatUsdExact("-0.5")).toBe("-$0.50");
    expect(formatUsdExact("12345678901.1")).toBe("$12,345,678,901.10");
  });
  it("takes differences without floats", () => {
    // 0.3 - 0.1 in floats is 0.19999999999999998
    expect(differenceUsd("0.1", "0.3")).toBe("0.20");
    expect(formatSignedUsd(differenceUsd("0.062", "0.000186"))).toBe("-$0.061814");
    expect(formatSignedUsd("0.5")).toBe("+$0.50");
    expect(formatSignedUsd("0")).toBe("$0.00");
  });
  it("compares a reprice exactly", () => {
    expect(comparison({ run_id: "r", llm_calls: 6, original_nano_usd: 62_000_000, repriced_nano_usd: 186_000, as: "openai/gpt-4o-mini", priced: true, ratio: "0.003" })).toEqual({
      actual: "0.062",
      repriced: "0.000186",
      difference: "-0.061814",
    });
  });
});

describe("budget standing", () => {
  const b: BudgetStatus = {
    name: "demo", unit: "usd", kind: "credit", period: null, enforcement: "block", scope: "global", scope_ref: null, active: true,
    limit: 100, spent: 85, reserved: 0, remaining: 15, used_pct: "85.00", overdrawn: false, overdraft: 0, period_start: null, period_end: null,
  };
  it("says which threshold is reached, in words", () => {
    expect(crossed("85.00", [50, 80, 100])).toEqual([80, 50]);
    expect(standing(b, [80, 100])).toEqual({ word: "Warning: 80% threshold reached", tone: "warn" });
    expect(standing({ ...b, spent: 10, used_pct: "10.00", remaining: 90 }, [80, 100]).tone).toBe("ok");
    expect(standing({ ...b, remaining: 0, used_pct: "100.00" }, [80, 100]).word).toBe("Used up: calls are blocked");
    expect(standing({ ...b, overdrawn: true, overdraft: 3_000_000 }, [80]).word).toBe("Overdrawn by $0.003");
  });
});

describe("models and price paths", () => {
  it("splits provider/model at the first slash", () => {
    expect(splitModel("openrouter/anthropic/claude-3")).toEqual({ provider: "openrouter", model: "anthropic/claude-3" });
    expect(splitModel("nomodel")).toBeNull();
    expect(pricePath("openrouter", "anthropic/claude 3")).toBe("/v1/prices/openrouter/anthropic/claude%203");
  });
  it("knows the models of overrides, usage and profiles (local ones by file name)", () => {
    const models = knownModels(
      [{ provider: "openai", model: "gpt-4o", source: "user", priced: true, input: "1", output: "2", cached_input: null, cache_write: null, reasoning: null, effective_from: null }],
      [{ key: "llamacpp/orca-tiny.gguf", llm_calls: 1, input_tokens: 1, output_tokens: 1, reasoning_tokens: 0, cost_nano_usd: 1, unpriced_calls: 0, estimated_calls: 0 }],
      [{ name: "p", active: true, description: "", planner: { provider: "llamacpp", model: "/home/m/orca-tiny.gguf", params: {} }, worker: { provider: "anthropic", model: "claude", params: {} } }],
    );
    expect(models).toEqual(["anthropic/claude", "llamacpp/orca-tiny.gguf", "openai/gpt-4o"]);
  });
});
