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

// The server answers at most this many series per request (MAX_SERIES); a panel with more runs asks in
// parts of this many runs.
export const SERIES_PER_REQUEST = 200;

export function runChunks(runIds: string[], keys: number): string[][] {
  const size = Math.max(1, Math.floor(SERIES_PER_REQUEST / Math.max(1, keys)));
  const out: string[][] = [];
  for (let i = 0; i < runIds.length; i += size) out.push(runIds.slice(i, i + size));
  return out;
}

// One panel's answer from several requests. Every part must have used the same bucket edges: a part
// bucketed over a narrower x range than the panel's (the caller asks again with the shared range)
// is reported by `needsSharedRange`.
export function mergeParts(parts: Downsampled[]): Downsampled {
  const lows = parts.map((p) => p.x_min).filter((v): v is number => v !== null);
  const highs = parts.map((p) => p.x_max).filter((v): v is number => v !== null);
  return {
    x: parts[0].x,
    width: parts[0].width,
    x_min: lows.length ? Math.min(...lows) : null,
    x_max: highs.length ? Math.max(...highs) : null,
    series: parts.flatMap((p) => p.series),
  };
}

export function needsSharedRange(parts: Downsampled[], merged: Downsampled): boolean {
  return parts.some((p) => p.series.some((s) => s.downsampled) && (p.x_min !== merged.x_min || p.x_max !== merged.x_max));
}
