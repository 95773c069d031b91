import { useQuery } from "@tanstack/react-query";
import { api } from "../api/client";
import type { Pool, Queue, Worker } from "../api/types";
import { ErrorBox, Section, StateBadge } from "../components/common";
import { formatTime } from "../lib/format";

export function PoolsPage() {
  const pools = useQuery({ queryKey: ["pools"], queryFn: () => api.get<{ pools: Pool[] }>("/api/v1/pools"), refetchInterval: 5000 });
  const queues = useQuery({ queryKey: ["queues"], queryFn: () => api.get<{ queues: Queue[] }>("/api/v1/queues"), refetchInterval: 5000 });
  const workers = useQuery({
    queryKey: ["workers"],
    queryFn: () => api.get<{ workers: Worker[] }>("/api/v1/workers", { all: true }),
    refetchInterval: 5000,
  });
  return (
    <div>
      <h1>Pools</h1>
      <ErrorBox error={pools.error ?? queues.error ?? workers.error} />
      <Section title="Queues">
        {queues.data && !queues.data.queues.length ? <p className="empty">No queues.</p> : null}
        <table className="grid">
          <thead>
            <tr>
              <th>Queue</th>
              <th>Priority</th>
              <th>Served by</th>
              <th>Queued</th>
              <th>Assigned</th>
              <th>Running</th>
            </tr>
          </thead>
          <tbody>
            {(queues.data?.queues ?? []).map((q) => (
              <tr key={q.name}>
                <td>{q.name}</td>
                <td>{q.priority}</td>
                <td>{q.pools.join(", ") || <span className="warn">no pool</span>}</td>
                <td>{q.queued}</td>
                <td>{q.assigned}</td>
                <td>{q.running}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Compute pools">
        {pools.data && !pools.data.pools.length ? <p className="empty">No pools.</p> : null}
        <table className="grid">
          <thead>
            <tr>
              <th>Pool</th>
              <th>Queues</th>
              <th>Workers</th>
              <th>GPUs in use</th>
              <th>Jobs running</th>
              <th>Source</th>
            </tr>
          </thead>
          <tbody>
            {(pools.data?.pools ?? []).map((p) => (
              <tr key={p.name}>
                <td>{p.name}</td>
                <td>{p.queues.join(", ")}</td>
                <td>{p.workers}</td>
                <td>
                  <meter min={0} max={Math.max(1, p.gpus_total)} value={p.gpus_in_use} /> {p.gpus_in_use} / {p.gpus_total}
                </td>
                <td>{p.jobs_running}</td>
                <td>{p.source}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Workers">
        {workers.data && !workers.data.workers.length ? <p className="empty">No workers.</p> : null}
        <table className="grid">
          <thead>
            <tr>
              <th>Worker</th>
              <th>Pool</th>
              <th>State</th>
              <th>Occupancy</th>
              <th>Last heartbeat</th>
            </tr>
          </thead>
          <tbody>
            {(workers.data?.workers ?? []).map((w) => (
              <tr key={w.worker_id} className={w.state === "lost" ? "lost" : ""}>
                <td className="mono">{w.worker_id}</td>
                <td>{w.pool}</td>
                <td>
                  <StateBadge state={String(w.state)} />
                </td>
                <td>
                  {w.gpus.length ? `${w.gpus_in_use.length} of ${w.gpus.length} in use` : `${w.jobs.length} of ${w.slots} slots`}
                </td>
                <td>{formatTime(w.last_heartbeat)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </div>
  );
}
