"""Queues, compute pools and which queues each pool serves."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from runyard.stores.metadata import dialects
from runyard.stores.metadata.compute_tables import jobs, pool_queues, pools, queues


def ensure_queues(connection: Connection, workspace: str, names: Sequence[str], now: int) -> None:
    """Create the queues of ``workspace`` that do not exist yet (priority 0)."""
    if not names:
        return
    statement = dialects.insert_ignoring_duplicates(connection, queues)
    connection.execute(
        statement,
        [
            {"workspace": workspace, "name": name, "priority": 0, "description": None, "creation_time": now}
            for name in names
        ],
    )


def get_queue(connection: Connection, workspace: str, name: str) -> Row[Any] | None:
    return connection.execute(select(queues).where(queues.c.workspace == workspace, queues.c.name == name)).first()


def list_queues(connection: Connection, workspace: str) -> list[Row[Any]]:
    return list(
        connection.execute(
            select(queues).where(queues.c.workspace == workspace).order_by(queues.c.priority.desc(), queues.c.name)
        )
    )


def update_queue(connection: Connection, workspace: str, name: str, **values: Any) -> None:
    connection.execute(update(queues).where(queues.c.workspace == workspace, queues.c.name == name).values(**values))


def rerank_queued_jobs(connection: Connection, workspace: str, queue: str, priority: int) -> None:
    """Queued jobs carry their queue's priority (negated) for the placement index; keep it current."""
    connection.execute(
        update(jobs)
        .where(jobs.c.workspace == workspace, jobs.c.queue == queue, jobs.c.state == "queued")
        .values(queue_rank=-priority)
    )


def job_counts_by_queue(connection: Connection, workspace: str) -> dict[tuple[str, str], int]:
    rows = connection.execute(
        select(jobs.c.queue, jobs.c.state, func.count())
        .where(jobs.c.workspace == workspace, jobs.c.state.in_(("queued", "assigned", "running")))
        .group_by(jobs.c.queue, jobs.c.state)
    )
    return {(row[0], row[1]): int(row[2]) for row in rows}


def get_pool(connection: Connection, name: str) -> Row[Any] | None:
    return connection.execute(select(pools).where(pools.c.name == name)).first()


def list_pools(connection: Connection) -> list[Row[Any]]:
    return list(connection.execute(select(pools).order_by(pools.c.name)))


def upsert_pool(
    connection: Connection, *, name: str, gpus_per_replica: int, labels: str, source: str, now: int
) -> None:
    dialects.upsert(
        connection,
        pools,
        [
            {
                "name": name,
                "gpus_per_replica": gpus_per_replica,
                "labels": labels,
                "source": source,
                "creation_time": now,
                "last_update_time": now,
            }
        ],
        key_columns=["name"],
        update_columns=["gpus_per_replica", "labels", "source", "last_update_time"],
    )


def create_pool_if_missing(connection: Connection, *, name: str, gpus_per_replica: int, labels: str, now: int) -> bool:
    result = connection.execute(
        dialects.insert_ignoring_duplicates(connection, pools).values(
            name=name,
            gpus_per_replica=gpus_per_replica,
            labels=labels,
            source="agent",
            creation_time=now,
            last_update_time=now,
        )
    )
    return bool(result.rowcount)


def raise_pool_gpus(connection: Connection, name: str, gpus: int, now: int) -> None:
    """An agent-created pool offers as many GPUs per replica as its largest worker."""
    connection.execute(
        update(pools)
        .where(pools.c.name == name, pools.c.source == "agent", pools.c.gpus_per_replica < gpus)
        .values(gpus_per_replica=gpus, last_update_time=now)
    )


def delete_pool(connection: Connection, name: str) -> int:
    connection.execute(delete(pool_queues).where(pool_queues.c.pool == name))
    return int(connection.execute(delete(pools).where(pools.c.name == name)).rowcount)


def set_pool_queues(connection: Connection, pool: str, queue_names: Sequence[str]) -> None:
    connection.execute(delete(pool_queues).where(pool_queues.c.pool == pool))
    if queue_names:
        connection.execute(insert(pool_queues), [{"pool": pool, "queue": queue} for queue in queue_names])


def add_pool_queues_if_none(connection: Connection, pool: str, queue_names: Sequence[str]) -> None:
    existing = connection.execute(select(pool_queues.c.queue).where(pool_queues.c.pool == pool)).first()
    if existing is None:
        set_pool_queues(connection, pool, queue_names)


def queues_by_pool(connection: Connection) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for row in connection.execute(select(pool_queues).order_by(pool_queues.c.pool, pool_queues.c.queue)):
        result.setdefault(row.pool, []).append(row.queue)
    return result


def queues_of_pool(connection: Connection, pool: str) -> list[str]:
    return list(connection.execute(select(pool_queues.c.queue).where(pool_queues.c.pool == pool)).scalars())


def pools_serving(connection: Connection, queue: str) -> list[Row[Any]]:
    return list(
        connection.execute(
            select(pools).join(pool_queues, pool_queues.c.pool == pools.c.name).where(pool_queues.c.queue == queue)
        )
    )
