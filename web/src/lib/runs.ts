// Run rows for the runs table and compare page: flattening a Run and choosing columns.
import type { InfiniteData, QueryClient } from "@tanstack/react-query";
import type { Run } from "../api/types";

export type ColumnKind = "params" | "metrics" | "tags";

export interface ColumnId {
  kind: ColumnKind;
  key: string;
}

export const columnName = (c: ColumnId) => `${c.kind}.${c.key}`;

export function parseColumnName(name: string): ColumnId | null {
  const match = /^(params|metrics|tags)\.(.+)$/.exec(name);
  return match ? { kind: match[1] as ColumnKind, key: match[2] } : null;
}

export interface RunRow {
  run: Run;
  params: Record<string, string>;
  metrics: Record<string, number | string>;
  tags: Record<string, string>;
}

export function toRow(run: Run): RunRow {
  const params: Record<string, string> = {};
  const metrics: Record<string, number | string> = {};
  const tags: Record<string, string> = {};
  for (const p of run.data.params ?? []) params[p.key] = p.value;
  for (const m of run.data.metrics ?? []) metrics[m.key] = m.value;
  for (const t of run.data.tags ?? []) tags[t.key] = t.value;
  return { run, params, metrics, tags };
}

export function runName(row: RunRow): string {
  return row.run.info.run_name || row.tags["mlflow.runName"] || row.run.info.run_id;
}

// Every param, metric and tag key seen across rows, sorted within each kind.
export function availableColumns(rows: RunRow[]): ColumnId[] {
  const seen: Record<ColumnKind, Set<string>> = { params: new Set(), metrics: new Set(), tags: new Set() };
  for (const row of rows) {
    for (const kind of ["params", "metrics", "tags"] as const) for (const key in row[kind]) seen[kind].add(key);
  }
  const columns: ColumnId[] = [];
  for (const kind of ["metrics", "params", "tags"] as const) {
    for (const key of [...seen[kind]].sort()) if (!(kind === "tags" && key.startsWith("mlflow."))) columns.push({ kind, key });
  }
  return columns;
}

// Case-insensitive substring search over column names, capped (a chooser shows the first matches).
export function searchColumns(columns: ColumnId[], text: string, limit = 500): { matches: ColumnId[]; total: number } {
  const needle = text.trim().toLowerCase();
  const matches: ColumnId[] = [];
  let total = 0;
  for (const column of columns) {
    if (!needle || columnName(column).toLowerCase().includes(needle)) {
      total++;
      if (matches.length < limit) matches.push(column);
    }
  }
  return { matches, total };
}

export function cellValue(row: RunRow, column: ColumnId): string | number | undefined {
  return row[column.kind][column.key];
}

// Rows grouped by the value of one column (a param or tag), in first-seen order.
export function groupRows(rows: RunRow[], by: ColumnId | null): { value: string; rows: RunRow[] }[] {
  if (!by) return [{ value: "", rows }];
  const groups = new Map<string, RunRow[]>();
  for (const row of rows) {
    const value = String(cellValue(row, by) ?? "(none)");
    if (!groups.has(value)) groups.set(value, []);
    groups.get(value)!.push(row);
  }
  return [...groups].map(([value, rows]) => ({ value, rows }));
}

// For compare: the keys whose values are not all equal across runs.
export function differingKeys(rows: RunRow[], kind: ColumnKind): Set<string> {
  const keys = new Set<string>();
  for (const row of rows) for (const key in row[kind]) keys.add(key);
  const differing = new Set<string>();
  for (const key of keys) {
    const values = new Set(rows.map((row) => String(row[kind][key] ?? "\u0000missing")));
    if (values.size > 1) differing.add(key);
  }
  return differing;
}

interface SearchPage {
  runs?: Run[];
}

// A run as the runs table last fetched it (runs/search answers with whole runs), so the run page can
// draw at once on a click from the table while runs/get refreshes it.
export function cachedRun(client: QueryClient, runId: string): { run: Run; updatedAt: number } | undefined {
  for (const [queryKey, data] of client.getQueriesData<InfiniteData<SearchPage>>({ queryKey: ["runs"] })) {
    const run = data?.pages.flatMap((page) => page.runs ?? []).find((r) => r.info.run_id === runId);
    if (run) return { run, updatedAt: client.getQueryState(queryKey)?.dataUpdatedAt ?? 0 };
  }
  return undefined;
}
