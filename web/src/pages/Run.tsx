import { useIsFetching, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import { Link, useParams } from "react-router";
import { api } from "../api/client";
import type { Run } from "../api/types";
import { ArtifactBrowser } from "../components/ArtifactBrowser";
import { MetricChart } from "../components/MetricChart";
import { ErrorBox, KeyValueTable, Loading, Section, StateBadge } from "../components/common";
import { formatDuration, formatTime, formatValue, quote } from "../lib/format";
import { chartQueryShows, useLiveEvents } from "../lib/live";
import { cachedRun } from "../lib/runs";

interface RunActivity {
  status: string;
  keys?: string[];
}

const CHARTS_SHOWN = 12;
const REST_AFTER_MS = 1_000;

export function RunPage() {
  const { experimentId = "", runId = "" } = useParams();
  const client = useQueryClient();
  const fromTable = useMemo(() => cachedRun(client, runId), [client, runId]);
  const run = useQuery({
    queryKey: ["run", runId],
    queryFn: () => api.get<{ run: Run }>("/api/2.0/mlflow/runs/get", { run_id: runId }),
    // Opened from the runs table: its copy draws the page (and starts the charts) without waiting.
    initialData: fromTable ? { run: fromTable.run } : undefined,
    initialDataUpdatedAt: fromTable?.updatedAt,
  });
  // The charts are the page's first business: its other requests start once the charts' first
  // answers are in (or after a moment, should they be slow), instead of competing with them.
  const chartsFetching = useIsFetching({ queryKey: ["downsample"] }) > 0;
  const [chartsAsked, setChartsAsked] = useState(false);
  const [restStarted, setRestStarted] = useState(false);
  if (chartsFetching && !chartsAsked) setChartsAsked(true);
  const noCharts = run.data !== undefined && !(run.data.run.data.metrics ?? []).length;
  useEffect(() => {
    if (restStarted) return;
    if (noCharts || (chartsAsked && !chartsFetching)) {
      setRestStarted(true);
      return;
    }
    const timer = setTimeout(() => setRestStarted(true), REST_AFTER_MS);
    return () => clearTimeout(timer);
  }, [noCharts, chartsAsked, chartsFetching, restStarted]);
  const children = useQuery({
    enabled: restStarted,
    queryKey: ["children", runId],
    queryFn: () =>
      api.post<{ runs?: Run[] }>("/api/2.0/mlflow/runs/search", {
        experiment_ids: [experimentId],
        filter: `tags.mlflow.parentRunId = ${quote(runId)}`,
        max_results: 100,
      }),
  });
  // Live: the run's stream says when it changed and which metrics have new latest points; only those
  // charts re-query (each keeps its zoom). On (re)connecting, an active run's charts are refreshed once.
  const refreshCharts = (keys: string[]) =>
    void client.invalidateQueries({ predicate: (q) => chartQueryShows(q.queryKey, runId, keys) });
  useLiveEvents(runId ? `/api/v1/live/metrics?run_id=${encodeURIComponent(runId)}` : null, {
    state: (data) => {
      if ((data as RunActivity).status === "RUNNING") {
        void client.invalidateQueries({ queryKey: ["run", runId] });
        refreshCharts([]);
      }
    },
    activity: (data) => {
      void client.invalidateQueries({ queryKey: ["run", runId] });
      refreshCharts((data as RunActivity).keys ?? []);
    },
  });
  const [tagKey, setTagKey] = useState("");
  const [tagValue, setTagValue] = useState("");
  const [chartFilter, setChartFilter] = useState("");
  const setTag = useMutation({
    mutationFn: () => api.post("/api/2.0/mlflow/runs/set-tag", { run_id: runId, key: tagKey, value: tagValue }),
    onSuccess: () => {
      setTagKey("");
      setTagValue("");
      void client.invalidateQueries({ queryKey: ["run", runId] });
    },
  });
  const deleteTag = useMutation({
    mutationFn: (key: string) => api.post("/api/2.0/mlflow/runs/delete-tag", { run_id: runId, key }),
    onSuccess: () => void client.invalidateQueries({ queryKey: ["run", runId] }),
  });
  const data = run.data?.run;
  const tags = useMemo(() => Object.fromEntries((data?.data.tags ?? []).map((t) => [t.key, t.value])), [data]);
  const metricKeys = useMemo(() => (data?.data.metrics ?? []).map((m) => m.key).sort(), [data]);
  if (run.isLoading) return <Loading what="run" />;
  if (run.error || !data) return <ErrorBox error={run.error} />;
  const info = data.info;
  const parent = tags["mlflow.parentRunId"];
  const jobId = tags["runyard.job_id"] ?? tags["runyard.job"];
  const shownCharts = metricKeys.filter((k) => k.toLowerCase().includes(chartFilter.toLowerCase()));
  return (
    <div>
      <div className="crumbs">
        <Link to="/experiments">Experiments</Link> / <Link to={`/experiments/${experimentId}`}>Experiment {experimentId}</Link> /
      </div>
      <h1>
        {info.run_name || info.run_id} <StateBadge state={info.status} />
      </h1>
      <div className="columns">
        <Section title="Overview">
          <KeyValueTable
            empty=""
            rows={[
              ["Run ID", <span className="mono">{info.run_id}</span>],
              ["Status", info.status],
              ["Started", formatTime(info.start_time)],
              ["Ended", formatTime(info.end_time)],
              ["Duration", formatDuration(info.start_time, info.end_time)],
              ["User", info.user_id ?? ""],
              ["Source", tags["mlflow.source.name"] ?? ""],
              ...(parent ? ([["Parent run", <Link to={`/experiments/${experimentId}/runs/${parent}`}>{parent}</Link>]] as [string, React.ReactNode][]) : []),
              ...(jobId ? ([["Job", <Link to={`/jobs/${jobId}`}>{jobId}</Link>]] as [string, React.ReactNode][]) : []),
              ...(tags["runyard.attempt"] ? ([["Attempt", tags["runyard.attempt"]]] as [string, React.ReactNode][]) : []),
            ]}
          />
          {children.data?.runs?.length ? (
            <>
              <h3>Child runs</h3>
              <ul>
                {children.data.runs.map((child) => (
                  <li key={child.info.run_id}>
                    <Link to={`/experiments/${experimentId}/runs/${child.info.run_id}`}>{child.info.run_name || child.info.run_id}</Link>
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </Section>
        <Section title="Parameters">
          <KeyValueTable empty="No parameters." rows={(data.data.params ?? []).map((p) => [p.key, p.value])} />
        </Section>
        <Section title="Metrics">
          <KeyValueTable empty="No metrics." rows={(data.data.metrics ?? []).map((m) => [m.key, formatValue(m.value)])} />
        </Section>
      </div>
      <Section
        title="Charts"
        actions={
          metricKeys.length > CHARTS_SHOWN || chartFilter ? (
            <input type="search" aria-label="Filter charts" placeholder="Filter charts" value={chartFilter} onChange={(e) => setChartFilter(e.target.value)} />
          ) : null
        }
      >
        {!metricKeys.length ? <p className="muted">No metrics logged.</p> : null}
        <div className="charts">
          {shownCharts.slice(0, CHARTS_SHOWN).map((key) => (
            <MetricChart key={key} runIds={[runId]} keys={[key]} />
          ))}
        </div>
        {shownCharts.length > CHARTS_SHOWN ? <p className="muted">{shownCharts.length - CHARTS_SHOWN} more: filter to see them.</p> : null}
      </Section>
      <Section title="Tags">
        <table className="kv">
          <tbody>
            {(data.data.tags ?? [])
              .filter((t) => !t.key.startsWith("mlflow."))
              .map((t) => (
                <tr key={t.key}>
                  <th>{t.key}</th>
                  <td>{t.value}</td>
                  <td>
                    <button className="danger" onClick={() => deleteTag.mutate(t.key)} aria-label={"Delete tag " + t.key}>
                      Delete
                    </button>
                  </td>
                </tr>
              ))}
          </tbody>
        </table>
        <form
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            if (tagKey) setTag.mutate();
          }}
        >
          <input aria-label="Tag key" placeholder="key" value={tagKey} onChange={(e) => setTagKey(e.target.value)} />
          <input aria-label="Tag value" placeholder="value" value={tagValue} onChange={(e) => setTagValue(e.target.value)} />
          <button type="submit">Add tag</button>
        </form>
        <ErrorBox error={setTag.error ?? deleteTag.error} />
      </Section>
      {data.inputs?.dataset_inputs?.length ? (
        <Section title="Datasets">
          <KeyValueTable
            empty=""
            rows={data.inputs.dataset_inputs.map((d) => [d.dataset.name, `${d.dataset.digest} ${d.dataset.source_type ?? ""}`])}
          />
        </Section>
      ) : null}
      {data.outputs?.model_outputs?.length ? (
        <Section title="Logged models">
          <ul>
            {data.outputs.model_outputs.map((m) => (
              <li key={m.model_id} className="mono">
                {m.model_id} (step {m.step})
              </li>
            ))}
          </ul>
        </Section>
      ) : null}
      <Section title="Artifacts">
        {restStarted ? <ArtifactBrowser runId={runId} artifactUri={info.artifact_uri ?? ""} /> : <Loading what="artifacts" />}
      </Section>
    </div>
  );
}
