import { useQueries } from "@tanstack/react-query";
import { useMemo } from "react";
import { Link, useSearchParams } from "react-router";
import { api } from "../api/client";
import type { Run } from "../api/types";
import { MetricChart } from "../components/MetricChart";
import { ErrorBox, Loading, Section } from "../components/common";
import { formatValue, quote } from "../lib/format";
import { type ColumnKind, type RunRow, differingKeys, runName, toRow } from "../lib/runs";

function SideBySide({ rows, kind }: { rows: RunRow[]; kind: ColumnKind }) {
  const differing = differingKeys(rows, kind);
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r[kind])))].filter((k) => !(kind === "tags" && k.startsWith("mlflow."))).sort();
  if (!keys.length) return <p className="muted">None.</p>;
  return (
    <table className="grid compare">
      <thead>
        <tr>
          <th />
          {rows.map((r) => (
            <th key={r.run.info.run_id}>{runName(r)}</th>
          ))}
        </tr>
      </thead>
      <tbody>
        {keys.map((key) => (
          <tr key={key} className={differing.has(key) ? "differs" : ""}>
            <th>
              {key}
              {differing.has(key) ? <span className="diff-mark" title="values differ"> ≠</span> : null}
            </th>
            {rows.map((r) => (
              <td key={r.run.info.run_id}>{formatValue(r[kind][key])}</td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// Parallel coordinates: one vertical axis per differing param/metric, one polyline per run.
function ParallelCoordinates({ rows }: { rows: RunRow[] }) {
  const axes = [
    ...[...differingKeys(rows, "params")].map((k) => ({ kind: "params" as const, key: k })),
    ...[...differingKeys(rows, "metrics")].map((k) => ({ kind: "metrics" as const, key: k })),
  ].slice(0, 12);
  if (axes.length < 2) return <p className="muted">Needs at least two params or metrics that differ.</p>;
  const width = 160 * axes.length;
  const height = 240;
  const scales = axes.map((axis) => {
    const values = rows.map((r) => Number(r[axis.kind][axis.key])).filter(Number.isFinite);
    return { min: Math.min(...values), max: Math.max(...values) };
  });
  const y = (value: unknown, i: number) => {
    const v = Number(value);
    if (!Number.isFinite(v)) return null;
    const { min, max } = scales[i];
    return max === min ? height / 2 : 20 + (1 - (v - min) / (max - min)) * (height - 40);
  };
  return (
    <svg width={width} height={height + 20} role="img" aria-label="Parallel coordinates">
      {axes.map((axis, i) => (
        <g key={axis.key}>
          <line x1={80 + i * 160} x2={80 + i * 160} y1={20} y2={height - 20} stroke="#999" />
          <text x={80 + i * 160} y={height} textAnchor="middle" fontSize="11">
            {axis.kind}.{axis.key}
          </text>
        </g>
      ))}
      {rows.map((r, n) => {
        const points = axes
          .map((axis, i) => [80 + i * 160, y(r[axis.kind][axis.key], i)] as const)
          .filter(([, py]) => py !== null)
          .map(([px, py]) => `${px},${py}`)
          .join(" ");
        return <polyline key={r.run.info.run_id} points={points} fill="none" stroke={`hsl(${(n * 67) % 360} 70% 45%)`} strokeWidth={1.5} />;
      })}
    </svg>
  );
}

// Runs of known experiments come in one search (a few hundred GETs would queue in the browser).
const SEARCH_CHUNK = 500;

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export function ComparePage() {
  const [params] = useSearchParams();
  const runIds = (params.get("runs") ?? "").split(",").filter(Boolean);
  const experimentIds = (params.get("experiments") ?? "").split(",").filter(Boolean);
  const searched = useQueries({
    queries: (experimentIds.length ? chunks(runIds, SEARCH_CHUNK) : []).map((ids) => ({
      queryKey: ["compare-runs", experimentIds, ids],
      queryFn: async () => {
        const found = await api.post<{ runs?: Run[] }>("/api/2.0/mlflow/runs/search", {
          experiment_ids: experimentIds,
          filter: `attributes.run_id IN (${ids.map(quote).join(", ")})`,
          max_results: ids.length,
        });
        const byId = new Map((found.runs ?? []).map((r) => [r.info.run_id, r]));
        return ids.flatMap((id) => (byId.has(id) ? [{ run: byId.get(id)! }] : []));
      },
    })),
  });
  const fetched = useQueries({
    queries: (experimentIds.length ? [] : runIds).map((id) => ({
      queryKey: ["run", id],
      queryFn: () => api.get<{ run: Run }>("/api/2.0/mlflow/runs/get", { run_id: id }),
    })),
  });
  const results = [
    ...searched.map((r) => ({ ...r, data: r.data ?? undefined })),
    ...fetched.map((r) => ({ ...r, data: r.data ? [r.data] : undefined })),
  ];
  const rows = results.flatMap((r) => (r.data ?? []).map((d) => toRow(d.run)));
  const labels = useMemo(() => Object.fromEntries(rows.map((r) => [r.run.info.run_id, runName(r)])), [rows]);
  const metricKeys = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))].sort();
  if (!runIds.length) return <p className="empty">Select runs in an experiment's runs table to compare them.</p>;
  if (results.some((r) => r.isLoading)) return <Loading what="runs" />;
  return (
    <div>
      <h1>Compare {rows.length} runs</h1>
      <ErrorBox error={results.find((r) => r.error)?.error} />
      <p>
        {rows.map((r) => (
          <Link key={r.run.info.run_id} className="chip" to={`/experiments/${r.run.info.experiment_id}/runs/${r.run.info.run_id}`}>
            {runName(r)}
          </Link>
        ))}
      </p>
      <Section title="Parameters">
        <SideBySide rows={rows} kind="params" />
      </Section>
      <Section title="Metrics">
        <SideBySide rows={rows} kind="metrics" />
      </Section>
      <Section title="Charts">
        <div className="charts">
          {metricKeys.slice(0, 12).map((key) => (
            <MetricChart key={key} runIds={rows.map((r) => r.run.info.run_id)} keys={[key]} labels={labels} />
          ))}
        </div>
      </Section>
      <Section title="Parallel coordinates">
        <ParallelCoordinates rows={rows} />
      </Section>
    </div>
  );
}
