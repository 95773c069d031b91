import { useInfiniteQuery, useQuery, useQueryClient } from "@tanstack/react-query";
import {
  type ColumnDef,
  type SortingState,
  flexRender,
  getCoreRowModel,
  useReactTable,
} from "@tanstack/react-table";
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { api, withQuery } from "../api/client";
import type { Experiment, Run } from "../api/types";
import { ColumnChooser } from "../components/ColumnChooser";
import { type Entry, VirtualRows } from "../components/VirtualRows";
import { ErrorBox, Loading, StateBadge } from "../components/common";
import { formatDuration, formatTime, formatValue, identifier } from "../lib/format";
import { useLiveEvents } from "../lib/live";
import {
  type RunRow,
  availableColumns,
  cellValue,
  columnName,
  groupRows,
  parseColumnName,
  runName,
  toRow,
} from "../lib/runs";
import { loadRunPage } from "./loaders";

interface SearchResponse {
  runs?: Run[];
  next_page_token?: string;
}

// The first page is small, so the first rows show at once; scrolling fetches the rest in large pages.
const FIRST_PAGE = 100;
const PAGE = 1000;
const ROW_HEIGHT = 30;

// Sorting a table column sorts on the server (runyard's order_by), so it covers every run, not a page.
export function orderBy(sorting: SortingState): string[] {
  return sorting.map(({ id, desc }) => {
    const column = parseColumnName(id);
    const attribute: Record<string, string> = { name: "attributes.run_name", start: "attributes.start_time", status: "attributes.status" };
    const field = column ? identifier(column.kind, column.key) : (attribute[id] ?? "attributes.start_time");
    return `${field} ${desc ? "DESC" : "ASC"}`;
  });
}

