import { describe, expect, it } from "vitest";
import { alignSeries, pointsLabel } from "./chartData";

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
