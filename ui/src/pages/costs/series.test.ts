import { OTHER, NONE, bucketLabel, summarize, toChartData } from "./series";
import type { Series, SeriesPoint } from "./types";
import { addUsd, formatUsd } from "../../lib/money";

const point = (t: string, key: string | null, cost_usd: string, calls = 1): SeriesPoint => ({
  t,
  key,
  cost_usd,
  tokens_in: 10,
  tokens_out: 5,
  calls,
});

const DAY1 = "2026-12-01T00:00:00+00:00";
const DAY2 = "2026-12-02T00:00:00+00:00";
const DAY4 = "2026-12-04T00:00:00+00:00";

describe("series -> chart data", () => {
  it("sums each bucket exactly, per key and in all", () => {
    const series: Series = {
      bucket: "day",
      by: "model",
      points: [
        point(DAY1, "openai/gpt-4o-mini", "0.1"),
        point(DAY1, "anthropic/claude", "0.2"),
        point(DAY2, "openai/gpt-4o-mini", "0.000000001"),
        point(DAY2, "openai/gpt-4o-mini", "0.000000002"),
      ],
    };
    const data = toChartData(series);
    expect(data.keys).toEqual(["anthropic/claude", "openai/gpt-4o-mini"]);
    expect(data.rows.map((r) => r.total)).toEqual(["0.30", "0.000000003"]);
    expect(data.rows[0]?.costs).toEqual({ "anthropic/claude": "0.20", "openai/gpt-4o-mini": "0.10" });
    expect(data.rows[1]?.costs["openai/gpt-4o-mini"]).toBe("0.000000003");
    expect(data.rows[1]?.costs["anthropic/claude"]).toBe("0.00");
    expect(data.totals).toEqual({ "anthropic/claude": "0.20", "openai/gpt-4o-mini": "0.100000003" });
    expect(data.total).toBe("0.300000003");
    // the float heights are only for drawing, the strings are the figures
    expect(data.rows[0]?.heights["anthropic/claude"]).toBeCloseTo(0.2);
    expect(data.rows[0]?.calls).toBe(2);
    expect(data.rows[0]?.tokens).toBe(30);
  });

  it("fills the days without spend, so the time axis is even", () => {
    const data = toChartData({ bucket: "day", by: "node", points: [point(DAY1, "plan", "1"), point(DAY4, "plan", "2")] });
    expect(data.rows.map((r) => r.label)).toEqual(["2026-12-01", "2026-12-02", "2026-12-03", "2026-12-04"]);
    expect(data.rows.map((r) => r.total)).toEqual(["1.00", "0.00", "0.00", "2.00"]);
    expect(data.total).toBe("3.00");
  });

  it("sums the smallest keys as (other) past the cap, and the sum stays exact", () => {
    const points = Array.from({ length: 12 }, (_, i) => point(DAY1, `s-${i}`, `0.${String(i + 1).padStart(2, "0")}`));
    const data = toChartData({ bucket: "day", by: "session", points }, 8);
    expect(data.keys).toHaveLength(8);
    expect(data.keys[0]).toBe("s-11");
    expect(data.keys[7]).toBe(OTHER);
    // s-0..s-4 are the five smallest: 0.01 + ... + 0.05
    expect(data.totals[OTHER]).toBe("0.15");
    expect(data.total).toBe(addUsd(...points.map((p) => p.cost_usd)));
    expect(data.rows[0]?.total).toBe("0.78");
  });

  it("names a point without a key (none), and orders equal totals by name", () => {
    const data = toChartData({ bucket: "hour", by: "role", points: [point("2026-12-01T14:00:00+00:00", null, "1"), point("2026-12-01T14:00:00+00:00", "a", "1")] });
    expect(data.keys).toEqual([NONE, "a"]);
    expect(data.rows[0]?.label).toBe("12-01 14:00");
  });

  it("summarizes for the chart's aria-label", () => {
    const data = toChartData({ bucket: "day", by: "model", points: [point(DAY1, "m/x", "0.5"), point(DAY2, "m/y", "0.25")] });
    expect(summarize(data, "model", "day", formatUsd)).toBe(
      "Spend per day by model, 2026-12-01 to 2026-12-02 (UTC): $0.75 in all over 2 models; largest: m/x, $0.50.",
    );
    expect(summarize(toChartData({ bucket: "day", by: "node", points: [] }), "node", "day", formatUsd)).toBe("No spend by node in this range.");
  });

  it("labels buckets in UTC", () => {
    expect(bucketLabel("2026-12-06T00:00:00+00:00", "day")).toBe("2026-12-06");
    expect(bucketLabel("not a time", "day")).toBe("not a time");
  });
});
