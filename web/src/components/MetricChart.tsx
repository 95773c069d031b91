import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useEffect, useLayoutEffect, useRef, useState } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { api } from "../api/client";
import type { Downsampled } from "../api/types";
import { PALETTE, alignSeries, mergeParts, needsSharedRange, pointsLabel, runChunks, xScaleFactor } from "../lib/chartData";
import { ErrorBox } from "./common";

export type XAxis = "step" | "wall" | "relative";

interface Props {
  runIds: string[];
  keys: string[];
  labels?: Record<string, string>; // run id → display name
  height?: number;
  title?: string;
}

// One chart panel: every (run, key) series, downsampled on the server to this chart's pixel width.
// Every zoom (drag across the plot) re-queries the visible range; double-click zooms back out.
// New points arrive through the run page's live stream, which refreshes this query: the zoom range
// is part of the query, so it is kept.
// contentRect excludes padding; clientWidth includes it.
function paddingOf(element: HTMLElement): number {
  const style = getComputedStyle(element);
  return parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
}

// One object for "no labels": a fresh {} on every render would redraw the chart each time its page renders.
const NO_LABELS: Record<string, string> = {};

export function MetricChart({ runIds, keys, labels = NO_LABELS, height = 240, title }: Props) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const [width, setWidth] = useState(0);
  const [axis, setAxis] = useState<XAxis>("step");
  const [log, setLog] = useState(false);
  const [smoothing, setSmoothing] = useState(0);
  const [range, setRange] = useState<[number, number] | null>(null);

  // The width is read before the first paint, so the chart's query starts in the same frame it
  // mounts rather than when the resize observer first reports (a frame or more later).
  useLayoutEffect(() => {
    const element = holder.current;
    if (!element) return;
    const measured = element.clientWidth - paddingOf(element);
    if (measured > 0) setWidth(Math.max(100, Math.floor(measured)));
    const observer = new ResizeObserver(([entry]) => setWidth(Math.max(100, Math.floor(entry.contentRect.width))));
    observer.observe(element);
    return () => observer.disconnect();
  }, []);

  const plotWidth = Math.max(50, width - 60); // the y axis takes part of the canvas
  const data = useQuery({
    queryKey: ["downsample", runIds, keys, plotWidth, axis, range, smoothing],
    enabled: width > 0,
    placeholderData: keepPreviousData,
    queryFn: async ({ signal }) => {
      const ask = (ids: string[], lo?: number, hi?: number) =>
        api.get<Downsampled>(
          "/api/v1/metrics/downsample",
          { run_id: ids, key: keys, width: plotWidth, x: axis, x_min: lo, x_max: hi, smoothing: smoothing || undefined },
          signal,
        );
      const chunks = runChunks(runIds, keys.length);
      if (chunks.length === 1) return ask(runIds, range?.[0], range?.[1]);
      // More series than one request holds: every part is bucketed on the panel's shared edges.
      const parts = await Promise.all(chunks.map((ids) => ask(ids, range?.[0], range?.[1])));
      const merged = mergeParts(parts);
      if (range || merged.x_min === null || merged.x_max === null || !needsSharedRange(parts, merged)) return merged;
      const lo = merged.x_min;
      const hi = merged.x_max;
      return mergeParts(await Promise.all(chunks.map((ids) => ask(ids, lo, hi))));
    },
  });

  useEffect(() => {
    const element = holder.current;
    const response = data.data;
    if (!element || !response || !width) return;
    const factor = xScaleFactor(response.x);
    const aligned = alignSeries(response.series, factor);
    const markers = response.series.flatMap((s, i) => s.markers.map((m) => ({ ...m, color: PALETTE[i % PALETTE.length] })));
    const many = runIds.length > 1;
    const options: uPlot.Options = {
      width,
      height,
      scales: { x: { time: response.x === "wall" }, y: log ? { distr: 3 } : {} },
      cursor: { drag: { x: true, y: false, setScale: false } },
      legend: { show: response.series.length <= 10 },
      series: [
        { label: response.x === "step" ? "step" : response.x === "wall" ? "time" : "seconds" },
        ...response.series.map((s, i) => ({
          label: many ? `${labels[s.run_id] ?? s.run_id.slice(0, 8)} ${keys.length > 1 ? s.key : ""}` : s.key,
          stroke: PALETTE[i % PALETTE.length],
          width: 1,
          spanGaps: true,
          points: { show: s.returned < 50 },
        })),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const lo = u.posToVal(u.select.left, "x") / factor;
            const hi = u.posToVal(u.select.left + u.select.width, "x") / factor;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            setRange([lo, hi]);
          },
        ],
        // NaN and ±Inf cannot be drawn as values: a marker at the top (+Inf), bottom (-Inf) or middle (NaN).
        draw: [
          (u) => {
            const ctx = u.ctx;
            const { top, height: h } = u.bbox;
            for (const m of markers) {
              const x = u.valToPos(m.x * factor, "x", true);
              const y = m.kind === "inf" ? top + 6 : m.kind === "-inf" ? top + h - 6 : top + h / 2;
              ctx.save();
              ctx.fillStyle = m.color;
              ctx.strokeStyle = "#000";
              ctx.beginPath();
              ctx.moveTo(x, y - 5);
              ctx.lineTo(x + 5, y + 4);
              ctx.lineTo(x - 5, y + 4);
              ctx.closePath();
              ctx.fill();
              ctx.stroke();
              ctx.restore();
            }
          },
        ],
      },
    };
    plot.current?.destroy();
    const canvas = element.querySelector(".plot-area") as HTMLElement;
    plot.current = new uPlot(options, aligned as uPlot.AlignedData, canvas);
    return () => {
      plot.current?.destroy();
      plot.current = null;
    };
  }, [data.data, width, height, log, labels, runIds.length, keys.length]);

  const markerCount = data.data?.series.reduce((sum, s) => sum + s.markers.length, 0) ?? 0;
  return (
    <div className="chart" ref={holder} data-testid={"chart-" + keys.join(",")}>
      <div className="chart-head">
        <strong>{title ?? keys.join(", ")}</strong>
        <span className="muted small points-label">{data.data ? pointsLabel(data.data) : ""}</span>
        {markerCount ? <span className="small warn">{markerCount} non-finite</span> : null}
        <select aria-label="X axis" value={axis} onChange={(e) => { setAxis(e.target.value as XAxis); setRange(null); }}>
          <option value="step">Step</option>
          <option value="wall">Wall time</option>
          <option value="relative">Relative time</option>
        </select>
        <label className="small">
          <input type="checkbox" checked={log} onChange={(e) => setLog(e.target.checked)} /> Log scale
        </label>
        <label className="small">
          Smoothing{" "}
          <input
            type="range"
            aria-label="Smoothing"
            min={0}
            max={0.99}
            step={0.01}
            value={smoothing}
            onChange={(e) => setSmoothing(Number(e.target.value))}
          />
        </label>
        {range ? (
          <button type="button" onClick={() => setRange(null)}>
            Reset zoom
          </button>
        ) : null}
      </div>
      <div className="plot-area" onDoubleClick={() => setRange(null)} />
      <ErrorBox error={data.error} />
    </div>
  );
}
