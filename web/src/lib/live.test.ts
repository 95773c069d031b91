import { describe, expect, it } from "vitest";
import { backoff, chartQueryShows } from "./live";

describe("live updates", () => {
  it("refreshes only the charts of the run and keys that changed", () => {
    const key = ["downsample", ["r1", "r2"], ["loss"], 800, "step", [10, 20], 0];
    expect(chartQueryShows(key, "r1", ["loss"])).toBe(true);
    expect(chartQueryShows(key, "r1", ["accuracy"])).toBe(false);
    expect(chartQueryShows(key, "r3", ["loss"])).toBe(false);
    expect(chartQueryShows(key, "r2", [])).toBe(true); // something else changed: every chart of the run
    expect(chartQueryShows(["run", "r1"], "r1", [])).toBe(false);
  });

  it("backs off after repeated failures, up to 30 s", () => {
    expect([1, 2, 5, 100].map(backoff)).toEqual([1000, 2000, 5000, 30000]);
  });
});
