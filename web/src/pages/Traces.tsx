import { useQuery } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { ApiError, api } from "../api/client";
import { ErrorBox, Loading } from "../components/common";
import { formatTime } from "../lib/format";
import type { TraceInfo } from "../lib/traces";

// The newest traces of the experiments the user can see (trace search names its experiments),
// restricted by the server's trace filter grammar.
async function searchTraces(filter: string): Promise<TraceInfo[] | null> {
  try {
    const experiments = await api.postPath<{ experiments?: { experiment_id: string }[] }>(
      "/api/2.0/mlflow/experiments/search",
      { max_results: 100 },
    );
    const ids = (experiments.experiments ?? []).map((e) => e.experiment_id);
    if (!ids.length) return [];
    const locations = ids.map((id) => ({ type: "MLFLOW_EXPERIMENT", mlflow_experiment: { experiment_id: id } }));
    const found = await api.postPath<{ traces?: TraceInfo[] }>("/api/3.0/mlflow/traces/search", {
      locations,
      filter: filter || undefined,
      max_results: 500,
      order_by: ["timestamp_ms DESC"],
    });
    return found.traces ?? [];
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return null;
    throw error;
  }
}

const traceName = (t: TraceInfo) => t.tags?.["mlflow.traceName"] ?? "";

export function TracesPage() {
  const [filterText, setFilterText] = useState("");
  const [filter, setFilter] = useState("");
  const [text, setText] = useState("");
  const traces = useQuery({ queryKey: ["traces", filter], queryFn: () => searchTraces(filter) });
  const shown = useMemo(() => {
    const needle = text.trim().toLowerCase();
    const all = traces.data ?? [];
    if (!needle) return all;
    return all.filter((t) =>
      [t.trace_id, traceName(t), t.request_preview, t.response_preview].some((v) => (v ?? "").toLowerCase().includes(needle)),
    );
  }, [traces.data, text]);
  return (
    <div>
      <h1>Traces</h1>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter(filterText.trim());
        }}
      >
        <input
          type="search"
          aria-label="Search traces"
          placeholder="Search id, name, request, response"
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <input
          className="filter"
          aria-label="Filter traces"
          placeholder="Filter, e.g. tags.mlflow.traceName = 'agent' AND status = 'OK'"
          value={filterText}
          onChange={(e) => setFilterText(e.target.value)}
        />
        <button type="submit">Filter</button>
      </form>
      {traces.isLoading ? <Loading what="traces" /> : null}
      <ErrorBox error={traces.error} />
      {traces.data === null || (traces.data && !shown.length) ? <p className="empty">No traces.</p> : null}
      {shown.length ? (
        <table className="grid">
          <thead>
            <tr>
              <th>Trace</th>
              <th>Name</th>
              <th>Request</th>
              <th>Response</th>
              <th>Time</th>
              <th>Duration</th>
              <th>State</th>
              <th>Assessments</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((t) => (
              <tr key={t.trace_id}>
                <td className="mono">
                  <Link to={`/traces/${encodeURIComponent(t.trace_id)}`}>{t.trace_id}</Link>
                </td>
                <td>{traceName(t)}</td>
                <td className="preview-cell">{t.request_preview}</td>
                <td className="preview-cell">{t.response_preview}</td>
                <td>{t.request_time ? formatTime(Date.parse(t.request_time)) : ""}</td>
                <td>{t.execution_duration}</td>
                <td>{t.state}</td>
                <td>{t.assessments?.length ?? 0}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}

