import { describe, expect, it } from "vitest";
import { alignSeries, mergeParts, needsSharedRange, pointsLabel, runChunks } from "./chartData";

describe("chart data", () => {
  it("aligns series with different x values on one sorted x column", () => {
    const aligned = alignSeries([
      { x: [0, 2, 4], y: [1, 2, 3] },
      { x: [1, 2], y: [10, 20] },
    ]);
    expect(aligned).toEqual([
      [0, 1, 2, 4],
      [1, null, 2, 3],
      [null, 10, 20, null],
    ]);
  });

  it("converts wall-clock milliseconds for the time axis", () => {
    expect(alignSeries([{ x: [1000, 3000], y: [1, 2] }], 1 / 1000)[0]).toEqual([1, 3]);
  });

  it("says how many points were drawn of how many", () => {
    const label = pointsLabel({
      x: "step",
      width: 100,
      x_min: 0,
      x_max: 1,
      series: [
        { run_id: "r", key: "k", total_points: 1_000_000, points_in_range: 1_000_000, returned: 400, downsampled: true, x: [], y: [], step: [], markers: [] },
      ],
    });
    expect(label).toBe("400 of 1,000,000 points");
  });
});

describe("panels with more series than one request holds", () => {
  const part = (x_min: number, x_max: number, downsampled: boolean, run: string) => ({
    x: "step" as const,
    width: 100,
    x_min,
    x_max,
    series: [{ run_id: run, key: "loss", total_points: 10, points_in_range: 10, returned: 2, downsampled, x: [x_min, x_max], y: [0, 1], step: [], markers: [] }],
  });

  it("asks in parts of at most 200 series", () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `r${i}`);
    expect(runChunks(ids, 1).map((c) => c.length)).toEqual([200, 200, 200, 200, 200]);
    expect(runChunks(ids.slice(0, 30), 10).map((c) => c.length)).toEqual([20, 10]);
  });

  it("merges parts onto the widest range and asks again only when a bucketed part used narrower edges", () => {
    const raw = [part(0, 10, false, "a"), part(0, 50, false, "b")];
    const merged = mergeParts(raw);
    expect([merged.x_min, merged.x_max, merged.series.length]).toEqual([0, 50, 2]);
    expect(needsSharedRange(raw, merged)).toBe(false);
    const bucketed = [part(0, 10, true, "a"), part(0, 50, false, "b")];
    expect(needsSharedRange(bucketed, mergeParts(bucketed))).toBe(true);
  });
});
