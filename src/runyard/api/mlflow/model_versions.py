"""``/api/2.0/mlflow/model-versions/*``: MLflow's model version endpoints.

Creating a version copies its files into the registry store between two short transactions (see
``runyard.services.registry_versions``); the response is the READY version, or a
FAILED_REGISTRATION one if the copy failed, which the ``mlflow`` client reports as a failed
registration.
"""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.mlflow.registered_models import TagIn
from runyard.api.mlflow.registry_context import parse_request, request_user
from runyard.api.mlflow.registry_serializers import model_version_json
from runyard.api.openapi import json_body, query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.domain.tracking import Tag
from runyard.services import registry_search
from runyard.services import registry_versions as service
from runyard.services import registry_workflows as workflows

router = APIRouter(prefix="/model-versions", tags=["mlflow-registry"])


class VersionCreate(BaseModel):
    name: str | None = None
    source: str | None = None
    run_id: str | None = None
    tags: list[TagIn] = Field(default_factory=list)
    run_link: str | None = None
    description: str | None = None
    model_id: str | None = None


class VersionRef(BaseModel):
    name: str | None = None
    version: str | None = None


class VersionUpdate(BaseModel):
    name: str | None = None
    version: str | None = None
    description: str | None = None


class StageTransition(BaseModel):
    name: str | None = None
    version: str | None = None
    stage: str | None = None
    archive_existing_versions: bool = False


class VersionSearch(BaseModel):
    filter: str | None = None
    max_results: int | None = None
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class VersionTagSet(BaseModel):
    name: str | None = None
    version: str | None = None
    key: str
    value: str = ""


class VersionTagDelete(BaseModel):
    name: str | None = None
    version: str | None = None
    key: str


@router.post(
    "/create",
    dependencies=[access.requires("registered_model", Level.EDIT, jobs=True)],
    openapi_extra=json_body(VersionCreate),
)
async def create_model_version(request: Request) -> Response:
    """Register a new version: copy its files into the registry store and digest them."""
    body = await parse_request(request, VersionCreate)
    user = request_user(request)
    platform = platform_of(request)
    new = workflows.NewVersion(
        name=body.name,
        source=body.source,
        run_id=body.run_id,
        model_id=body.model_id,
        tags=[Tag(t.key, t.value) for t in body.tags],
        run_link=body.run_link,
        description=body.description,
    )
    version = await platform.offload(lambda: workflows.create_model_version(platform.registry_stores(), new, user=user))
    return JSONResponse({"model_version": model_version_json(version)})


@router.get(
    "/get", dependencies=[access.requires("registered_model", Level.READ, jobs=True)], openapi_extra=query(VersionRef)
)
async def get_model_version(request: Request) -> Response:
    """Get a model version."""
    query = await parse_request(request, VersionRef)
    version = await platform_of(request).read(lambda c: service.get_model_version(c, query.name, query.version))
    return JSONResponse({"model_version": model_version_json(version)})


@router.patch(
    "/update", dependencies=[access.requires("registered_model", Level.EDIT)], openapi_extra=json_body(VersionUpdate)
)
async def update_model_version(request: Request) -> Response:
    """Update a version's description."""
    body = await parse_request(request, VersionUpdate)
    user = request_user(request)
    version = await platform_of(request).write(
        lambda c: service.update_model_version(c, body.name, body.version, body.description, user=user)
    )
    return JSONResponse({"model_version": model_version_json(version)})


@router.delete(
    "/delete", dependencies=[access.requires("registered_model", Level.MANAGE)], openapi_extra=json_body(VersionRef)
)
async def delete_model_version(request: Request) -> Response:
    """Delete a version, its aliases and its stored files."""
    body = await parse_request(request, VersionRef)
    user = request_user(request)
    platform = platform_of(request)
    await platform.offload(
        lambda: workflows.delete_model_version(platform.registry_stores(), body.name, body.version, user=user)
    )
    return JSONResponse({})


@router.post(
    "/transition-stage",
    dependencies=[access.requires("registered_model", Level.EDIT)],
    openapi_extra=json_body(StageTransition),
)
async def transition_model_version_stage(request: Request) -> Response:
    """Move a version to another stage (optionally archiving the versions already there)."""
    body = await parse_request(request, StageTransition)
    user = request_user(request)
    version = await platform_of(request).write(
        lambda c: service.transition_stage(
            c, body.name, body.version, body.stage, archive_existing_versions=body.archive_existing_versions, user=user
        )
    )
    return JSONResponse({"model_version": model_version_json(version)})


@router.get(
    "/get-download-uri",
    dependencies=[access.requires("registered_model", Level.READ, jobs=True)],
    openapi_extra=query(VersionRef),
)
async def get_model_version_download_uri(request: Request) -> Response:
    """Where to read the version's files: its registry copy, through the artifact proxy."""
    query = await parse_request(request, VersionRef)
    uri = await platform_of(request).read(lambda c: service.download_uri(c, query.name, query.version))
    return JSONResponse({"artifact_uri": uri})


@router.get(
    "/search",
    dependencies=[access.requires("registered_model", Level.READ, jobs=True, listing=True)],
    openapi_extra=query(VersionSearch),
)
async def search_model_versions(request: Request) -> Response:
    """Search model versions (filter, order_by, paging)."""
    query = await parse_request(request, VersionSearch)
    readable = access.readable_of(request)
    page = await platform_of(request).read(
        lambda c: registry_search.search_model_versions(
            c, filter_string=query.filter, max_results=query.max_results, order_by=query.order_by,
            page_token=query.page_token, readable=readable,
        )
    )  # fmt: skip
    data: dict[str, object] = {"model_versions": [model_version_json(v) for v in page.items]}
    if page.next_page_token:
        data["next_page_token"] = page.next_page_token
    return JSONResponse(data)


@router.post(
    "/set-tag", dependencies=[access.requires("registered_model", Level.EDIT)], openapi_extra=json_body(VersionTagSet)
)
async def set_model_version_tag(request: Request) -> Response:
    """Set a tag on a version."""
    body = await parse_request(request, VersionTagSet)
    user = request_user(request)
    await platform_of(request).write(
        lambda c: service.set_tag(c, body.name, body.version, body.key, body.value, user=user)
    )
    return JSONResponse({})


@router.delete(
    "/delete-tag",
    dependencies=[access.requires("registered_model", Level.EDIT)],
    openapi_extra=json_body(VersionTagDelete),
)
async def delete_model_version_tag(request: Request) -> Response:
    """Delete a tag from a version."""
    body = await parse_request(request, VersionTagDelete)
    user = request_user(request)
    await platform_of(request).write(lambda c: service.delete_tag(c, body.name, body.version, body.key, user=user))
    return JSONResponse({})
