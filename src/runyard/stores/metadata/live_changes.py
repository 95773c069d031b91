"""Reads behind the live-update streams: what changed since a cursor (run activity, latest metrics, job events).

Each is one indexed query, cheap enough to repeat every second per open stream.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, func, select

from runyard.stores.metadata.compute_tables import job_events, jobs
from runyard.stores.metadata.tables import latest_metrics, runs


def runs_active_since(connection: Connection, experiment_ids: Sequence[int], since_ms: int) -> list[Row[Any]]:
    """Runs of ``experiment_ids`` whose last activity (create, log, update) is at or after ``since_ms``."""
    statement = select(
        runs.c.run_uuid,
        runs.c.experiment_id,
        runs.c.status,
        runs.c.lifecycle_stage,
        runs.c.last_activity_time,
    ).where(runs.c.experiment_id.in_(list(experiment_ids)), runs.c.last_activity_time >= since_ms)
    return list(connection.execute(statement.order_by(runs.c.last_activity_time).limit(10_000)))


def latest_metrics_of(connection: Connection, run_id: str) -> list[Row[Any]]:
    statement = select(
        latest_metrics.c.key, latest_metrics.c.step, latest_metrics.c.timestamp, latest_metrics.c.value
    ).where(latest_metrics.c.run_uuid == run_id)
    return list(connection.execute(statement))


def last_job_event_id(connection: Connection) -> int:
    return int(connection.execute(select(func.max(job_events.c.event_id))).scalar() or 0)


def job_events_after(
    connection: Connection,
    after_id: int,
    *,
    workspace: str | None,
    only_queues: frozenset[str] | None,
    except_queues: frozenset[str],
    limit: int = 1000,
) -> list[Row[Any]]:
    """Job events after ``after_id`` (oldest first) with their job's current state, restricted to queues."""
    statement = (
        select(job_events.c.event_id, job_events.c.job_id, job_events.c.kind, jobs.c.state, jobs.c.queue)
        .join(jobs, jobs.c.job_id == job_events.c.job_id)
        .where(job_events.c.event_id > after_id)
        .order_by(job_events.c.event_id)
        .limit(limit)
    )
    if workspace is not None:
        statement = statement.where(jobs.c.workspace == workspace)
    if only_queues is not None:
        statement = statement.where(jobs.c.queue.in_(sorted(only_queues)))
    if except_queues:
        statement = statement.where(jobs.c.queue.not_in(sorted(except_queues)))
    return list(connection.execute(statement))
