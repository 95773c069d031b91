"""``/api/2.0/mlflow/registered-models/*``: MLflow's registered model, tag and alias endpoints."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import Connection
from starlette.requests import Request
from starlette.responses import Response

from runyard.api import access
from runyard.api.deps import current_principal, platform_of
from runyard.api.mlflow.registry_context import parse_request, request_user
from runyard.api.mlflow.registry_serializers import model_version_json, registered_model_json
from runyard.api.openapi import json_body, query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.domain.tracking import Tag
from runyard.services import identity_permissions, registry_search, registry_versions
from runyard.services import registry as service
from runyard.services import registry_workflows as workflows

router = APIRouter(prefix="/registered-models", tags=["mlflow-registry"])


class TagIn(BaseModel):
    key: str
    value: str = ""


class ModelCreate(BaseModel):
    name: str | None = None
    tags: list[TagIn] = Field(default_factory=list)
    description: str | None = None
    deployment_job_id: str | None = None


class ModelRef(BaseModel):
    name: str | None = None


class ModelUpdate(BaseModel):
    name: str | None = None
    description: str | None = None
    deployment_job_id: str | None = None


class ModelRename(BaseModel):
    name: str | None = None
    new_name: str | None = None


class ModelSearch(BaseModel):
    filter: str | None = None
    max_results: int | None = None
    order_by: list[str] = Field(default_factory=list)
    page_token: str | None = None


class LatestVersionsQuery(BaseModel):
    name: str | None = None
    stages: list[str] = Field(default_factory=list)


class ModelTagSet(BaseModel):
    name: str | None = None
    key: str
    value: str = ""


class ModelTagDelete(BaseModel):
    name: str | None = None
    key: str


class AliasSet(BaseModel):
    name: str | None = None
    alias: str | None = None
    version: str | None = None


class AliasRef(BaseModel):
    name: str | None = None
    alias: str | None = None


@router.post("/create", dependencies=[access.requires("workspace", Level.EDIT)], openapi_extra=json_body(ModelCreate))
async def create_registered_model(request: Request) -> Response:
    """Create a registered model."""
    body = await parse_request(request, ModelCreate)
    user = request_user(request)
    tags = [Tag(t.key, t.value) for t in body.tags]
    creator = current_principal(request)

    def work(connection: Connection) -> Any:
        model = service.create_registered_model(
            connection, body.name, tags=tags, description=body.description, user=user
        )
        identity_permissions.grant_creator(connection, creator, creator.workspace, "registered_model", model.name)
        return model

    model = await platform_of(request).write(work)
    return JSONResponse({"registered_model": registered_model_json(model)})


@router.get(
    "/get", dependencies=[access.requires("registered_model", Level.READ, jobs=True)], openapi_extra=query(ModelRef)
)
async def get_registered_model(request: Request) -> Response:
    """Get a registered model by name."""
    query = await parse_request(request, ModelRef)
    model = await platform_of(request).read(lambda c: service.get_registered_model(c, query.name))
    return JSONResponse({"registered_model": registered_model_json(model)})


@router.patch(
    "/update", dependencies=[access.requires("registered_model", Level.EDIT)], openapi_extra=json_body(ModelUpdate)
)
async def update_registered_model(request: Request) -> Response:
    """Update a registered model's description."""
    body = await parse_request(request, ModelUpdate)
    user = request_user(request)
    model = await platform_of(request).write(
        lambda c: service.update_registered_model(c, body.name, body.description, user=user)
    )
    return JSONResponse({"registered_model": registered_model_json(model)})


@router.post(
    "/rename", dependencies=[access.requires("registered_model", Level.MANAGE)], openapi_extra=json_body(ModelRename)
)
async def rename_registered_model(request: Request) -> Response:
    """Rename a registered model (its versions follow)."""
    body = await parse_request(request, ModelRename)
    user = request_user(request)
    model = await platform_of(request).write(
        lambda c: service.rename_registered_model(c, body.name, body.new_name, user=user)
    )
    return JSONResponse({"registered_model": registered_model_json(model)})


