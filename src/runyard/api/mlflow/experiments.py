"""``/api/2.0/mlflow/experiments/*``: MLflow's experiment endpoints."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.mlflow.serializers import experiment_json
from runyard.api.openapi import json_body, query
from runyard.api.requests import parse_json, parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.domain.tracking import Tag, ViewType
from runyard.services import experiments as service
from runyard.services import search_experiments

router = APIRouter(prefix="/experiments", tags=["mlflow-experiments"])


class TagIn(BaseModel):
    key: str
    value: str = ""


class ExperimentCreate(BaseModel):
    name: str | None = None
    artifact_location: str | None = None
    tags: list[TagIn] = Field(default_factory=list)


class ExperimentRef(BaseModel):
    experiment_id: str | None = None


class ExperimentByName(BaseModel):
    experiment_name: str | None = None


class ExperimentUpdate(BaseModel):
    experiment_id: str | None = None
    new_name: str | None = None


class ExperimentTagSet(BaseModel):
    experiment_id: str | None = None
    key: str
    value: str = ""


class ExperimentTagDelete(BaseModel):
    experiment_id: str | None = None
    key: str


class ExperimentSearch(BaseModel):
    max_results: int | None = Field(default=None)
    page_token: str | None = None
    filter: str | None = None
    order_by: list[str] = Field(default_factory=list)
    view_type: ViewType = ViewType.ACTIVE_ONLY


@router.post(
    "/create", dependencies=[access.requires("experiment", Level.EDIT)], openapi_extra=json_body(ExperimentCreate)
)
async def create_experiment(request: Request) -> Response:
    """Create an experiment."""
    body = await parse_json(request, ExperimentCreate)
    tags = [Tag(t.key, t.value) for t in body.tags]
    experiment_id = await platform_of(request).write(
        lambda c: service.create_experiment(c, body.name, body.artifact_location, tags)
    )
    return JSONResponse({"experiment_id": experiment_id})


@router.get(
    "/get", dependencies=[access.requires("experiment", Level.READ, jobs=True)], openapi_extra=query(ExperimentRef)
)
async def get_experiment(request: Request) -> Response:
    """Get an experiment by id."""
    query = parse_query(request, ExperimentRef)
    experiment = await platform_of(request).read(lambda c: service.get_experiment(c, query.experiment_id))
    return JSONResponse({"experiment": experiment_json(experiment)})


@router.get(
    "/get-by-name",
    dependencies=[access.requires("experiment", Level.READ, jobs=True)],
    openapi_extra=query(ExperimentByName),
)
async def get_experiment_by_name(request: Request) -> Response:
    """Get an experiment by name."""
    query = parse_query(request, ExperimentByName)
    experiment = await platform_of(request).read(lambda c: service.get_experiment_by_name(c, query.experiment_name))
    return JSONResponse({"experiment": experiment_json(experiment)})


async def _search(request: Request, body: ExperimentSearch) -> Response:
    page = await platform_of(request).read(
        lambda c: search_experiments.search_experiments(
            c,
            view_type=body.view_type,
            max_results=body.max_results,
            filter_string=body.filter,
            order_by=body.order_by,
            page_token=body.page_token,
        )
    )
    data: dict[str, object] = {"experiments": [experiment_json(e) for e in page.items]}
    if page.next_page_token:
        data["next_page_token"] = page.next_page_token
    return JSONResponse(data)


@router.post(
    "/search",
    dependencies=[access.requires("experiment", Level.READ, jobs=True)],
    openapi_extra=json_body(ExperimentSearch),
)
async def search_experiments_post(request: Request) -> Response:
    """Search experiments (filter, order_by, paging)."""
    return await _search(request, await parse_json(request, ExperimentSearch))


@router.get(
    "/search",
    dependencies=[access.requires("experiment", Level.READ, jobs=True)],
    openapi_extra=query(ExperimentSearch),
)
async def search_experiments_get(request: Request) -> Response:
    """Search experiments (query-string form)."""
    return await _search(request, parse_query(request, ExperimentSearch))


@router.post(
    "/update", dependencies=[access.requires("experiment", Level.EDIT)], openapi_extra=json_body(ExperimentUpdate)
)
async def update_experiment(request: Request) -> Response:
    """Rename an experiment."""
    body = await parse_json(request, ExperimentUpdate)
    await platform_of(request).write(lambda c: service.rename_experiment(c, body.experiment_id, body.new_name))
    return JSONResponse({})


@router.post(
    "/delete", dependencies=[access.requires("experiment", Level.MANAGE)], openapi_extra=json_body(ExperimentRef)
)
async def delete_experiment(request: Request) -> Response:
    """Mark an experiment deleted (restorable)."""
    body = await parse_json(request, ExperimentRef)
    await platform_of(request).write(lambda c: service.delete_experiment(c, body.experiment_id))
    return JSONResponse({})


@router.post(
    "/restore", dependencies=[access.requires("experiment", Level.MANAGE)], openapi_extra=json_body(ExperimentRef)
)
async def restore_experiment(request: Request) -> Response:
    """Restore a deleted experiment."""
    body = await parse_json(request, ExperimentRef)
    await platform_of(request).write(lambda c: service.restore_experiment(c, body.experiment_id))
    return JSONResponse({})


@router.post(
    "/set-experiment-tag",
    dependencies=[access.requires("experiment", Level.EDIT)],
    openapi_extra=json_body(ExperimentTagSet),
)
async def set_experiment_tag(request: Request) -> Response:
    """Set a tag on an experiment."""
    body = await parse_json(request, ExperimentTagSet)
    await platform_of(request).write(lambda c: service.set_experiment_tag(c, body.experiment_id, body.key, body.value))
    return JSONResponse({})


@router.post(
    "/delete-experiment-tag",
    dependencies=[access.requires("experiment", Level.EDIT)],
    openapi_extra=json_body(ExperimentTagDelete),
)
async def delete_experiment_tag(request: Request) -> Response:
    """Delete a tag from an experiment."""
    body = await parse_json(request, ExperimentTagDelete)
    await platform_of(request).write(lambda c: service.delete_experiment_tag(c, body.experiment_id, body.key))
    return JSONResponse({})
