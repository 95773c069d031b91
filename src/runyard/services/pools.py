"""Queues and compute pools: configuration sync, declarations over the API, capacity summaries."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Connection

from runyard.domain.clock import now_ms
from runyard.errors import InvalidParameter, NotFound
from runyard.services.workspaces import current_workspace
from runyard.stores.metadata import jobs as job_store
from runyard.stores.metadata import pools as store
from runyard.stores.metadata import workers as worker_store

DEFAULT_QUEUE = "default"
LOCAL_POOL = "local"
QUEUE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
POOL_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@dataclass(frozen=True, slots=True)
class PoolSpec:
    name: str
    gpus_per_replica: int = 0
    queues: list[str] = field(default_factory=lambda: [DEFAULT_QUEUE])
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Pool:
    name: str
    gpus_per_replica: int
    labels: dict[str, str]
    queues: list[str]
    source: str
    workers: int
    gpus_total: int
    gpus_in_use: int
    slots_total: int
    jobs_running: int


@dataclass(frozen=True, slots=True)
class Queue:
    name: str
    priority: int
    description: str | None
    pools: list[str]
    queued: int
    assigned: int
    running: int

    @property
    def served(self) -> bool:
        return bool(self.pools)


def check_queue_name(name: str) -> str:
    if not QUEUE_NAME.match(name):
        raise InvalidParameter(
            f"Invalid queue name {name!r}: use letters, digits, '.', '_' or '-' (at most 128 characters)"
        )
    return name


def check_pool_name(name: str) -> str:
    if not POOL_NAME.match(name):
        raise InvalidParameter(
            f"Invalid pool name {name!r}: use lower-case letters, digits and '-' (at most 63 characters)"
        )
    return name


def sync_configured_pools(connection: Connection, specs: Sequence[PoolSpec], *, local_pool: bool) -> None:
    """Make the database agree with the configured pools (run at server start, by every replica)."""
    now = now_ms()
    declared = list(specs)
    if local_pool and not any(spec.name == LOCAL_POOL for spec in declared):
        existing = store.get_pool(connection, LOCAL_POOL)
        if existing is None:
            store.create_pool_if_missing(connection, name=LOCAL_POOL, gpus_per_replica=0, labels="{}", now=now)
        store.ensure_queues(connection, current_workspace(), [DEFAULT_QUEUE], now)
        store.add_pool_queues_if_none(connection, LOCAL_POOL, [DEFAULT_QUEUE])
    for spec in declared:
        put_pool(connection, spec, source="config")


def put_pool(connection: Connection, spec: PoolSpec, *, source: str = "api") -> Pool:
    """Declare (or redeclare) a pool and the queues it serves."""
    check_pool_name(spec.name)
    for queue in spec.queues:
        check_queue_name(queue)
    if not 0 <= spec.gpus_per_replica <= 64:
        raise InvalidParameter("Invalid value for parameter 'gpus_per_replica': use 0 to 64")
    now = now_ms()
    store.ensure_queues(connection, current_workspace(), spec.queues, now)
    store.upsert_pool(
        connection,
        name=spec.name,
        gpus_per_replica=spec.gpus_per_replica,
        labels=json.dumps(spec.labels, sort_keys=True),
        source=source,
        now=now,
    )
    store.set_pool_queues(connection, spec.name, sorted(set(spec.queues)))
    return get_pool(connection, spec.name)


def delete_pool(connection: Connection, name: str) -> None:
    if store.delete_pool(connection, name) == 0:
        raise NotFound(f"Pool '{name}' does not exist")


def ensure_agent_pool(connection: Connection, name: str, gpus: int) -> None:
    """Registering into an unknown pool creates it, serving the default queue."""
    check_pool_name(name)
    now = now_ms()
    if store.create_pool_if_missing(connection, name=name, gpus_per_replica=gpus, labels="{}", now=now):
        store.ensure_queues(connection, current_workspace(), [DEFAULT_QUEUE], now)
        store.add_pool_queues_if_none(connection, name, [DEFAULT_QUEUE])
    else:
        store.raise_pool_gpus(connection, name, gpus, now)


def list_pools(connection: Connection) -> list[Pool]:
    rows = store.list_pools(connection)
    served = store.queues_by_pool(connection)
    workers = worker_store.list_workers(connection, pool=None, include_gone=False)
    in_use: dict[str, int] = {}
    running: dict[str, int] = {}
    for usage in job_store.active_job_usage(connection):
        gpus = json.loads(usage.assigned_gpus) if usage.assigned_gpus else []
        in_use[usage.worker_id] = in_use.get(usage.worker_id, 0) + len(gpus)
        running[usage.worker_id] = running.get(usage.worker_id, 0) + 1
    result = []
    for row in rows:
        members = [worker for worker in workers if worker.pool == row.name]
        result.append(
            Pool(
                name=row.name,
                gpus_per_replica=int(row.gpus_per_replica),
                labels=json.loads(row.labels),
                queues=served.get(row.name, []),
                source=row.source,
                workers=len(members),
                gpus_total=sum(len(json.loads(worker.gpus)) for worker in members),
                gpus_in_use=sum(in_use.get(worker.worker_id, 0) for worker in members),
                slots_total=sum(int(worker.slots) for worker in members),
                jobs_running=sum(running.get(worker.worker_id, 0) for worker in members),
            )
        )
    return result


def get_pool(connection: Connection, name: str) -> Pool:
    for pool in list_pools(connection):
        if pool.name == name:
            return pool
    raise NotFound(f"Pool '{name}' does not exist")


def list_queues(connection: Connection) -> list[Queue]:
    served = store.queues_by_pool(connection)
    pools_of: dict[str, list[str]] = {}
    for pool, queue_names in served.items():
        for queue in queue_names:
            pools_of.setdefault(queue, []).append(pool)
    workspace = current_workspace()
    counts = store.job_counts_by_queue(connection, workspace)
    return [
        Queue(
            name=row.name,
            priority=int(row.priority),
            description=row.description,
            pools=sorted(pools_of.get(row.name, [])),
            queued=counts.get((row.name, "queued"), 0),
            assigned=counts.get((row.name, "assigned"), 0),
            running=counts.get((row.name, "running"), 0),
        )
        for row in store.list_queues(connection, workspace)
    ]


def get_queue(connection: Connection, name: str) -> Queue:
    for queue in list_queues(connection):
        if queue.name == name:
            return queue
    raise NotFound(f"Queue '{name}' does not exist")


def put_queue(connection: Connection, name: str, *, priority: int, description: str | None) -> Queue:
    """Create a queue or change its priority (higher is placed first); queued jobs follow at once."""
    check_queue_name(name)
    if not -1_000_000 <= priority <= 1_000_000:
        raise InvalidParameter("Invalid value for parameter 'priority': use -1000000 to 1000000")
    workspace = current_workspace()
    store.ensure_queues(connection, workspace, [name], now_ms())
    store.update_queue(connection, workspace, name, priority=priority, description=description)
    store.rerank_queued_jobs(connection, workspace, name, priority)
    return get_queue(connection, name)


def queue_priority(connection: Connection, name: str) -> int:
    """The queue's priority, creating the queue (priority 0) on first use."""
    workspace = current_workspace()
    row = store.get_queue(connection, workspace, name)
    if row is None:
        store.ensure_queues(connection, workspace, [name], now_ms())
        return 0
    return int(row.priority)


def max_gpus_for_queue(connection: Connection, queue: str) -> tuple[int, list[str]] | None:
    """The most GPUs one replica of a pool serving ``queue`` offers, with those pools' names.

    A pool offers its configured ``gpus_per_replica`` or, if more, the GPUs of its largest live worker.
    ``None`` when no pool serves the queue (the job waits until one does).
    """
    serving = store.pools_serving(connection, queue)
    if not serving:
        return None
    largest: dict[str, int] = {row.name: int(row.gpus_per_replica) for row in serving}
    for worker in worker_store.list_workers(connection, pool=None, include_gone=False):
        if worker.pool in largest:
            largest[worker.pool] = max(largest[worker.pool], len(json.loads(worker.gpus)))
    return max(largest.values()), sorted(largest)