@router.delete(
    "/delete", dependencies=[access.requires("registered_model", Level.MANAGE)], openapi_extra=json_body(ModelRef)
)
async def delete_registered_model(request: Request) -> Response:
    """Delete a registered model, its versions and their stored files."""
    body = await parse_request(request, ModelRef)
    user = request_user(request)
    platform = platform_of(request)
    await platform.offload(lambda: workflows.delete_registered_model(platform.registry_stores(), body.name, user=user))
    return JSONResponse({})


@router.get(
    "/search",
    dependencies=[access.requires("registered_model", Level.READ, jobs=True, listing=True)],
    openapi_extra=query(ModelSearch),
)
async def search_registered_models(request: Request) -> Response:
    """Search registered models (filter, order_by, paging)."""
    query = await parse_request(request, ModelSearch)
    readable = access.readable_of(request)
    page = await platform_of(request).read(
        lambda c: registry_search.search_registered_models(
            c,
            filter_string=query.filter,
            max_results=query.max_results,
            order_by=query.order_by,
            page_token=query.page_token,
            readable=readable,
        )
    )
    data: dict[str, object] = {"registered_models": [registered_model_json(m) for m in page.items]}
    if page.next_page_token:
        data["next_page_token"] = page.next_page_token
    return JSONResponse(data)


@router.get(
    "/get-latest-versions",
    dependencies=[access.requires("registered_model", Level.READ, jobs=True)],
    openapi_extra=query(LatestVersionsQuery),
)
@router.post(
    "/get-latest-versions",
    dependencies=[access.requires("registered_model", Level.READ, jobs=True)],
    openapi_extra=json_body(LatestVersionsQuery),
)
async def get_latest_versions(request: Request) -> Response:
    """The newest version in each stage (or in the stages asked for)."""
    query = await parse_request(request, LatestVersionsQuery)
    versions = await platform_of(request).read(
        lambda c: registry_versions.get_latest_versions(c, query.name, query.stages)
    )
    return JSONResponse({"model_versions": [model_version_json(v) for v in versions]})


@router.post(
    "/set-tag", dependencies=[access.requires("registered_model", Level.EDIT)], openapi_extra=json_body(ModelTagSet)
)
async def set_registered_model_tag(request: Request) -> Response:
    """Set a tag on a registered model."""
    body = await parse_request(request, ModelTagSet)
    user = request_user(request)
    await platform_of(request).write(
        lambda c: service.set_registered_model_tag(c, body.name, body.key, body.value, user=user)
    )
    return JSONResponse({})


@router.delete(
    "/delete-tag",
    dependencies=[access.requires("registered_model", Level.EDIT)],
    openapi_extra=json_body(ModelTagDelete),
)
async def delete_registered_model_tag(request: Request) -> Response:
    """Delete a tag from a registered model."""
    body = await parse_request(request, ModelTagDelete)
    user = request_user(request)
    await platform_of(request).write(lambda c: service.delete_registered_model_tag(c, body.name, body.key, user=user))
    return JSONResponse({})


@router.post(
    "/alias", dependencies=[access.requires("registered_model", Level.EDIT)], openapi_extra=json_body(AliasSet)
)
async def set_registered_model_alias(request: Request) -> Response:
    """Point an alias at a version (moving it if needed)."""
    body = await parse_request(request, AliasSet)
    user = request_user(request)
    await platform_of(request).write(lambda c: service.set_alias(c, body.name, body.alias, body.version, user=user))
    return JSONResponse({})


@router.delete(
    "/alias", dependencies=[access.requires("registered_model", Level.EDIT)], openapi_extra=json_body(AliasRef)
)
async def delete_registered_model_alias(request: Request) -> Response:
    """Delete an alias."""
    body = await parse_request(request, AliasRef)
    user = request_user(request)
    await platform_of(request).write(lambda c: service.delete_alias(c, body.name, body.alias, user=user))
    return JSONResponse({})


@router.get(
    "/alias", dependencies=[access.requires("registered_model", Level.READ, jobs=True)], openapi_extra=query(AliasRef)
)
async def get_model_version_by_alias(request: Request) -> Response:
    """The version an alias points at."""
    query = await parse_request(request, AliasRef)
    version = await platform_of(request).read(lambda c: service.get_version_by_alias(c, query.name, query.alias))
    return JSONResponse({"model_version": model_version_json(version)})
