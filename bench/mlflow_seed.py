"""Load a data set straight into a running MLflow server's database with MLflow's own table models.

Runs under ``bench/.venv-mlflow/bin/python``. Loading 10,000 runs or registered models through
MLflow's REST API takes minutes per database on a small machine, and setup is not what the suite
measures; the rows are the ones MLflow's API would write (same values as runyard gets via REST).

    mlflow_seed.py runs DATABASE_URL EXPERIMENT_ID COUNT
    mlflow_seed.py models DATABASE_URL COUNT
"""

from __future__ import annotations

import sys
import uuid
from typing import Any

import sqlalchemy as sa
from mlflow.store.model_registry.dbmodels.models import SqlRegisteredModel, SqlRegisteredModelTag
from mlflow.store.tracking.dbmodels.models import SqlLatestMetric, SqlMetric, SqlParam, SqlRun, SqlTag

import bench_data

CHUNK = 1000


def _insert(connection: sa.Connection, model: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        connection.execute(sa.insert(model.__table__), rows)


def seed_runs(engine: sa.Engine, experiment_id: int, count: int) -> None:
    specs = list(bench_data.search_runs(count))
    for start in range(0, count, CHUNK):
        runs, params, metrics, tags = [], [], [], []
        for spec in specs[start : start + CHUNK]:
            run_id = uuid.uuid4().hex
            runs.append(
                {
                    "run_uuid": run_id,
                    "name": spec.name,
                    "source_type": "UNKNOWN",
                    "source_name": "",
                    "entry_point_name": "",
                    "user_id": "",
                    "status": "RUNNING",
                    "start_time": spec.start_time,
                    "source_version": "",
                    "lifecycle_stage": "active",
                    "artifact_uri": f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
                    "experiment_id": experiment_id,
                }
            )
            params += [{"key": k, "value": v, "run_uuid": run_id} for k, v in spec.params]
            metrics += [
                {"key": k, "value": v, "timestamp": spec.start_time, "step": 0, "is_nan": False, "run_uuid": run_id}
                for k, v in spec.metrics
            ]
            tags += [{"key": k, "value": v, "run_uuid": run_id} for k, v in spec.tags]
        with engine.begin() as connection:
            _insert(connection, SqlRun, runs)
            _insert(connection, SqlParam, params)
            _insert(connection, SqlMetric, metrics)
            _insert(connection, SqlLatestMetric, metrics)
            _insert(connection, SqlTag, tags)


def seed_models(engine: sa.Engine, count: int) -> None:
    specs = list(bench_data.registered_models(count))
    for start in range(0, count, CHUNK):
        chunk = specs[start : start + CHUNK]
        when = bench_data.BASE_TIME_MS + start
        with engine.begin() as connection:
            _insert(
                connection,
                SqlRegisteredModel,
                [
                    {"name": s.name, "creation_time": when, "last_updated_time": when, "description": s.description}
                    for s in chunk
                ],
            )
            _insert(
                connection,
                SqlRegisteredModelTag,
                [{"name": s.name, "key": k, "value": v} for s in chunk for k, v in s.tags],
            )


def main(argv: list[str]) -> int:
    kind, url, *rest = argv
    engine = sa.create_engine(url)
    try:
        if kind == "runs":
            seed_runs(engine, int(rest[0]), int(rest[1]))
        elif kind == "models":
            seed_models(engine, int(rest[0]))
        else:
            raise SystemExit(f"unknown data set {kind}")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
