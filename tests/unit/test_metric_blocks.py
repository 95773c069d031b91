"""Block summaries written at ingestion equal the summaries of every stored point (SQLite in memory)."""

from __future__ import annotations

import math
import random

import pytest
from sqlalchemy import Connection, create_engine, select

from runyard.stores.metadata import metric_blocks as block_store
from runyard.stores.metadata import metrics as metric_store
from runyard.stores.metadata.tables import metadata, metric_blocks, metrics


def _blocks(connection: Connection) -> list[tuple[object, ...]]:
    return [tuple(row) for row in connection.execute(select(metric_blocks).order_by(*metric_blocks.primary_key))]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summaries_folded_batch_by_batch_equal_a_rebuild_from_every_point(seed: int) -> None:
    # Three values only, so equal extremes at different steps are common: the earlier step must win.
    generator = random.Random(seed)
    engine = create_engine("sqlite://")
    metadata.create_all(engine, tables=[metrics, metric_blocks])
    with engine.begin() as connection:
        logged: list[tuple[str, float, int, int, bool]] = []
        for _ in range(6):
            batch = [
                (
                    generator.choice(["loss", "acc"]),
                    generator.choice([0.0, 1.0, 2.0, 1.7976931348623157e308]),
                    generator.randrange(10**6),
                    generator.randrange(-100, 70_000),
                    generator.random() < 0.02,
                )
                for _ in range(400)
            ]
            if logged and generator.random() < 0.5:
                batch += generator.sample(logged, 50)  # a retried request re-logs stored points
            metric_store.insert_points(connection, "run", batch)
            logged += batch
        ingested = _blocks(connection)
        for key in ("loss", "acc"):
            block_store.rebuild(connection, "run", key)
        assert _blocks(connection) == ingested
        distinct = {(key, value, ts, step, is_nan) for key, value, ts, step, is_nan in logged}
        assert block_store.series_points(connection, "run", "loss") + block_store.series_points(
            connection, "run", "acc"
        ) == len(distinct)


def test_streamed_summaries_of_a_bulk_load_equal_what_ingestion_writes() -> None:
    engine = create_engine("sqlite://")
    metadata.create_all(engine, tables=[metrics, metric_blocks])
    points = [("loss", math.sin(step / 50), step * 10, step, False) for step in range(-300, 9_000)]
    with engine.begin() as connection:
        metric_store.insert_points(connection, "run", points)
        streamed = block_store.summaries_of(("run", key, step, value, is_nan) for key, value, _, step, is_nan in points)
        columns = [column.name for column in metric_blocks.c]
        assert sorted(tuple(row[c] for c in columns) for row in streamed) == _blocks(connection)