export function RunsPage() {
  const { experimentId = "" } = useParams();
  const navigate = useNavigate();
  const experimentIds = experimentId.split(",");
  const [filterText, setFilterText] = useState("");
  const [filter, setFilter] = useState("");
  const [sorting, setSorting] = useState<SortingState>([{ id: "start", desc: true }]);
  const [chosen, setChosen] = useState<string[]>([]);
  const [groupBy, setGroupBy] = useState("");
  const [selected, setSelected] = useState<Set<string>>(new Set());

  const experiment = useQuery({
    queryKey: ["experiment", experimentIds[0]],
    queryFn: () =>
      api.get<{ experiment: Experiment }>("/api/2.0/mlflow/experiments/get", { experiment_id: experimentIds[0] }),
  });
  const runs = useInfiniteQuery({
    queryKey: ["runs", experimentId, filter, sorting],
    initialPageParam: undefined as string | undefined,
    queryFn: ({ pageParam }) =>
      api.post<SearchResponse>("/api/2.0/mlflow/runs/search", {
        experiment_ids: experimentIds,
        filter: filter || undefined,
        order_by: orderBy(sorting),
        max_results: pageParam ? PAGE : FIRST_PAGE,
        page_token: pageParam,
      }),
    getNextPageParam: (last) => last.next_page_token || undefined,
  });
  // Rows update live: the experiments' stream names runs created, logged to or finished; the loaded
  // pages are then fetched again in place (the scroll position stays).
  const client = useQueryClient();
  // A run's page (and its charts) is the next page opened from here: fetch its chunk while idle.
  useEffect(() => {
    const warm = () => void loadRunPage();
    if (typeof requestIdleCallback !== "function") return warm();
    const handle = requestIdleCallback(warm, { timeout: 2_000 });
    return () => cancelIdleCallback(handle);
  }, []);
  useLiveEvents(withQuery("/api/v1/live/runs", { experiment_ids: experimentIds }), {
    runs: () => void client.invalidateQueries({ queryKey: ["runs", experimentId] }),
  });

  const rows = useMemo(() => (runs.data?.pages ?? []).flatMap((p) => p.runs ?? []).map(toRow), [runs.data]);
  const columns = useMemo(() => availableColumns(rows), [rows]);
  // Until the user chooses, show the first few metrics and params.
  useEffect(() => {
    if (!chosen.length && columns.length) {
      const metrics = columns.filter((c) => c.kind === "metrics").slice(0, 4);
      const params = columns.filter((c) => c.kind === "params").slice(0, 4);
      setChosen([...metrics, ...params].map(columnName));
    }
  }, [columns, chosen.length]);

  const grouped = useMemo(() => {
    const by = parseColumnName(groupBy);
    const groups = groupRows(rows, by);
    if (!by) return rows.map((row) => ({ row, group: null as string | null }));
    return groups.flatMap((g) => [
      { row: null as RunRow | null, group: `${groupBy} = ${g.value} (${g.rows.length})` },
      ...g.rows.map((row) => ({ row, group: null as string | null })),
    ]);
  }, [rows, groupBy]);

  const tableColumns = useMemo<ColumnDef<RunRow>[]>(() => {
    const base: ColumnDef<RunRow>[] = [
      {
        id: "select",
        header: "",
        size: 32,
        enableSorting: false,
        cell: ({ row }) => (
          <input
            type="checkbox"
            aria-label={"Select " + runName(row.original)}
            checked={selected.has(row.original.run.info.run_id)}
            onChange={() => {
              const next = new Set(selected);
              const id = row.original.run.info.run_id;
              if (next.has(id)) next.delete(id);
              else next.add(id);
              setSelected(next);
            }}
          />
        ),
      },
      {
        id: "name",
        header: "Run",
        accessorFn: (row) => runName(row),
        size: 220,
        cell: ({ row }) => (
          <Link to={`/experiments/${row.original.run.info.experiment_id}/runs/${row.original.run.info.run_id}`}>
            {runName(row.original)}
          </Link>
        ),
      },
      { id: "status", header: "Status", size: 100, accessorFn: (row) => row.run.info.status, cell: ({ row }) => <StateBadge state={row.original.run.info.status} /> },
      { id: "start", header: "Started", size: 170, accessorFn: (row) => row.run.info.start_time, cell: ({ row }) => formatTime(row.original.run.info.start_time) },
      {
        id: "duration",
        header: "Duration",
        size: 90,
        enableSorting: false,
        cell: ({ row }) => formatDuration(row.original.run.info.start_time, row.original.run.info.end_time),
      },
    ];
    for (const name of chosen) {
      const column = parseColumnName(name);
      if (!column) continue;
      base.push({
        id: name,
        header: name,
        size: 130,
        // Sorting is done by the server (manualSorting); the accessor only makes the column sortable.
        accessorFn: (row) => cellValue(row, column),
        cell: ({ row }) => formatValue(cellValue(row.original, column)),
      });
    }
    return base;
  }, [chosen, selected]);

  const table = useReactTable({
    data: rows,
    columns: tableColumns,
    state: { sorting },
    onSortingChange: setSorting,
    manualSorting: true,
    enableMultiSort: false,
    sortDescFirst: false,
    getCoreRowModel: getCoreRowModel(),
  });
  const tableRows = table.getRowModel().rows;
  const byRunId = useMemo(() => new Map(tableRows.map((r) => [r.original.run.info.run_id, r])), [tableRows]);

  const entries = useMemo<Entry<RunRow>[]>(
    () =>
      grouped.flatMap(({ row, group }): Entry<RunRow>[] => {
        if (!row) return [{ key: "group " + group, group: group ?? "" }];
        const tableRow = byRunId.get(row.run.info.run_id);
        return tableRow ? [{ key: row.run.info.run_id, cells: tableRow.getVisibleCells() }] : [];
      }),
    // The cells follow the columns (and the selection their checkboxes show).
    [grouped, byRunId, tableColumns],
  );
  const { hasNextPage, isFetchingNextPage, fetchNextPage } = runs;
  const fetchMore = useCallback(() => {
    if (hasNextPage && !isFetchingNextPage) void fetchNextPage();
  }, [hasNextPage, isFetchingNextPage, fetchNextPage]);

  const width = tableColumns.reduce((sum, c) => sum + (c.size ?? 120), 0);
  const template = tableColumns.map((c) => `${c.size ?? 120}px`).join(" ");

  return (
    <div>
      <div className="crumbs">
        <Link to="/experiments">Experiments</Link> /
      </div>
      <h1>{experiment.data?.experiment.name ?? "Experiment " + experimentId}</h1>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter(filterText.trim());
        }}
      >
        <input
          className="filter"
          placeholder="Filter runs, e.g. metrics.loss < 0.5 AND (params.lr = '0.1' OR tags.team = 'a')"
          aria-label="Filter runs"
          value={filterText}
          onChange={(e) => setFilterText(e.target.value)}
        />
        <button type="submit">Search</button>
        <ColumnChooser columns={columns} chosen={chosen} onChange={setChosen} />
        <select aria-label="Group by" value={groupBy} onChange={(e) => setGroupBy(e.target.value)}>
          <option value="">No grouping</option>
          {columns
            .filter((c) => c.kind !== "metrics")
            .map((c) => (
              <option key={columnName(c)} value={columnName(c)}>
                Group by {columnName(c)}
              </option>
            ))}
        </select>
        <button
          type="button"
          disabled={selected.size < 1}
          onClick={() => navigate(`/compare?runs=${[...selected].join(",")}&experiments=${experimentIds.join(",")}`)}
        >
          Compare ({selected.size})
        </button>
      </form>
      {runs.error ? (
        <div className="error filter-error" role="alert">
          {(runs.error as Error).message}
        </div>
      ) : null}
      <ErrorBox error={experiment.error} />
      <div className="muted small">
        {rows.length} runs{runs.hasNextPage ? " (more on scroll)" : ""}
      </div>
      {runs.isLoading ? <Loading what="runs" /> : null}
      {runs.data && !rows.length ? <p className="empty">No runs match.</p> : null}
      <VirtualRows
        label="Runs"
        entries={entries}
        template={template}
        width={width}
        rowHeight={ROW_HEIGHT}
        onNearEnd={fetchMore}
        header={
          <div className="vrow vhead" role="row" style={{ gridTemplateColumns: template, width }}>
            {table.getHeaderGroups()[0]?.headers.map((header) => (
              <div
                key={header.id}
                role="columnheader"
                className={header.column.getCanSort() ? "sortable" : ""}
                onClick={header.column.getToggleSortingHandler()}
                title={String(header.column.columnDef.header ?? "")}
              >
                {flexRender(header.column.columnDef.header, header.getContext())}
                {{ asc: " ▲", desc: " ▼" }[header.column.getIsSorted() as string] ?? ""}
              </div>
            ))}
          </div>
        }
      />
    </div>
  );
}
