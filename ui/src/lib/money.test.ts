import { addUsd, formatUsd, fromNano, toNano } from "./money";

describe("money", () => {
  it("adds decimal strings exactly", () => {
    expect(addUsd("0.1", "0.2")).toBe("0.30");
    expect(addUsd("0.000000001", "0.000000002")).toBe("0.000000003");
    expect(addUsd("-1.5", "1")).toBe("-0.50");
  });
  it("round-trips nano-dollars", () => {
    expect(fromNano(toNano("12.345678901"))).toBe("12.345678901");
    expect(toNano("3")).toBe(3_000_000_000n);
  });
  it("refuses what is not a decimal amount", () => {
    expect(() => toNano("1e3")).toThrow(/not a decimal/);
    expect(() => toNano("NaN")).toThrow(/not a decimal/);
  });
  it("formats for display", () => {
    expect(formatUsd("1234.5")).toBe("$1,234.50");
    expect(formatUsd("0.000123456789")).toBe("$0.000123");
    expect(formatUsd(null)).toBe("—");
  });
});
