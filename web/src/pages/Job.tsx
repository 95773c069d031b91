import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useParams } from "react-router";
import { api } from "../api/client";
import type { Attempt, Job, JobEvent, LogLine } from "../api/types";
import { LogView } from "../components/LogView";
import { ErrorBox, KeyValueTable, Loading, Section, StateBadge } from "../components/common";
import { formatTime } from "../lib/format";
import { useLiveEvents } from "../lib/live";
import { appendLines, prependLines } from "../lib/logBuffer";

const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

const TAIL = 5_000; // lines fetched when the page opens: a long log opens at its end
const PAGE_BACK = 10_000; // lines fetched each time the user scrolls to the top of what is loaded

export interface LiveLog {
  lines: LogLine[];
  error: string | null;
  hasEarlier: boolean;
  loadEarlier: () => Promise<void>;
}

// The log opens at its tail (the last lines, one request), then follows over Server-Sent Events (the
// server's `follow=true` stream) from the last line seen; earlier lines are fetched as the user scrolls
// up. Streamed lines are batched and handed to React at most every 100 ms, so a fast writer (thousands
// of lines a second) never floods rendering. A dropped stream is reopened from the last line seen; a
// new attempt (after Retry) reopens it too.
function useLiveLog(jobId: string, attempt: number): LiveLog {
  const [lines, setLines] = useState<LogLine[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [opened, setOpened] = useState<string | null>(null); // the job whose tail is loaded
  const [hasEarlier, setHasEarlier] = useState(false);
  const last = useRef(0);
  const first = useRef<number | null>(null);
  const loading = useRef(false);
  useEffect(() => {
    let stopped = false;
    last.current = 0;
    first.current = null;
    setLines([]);
    setOpened(null);
    setHasEarlier(false);
    api
      .getPath<{ lines: LogLine[] }>(`/api/v1/jobs/${encodeURIComponent(jobId)}/logs`, { tail: true, limit: TAIL })
      .then(({ lines: tail }) => {
        if (stopped) return;
        if (tail.length) {
          last.current = tail[tail.length - 1].line_id;
          first.current = tail[0].line_id;
        }
        setLines(tail);
        setHasEarlier(tail.length === TAIL);
        setOpened(jobId);
      })
      .catch((e: Error) => !stopped && setError(e.message));
    return () => {
      stopped = true;
    };
  }, [jobId]);
  useEffect(() => {
    if (opened !== jobId) return;
    let pending: LogLine[] = [];
    let source: EventSource | null = null;
    let stopped = false;
    let failures = 0;
    const flush = window.setInterval(() => {
      if (!pending.length) return;
      const batch = pending;
      pending = [];
      setLines((current) => appendLines(current, batch));
    }, 100);
    const open = () => {
      source = new EventSource(`/api/v1/jobs/${encodeURIComponent(jobId)}/logs?follow=true&after=${last.current}`);
      source.addEventListener("line", (event) => {
        const line = JSON.parse((event as MessageEvent).data) as LogLine;
        last.current = Math.max(last.current, line.line_id);
        if (first.current === null) first.current = line.line_id;
        failures = 0;
        pending.push(line);
      });
      source.addEventListener("end", () => source?.close());
      source.onerror = () => {
        source?.close();
        if (stopped) return;
        if (++failures > 5) {
          setError("the log stream is unavailable; reload the page to retry");
          return;
        }
        window.setTimeout(() => !stopped && open(), 1000 * failures);
      };
    };
    setError(null);
    open();
    return () => {
      stopped = true;
      source?.close();
      window.clearInterval(flush);
    };
  }, [jobId, attempt, opened]);
  const loadEarlier = useCallback(async () => {
    if (loading.current || first.current === null) return;
    loading.current = true;
    try {
      const { lines: earlier } = await api.getPath<{ lines: LogLine[] }>(
        `/api/v1/jobs/${encodeURIComponent(jobId)}/logs`,
        { before: first.current, limit: PAGE_BACK },
      );
      if (earlier.length) first.current = earlier[0].line_id;
      setLines((current) => prependLines(current, earlier));
      setHasEarlier(earlier.length === PAGE_BACK);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      loading.current = false;
    }
  }, [jobId]);
  return { lines, error, hasEarlier, loadEarlier };
}

export function JobPage() {
  const { jobId = "" } = useParams();
  const client = useQueryClient();
  const job = useQuery({
    queryKey: ["job", jobId],
    queryFn: () => api.getPath<{ job: Job; attempts: Attempt[] }>(`/api/v1/jobs/${jobId}`),
  });
  const events = useQuery({
    queryKey: ["job-events", jobId],
    queryFn: () => api.getPath<{ events: JobEvent[] }>(`/api/v1/jobs/${jobId}/events`),
  });
  // State changes (and the events behind them) arrive over the jobs stream.
  useLiveEvents("/api/v1/live/jobs", {
    jobs: (data) => {
      if (!(data as { jobs: { job_id: string }[] }).jobs.some((j) => j.job_id === jobId)) return;
      void client.invalidateQueries({ queryKey: ["job", jobId] });
      void client.invalidateQueries({ queryKey: ["job-events", jobId] });
    },
  });
  const log = useLiveLog(jobId, job.data?.job.attempt ?? 0);
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
        {log.error ? <div className="error">{log.error}</div> : null}
        <LogView lines={log.lines} hasEarlier={log.hasEarlier} onLoadEarlier={log.loadEarlier} />
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
