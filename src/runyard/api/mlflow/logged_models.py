"""``/api/2.0/mlflow/logged-models/*``: MLflow 3's logged model endpoints (create, finalize, search…)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.mlflow.registry_context import parse_request, request_user
from runyard.api.mlflow.registry_serializers import logged_model_json
from runyard.api.openapi import json_body, query
from runyard.api.requests import parse_json, parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.domain.tracking import Param, Tag
from runyard.services import artifacts as artifact_service
from runyard.services import logged_models as service

router = APIRouter(prefix="/logged-models", tags=["mlflow-logged-models"])


class KeyValue(BaseModel):
    key: str
    value: str = ""


class LoggedModelCreate(BaseModel):
    experiment_id: str | None = None
    name: str | None = None
    model_type: str | None = None
    source_run_id: str | None = None
    params: list[KeyValue] = Field(default_factory=list)
    tags: list[KeyValue] = Field(default_factory=list)


class Finalize(BaseModel):
    status: str | int | None = None


class GetQuery(BaseModel):
    allow_deleted: bool = False


class TagsSet(BaseModel):
    tags: list[KeyValue] = Field(default_factory=list)


class ParamsLog(BaseModel):
    params: list[KeyValue] = Field(default_factory=list)


class DatasetIn(BaseModel):
    dataset_name: str = ""
    dataset_digest: str | None = None


class OrderIn(BaseModel):
    field_name: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None


class Search(BaseModel):
    experiment_ids: list[str] = Field(default_factory=list)
    filter: str | None = None
    datasets: list[DatasetIn] = Field(default_factory=list)
    max_results: int | None = None
    order_by: list[OrderIn] = Field(default_factory=list)
    page_token: str | None = None


class ArtifactsQuery(BaseModel):
    artifact_directory_path: str | None = None
    page_token: str | None = None


def _model(model: Any) -> Response:
    return JSONResponse({"model": logged_model_json(model)})


@router.post(
    "", dependencies=[access.requires("experiment", Level.EDIT, jobs=True)], openapi_extra=json_body(LoggedModelCreate)
)
async def create_logged_model(request: Request) -> Response:
    """Create a logged model (PENDING until finalized)."""
    body = await parse_json(request, LoggedModelCreate)
    user = request_user(request)
    model = await platform_of(request).write(
        lambda c: service.create_logged_model(
            c, body.experiment_id, name=body.name, model_type=body.model_type, source_run_id=body.source_run_id,
            params=[Param(p.key, p.value) for p in body.params], tags=[Tag(t.key, t.value) for t in body.tags],
            user=user,
        )
    )  # fmt: skip
    return _model(model)


@router.post(
    "/search", dependencies=[access.requires("logged_model", Level.READ, jobs=True)], openapi_extra=json_body(Search)
)
async def search_logged_models(request: Request) -> Response:
    """Search logged models in experiments (filter, datasets, order_by, paging)."""
    body = await parse_json(request, Search)
    page = await platform_of(request).read(
        lambda c: service.search_logged_models(
            c, experiment_ids=body.experiment_ids, filter_string=body.filter,
            datasets=[(d.dataset_name, d.dataset_digest) for d in body.datasets], max_results=body.max_results,
            order_by=[(o.field_name, o.ascending, o.dataset_name, o.dataset_digest) for o in body.order_by],
            page_token=body.page_token,
        )
    )  # fmt: skip
    data: dict[str, Any] = {"models": [logged_model_json(m) for m in page.items]}
    if page.next_page_token:
        data["next_page_token"] = page.next_page_token
    return JSONResponse(data)


@router.get(
    "/{model_id}", dependencies=[access.requires("logged_model", Level.READ, jobs=True)], openapi_extra=query(GetQuery)
)
async def get_logged_model(request: Request, model_id: str) -> Response:
    """Get a logged model."""
    query = parse_query(request, GetQuery)
    model = await platform_of(request).read(
        lambda c: service.get_logged_model(c, model_id, allow_deleted=query.allow_deleted)
    )
    return _model(model)


@router.patch(
    "/{model_id}",
    dependencies=[access.requires("logged_model", Level.EDIT, jobs=True)],
    openapi_extra=json_body(Finalize),
)
async def finalize_logged_model(request: Request, model_id: str) -> Response:
    """Finalize a logged model as READY or UPLOAD_FAILED."""
    body = await parse_json(request, Finalize)
    model = await platform_of(request).write(lambda c: service.finalize_logged_model(c, model_id, body.status))
    return _model(model)


@router.delete("/{model_id}", dependencies=[access.requires("logged_model", Level.MANAGE)])
async def delete_logged_model(request: Request, model_id: str) -> Response:
    """Mark a logged model deleted."""
    await platform_of(request).write(lambda c: service.delete_logged_model(c, model_id))
    return JSONResponse({})


@router.patch(
    "/{model_id}/tags",
    dependencies=[access.requires("logged_model", Level.EDIT, jobs=True)],
    openapi_extra=json_body(TagsSet),
)
async def set_logged_model_tags(request: Request, model_id: str) -> Response:
    """Set tags on a logged model."""
    body = await parse_json(request, TagsSet)
    model = await platform_of(request).write(
        lambda c: service.set_tags(c, model_id, [Tag(t.key, t.value) for t in body.tags])
    )
    return _model(model)


@router.delete("/{model_id}/tags/{key:path}", dependencies=[access.requires("logged_model", Level.EDIT, jobs=True)])
async def delete_logged_model_tag(request: Request, model_id: str, key: str) -> Response:
    """Delete a tag from a logged model."""
    await platform_of(request).write(lambda c: service.delete_tag(c, model_id, key))
    return JSONResponse({})


@router.post(
    "/{model_id}/params",
    dependencies=[access.requires("logged_model", Level.EDIT, jobs=True)],
    openapi_extra=json_body(ParamsLog),
)
async def log_logged_model_params(request: Request, model_id: str) -> Response:
    """Log params on a logged model."""
    body = await parse_request(request, ParamsLog)
    await platform_of(request).write(
        lambda c: service.log_params(c, model_id, [Param(p.key, p.value) for p in body.params])
    )
    return JSONResponse({})


@router.get(
    "/{model_id}/artifacts/directories",
    dependencies=[access.requires("logged_model", Level.READ, jobs=True)],
    openapi_extra=query(ArtifactsQuery),
)
async def list_logged_model_artifacts(request: Request, model_id: str) -> Response:
    """List a logged model's files below ``artifact_directory_path``."""
    query = parse_query(request, ArtifactsQuery)
    context = platform_of(request)
    model = await context.read(lambda c: service.get_logged_model(c, model_id))
    files = await artifact_service.list_run_artifacts(
        context.artifacts, model.artifact_location, query.artifact_directory_path
    )
    body: dict[str, Any] = {"root_uri": model.artifact_location}
    if files:
        body["files"] = [
            {"path": f.path, "is_dir": f.is_dir, **({"file_size": f.file_size} if f.file_size is not None else {})}
            for f in files
        ]
    return JSONResponse(body)
