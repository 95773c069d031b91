// Turning the downsampling endpoint's answer into uPlot's aligned columns.
import type { Downsampled } from "../api/types";

export type Aligned = [number[], ...(number | null | undefined)[][]];

// Union of every series' x values (sorted), each series' y placed at its own x and null elsewhere.
// uPlot draws across nulls only where spanGaps is set, so each series stays one connected line.
export function alignSeries(series: { x: number[]; y: number[] }[], scaleX = 1): Aligned {
  const xs = new Set<number>();
  for (const s of series) for (const x of s.x) xs.add(x);
  const sorted = [...xs].sort((a, b) => a - b);
  const index = new Map(sorted.map((x, i) => [x, i]));
  const columns = series.map((s) => {
    const column: (number | null)[] = new Array(sorted.length).fill(null);
    s.x.forEach((x, i) => {
      column[index.get(x)!] = s.y[i];
    });
    return column;
  });
  return [sorted.map((x) => x * scaleX), ...columns];
}

export function pointsLabel(response: Downsampled): string {
  const returned = response.series.reduce((sum, s) => sum + s.returned, 0);
  const inRange = response.series.reduce((sum, s) => sum + s.points_in_range, 0);
  return `${returned.toLocaleString("en-US")} of ${inRange.toLocaleString("en-US")} points`;
}

// Wall-clock x values come in milliseconds; uPlot's time axis wants seconds.
export const xScaleFactor = (axis: Downsampled["x"]) => (axis === "wall" ? 1 / 1000 : 1);

export const PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"];
