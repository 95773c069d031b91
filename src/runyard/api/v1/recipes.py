"""``/api/v1/recipes``: push a bundle (``.tar.gz`` body), list and show recipes, download bundles."""

from __future__ import annotations

import dataclasses
import tempfile
from typing import Any, BinaryIO, cast

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from runyard.api import access
from runyard.api.deps import platform_of
from runyard.api.requests import parse_query
from runyard.api.responses import JSONResponse
from runyard.domain.identity import Level
from runyard.domain.recipes import Recipe, RecipeVersion
from runyard.errors import LimitExceeded
from runyard.services import recipe_push
from runyard.services import recipes as service

router = APIRouter(prefix="/recipes", tags=["recipes"])


class PushQuery(BaseModel):
    name: str | None = Field(default=None, description="Name to use when the manifest has none.")


class ListQuery(BaseModel):
    prefix: str | None = None
    limit: int = Field(default=100, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


def version_json(version: RecipeVersion) -> dict[str, Any]:
    data = dataclasses.asdict(version)
    data["manifest"] = version.manifest.model_dump(mode="json")
    data["bundle_url"] = f"/api/v1/recipes/{version.name}/versions/{version.version}/bundle"
    return data


def recipe_json(recipe: Recipe) -> dict[str, Any]:
    return dataclasses.asdict(recipe)


@router.post("", dependencies=[access.requires("recipe", Level.EDIT)])
async def push_recipe(request: Request) -> Response:
    """Push a recipe bundle; identical content returns the existing version (``created: false``)."""
    query = parse_query(request, PushQuery)
    platform = platform_of(request)
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > service.MAX_BUNDLE_BYTES:
                raise LimitExceeded(f"the recipe bundle is larger than {service.MAX_BUNDLE_BYTES} bytes")
            spool.write(chunk)
        spool.seek(0)
        bundle = cast(BinaryIO, spool)
        version, created = await platform.offload(
            lambda: recipe_push.push_bundle(platform.database, platform.artifacts, bundle, default_name=query.name)
        )
    return JSONResponse({"recipe": version_json(version), "created": created}, status_code=201 if created else 200)


@router.get("", dependencies=[access.requires("recipe", Level.READ)])
async def list_recipes(request: Request) -> Response:
    query = parse_query(request, ListQuery)
    recipes, total = await platform_of(request).read(
        lambda connection: service.list_recipes(connection, prefix=query.prefix, limit=query.limit, offset=query.offset)
    )
    return JSONResponse({"recipes": [recipe_json(recipe) for recipe in recipes], "total": total})


@router.get("/{name}", dependencies=[access.requires("recipe", Level.READ)])
async def get_recipe(name: str, request: Request) -> Response:
    def read(connection: Any) -> tuple[Recipe, list[RecipeVersion]]:
        return service.get_recipe(connection, name), service.list_versions(connection, name)

    recipe, versions = await platform_of(request).read(read)
    return JSONResponse({"recipe": recipe_json(recipe), "versions": [version_json(v) for v in versions]})


@router.get("/{name}/versions/{version}", dependencies=[access.requires("recipe", Level.READ)])
async def get_version(name: str, version: str, request: Request) -> Response:
    number = _version_number(version)
    found = await platform_of(request).read(lambda connection: service.get_version(connection, name, number))
    return JSONResponse({"recipe": version_json(found)})


@router.get(
    "/{name}/versions/{version}/bundle", dependencies=[access.requires("recipe", Level.READ, jobs=True, agents=True)]
)
async def download_bundle(name: str, version: str, request: Request) -> Response:
    """The bundle as ``.tar.gz``, streamed from the artifact store."""
    number = _version_number(version)
    found = await platform_of(request).read(lambda connection: service.get_version(connection, name, number))
    chunks = await run_in_threadpool(platform_of(request).artifacts.read, found.bundle_path)
    return StreamingResponse(
        chunks,
        media_type="application/gzip",
        headers={
            "Content-Length": str(found.bundle_size),
            "Content-Disposition": f'attachment; filename="{found.name}-{found.version}.tar.gz"',
            "X-Runyard-Digest": found.digest,
        },
    )


def _version_number(version: str) -> int | None:
    _, number = service.parse_reference(f"recipe:{version}")
    return number
