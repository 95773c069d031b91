"""Seed the UI benchmark's data sets straight into each server's SQLite database.

Going through either server's REST API would take longer than the measurements (MLflow creates about
100 runs a second here, and a million points one request at a time is out of the question); the rows
are the ones the tracking API would write. runyard's and MLflow's tables share the column names of the
rows loaded here (``runs``, ``params``, ``metrics``, ``latest_metrics``, tags), so one loader fills both;
the experiments themselves are created through each server's API first.
"""

from __future__ import annotations

import math
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from runyard.stores.metadata import metric_blocks as block_summaries

BASE_TIME_MS = 1_780_000_000_000
CHUNK = 20_000


@dataclass
class Sizes:
    runs: int = 10_000  # runs table
    keys: int = 12_000  # metric + param keys in one experiment (half each)
    key_runs: int = 5  # runs carrying those keys
    points: int = 1_000_000  # one long series
    chart_runs: int = 1_000  # runs overlaid on one chart
    chart_points: int = 100  # points per overlaid run
    compare: int = 100  # runs compared
    heavy_metrics: int = 100  # a heavy run's metrics …
    heavy_steps: int = 20_000  # … each this many steps (see README: 1,000,000 takes too long to seed here)


@dataclass
class Seeded:
    """What was loaded: run ids (the same on both servers) and the answers the pages should show."""

    runs_table: list[str] = field(default_factory=list)
    keys_runs: list[str] = field(default_factory=list)
    long_run: str = ""
    chart_runs: list[str] = field(default_factory=list)
    heavy_run: str = ""
    lowest_loss_run: str = ""  # name of the run the sort on metrics.loss ascending puts first


def _run_ids(count: int, salt: str) -> list[str]:
    return [uuid.uuid5(uuid.NAMESPACE_URL, f"{salt}/{i}").hex for i in range(count)]


