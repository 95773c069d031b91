import { useQuery } from "@tanstack/react-query";
import { ApiError, api } from "../api/client";
import { ErrorBox, Loading } from "../components/common";
import { formatTime } from "../lib/format";

interface TraceInfo {
  trace_id?: string;
  request_id?: string;
  request_time?: string | number;
  timestamp_ms?: number;
  state?: string;
  status?: string;
  execution_duration?: string;
}

// The newest traces of the experiments the user can see (trace search names its experiments).
async function searchTraces(): Promise<TraceInfo[] | null> {
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
      max_results: 100,
    });
    return found.traces ?? [];
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return null;
    throw error;
  }
}

export function TracesPage() {
  const traces = useQuery({ queryKey: ["traces"], queryFn: searchTraces });
  return (
    <div>
      <h1>Traces</h1>
      {traces.isLoading ? <Loading what="traces" /> : null}
      <ErrorBox error={traces.error} />
      {traces.data === null || (traces.data && !traces.data.length) ? <p className="empty">No traces.</p> : null}
      {traces.data?.length ? (
        <table className="grid">
          <thead>
            <tr>
              <th>Trace</th>
              <th>Time</th>
              <th>State</th>
            </tr>
          </thead>
          <tbody>
            {traces.data.map((t) => (
              <tr key={t.trace_id ?? t.request_id}>
                <td className="mono">{t.trace_id ?? t.request_id}</td>
                <td>{formatTime(Number(t.timestamp_ms ?? Date.parse(String(t.request_time))))}</td>
                <td>{t.state ?? t.status}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
