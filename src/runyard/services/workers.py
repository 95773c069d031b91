"""Workers (agents): register, heartbeat (with the cancel list), deregister, list, lease reaping."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from runyard.domain.clock import now_ms
from runyard.domain.jobs import CancelOrder, JobState, WorkerState
from runyard.errors import InvalidParameter, NotFound
from runyard.services import attempts as attempt_service
from runyard.services import jobs as job_service
from runyard.services import pools as pool_service
from runyard.services.workspaces import every_workspace
from runyard.stores.metadata import jobs as job_store
from runyard.stores.metadata import pools as pool_store
from runyard.stores.metadata import workers as store

MAX_GPUS_PER_WORKER = 64


@dataclass(frozen=True, slots=True)
class Registration:
    worker_id: str
    lease_seconds: float
    heartbeat_seconds: float


@dataclass(frozen=True, slots=True)
class Heartbeat:
    cancel: list[CancelOrder]
    lease_expires_at: int
    requeued_queues: list[str]


@dataclass(frozen=True, slots=True)
class Worker:
    worker_id: str
    name: str
    pool: str
    hostname: str | None
    gpus: list[str]
    gpus_in_use: list[str]
    slots: int
    jobs: list[str]
    labels: dict[str, str]
    version: str | None
    state: str
    registration_time: int
    last_heartbeat: int
    lease_expires_at: int


def heartbeat_interval(lease_seconds: float) -> float:
    """Agents beat three times per lease, at most every 10 s, so one lost beat never expires a lease."""
    return round(min(10.0, lease_seconds / 3), 3)


@every_workspace
def register(
    connection: Connection,
    *,
    name: str,
    pool: str,
    hostname: str | None,
    gpus: Sequence[str],
    slots: int,
    labels: dict[str, str],
    version: str | None,
    lease_seconds: float,
) -> Registration:
    gpu_ids = [str(gpu) for gpu in gpus]
    if len(set(gpu_ids)) != len(gpu_ids) or len(gpu_ids) > MAX_GPUS_PER_WORKER or not all(gpu_ids):
        raise InvalidParameter(f"Invalid value for parameter 'gpus': up to {MAX_GPUS_PER_WORKER} distinct GPU ids")
    if not 0 <= slots <= 1024:
        raise InvalidParameter("Invalid value for parameter 'slots': use 0..1024")
    pool_service.ensure_agent_pool(connection, pool, len(gpu_ids))
    now = now_ms()
    worker_id = f"w-{secrets.token_hex(8)}"
    store.insert_worker(
        connection,
        worker_id=worker_id,
        name=name[:256] or worker_id,
        pool=pool,
        hostname=(hostname or "")[:256] or None,
        gpus=json.dumps(gpu_ids),
        slots=slots,
        labels=json.dumps(labels, sort_keys=True),
        version=(version or "")[:64] or None,
        state=WorkerState.ACTIVE.value,
        registration_time=now,
        last_heartbeat=now,
        lease_expires_at=now + int(lease_seconds * 1000),
    )
    return Registration(worker_id, lease_seconds, heartbeat_interval(lease_seconds))


def _active_worker(connection: Connection, worker_id: str, *, lock: bool) -> object:
    row = store.get_worker(connection, worker_id, lock=lock)
    if row is None or row.state != WorkerState.ACTIVE:
        raise NotFound(f"Worker {worker_id} is not registered (its lease expired?); register again")
    return row


@every_workspace
def heartbeat(
    connection: Connection,
    worker_id: str,
    running: Sequence[tuple[str, int]],
    *,
    lease_seconds: float,
    stale_after_ms: int,
) -> Heartbeat:
    """Extend the lease; answer which attempts the agent must kill.

    An attempt is on the cancel list when its cancel was requested, or when it is no longer the
    job's current attempt on this worker. Attempts handed to this agent long ago that it does not
    hold (a claim answer was lost) are marked lost so their jobs run elsewhere.
    """
    _active_worker(connection, worker_id, lock=True)
    now = now_ms()
    lease_expires_at = now + int(lease_seconds * 1000)
    store.update_worker(connection, worker_id, last_heartbeat=now, lease_expires_at=lease_expires_at)
    held = {(str(job_id), int(attempt)) for job_id, attempt in running}
    cancel: list[CancelOrder] = []
    for job_id, attempt in sorted(held):
        try:
            row = job_store.get_job(connection, job_service.parse_job_id(job_id))
        except InvalidParameter:
            row = None
        if row is None:
            cancel.append(CancelOrder(job_id, attempt, "unknown job"))
        elif int(row.attempt) != attempt or row.worker_id != worker_id or not JobState(row.state).is_active:
            cancel.append(CancelOrder(job_id, attempt, f"attempt is no longer current (job is {row.state})"))
    requeued: list[str] = []
    for row in job_store.active_jobs_of_worker(connection, worker_id):
        key = (str(row.job_id), int(row.attempt))
        if row.cancel_requested:
            if key in held:
                cancel.append(CancelOrder(key[0], key[1], row.cancel_reason or job_service.USER_CANCEL_REASON))
        elif key not in held and row.state == JobState.ASSIGNED and (row.assigned_time or now) < now - stale_after_ms:
            locked = job_service.lock_job(connection, row.job_id)
            result = attempt_service.lose(connection, locked, f"worker {worker_id} never started the attempt")
            if result.requeued_queue:
                requeued.append(result.requeued_queue)
    return Heartbeat(cancel=cancel, lease_expires_at=lease_expires_at, requeued_queues=requeued)


@every_workspace
def deregister(connection: Connection, worker_id: str) -> list[str]:
    """Graceful shutdown: the worker's attempts become lost; returns queues that got jobs back."""
    _active_worker(connection, worker_id, lock=True)
    store.update_worker(connection, worker_id, state=WorkerState.GONE.value)
    return _lose_jobs_of(connection, worker_id, f"worker {worker_id} shut down")


