import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router";
import { api } from "../api/client";
import type { Attempt, Job, JobEvent, LogLine } from "../api/types";
import { LogView } from "../components/LogView";
import { ErrorBox, KeyValueTable, Loading, Section, StateBadge } from "../components/common";
import { formatTime } from "../lib/format";
import { appendLines } from "../lib/logBuffer";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

// Live log: long-polls the server (wait_seconds) so a new line shows within about a second.
function useLiveLog(jobId: string): { lines: LogLine[]; error: unknown } {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stopped = false;
    let after = 0;
    const controller = new AbortController();
    setLines([]);
    (async () => {
      while (!stopped) {
        try {
          const page = await api.getPath<{ lines: LogLine[]; next_after: number; state: string }>(
            `/api/v1/jobs/${jobId}/logs`,
            { after, limit: 10_000, wait_seconds: 10 },
            controller.signal,
          );
          after = page.next_after;
          if (page.lines.length) setLines((current) => appendLines(current, page.lines));
          if (TERMINAL.has(page.state) && page.lines.length < 10_000) break;
        } catch (e) {
          if (!stopped) setError(e);
          break;
        }
      }
    })();
    return () => {
      stopped = true;
      controller.abort();
    };
  }, [jobId]);
  return { lines, error };
}

export function JobPage() {
  const { jobId = "" } = useParams();
  const client = useQueryClient();
  const job = useQuery({
    queryKey: ["job", jobId],
    queryFn: () => api.getPath<{ job: Job; attempts: Attempt[] }>(`/api/v1/jobs/${jobId}`),
    refetchInterval: (query) => (query.state.data && TERMINAL.has(query.state.data.job.state) ? false : 2000),
  });
  const events = useQuery({
    queryKey: ["job-events", jobId],
    queryFn: () => api.getPath<{ events: JobEvent[] }>(`/api/v1/jobs/${jobId}/events`),
    refetchInterval: (query) => (job.data && TERMINAL.has(job.data.job.state) && query.state.data ? false : 2000),
  });
  const log = useLiveLog(jobId);
  const refresh = () => void client.invalidateQueries({ queryKey: ["job", jobId] });
  const cancel = useMutation({ mutationFn: () => api.postPath(`/api/v1/jobs/${jobId}/cancel`), onSuccess: refresh });
  const retry = useMutation({ mutationFn: () => api.postPath(`/api/v1/jobs/${jobId}/retry`), onSuccess: refresh });
  if (job.isLoading) return <Loading what="job" />;
  if (job.error) return <ErrorBox error={job.error} />;
  const j = job.data!.job;
  return (
    <div>
      <div className="crumbs">
        <Link to="/jobs">Jobs</Link> /
      </div>
      <h1>
        Job {j.job_id} <StateBadge state={j.state} />
      </h1>
      <div className="toolbar">
        <button type="button" className="danger" disabled={TERMINAL.has(j.state)} onClick={() => cancel.mutate()}>
          Cancel
        </button>
        <button type="button" disabled={!TERMINAL.has(j.state)} onClick={() => retry.mutate()}>
          Retry
        </button>
      </div>
      <ErrorBox error={cancel.error ?? retry.error} />
      <div className="columns">
        <Section title="Details">
          <KeyValueTable
            empty=""
            rows={[
              ["Recipe", <Link to={`/recipes/${j.recipe}`}>{`${j.recipe}:${j.recipe_version}`}</Link>],
              ["Queue", j.queue],
              ["Priority", String(j.priority)],
              ["Attempt", `${j.attempt} (retries allowed: ${j.max_retries})`],
              ["Worker", j.worker_id ?? "—"],
              ["Submitted", formatTime(j.submitted_time)],
              ["Started", formatTime(j.started_time)],
              ["Finished", formatTime(j.finished_time)],
              ["Reason", j.reason ?? ""],
              ["Exit code", j.exit_code === null ? "" : String(j.exit_code)],
              ["Run", j.run_id && j.experiment_id ? <Link to={`/experiments/${j.experiment_id}/runs/${j.run_id}`}>{j.run_id}</Link> : "—"],
            ]}
          />
        </Section>
        <Section title="Parameters">
          <pre className="preview-text">{JSON.stringify(j.parameters, null, 2)}</pre>
        </Section>
      </div>
      <Section title="Attempts">
        {job.data!.attempts.length ? (
          <table className="grid">
            <thead>
              <tr>
                <th>Attempt</th>
                <th>Worker</th>
                <th>State</th>
                <th>Started</th>
                <th>Finished</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {job.data!.attempts.map((a) => (
                <tr key={a.attempt}>
                  <td>{a.attempt}</td>
                  <td className="mono">{a.worker_id}</td>
                  <td>
                    <StateBadge state={a.state} />
                  </td>
                  <td>{formatTime(a.started_time)}</td>
                  <td>{formatTime(a.finished_time)}</td>
                  <td>{a.reason}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted">No attempts yet.</p>
        )}
      </Section>
      <Section title="Log">
        <ErrorBox error={log.error} />
        <LogView lines={log.lines} />
      </Section>
      <Section title="Events">
        <table className="grid">
          <tbody>
            {(events.data?.events ?? []).map((e) => (
              <tr key={e.event_id}>
                <td>{formatTime(e.time)}</td>
                <td>{e.kind}</td>
                <td>{e.from_state && e.to_state ? `${e.from_state} → ${e.to_state}` : (e.to_state ?? "")}</td>
                <td>{e.message}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}
