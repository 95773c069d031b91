"""``/api/2.0/mlflow/runs/*``: MLflow's run endpoints, including the logging calls."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.mlflow.batch_parsing import LogBatch, parse_log_batch
from runyard.api.mlflow.serializers import run_info_json, run_json
from runyard.api.observability import count_ingested
from runyard.api.openapi import json_body, query
from runyard.api.requests import parse_json, parse_query, read_json_object
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.domain.tracking import Dataset, DatasetInput, Metric, ModelLink, Param, Tag, ViewType
from runyard.services import logging as logging_service
from runyard.services import runs as service
from runyard.services import search_runs

router = APIRouter(prefix="/runs", tags=["mlflow-runs"])


class TagIn(BaseModel):
    key: str
    value: str = ""


class RunCreate(BaseModel):
    experiment_id: str | None = None
    user_id: str | None = None
    run_name: str | None = None
    start_time: int | None = None
    tags: list[TagIn] = Field(default_factory=list)


class RunRef(BaseModel):
    run_id: str | None = None
    run_uuid: str | None = None

    @property
    def id(self) -> str | None:
        return self.run_id or self.run_uuid


class RunUpdate(RunRef):
    status: str | None = None
    end_time: int | None = None
    run_name: str | None = None


class LogMetric(RunRef):
    key: str
    value: float
    timestamp: int
    step: int = 0
    model_id: str | None = None
    dataset_name: str | None = None
    dataset_digest: str | None = None


class LogParam(RunRef):
    key: str
    value: str = ""


class SetTag(RunRef):
    key: str
    value: str = ""


class DeleteTag(RunRef):
    key: str


class LogModel(RunRef):
    model_json: str


class DatasetIn(BaseModel):
    name: str = ""
    digest: str = ""
    source_type: str = ""
    source: str = ""
    schema_: str | None = Field(default=None, alias="schema")
    profile: str | None = None


class DatasetInputIn(BaseModel):
    tags: list[TagIn] = Field(default_factory=list)
    dataset: DatasetIn


class ModelInputIn(BaseModel):
    model_id: str


class ModelOutputIn(BaseModel):
    model_id: str
    step: int = 0


class LogInputs(RunRef):
    datasets: list[DatasetInputIn] = Field(default_factory=list)
    models: list[ModelInputIn] = Field(default_factory=list)


class LogOutputs(RunRef):
    models: list[ModelOutputIn] = Field(default_factory=list)


class RunSearch(BaseModel):
    experiment_ids: list[str] = Field(default_factory=list)
    filter: str | None = None
    run_view_type: ViewType = ViewType.ACTIVE_ONLY
    max_results: int | None = None
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


def _empty() -> Response:
    return JSONResponse({})


@router.post(
    "/create", dependencies=[access.requires("experiment", Level.EDIT, jobs=True)], openapi_extra=json_body(RunCreate)
)
async def create_run(request: Request) -> Response:
    """Create a run."""
    body = await parse_json(request, RunCreate)
    tags = [Tag(t.key, t.value) for t in body.tags]
    run = await platform_of(request).write(
        lambda c: service.create_run(
            c,
            experiment_id=body.experiment_id,
            user_id=body.user_id,
            start_time=body.start_time,
            tags=tags,
            run_name=body.run_name,
        )
    )
    return JSONResponse({"run": run_json(run)})


@router.get("/get", dependencies=[access.requires("run", Level.READ, jobs=True)], openapi_extra=query(RunRef))
async def get_run(request: Request) -> Response:
    """Get a run with its data."""
    query = parse_query(request, RunRef)
    run = await platform_of(request).read(lambda c: service.get_run(c, query.id))
    return JSONResponse({"run": run_json(run)})


@router.post(
    "/update", dependencies=[access.requires("run", Level.EDIT, jobs=True)], openapi_extra=json_body(RunUpdate)
)
async def update_run(request: Request) -> Response:
    """Update a run's status, end time or name."""
    body = await parse_json(request, RunUpdate)
    info = await platform_of(request).write(
        lambda c: service.update_run(c, body.id, status=body.status, end_time=body.end_time, run_name=body.run_name)
    )
    return JSONResponse({"run_info": run_info_json(info)})


@router.post("/delete", dependencies=[access.requires("run", Level.MANAGE)], openapi_extra=json_body(RunRef))
async def delete_run(request: Request) -> Response:
    """Mark a run deleted."""
    body = await parse_json(request, RunRef)
    await platform_of(request).write(lambda c: service.delete_run(c, body.id))
    return _empty()


@router.post("/restore", dependencies=[access.requires("run", Level.MANAGE)], openapi_extra=json_body(RunRef))
async def restore_run(request: Request) -> Response:
    """Restore a deleted run."""
    body = await parse_json(request, RunRef)
    await platform_of(request).write(lambda c: service.restore_run(c, body.id))
    return _empty()


