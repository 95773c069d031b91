"""The endpoints MLflow's own web UI and fluent helpers call outside the REST services.

``/get-artifact``, ``/model-versions/get-artifact`` and
``/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files`` stream one file of a run, a registered
version or a logged model; ``/ajax-api/2.0/mlflow/metrics/get-history-bulk`` returns one metric's history for several
runs; ``/ajax-api/2.0/mlflow/upload-artifact`` stores a small file (the UI's image upload) in a run.
Paths, limits and messages follow ``mlflow/server/handlers.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.mlflow.artifacts import file_response
from runyard.api.openapi import json_body, merge, query, raw_body
from runyard.api.requests import parse_json, parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.errors import InvalidParameter, LimitExceeded
from runyard.services import artifacts as artifact_service
from runyard.services import dataset_summaries, metric_history
from runyard.services import logged_models as logged_model_service
from runyard.services import registry_versions as version_service
from runyard.services import runs as run_service

router = APIRouter(tags=["mlflow-ui"])

MAX_HISTORY_RESULTS = 25_000
MAX_RUN_IDS_PER_REQUEST = 100
MAX_UI_UPLOAD_BYTES = 10 * 1024 * 1024


class RunFileQuery(BaseModel):
    run_id: str | None = None
    run_uuid: str | None = None
    path: str | None = None


class VersionFileQuery(BaseModel):
    name: str | None = None
    version: str | None = None
    path: str | None = None


class HistoryBulkQuery(BaseModel):
    run_id: list[str] = []
    metric_key: str | None = None
    max_results: int | None = None


@router.get(
    "/get-artifact",
    dependencies=[access.requires("artifact", Level.READ, jobs=True)],
    openapi_extra=query(RunFileQuery),
)
async def get_run_artifact(request: Request) -> Response:
    """One file of a run's artifacts."""
    params = parse_query(request, RunFileQuery)
    run = await platform_of(request).read(lambda c: run_service.get_run(c, params.run_id or params.run_uuid))
    path = artifact_service.run_file_path(run.info.artifact_uri, params.path)
    return await file_response(platform_of(request).artifacts, path)


@router.get(
    "/model-versions/get-artifact",
    dependencies=[access.requires("registered_model", Level.READ, jobs=True)],
    openapi_extra=query(VersionFileQuery),
)
async def get_model_version_artifact(request: Request) -> Response:
    """One file of a registered version's copy in the registry store."""
    params = parse_query(request, VersionFileQuery)
    version = await platform_of(request).read(
        lambda c: version_service.get_model_version(c, params.name, params.version)
    )
    if not version.storage_path:
        raise InvalidParameter(
            f"Model Version (name={version.name}, version={version.version}) references files this server "
            f"does not hold; read them from {version.source}."
        )
    # The storage path is relative to the registry store, as a run's proxied root is to the artifact store.
    path = artifact_service.run_file_path(f"mlflow-artifacts:/{version.storage_path}", params.path)
    return await file_response(platform_of(request).registry, path)


class LoggedModelFileQuery(BaseModel):
    artifact_file_path: str | None = None


@router.get(
    "/ajax-api/2.0/mlflow/logged-models/{model_id}/artifacts/files",
    dependencies=[access.requires("logged_model", Level.READ, jobs=True)],
    openapi_extra=query(LoggedModelFileQuery),
)
async def get_logged_model_artifact(request: Request, model_id: str) -> Response:
    """One file of a logged model's artifacts (the UI's model file viewer and download)."""
    params = parse_query(request, LoggedModelFileQuery)
    if not params.artifact_file_path:
        raise InvalidParameter('Request must include the "artifact_file_path" query parameter.')
    model = await platform_of(request).read(lambda c: logged_model_service.get_logged_model(c, model_id))
    path = artifact_service.run_file_path(model.artifact_location, params.artifact_file_path)
    return await file_response(platform_of(request).artifacts, path)


