import { axisSpan } from "./panels";

describe("the live timeline's axis", () => {
  it("rounds a span up to the next of a few steps a decade", () => {
    expect(axisSpan(0.9)).toBeCloseTo(1);
    expect(axisSpan(1)).toBeCloseTo(1);
    expect(axisSpan(1.1)).toBeCloseTo(1.25);
    expect(axisSpan(3.2)).toBeCloseTo(4);
    expect(axisSpan(8.01)).toBeCloseTo(10);
    expect(axisSpan(41)).toBeCloseTo(50);
    expect(axisSpan(0.0042)).toBeCloseTo(0.005);
  });
  it("never gives a span under the one asked, and stays put between two steps", () => {
    for (let span = 0.01; span < 500; span *= 1.07) expect(axisSpan(span)).toBeGreaterThanOrEqual(span);
    expect(axisSpan(2.6)).toBe(axisSpan(2.9));
  });
  it("gives 1 for an empty or broken span", () => {
    expect(axisSpan(0)).toBe(1);
    expect(axisSpan(-3)).toBe(1);
    expect(axisSpan(Number.NaN)).toBe(1);
  });
});
