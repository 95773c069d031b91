"""The platform's state as numbers: queue depth, jobs by state, GPUs per pool (for ``/metrics``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection

from runyard.domain.jobs import JobState
from runyard.services import pools as pool_service
from runyard.services import workers as worker_service
from runyard.stores.metadata import compute_stats


@dataclass(frozen=True)
class PlatformStats:
    queue_depth: dict[str, int] = field(default_factory=dict)
    jobs_by_state: dict[str, int] = field(default_factory=dict)
    pool_gpus_total: dict[str, int] = field(default_factory=dict)
    pool_gpus_used: dict[str, int] = field(default_factory=dict)
    pool_workers: dict[str, int] = field(default_factory=dict)
    pool_degraded: dict[str, int] = field(default_factory=dict)


def collect(connection: Connection, expected_pools: tuple[str, ...] = ()) -> PlatformStats:
    queued = compute_stats.queued_jobs_by_queue(connection)
    # Every known queue appears, at 0 when empty, so dashboards show idle queues rather than gaps.
    depth = {queue.name: queued.get(queue.name, 0) for queue in pool_service.list_queues(connection)}
    depth.update(queued)
    counted = compute_stats.jobs_by_state(connection)
    states = {state.value: counted.get(state.value, 0) for state in JobState}
    pools = pool_service.list_pools(connection, expected_pools)
    total: dict[str, int] = {pool.name: 0 for pool in pools}
    used: dict[str, int] = dict.fromkeys(total, 0)
    for worker in worker_service.list_workers(connection):
        total[worker.pool] = total.get(worker.pool, 0) + len(worker.gpus)
        used[worker.pool] = used.get(worker.pool, 0) + len(worker.gpus_in_use)
    workers = {pool.name: pool.workers for pool in pools}
    degraded = {pool.name: int(pool.status == "degraded") for pool in pools}
    return PlatformStats(depth, states, total, used, workers, degraded)
