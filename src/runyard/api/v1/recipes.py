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
from runyard.api.errors import error_response
from runyard.api.openapi import merge, query, raw_body
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


def bundle_limits(request: Request) -> service.BundleLimits:
    settings = platform_of(request).settings
    return service.BundleLimits(
        max_bytes=settings.recipe_bundle_max_bytes,
        max_unpacked_bytes=settings.recipe_bundle_max_unpacked_bytes,
        max_members=settings.recipe_bundle_max_members,
    )


@router.post(
    "",
    dependencies=[access.requires("recipe", Level.EDIT)],
    openapi_extra=merge(query(PushQuery), raw_body("application/gzip", "The bundle (.tar.gz).")),
)
async def push_recipe(request: Request) -> Response:
    """Push a recipe bundle; identical content returns the existing version (``created: false``).

    A bundle over a size or member-count limit is answered 413, naming the limit.
    """
    query = parse_query(request, PushQuery)
    platform = platform_of(request)
    limits = bundle_limits(request)
    try:
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
            size = 0
            async for chunk in request.stream():
                size += len(chunk)
                if size > limits.max_bytes:
                    raise LimitExceeded(
                        f"the recipe bundle is larger than {limits.max_bytes} bytes (the compressed-size limit)"
                    )
                spool.write(chunk)
            spool.seek(0)
            bundle = cast(BinaryIO, spool)
            version, created = await platform.offload(
                lambda: recipe_push.push_bundle(
                    platform.database, platform.artifacts, bundle, default_name=query.name, limits=limits
                )
            )
    except LimitExceeded as error:
        return error_response(error.error_code, error.message, status=413)
    return JSONResponse({"recipe": version_json(version), "created": created}, status_code=201 if created else 200)


@router.get("", dependencies=[access.requires("recipe", Level.READ)], openapi_extra=query(ListQuery))
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
