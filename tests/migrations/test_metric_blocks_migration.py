"""The block-summaries revision summarises the points already stored exactly as ingestion does.

Run on every backend: the chart query built on the summaries must answer what the Python reference
answers on PostgreSQL and MariaDB as well as on SQLite.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest
import sqlalchemy as sa

from runyard.services.metric_downsample import RawPoint, downsample, downsample_in_database
from runyard.stores.metadata import metric_blocks as block_store
from runyard.stores.metadata import metrics as metric_store
from runyard.stores.metadata.engine import make_engine
from runyard.stores.metadata.tables import metric_blocks
from runyard.stores.migrations import runner
from tests.support.services import BACKENDS, fresh_database

BEFORE = "0008_evaluation"
INFINITY = 1.7976931348623157e308


def _points(seed: int, count: int) -> list[dict[str, object]]:
    generator = random.Random(seed)
    rows: dict[tuple[int, int, float, bool], None] = {}
    for _ in range(count):
        step = generator.randrange(-300, 6_000)
        timestamp = generator.randrange(10**6)
        kind = generator.random()
        if kind < 0.01:
            value, is_nan = 0.0, True
        else:
            value, is_nan = (INFINITY if kind < 0.02 else round(generator.gauss(0, 1), 1)), False
        rows[(step, timestamp, value, is_nan)] = None
    return [
        {"run_uuid": "r" * 32, "key": "loss", "step": s, "timestamp": t, "value": v, "is_nan": n} for s, t, v, n in rows
    ]


def _blocks(connection: sa.Connection) -> list[tuple[object, ...]]:
    statement = sa.select(*metric_blocks.c).order_by(*metric_blocks.primary_key.columns)
    return [tuple(row) for row in connection.execute(statement)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_stored_points_are_summarised_as_ingestion_summarises_them(backend: str, tmp_path: Path) -> None:
    points = _points(7, 6_000)
    reported: list[str] = []
    with fresh_database(backend, str(tmp_path)) as url:
        engine = make_engine(url)
        try:
            runner.upgrade(engine, target=BEFORE)
            with engine.begin() as connection:
                connection.execute(sa.insert(sa.table("metrics", *(sa.column(c) for c in points[0]))), points)
            runner.upgrade(engine, report=reported.append)
            with engine.begin() as connection:
                migrated = _blocks(connection)
                block_store.rebuild(connection, "r" * 32, "loss")
                assert _blocks(connection) == migrated
                assert {level for _, _, level, *_ in migrated} == {1, 2, 3, 4}
                # Ingestion folds new points into the stored summaries; a batch re-logging stored
                # points recomputes its blocks. Either way: what a rebuild from every point gives.
                # Few distinct values: equal extremes at different steps, the earlier step must win.
                generator = random.Random(8)
                new = [
                    (
                        generator.choice(["loss", "acc"]),
                        float(generator.randrange(3)),
                        generator.randrange(10**6),
                        generator.randrange(-100, 1_500),
                        False,
                    )
                    for _ in range(2_000)
                ]
                for offset in range(0, 1_500, 500):
                    metric_store.insert_points(connection, "r" * 32, new[offset : offset + 500])
                metric_store.insert_points(connection, "r" * 32, new[1_200:])
                ingested = _blocks(connection)
                block_store.rebuild(connection, "r" * 32, "loss")
                block_store.rebuild(connection, "r" * 32, "acc")
                assert _blocks(connection) == ingested
                history = metric_store.history_in_range(connection, "r" * 32, "loss", None, None)
                raw = [
                    RawPoint(step, ts, math.nan if n else (math.inf if v >= INFINITY else v))
                    for v, ts, step, n in history
                ]
                for width, bounds in ((50, (None, None)), (300, (100.5, 4_000.0)), (7, (-1_000.0, 0.0))):
                    expected = downsample(
                        [("r" * 32, "loss", raw, None)], width=width, x_min=bounds[0], x_max=bounds[1]
                    )
                    actual = downsample_in_database(
                        connection, [("r" * 32, "loss", None)], width=width, x_min=bounds[0], x_max=bounds[1]
                    )
                    assert actual == expected, (backend, width, bounds)
        finally:
            engine.dispose()
    assert reported[-1] == f"0009_metric_blocks: summarised {len(points):,} of {len(points):,} metric points"
