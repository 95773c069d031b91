"""Chart downsampling of one 1,000,000-point series: Python reference vs database bucketing.

Usage: .venv/bin/python bench/downsample.py [points] [width] [sqlite|postgresql|mariadb]
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert

from runyard.services.metric_downsample import RawPoint, XAxis, downsample, downsample_in_database
from runyard.stores.metadata import metric_blocks as block_store
from runyard.stores.metadata import metrics as metric_store
from runyard.stores.metadata.engine import make_engine
from runyard.stores.metadata.tables import metadata, metric_blocks, metrics
from servers import fresh_database, refresh_statistics


def _timed(label: str, call, repeat: int = 3) -> None:  # type: ignore[no-untyped-def]
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<48} {best * 1000:8.1f} ms")


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    width = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    backend = sys.argv[3] if len(sys.argv) > 3 else "sqlite"
    with tempfile.TemporaryDirectory() as root, fresh_database(backend, Path(root)) as url:
        engine = make_engine(url)
        metadata.create_all(engine, tables=[metrics, metric_blocks])
        with engine.begin() as connection:
            rows = [
                {
                    "run_uuid": "r",
                    "key": "loss",
                    "step": i,
                    "timestamp": 1_000 * i,
                    "value": math.sin(i / 1000),
                    "is_nan": False,
                }
                for i in range(count)
            ]
            for offset in range(0, count, 100_000):
                connection.execute(insert(metrics), rows[offset : offset + 100_000])
            block_store.rebuild(connection, "r", "loss")  # what ingestion writes beside the points
        refresh_statistics(url)
        print(f"{count} points, width {width}, {backend}")
        zoom = (count * 0.4, count * 0.5)
        with engine.connect() as connection:

            def python(x_min: float | None = None, x_max: float | None = None, axis: XAxis = XAxis.STEP) -> None:
                history = metric_store.history_in_range(connection, "r", "loss", None, None)
                points = [RawPoint(s, t, v) for v, t, s, _ in history]
                downsample([("r", "loss", points, 0)], width=width, axis=axis, x_min=x_min, x_max=x_max)

            def database(x_min: float | None = None, x_max: float | None = None, axis: XAxis = XAxis.STEP) -> None:
                downsample_in_database(connection, [("r", "loss", 0)], width=width, axis=axis, x_min=x_min, x_max=x_max)

            _timed("python reference, full range (step)", python, repeat=1)
            _timed("database, full range (step)", database)
            _timed("database, zoom 10% (step)", lambda: database(*zoom))
            _timed("database, full range (wall)", lambda: database(axis=XAxis.WALL))
            _timed("database, full range (relative)", lambda: database(axis=XAxis.RELATIVE))
        engine.dispose()


if __name__ == "__main__":
    main()
