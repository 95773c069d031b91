"""Metric points and the per-(run, key) latest value.

This is the ingestion hot path: one multi-row INSERT per batch (duplicates ignored, as MLflow drops
them) and one upsert of the latest values, both inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, select

from runyard.stores.metadata import dialects, metric_blocks
from runyard.stores.metadata.tables import latest_metrics, metrics

# (key, value, timestamp, step, is_nan) — the stored form of one point.
PointRow = tuple[str, float, int, int, bool]
# A point's row in ``metrics`` and ``latest_metrics``: the run id, then a ``PointRow``.
POINT_COLUMNS = ("run_uuid", "key", "value", "timestamp", "step", "is_nan")


def insert_points(connection: Connection, run_id: str, points: Sequence[PointRow]) -> None:
    """Store new points of one run, skipping ones already stored, and their block summaries.

    The caller holds the run's lock.
    """
    inserted = dialects.executemany_ignoring_duplicates(
        connection,
        metrics,
        POINT_COLUMNS,
        [(run_id, *point) for point in points],
        writers_serialized=True,
    )
    metric_blocks.record(connection, run_id, points, all_new=inserted == len(points))


def _order_key(point: PointRow) -> tuple[int, int, float]:
    # MLflow's rule: the latest point is the one with the largest (step, timestamp, value).
    return point[3], point[2], point[1]


def update_latest(connection: Connection, run_id: str, points: Iterable[PointRow]) -> None:
    """Raise each key's latest value to the newest of ``points``. The caller holds the run's lock."""
    newest: dict[str, PointRow] = {}
    for point in points:
        current = newest.get(point[0])
        if current is None or _order_key(point) > _order_key(current):
            newest[point[0]] = point
    if not newest:
        return
    if dialects.upsert_if_newer(
        connection,
        latest_metrics,
        POINT_COLUMNS,
        [(run_id, *point) for point in newest.values()],
        key_columns=("run_uuid", "key"),
        order_columns=("step", "timestamp", "value"),
    ):
        return
    # MySQL/MariaDB: read the stored latest values and compare here.
    existing = connection.execute(
        select(
            latest_metrics.c.key,
            latest_metrics.c.value,
            latest_metrics.c.timestamp,
            latest_metrics.c.step,
            latest_metrics.c.is_nan,
        ).where(latest_metrics.c.run_uuid == run_id, latest_metrics.c.key.in_(list(newest)))
    ).all()
    stored = {row.key: (row.key, row.value, row.timestamp, row.step, row.is_nan) for row in existing}
    rows = [
        {"run_uuid": run_id, "key": key, "value": p[1], "timestamp": p[2], "step": p[3], "is_nan": p[4]}
        for key, p in newest.items()
        if key not in stored or _order_key(p) > _order_key(stored[key])
    ]
    dialects.upsert(
        connection,
        latest_metrics,
        rows,
        key_columns=("run_uuid", "key"),
        update_columns=("value", "timestamp", "step", "is_nan"),
    )


def history_page(
    connection: Connection, run_id: str, key: str, *, offset: int, limit: int | None
) -> list[tuple[float, int, int, bool]]:
    """Points of one metric ordered by (step, timestamp, value): ``(value, timestamp, step, is_nan)``."""
    statement = (
        select(metrics.c.value, metrics.c.timestamp, metrics.c.step, metrics.c.is_nan)
        .where(metrics.c.run_uuid == run_id, metrics.c.key == key)
        .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.value, metrics.c.is_nan)
        .offset(offset)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [tuple(row) for row in connection.execute(statement)]


def history_in_range(
    connection: Connection, run_id: str, key: str, start_step: int | None, end_step: int | None
) -> list[tuple[float, int, int, bool]]:
    """All points of one metric with ``start_step <= step <= end_step``, in history order."""
    conditions: list[Any] = [metrics.c.run_uuid == run_id, metrics.c.key == key]
    if start_step is not None:
        conditions.append(metrics.c.step >= start_step)
    if end_step is not None:
        conditions.append(metrics.c.step <= end_step)
    statement = (
        select(metrics.c.value, metrics.c.timestamp, metrics.c.step, metrics.c.is_nan)
        .where(and_(*conditions))
        .order_by(metrics.c.step, metrics.c.timestamp, metrics.c.value, metrics.c.is_nan)
    )
    return [tuple(row) for row in connection.execute(statement)]