class Loader:
    """Writes rows into one server's database; ``flavour`` is ``runyard`` or ``mlflow``."""

    def __init__(self, database: Path, flavour: str) -> None:
        self.connection = sqlite3.connect(database, timeout=60)
        self.connection.execute("PRAGMA busy_timeout = 60000")
        self.flavour = flavour

    def close(self) -> None:
        self.connection.close()

    def _many(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> None:
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        batch: list[tuple[object, ...]] = []
        for row in rows:
            batch.append(row)
            if len(batch) >= CHUNK:
                self.connection.executemany(sql, batch)
                batch.clear()
        if batch:
            self.connection.executemany(sql, batch)
        self.connection.commit()

    def runs(self, experiment_id: str, ids: list[str], names: list[str], start: int = BASE_TIME_MS) -> None:
        rows = []
        for i, (run_id, name) in enumerate(zip(ids, names, strict=True)):
            started = start + i * 1000
            ended = started + 60_000
            if self.flavour == "runyard":
                rows.append(
                    (
                        run_id,
                        name,
                        int(experiment_id),
                        "bench",
                        "FINISHED",
                        started,
                        ended,
                        ended,
                        "active",
                        f"file:///tmp/{run_id}",
                    )
                )
            else:
                rows.append(
                    (
                        run_id,
                        name,
                        int(experiment_id),
                        "bench",
                        "FINISHED",
                        started,
                        ended,
                        "active",
                        f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
                        "UNKNOWN",
                        "",
                        "",
                        "",
                    )
                )
        if self.flavour == "runyard":
            columns = (
                "run_uuid",
                "name",
                "experiment_id",
                "user_id",
                "status",
                "start_time",
                "end_time",
                "last_activity_time",
                "lifecycle_stage",
                "artifact_uri",
            )
            self._many("runs", columns, rows)
            self._many(
                "run_tags",
                ("run_uuid", "key", "value"),
                ((r, "mlflow.runName", n) for r, n in zip(ids, names, strict=True)),
            )
        else:
            columns = (
                "run_uuid",
                "name",
                "experiment_id",
                "user_id",
                "status",
                "start_time",
                "end_time",
                "lifecycle_stage",
                "artifact_uri",
                "source_type",
                "source_name",
                "entry_point_name",
                "source_version",
            )
            self._many("runs", columns, rows)
            self._many(
                "tags",
                ("run_uuid", "key", "value"),
                ((r, "mlflow.runName", n) for r, n in zip(ids, names, strict=True)),
            )

    def params(self, rows: Iterable[tuple[str, str, str]]) -> None:
        self._many("params", ("run_uuid", "key", "value"), rows)

    def points(self, rows: Iterable[tuple[str, str, int, int, float]], *, latest: bool = True) -> None:
        """(run, key, step, timestamp, value) rows; ``latest`` also fills latest_metrics from the largest step."""
        newest: dict[tuple[str, str], tuple[str, str, int, int, float]] = {}

        def tracked() -> Iterator[tuple[object, ...]]:
            for row in rows:
                current = newest.get((row[0], row[1]))
                if current is None or row[2] >= current[2]:
                    newest[(row[0], row[1])] = row
                yield (*row, False)

        columns = ("run_uuid", "key", "step", "timestamp", "value", "is_nan")
        if self.flavour != "runyard":
            self._many("metrics", columns, tracked())
        else:
            # runyard stores block summaries beside the points (what its ingestion writes), computed
            # here as the points stream past.
            pending: list[tuple[object, ...]] = []
            insert = f"INSERT INTO metrics ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"

            def points_of_series() -> Iterator[tuple[str, str, int, float, bool]]:
                for row in tracked():
                    pending.append(row)
                    if len(pending) >= CHUNK:
                        self.connection.executemany(insert, pending)
                        pending.clear()
                    yield row[0], row[1], row[2], row[4], False  # type: ignore[misc]

            self._many(
                "metric_blocks",
                block_summaries.ROW_COLUMNS,
                (
                    tuple(block[c] for c in block_summaries.ROW_COLUMNS)
                    for block in block_summaries.summaries_of(points_of_series())
                ),
            )
            if pending:
                self.connection.executemany(insert, pending)
            self.connection.commit()
        if latest:
            self._many("latest_metrics", columns, ((*row, False) for row in newest.values()))


def seed(loader: Loader, experiments: dict[str, str], sizes: Sizes) -> Seeded:
    """Load every data set; ``experiments`` maps data-set names to this server's experiment ids."""
    seeded = Seeded()
    # 1. The runs table: params, metrics, a group-by tag.
    ids = _run_ids(sizes.runs, "runs")
    names = [f"run-{i:05d}" for i in range(sizes.runs)]
    loader.runs(experiments["runs"], ids, names)
    loader.params(
        (run_id, key, value)
        for i, run_id in enumerate(ids)
        for key, value in (
            ("lr", str(10 ** -(1 + i % 4))),
            ("model", "abcd"[i % 4]),
            ("seed", str(i)),
            ("batch", str(2 ** (4 + i % 5))),
        )
    )
    loss = [((i * 7919) % sizes.runs + 1) / sizes.runs for i in range(sizes.runs)]
    loader.points(
        (run_id, key, 0, BASE_TIME_MS, value)
        for i, run_id in enumerate(ids)
        for key, value in (("loss", loss[i]), ("accuracy", 1 - loss[i]), ("val_loss", loss[i] * 1.1))
    )
    seeded.runs_table = ids
    seeded.lowest_loss_run = names[min(range(sizes.runs), key=lambda i: loss[i])]
    # 2. 12,000 keys over a few runs.
    ids = _run_ids(sizes.key_runs, "keys")
    loader.runs(experiments["keys"], ids, [f"wide-{i}" for i in range(sizes.key_runs)])
    half = sizes.keys // 2
    loader.params((run_id, f"p{k:05d}", str(k)) for run_id in ids for k in range(half))
    loader.points((run_id, f"m{k:05d}", 0, BASE_TIME_MS, k / 7) for run_id in ids for k in range(sizes.keys - half))
    seeded.keys_runs = ids
    # 3. One long series with single-sample spikes.
    (run_id,) = _run_ids(1, "long")
    loader.runs(experiments["long"], [run_id], ["long-series"])
    spikes = {sizes.points // 7: 9.0, sizes.points // 2 + 3: -9.0}

    def long_points() -> Iterator[tuple[str, str, int, int, float]]:
        for i in range(sizes.points):
            value = spikes.get(i, math.sin(i / 20_000) + 0.3 * math.sin(i / 97))
            yield run_id, "loss", i, BASE_TIME_MS + i * 100, value

    loader.points(long_points())
    seeded.long_run = run_id
    # 4. Many runs on one chart (the first ``compare`` of them are compared).
    ids = _run_ids(sizes.chart_runs, "chart")
    loader.runs(experiments["chart"], ids, [f"sweep-{i:04d}" for i in range(sizes.chart_runs)])
    loader.params((run_id, "lr", str(round(0.001 * (1 + i % 50), 4))) for i, run_id in enumerate(ids))
    loader.points(
        (run_id, "loss", s, BASE_TIME_MS + s * 1000, math.exp(-s / (20 + i % 37)) + 0.01 * (i % 11))
        for i, run_id in enumerate(ids)
        for s in range(sizes.chart_points)
    )
    seeded.chart_runs = ids
    # 5. A heavy run: many metrics, each a long series.
    (run_id,) = _run_ids(1, "heavy")
    loader.runs(experiments["heavy"], [run_id], ["heavy-run"])
    loader.points(
        (run_id, f"metric_{m:03d}", s, BASE_TIME_MS + s * 100, math.sin(s / 1000 + m))
        for m in range(sizes.heavy_metrics)
        for s in range(sizes.heavy_steps)
    )
    seeded.heavy_run = run_id
    return seeded
