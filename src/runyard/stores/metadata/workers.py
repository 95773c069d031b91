"""Worker (agent) rows: registration, heartbeats and leases."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from runyard.stores.metadata.compute_tables import workers


def insert_worker(connection: Connection, **values: Any) -> None:
    connection.execute(insert(workers).values(**values))


def get_worker(connection: Connection, worker_id: str, *, lock: bool = False) -> Row[Any] | None:
    """The worker's row; ``lock`` serialises claims and heartbeats of one worker across replicas."""
    statement = select(workers).where(workers.c.worker_id == worker_id)
    if lock and connection.dialect.name != "sqlite":
        statement = statement.with_for_update()
    return connection.execute(statement).first()


def update_worker(connection: Connection, worker_id: str, **values: Any) -> None:
    connection.execute(update(workers).where(workers.c.worker_id == worker_id).values(**values))


def list_workers(connection: Connection, *, pool: str | None, include_gone: bool) -> list[Row[Any]]:
    statement = select(workers).order_by(workers.c.pool, workers.c.name)
    if pool:
        statement = statement.where(workers.c.pool == pool)
    if not include_gone:
        statement = statement.where(workers.c.state == "active")
    return list(connection.execute(statement))


def lock_expired_workers(connection: Connection, now: int, limit: int) -> list[Row[Any]]:
    """Active workers whose lease has expired, locked; rows another replica is reaping are skipped."""
    statement = (
        select(workers)
        .where(workers.c.state == "active", workers.c.lease_expires_at < now)
        .order_by(workers.c.lease_expires_at)
        .limit(limit)
    )
    if connection.dialect.name != "sqlite":
        statement = statement.with_for_update(skip_locked=True)
    return list(connection.execute(statement))