@router.post(
    "/search", dependencies=[access.requires("run", Level.READ, jobs=True)], openapi_extra=json_body(RunSearch)
)
async def search(request: Request) -> Response:
    """Search runs with MLflow's filter grammar (plus OR and parentheses)."""
    body = await parse_json(request, RunSearch)
    page = await platform_of(request).read(
        lambda c: search_runs.search_runs(
            c,
            experiment_ids=body.experiment_ids,
            filter_string=body.filter,
            view_type=body.run_view_type,
            max_results=body.max_results,
            order_by=body.order_by,
            page_token=body.page_token,
        )
    )
    data: dict[str, Any] = {"runs": [run_json(run) for run in page.items]}
    if page.next_page_token:
        data["next_page_token"] = page.next_page_token
    return JSONResponse(data)


@router.post(
    "/log-metric", dependencies=[access.requires("run", Level.EDIT, jobs=True)], openapi_extra=json_body(LogMetric)
)
async def log_metric(request: Request) -> Response:
    """Log one metric point."""
    body = await parse_json(request, LogMetric)
    metric = Metric(
        body.key, body.value, body.timestamp, body.step, None, body.dataset_name, body.dataset_digest, body.model_id
    )
    await platform_of(request).write(lambda c: logging_service.log_metric(c, body.id, metric))
    count_ingested(metrics=1)
    return _empty()


@router.post(
    "/log-parameter", dependencies=[access.requires("run", Level.EDIT, jobs=True)], openapi_extra=json_body(LogParam)
)
async def log_parameter(request: Request) -> Response:
    """Log one param (immutable once logged)."""
    body = await parse_json(request, LogParam)
    param = Param(body.key, body.value)
    await platform_of(request).write(lambda c: logging_service.log_param(c, body.id, param))
    count_ingested(params=1)
    return _empty()


@router.post("/set-tag", dependencies=[access.requires("run", Level.EDIT, jobs=True)], openapi_extra=json_body(SetTag))
async def set_tag(request: Request) -> Response:
    """Set a tag on a run."""
    body = await parse_json(request, SetTag)
    await platform_of(request).write(lambda c: service.set_tag(c, body.id, body.key, body.value))
    count_ingested(tags=1)
    return _empty()


@router.post(
    "/delete-tag", dependencies=[access.requires("run", Level.EDIT, jobs=True)], openapi_extra=json_body(DeleteTag)
)
async def delete_tag(request: Request) -> Response:
    """Delete a tag from a run."""
    body = await parse_json(request, DeleteTag)
    await platform_of(request).write(lambda c: service.delete_tag(c, body.id, body.key))
    return _empty()


@router.post(
    "/log-batch", dependencies=[access.requires("run", Level.EDIT, jobs=True)], openapi_extra=json_body(LogBatch)
)
async def log_batch(request: Request) -> Response:
    """Log up to 1000 metrics, 100 params and 100 tags atomically."""
    run_id, metrics, params, tags = parse_log_batch(await read_json_object(request))
    await platform_of(request).write(
        lambda c: logging_service.log_batch(c, run_id, metrics=metrics, params=params, tags=tags)
    )
    count_ingested(metrics=len(metrics), params=len(params), tags=len(tags))
    return _empty()


@router.post(
    "/log-model", dependencies=[access.requires("run", Level.EDIT, jobs=True)], openapi_extra=json_body(LogModel)
)
async def log_model(request: Request) -> Response:
    """Record a (pre-MLflow-3) logged model in the run's ``mlflow.log-model.history`` tag."""
    body = await parse_json(request, LogModel)
    await platform_of(request).write(lambda c: logging_service.append_model_history(c, body.id, body.model_json))
    return _empty()


@router.post(
    "/log-inputs", dependencies=[access.requires("run", Level.EDIT, jobs=True)], openapi_extra=json_body(LogInputs)
)
async def log_inputs(request: Request) -> Response:
    """Link datasets (and MLflow 3 logged models) a run used."""
    body = await parse_json(request, LogInputs)
    datasets = [
        DatasetInput(
            Dataset(
                d.dataset.name,
                d.dataset.digest,
                d.dataset.source_type,
                d.dataset.source,
                d.dataset.schema_,
                d.dataset.profile,
            ),
            [Tag(t.key, t.value) for t in d.tags],
        )
        for d in body.datasets
    ]
    models = [ModelLink(m.model_id) for m in body.models]
    await platform_of(request).write(lambda c: logging_service.log_inputs(c, body.id, datasets, models))
    return _empty()


@router.post(
    "/outputs", dependencies=[access.requires("run", Level.EDIT, jobs=True)], openapi_extra=json_body(LogOutputs)
)
async def log_outputs(request: Request) -> Response:
    """Link MLflow 3 logged models a run produced."""
    body = await parse_json(request, LogOutputs)
    models = [ModelLink(m.model_id, m.step) for m in body.models]
    await platform_of(request).write(lambda c: logging_service.log_outputs(c, body.id, models))
    return _empty()