@router.get(
    "/ajax-api/2.0/mlflow/metrics/get-history-bulk",
    dependencies=[access.requires("run", Level.READ, jobs=True)],
    openapi_extra=query(HistoryBulkQuery),
)
async def get_history_bulk(request: Request) -> Response:
    """One metric's full history for up to 100 runs, each run's points by (timestamp, step, value)."""
    params = parse_query(request, HistoryBulkQuery)
    if not params.run_id:
        raise InvalidParameter("GetMetricHistoryBulk request must specify at least one run_id.")
    if len(params.run_id) > MAX_RUN_IDS_PER_REQUEST:
        raise InvalidParameter(
            f"GetMetricHistoryBulk request cannot specify more than {MAX_RUN_IDS_PER_REQUEST} run_ids. "
            f"Received {len(params.run_id)} run_ids."
        )
    if params.metric_key is None:
        raise InvalidParameter("GetMetricHistoryBulk request must specify a metric_key.")
    limit = min(params.max_results or MAX_HISTORY_RESULTS, MAX_HISTORY_RESULTS)
    if limit < 1:
        raise InvalidParameter(f"Invalid value {params.max_results} for parameter 'max_results': must be positive.")
    key = params.metric_key

    def read(connection: Any) -> list[dict[str, Any]]:
        points: list[dict[str, Any]] = []
        for run_id in sorted(set(params.run_id)):
            history = metric_history.get_metric_history(connection, run_id, key).metrics
            ordered = sorted(history, key=lambda m: (m.timestamp, m.step, m.value))[:limit]
            points.extend(
                {"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step, "run_id": run_id}
                for m in ordered
            )
        return points[:limit]

    return JSONResponse({"metrics": await platform_of(request).read(read)})


class DatasetSearch(BaseModel):
    experiment_ids: list[str] = []


@router.post(
    "/ajax-api/2.0/mlflow/experiments/search-datasets",
    dependencies=[access.requires("experiment", Level.READ, jobs=True)],
    openapi_extra=json_body(DatasetSearch),
)
async def search_datasets(request: Request) -> Response:
    """The datasets the runs of up to 20 experiments consumed (the UI's dataset filter)."""
    body = await parse_json(request, DatasetSearch)
    summaries = await platform_of(request).read(
        lambda c: dataset_summaries.search_dataset_summaries(c, body.experiment_ids)
    )
    return JSONResponse(
        {
            "dataset_summaries": [
                {"experiment_id": s.experiment_id, "name": s.name, "digest": s.digest}
                | ({"context": s.context} if s.context is not None else {})
                for s in summaries
            ]
        }
    )


class UploadQuery(BaseModel):
    run_uuid: str | None = None
    path: str | None = None


@router.post(
    "/ajax-api/2.0/mlflow/upload-artifact",
    dependencies=[access.requires("artifact", Level.EDIT, jobs=True)],
    openapi_extra=merge(query(UploadQuery), raw_body("application/octet-stream")),
)
async def upload_ui_artifact(request: Request) -> Response:
    """Store a small file (at most 10 MB, as MLflow) at ``path`` in a run's artifacts."""
    params = parse_query(request, UploadQuery)
    if not params.run_uuid:
        raise InvalidParameter("Request must specify run_uuid.")
    if not params.path:
        raise InvalidParameter("Request must specify path.")
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > MAX_UI_UPLOAD_BYTES:
        raise LimitExceeded("Artifact size is too large. Max size is 10MB.")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_UI_UPLOAD_BYTES:
            raise LimitExceeded("Artifact size is too large. Max size is 10MB.")
    if not data:
        raise InvalidParameter("Request must specify data.")
    run_id = params.run_uuid
    run = await platform_of(request).read(lambda c: run_service.get_run(c, run_id))
    path = artifact_service.run_file_path(run.info.artifact_uri, params.path)
    artifact_service.refuse_reserved(path, verb="written")

    async def body() -> Any:
        yield bytes(data)

    await artifact_service.upload(platform_of(request).artifacts, path, body())
    return JSONResponse({})
