"""A chart of a long series reads the rows near each pixel column's edges, not the series per column.

MariaDB runs a correlated subquery without seeking the index for a range bound taken from the
outer row: the step-axis chart query once read the whole series for every pixel column, and a
5,000-point chart timed out under load. Its handler counters show how many rows a query read.
"""

from __future__ import annotations

import math
from pathlib import Path

import sqlalchemy as sa

from runyard.services.metric_downsample import XAxis, downsample_in_database
from runyard.stores.metadata import metric_blocks as block_store
from runyard.stores.metadata.engine import make_engine
from runyard.stores.metadata.tables import metadata, metric_blocks, metrics
from tests.support.services import fresh_database

POINTS = 20_000
WIDTH = 100


def _rows_read(connection: sa.Connection) -> int:
    status = connection.exec_driver_sql("SHOW SESSION STATUS LIKE 'Handler_read%%'").all()
    return sum(int(value) for _, value in status)


def test_a_mariadb_chart_reads_a_small_part_of_a_long_series(tmp_path: Path) -> None:
    with fresh_database("mariadb", str(tmp_path)) as url:
        engine = make_engine(url)
        try:
            metadata.create_all(engine, tables=[metrics, metric_blocks])
            with engine.begin() as connection:
                rows = [
                    {"run_uuid": "r" * 32, "key": "loss", "step": i, "timestamp": i, "value": math.sin(i / 99)}
                    for i in range(POINTS)
                ]
                connection.execute(sa.insert(metrics), rows)
                block_store.rebuild(connection, "r" * 32, "loss")
            with engine.connect() as connection:
                before = _rows_read(connection)
                answer = downsample_in_database(connection, [("r" * 32, "loss", 0)], width=WIDTH, axis=XAxis.STEP)
                read = _rows_read(connection) - before
        finally:
            engine.dispose()
    (series,) = answer.series
    assert series.downsampled and series.points_in_range == POINTS
    # Each column reads at most about thirty raw points and as many blocks at each edge, whatever
    # the series' length; reading the series once per column would be 100 × 20,000 rows.
    assert read < 40 * WIDTH * 4, read
