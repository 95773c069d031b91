"""``/api/2.0/mlflow/model-versions/*``: MLflow's model version endpoints.

Creating a version copies its files into the registry store between two short transactions (see
``runyard.services.registry_versions``); the response is the READY version, or a
FAILED_REGISTRATION one if the copy failed, which the ``mlflow`` client reports as a failed
registration.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from runyard.api.context import get_context
from runyard.api.mlflow.registered_models import TagIn
from runyard.api.mlflow.registry_context import parse_request, remove_registry_files, request_user, stores_for
from runyard.api.mlflow.registry_serializers import model_version_json
from runyard.api.responses import JSONResponse
from runyard.domain.tracking import Tag
from runyard.errors import InvalidParameter, RunyardError
from runyard.services import registry_files, registry_search
from runyard.services import registry_versions as service

router = APIRouter(prefix="/model-versions", tags=["mlflow-registry"])
logger = logging.getLogger("runyard.registry")


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


@router.post("/create")
async def create_model_version(request: Request) -> Response:
    """Register a new version: copy its files into the registry store and digest them."""
    body = await parse_request(request, VersionCreate)
    user = request_user(request)
    context, artifacts, registry = stores_for(request)
    root = context.settings.artifacts_uri
    resolved = await context.read(
        lambda c: registry_files.resolve_source(c, body.source, run_id=body.run_id, model_id=body.model_id,
                                                artifacts_root=root)
    )  # fmt: skip
    source_store = artifacts if resolved.location.store == "artifacts" else registry
    if not await run_in_threadpool(registry_files.has_files, source_store, resolved.location.path):
        raise InvalidParameter(f"Invalid model version source: '{body.source}'. There are no files there.")
    pending = await context.write(
        lambda c: service.begin_model_version(
            c, body.name, body.source, artifacts_root=root, run_id=body.run_id, model_id=body.model_id,
            tags=[Tag(t.key, t.value) for t in body.tags], run_link=body.run_link, description=body.description,
            user=user,
        )
    )  # fmt: skip
    try:
        copied = await run_in_threadpool(
            registry_files.copy_version_files, source_store, pending.source.path, registry, pending.destination
        )
    except Exception as error:
        logger.exception("copying %s version %s into the registry failed", pending.name, pending.version)
        message = error.message if isinstance(error, RunyardError) else f"{type(error).__name__}: {error}"
        await remove_registry_files(context, pending.destination)
        version = await context.write(lambda c: service.finish_model_version(c, pending, error=message))
    else:
        version = await context.write(
            lambda c: service.finish_model_version(c, pending, size_bytes=copied.size_bytes, digest=copied.digest)
        )
    return JSONResponse({"model_version": model_version_json(version)})


@router.get("/get")
async def get_model_version(request: Request) -> Response:
    """Get a model version."""
    query = await parse_request(request, VersionRef)
    version = await get_context(request).read(lambda c: service.get_model_version(c, query.name, query.version))
    return JSONResponse({"model_version": model_version_json(version)})


@router.patch("/update")
async def update_model_version(request: Request) -> Response:
    """Update a version's description."""
    body = await parse_request(request, VersionUpdate)
    user = request_user(request)
    version = await get_context(request).write(
        lambda c: service.update_model_version(c, body.name, body.version, body.description, user=user)
    )
    return JSONResponse({"model_version": model_version_json(version)})


@router.delete("/delete")
async def delete_model_version(request: Request) -> Response:
    """Delete a version, its aliases and its stored files."""
    body = await parse_request(request, VersionRef)
    user = request_user(request)
    path = await get_context(request).write(
        lambda c: service.delete_model_version(c, body.name, body.version, user=user)
    )
    await remove_registry_files(get_context(request), path)
    return JSONResponse({})


@router.post("/transition-stage")
async def transition_model_version_stage(request: Request) -> Response:
    """Move a version to another stage (optionally archiving the versions already there)."""
    body = await parse_request(request, StageTransition)
    user = request_user(request)
    version = await get_context(request).write(
        lambda c: service.transition_stage(
            c, body.name, body.version, body.stage, archive_existing_versions=body.archive_existing_versions, user=user
        )
    )
    return JSONResponse({"model_version": model_version_json(version)})


@router.get("/get-download-uri")
async def get_model_version_download_uri(request: Request) -> Response:
    """Where to read the version's files: its registry copy, through the artifact proxy."""
    query = await parse_request(request, VersionRef)
    uri = await get_context(request).read(lambda c: service.download_uri(c, query.name, query.version))
    return JSONResponse({"artifact_uri": uri})


@router.get("/search")
async def search_model_versions(request: Request) -> Response:
    """Search model versions (filter, order_by, paging)."""
    query = await parse_request(request, VersionSearch)
    page = await get_context(request).read(
        lambda c: registry_search.search_model_versions(
            c, filter_string=query.filter, max_results=query.max_results, order_by=query.order_by,
            page_token=query.page_token,
        )
    )  # fmt: skip
    data: dict[str, object] = {"model_versions": [model_version_json(v) for v in page.items]}
    if page.next_page_token:
        data["next_page_token"] = page.next_page_token
    return JSONResponse(data)


@router.post("/set-tag")
async def set_model_version_tag(request: Request) -> Response:
    """Set a tag on a version."""
    body = await parse_request(request, VersionTagSet)
    user = request_user(request)
    await get_context(request).write(
        lambda c: service.set_tag(c, body.name, body.version, body.key, body.value, user=user)
    )
    return JSONResponse({})


@router.delete("/delete-tag")
async def delete_model_version_tag(request: Request) -> Response:
    """Delete a tag from a version."""
    body = await parse_request(request, VersionTagDelete)
    user = request_user(request)
    await get_context(request).write(lambda c: service.delete_tag(c, body.name, body.version, body.key, user=user))
    return JSONResponse({})
