"""Load a data set straight into a running MLflow server's database with MLflow's own table models.

Runs under ``bench/.venv-mlflow/bin/python``. Loading 10,000 runs or registered models through
MLflow's REST API takes minutes per database on a small machine, and setup is not what the suite
measures; the rows are the ones MLflow's API would write (same values as runyard gets via REST).

    mlflow_seed.py runs DATABASE_URL EXPERIMENT_ID COUNT
    mlflow_seed.py models DATABASE_URL COUNT
    mlflow_seed.py traces DATABASE_URL EXPERIMENT_ID COUNT FIRST_MS PER_EXPORT

Traces get the rows MLflow's own OTLP ingest writes for the trace-search data set (one-span traces,
the exports' ``env`` resource attribute as a tag): ``trace_info``, its three tags and the span.
"""

from __future__ import annotations

import base64
import json
import sys
import uuid
from typing import Any

import sqlalchemy as sa
from mlflow.store.model_registry.dbmodels.models import SqlRegisteredModel, SqlRegisteredModelTag
from mlflow.store.tracking.dbmodels.models import (
    SqlLatestMetric,
    SqlMetric,
    SqlParam,
    SqlRun,
    SqlSpan,
    SqlTag,
    SqlTraceInfo,
    SqlTraceTag,
)

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


def _span_content(trace_id: bytes, start_ns: int, end_ns: int, status: str) -> str:
    return json.dumps(
        {
            "trace_id": base64.b64encode(trace_id).decode(),
            "span_id": base64.b64encode((1).to_bytes(8, "big")).decode(),
            "parent_span_id": None,
            "name": "handle",
            "start_time_unix_nano": start_ns,
            "end_time_unix_nano": end_ns,
            "events": [],
            "status": {"code": f"STATUS_CODE_{status}", "message": ""},
            "attributes": {"step.index": "0"},
            "links": [],
        }
    )


def seed_traces(engine: sa.Engine, experiment_id: int, count: int, first_ms: int, per_export: int) -> None:
    """The trace-search data set as ``bench/workloads/traces.py`` exports it: export ``j`` of ``per_export``
    traces has ``env`` = prod for even ``j`` (dev for odd), trace ``t`` of it starts at ``first_ms + j *
    per_export + t`` and is ERROR when ``t % 4 == 3`` (OK otherwise), and lasts 0.9 ms.
    """
    for chunk_start in range(0, count, CHUNK):
        infos, tags, spans = [], [], []
        for index in range(chunk_start, min(count, chunk_start + CHUNK)):
            export, t = divmod(index, per_export)
            raw_id = uuid.uuid4().bytes
            trace_id = "tr-" + raw_id.hex()
            start_ms = first_ms + export * per_export + t
            status = "ERROR" if t % 4 == 3 else "OK"
            infos.append(
                {"request_id": trace_id, "experiment_id": experiment_id, "timestamp_ms": start_ms,
                 "execution_time_ms": 0, "status": status, "client_request_id": "", "request_preview": "",
                 "response_preview": "", "db_payload_generation": 1}
            )  # fmt: skip
            location = f"mlflow-artifacts:/{experiment_id}/traces/{trace_id}/artifacts"
            for key, value in (
                ("mlflow.artifactLocation", location),
                ("mlflow.trace.spansLocation", "TRACKING_STORE"),
                ("env", "prod" if export % 2 == 0 else "dev"),
            ):
                tags.append({"request_id": trace_id, "key": key, "value": value})
            start_ns, end_ns = start_ms * 1_000_000, start_ms * 1_000_000 + 900_000
            spans.append(
                {"trace_id": trace_id, "experiment_id": experiment_id, "span_id": "0000000000000001",
                 "parent_span_id": None, "name": "handle", "type": None, "status": status,
                 "start_time_unix_nano": start_ns, "end_time_unix_nano": end_ns,
                 "content": _span_content(raw_id, start_ns, end_ns, status)}
            )  # fmt: skip
        with engine.begin() as connection:
            _insert(connection, SqlTraceInfo, infos)
            _insert(connection, SqlTraceTag, tags)
            _insert(connection, SqlSpan, spans)


def main(argv: list[str]) -> int:
    kind, url, *rest = argv
    engine = sa.create_engine(url)
    try:
        if kind == "runs":
            seed_runs(engine, int(rest[0]), int(rest[1]))
        elif kind == "models":
            seed_models(engine, int(rest[0]))
        elif kind == "traces":
            seed_traces(engine, *(int(value) for value in rest[:4]))
        else:
            raise SystemExit(f"unknown data set {kind}")
    finally:
        engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
