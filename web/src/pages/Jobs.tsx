import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { Link } from "react-router";
import { api } from "../api/client";
import type { Job } from "../api/types";
import { ErrorBox, Loading, StateBadge } from "../components/common";
import { formatDuration, formatTime } from "../lib/format";
import { useLiveEvents } from "../lib/live";

export const JOB_STATES = ["queued", "assigned", "running", "succeeded", "failed", "cancelled", "lost"];

export function JobsPage() {
  const [state, setState] = useState("");
  const [queue, setQueue] = useState("");
  const [recipe, setRecipe] = useState("");
  const [user, setUser] = useState("");
  const jobs = useQuery({
    queryKey: ["jobs", state, queue, recipe],
    queryFn: () =>
      api.get<{ jobs: Job[] }>("/api/v1/jobs", {
        state: state ? [state] : undefined,
        queue: queue || undefined,
        recipe: recipe || undefined,
        limit: 500,
      }),
  });
  // Submissions and state changes arrive over the jobs stream.
  const client = useQueryClient();
  useLiveEvents("/api/v1/live/jobs", { jobs: () => void client.invalidateQueries({ queryKey: ["jobs"] }) });
  const shown = (jobs.data?.jobs ?? []).filter((j) => !user || (j.user_id ?? "").includes(user));
  return (
    <div>
      <h1>Jobs</h1>
      <div className="toolbar">
        <select aria-label="State" value={state} onChange={(e) => setState(e.target.value)}>
          <option value="">Any state</option>
          {JOB_STATES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
        <input aria-label="Queue" placeholder="Queue" value={queue} onChange={(e) => setQueue(e.target.value)} />
        <input aria-label="Recipe" placeholder="Recipe" value={recipe} onChange={(e) => setRecipe(e.target.value)} />
        <input aria-label="User" placeholder="User" value={user} onChange={(e) => setUser(e.target.value)} />
      </div>
      <ErrorBox error={jobs.error} />
      {jobs.isLoading ? <Loading what="jobs" /> : null}
      {jobs.data && !shown.length ? <p className="empty">No jobs.</p> : null}
      {shown.length ? (
        <table className="grid">
          <thead>
            <tr>
              <th>Job</th>
              <th>Recipe</th>
              <th>Queue</th>
              <th>State</th>
              <th>Attempt</th>
              <th>Submitted</th>
              <th>Duration</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((job) => (
              <tr key={job.job_id}>
                <td>
                  <Link to={`/jobs/${job.job_id}`}>Job {job.job_id}</Link>
                </td>
                <td>
                  {job.recipe}:{job.recipe_version}
                </td>
                <td>{job.queue}</td>
                <td>
                  <StateBadge state={job.state} />
                </td>
                <td>{job.attempt}</td>
                <td>{formatTime(job.submitted_time)}</td>
                <td>{formatDuration(job.started_time, job.finished_time)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </div>
  );
}