@every_workspace
def reap_expired(connection: Connection, *, limit: int = 100) -> list[str]:
    """Workers past their lease become ``lost`` with their jobs; returns queues that got jobs back."""
    requeued: list[str] = []
    for worker in store.lock_expired_workers(connection, now_ms(), limit):
        store.update_worker(connection, worker.worker_id, state=WorkerState.LOST.value)
        requeued += _lose_jobs_of(connection, worker.worker_id, f"worker {worker.name} missed its heartbeats")
    return requeued


def _lose_jobs_of(connection: Connection, worker_id: str, reason: str) -> list[str]:
    requeued = []
    for row in job_store.active_jobs_of_worker(connection, worker_id):
        locked = job_service.lock_job(connection, row.job_id)
        if locked.worker_id != worker_id or not JobState(locked.state).is_active:
            continue
        result = attempt_service.lose(connection, locked, reason)
        if result.requeued_queue:
            requeued.append(result.requeued_queue)
    return requeued


def list_workers(connection: Connection, *, pool: str | None = None, include_gone: bool = False) -> list[Worker]:
    usage: dict[str, list[tuple[str, list[str]]]] = {}
    for row in job_store.active_job_usage(connection):
        gpus = json.loads(row.assigned_gpus) if row.assigned_gpus else []
        usage.setdefault(row.worker_id, []).append((str(row.job_id), gpus))
    result = []
    for row in store.list_workers(connection, pool=pool, include_gone=include_gone):
        held = usage.get(row.worker_id, [])
        result.append(
            Worker(
                worker_id=row.worker_id,
                name=row.name,
                pool=row.pool,
                hostname=row.hostname,
                gpus=json.loads(row.gpus),
                gpus_in_use=sorted({gpu for _, gpus in held for gpu in gpus}),
                slots=int(row.slots),
                jobs=[job_id for job_id, _ in held],
                labels=json.loads(row.labels),
                version=row.version,
                state=row.state,
                registration_time=int(row.registration_time),
                last_heartbeat=int(row.last_heartbeat),
                lease_expires_at=int(row.lease_expires_at),
            )
        )
    return result


def queues_for_worker(connection: Connection, worker_id: str) -> list[str]:
    """The queues the worker's pool serves (what its claims wait on); ``NotFound`` if it is not active."""
    row = store.get_worker(connection, worker_id)
    if row is None or row.state != WorkerState.ACTIVE:
        raise NotFound(f"Worker {worker_id} is not registered (its lease expired?); register again")
    return pool_store.queues_of_pool(connection, row.pool)


def get_worker(connection: Connection, worker_id: str) -> Worker:
    for worker in list_workers(connection, include_gone=True):
        if worker.worker_id == worker_id:
            return worker
    raise NotFound(f"Worker {worker_id} does not exist")
