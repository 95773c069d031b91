"""Aggregate counts over jobs, for the platform's Prometheus gauges."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from runyard.stores.metadata.compute_tables import jobs


def jobs_by_state(connection: Connection) -> dict[str, int]:
    rows = connection.execute(select(jobs.c.state, func.count()).group_by(jobs.c.state))
    return {state: int(count) for state, count in rows}


def queued_jobs_by_queue(connection: Connection) -> dict[str, int]:
    rows = connection.execute(select(jobs.c.queue, func.count()).where(jobs.c.state == "queued").group_by(jobs.c.queue))
    return {queue: int(count) for queue, count in rows}
